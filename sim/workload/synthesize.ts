// Synthetic arrivals: a non-homogeneous Poisson process shaped by an envelope, lengths drawn from a trace mix.
import { Rng } from '../rng.js';
import type { Envelope, SimRequest } from './types.js';

export interface SynthesizeOptions {
  /** Request mix to draw lengths from (arrival times and ids are ignored). */
  lengths: readonly SimRequest[];
  envelope: Envelope;
  /** Arrival rate when the envelope is 1. */
  peakRps: number;
  durationS: number;
  /** Offset into the envelope at sim time 0 (e.g. 0 = midnight for a day envelope). Default 0. */
  startS?: number;
  seed?: number;
  /** Scale drawn input lengths so the mix's mean input becomes this. */
  meanInput?: number;
  /** Scale drawn output lengths so the mix's mean output becomes this. */
  meanOutput?: number;
}

function check(name: string, v: number | undefined, allowZero = false): void {
  if (v === undefined) return;
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    throw new Error(`synthesize: ${name} must be a finite number ${allowZero ? '>= 0' : '> 0'}, got ${v}`);
  }
}

function mean(xs: readonly SimRequest[], pick: (r: SimRequest) => number): number {
  let s = 0;
  for (const r of xs) s += pick(r);
  return s / xs.length;
}

/**
 * Lazily yields requests in arrival order, arrival in [0, durationS).
 * Arrivals: Lewis-Shedler thinning, i.e. candidates from a Poisson process at peakRps, each kept with
 * probability envelope.at(startS + t); exact for any envelope bounded by 1.
 * Lengths: a uniformly random request of the mix; with meanInput/meanOutput the drawn value is
 * multiplied by target / mix mean and rounded, never below 1. prefixHitTokens scales with input.
 */
export function* synthesize(opts: SynthesizeOptions): Generator<SimRequest> {
  const { lengths, envelope, peakRps, durationS } = opts;
  if (lengths.length === 0) throw new Error('synthesize: lengths (the request mix) is empty');
  check('peakRps', peakRps, true);
  check('durationS', durationS, true);
  check('meanInput', opts.meanInput);
  check('meanOutput', opts.meanOutput);
  const startS = opts.startS ?? 0;
  if (!Number.isFinite(startS)) throw new Error(`synthesize: startS must be finite, got ${startS}`);
  if (peakRps === 0) return;

  const inScale = opts.meanInput === undefined ? 1 : opts.meanInput / mean(lengths, (r) => r.input);
  const outScale = opts.meanOutput === undefined ? 1 : opts.meanOutput / mean(lengths, (r) => r.output);
  if (!Number.isFinite(inScale) || !Number.isFinite(outScale)) {
    throw new Error('synthesize: cannot scale to a target mean when the mix has mean length 0');
  }
  const rng = new Rng(opts.seed ?? 1);
  const n = lengths.length;
  let id = 0;
  let t = 0;
  for (;;) {
    t += rng.exponential(peakRps);
    if (t >= durationS) return;
    if (rng.next() >= envelope.at(startS + t)) continue;
    const src = lengths[rng.int(n)]!;
    const input = inScale === 1 ? src.input : Math.max(1, Math.round(src.input * inScale));
    const output = outScale === 1 ? src.output : Math.max(1, Math.round(src.output * outScale));
    const req: SimRequest = { id: id++, arrival: t, input, output };
    if (src.prefixHitTokens !== undefined) {
      req.prefixHitTokens = inScale === 1 ? src.prefixHitTokens : Math.min(input, Math.round(src.prefixHitTokens * inScale));
    }
    yield req;
  }
}
