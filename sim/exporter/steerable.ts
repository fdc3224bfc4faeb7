// A Poisson request source whose rate can be changed while a simulation consumes it: arrivals are drawn lazily, one
// at a time, with the rate in force when the simulation asks for the next one. The simulation keeps exactly one future
// arrival scheduled, so a change applies from the arrival after that one (on average 1/old-rate later).
import { Rng } from '../rng.js';
import type { SimRequest } from '../workload/index.js';

export interface LengthSample {
  input: number;
  output: number;
  prefixHitTokens?: number;
}

export interface SteerableOptions {
  /** Requests per simulated second; must be > 0. */
  rps: number;
  /** Request lengths to draw from uniformly (a trace, or a planScenario mix). */
  mix: readonly LengthSample[];
  seed?: number;
  /** No arrivals at or after this many seconds (default: never ends). */
  durationS?: number;
  /** Scale drawn lengths so the mix's mean input/output become these. */
  meanInput?: number;
  meanOutput?: number;
}

function checkRate(rps: number, where: string): void {
  if (!Number.isFinite(rps) || rps <= 0) {
    throw new Error(`${where}: rps must be a finite number > 0, got ${rps} (a paused source cannot be resumed: the simulation would wait on an arrival drawn at rate 0)`);
  }
}

export class SteerableArrivals implements Iterable<SimRequest> {
  private rate: number;
  private readonly mix: readonly LengthSample[];
  private readonly inScale: number;
  private readonly outScale: number;

  constructor(private readonly o: SteerableOptions) {
    checkRate(o.rps, 'steerableArrivals');
    if (!Array.isArray(o.mix) || o.mix.length === 0) throw new Error('steerableArrivals: mix (request lengths to draw from) is empty');
    o.mix.forEach((r, k) => {
      if (!(r.input >= 1) || !(r.output >= 1)) throw new Error(`steerableArrivals: mix[${k}] needs input >= 1 and output >= 1, got ${JSON.stringify(r)}`);
    });
    if (o.durationS !== undefined && !(o.durationS >= 0)) throw new Error(`steerableArrivals: durationS must be >= 0, got ${o.durationS}`);
    this.rate = o.rps;
    this.mix = o.mix;
    const mean = (pick: (r: LengthSample) => number): number => o.mix.reduce((s, r) => s + pick(r), 0) / o.mix.length;
    this.inScale = o.meanInput === undefined ? 1 : o.meanInput / mean((r) => r.input);
    this.outScale = o.meanOutput === undefined ? 1 : o.meanOutput / mean((r) => r.output);
    if (!(this.inScale > 0) || !(this.outScale > 0)) throw new Error('steerableArrivals: meanInput/meanOutput must be > 0');
  }

  get rps(): number {
    return this.rate;
  }

  /** New rate for arrivals drawn from now on. */
  setRate(rps: number): void {
    checkRate(rps, 'setRate');
    this.rate = rps;
  }

  /** Each iteration is a fresh stream from the seed that follows the live rate. */
  [Symbol.iterator](): Iterator<SimRequest> {
    return this.stream(() => this.rate, this.o.durationS ?? Infinity);
  }

  /** A finite stream at the current rate, unaffected by later changes (for planning: mix sampling, oracle sizing). */
  snapshot(durationS: number): Iterable<SimRequest> {
    const rate = this.rate;
    return { [Symbol.iterator]: () => this.stream(() => rate, Math.min(durationS, this.o.durationS ?? Infinity)) };
  }

  private *stream(rate: () => number, durationS: number): Generator<SimRequest> {
    const rng = new Rng(this.o.seed ?? 1);
    let t = 0;
    for (let id = 0; ; id++) {
      t += rng.exponential(rate());
      if (t >= durationS) return;
      const r = this.mix[rng.int(this.mix.length)]!;
      const input = Math.max(1, Math.round(r.input * this.inScale));
      const req: SimRequest = { id, arrival: t, input, output: Math.max(1, Math.round(r.output * this.outScale)) };
      if (r.prefixHitTokens !== undefined) req.prefixHitTokens = Math.min(input, Math.round(r.prefixHitTokens * this.inScale));
      yield req;
    }
  }
}

export function steerableArrivals(o: SteerableOptions): SteerableArrivals {
  return new SteerableArrivals(o);
}
