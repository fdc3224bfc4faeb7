// Lower bound: with perfect foresight of each window's demand and no cold start, the fewest instances per role whose
// SLO capacity covers the window's peak minute. Sized independently per role (no ratio constraint), on the best pool.
import type { SimPool } from '../fleet/fleet.js';
import type { ControlInput, ControlOutput, SimPolicy } from '../policy.js';
import type { SimRequest } from '../workload/index.js';

export interface OracleInput {
  startS: number;
  durationS: number;
  windowS: number;
  /** Pool used per role and the tokens/s one instance of it sustains within the SLOs. */
  prefill: { pool: string; tpsPerReplica: number; min: number };
  decode: { pool: string; tpsPerReplica: number; min: number };
}

export class OraclePolicy implements SimPolicy {
  readonly name = 'oracle';
  readonly instantStart = true;
  private readonly schedule: { prefill: number; decode: number }[];

  constructor(requests: Iterable<SimRequest>, private readonly o: OracleInput) {
    const n = Math.ceil(o.durationS / o.windowS) + 1;
    const prefillTokens = new Float64Array(n);
    const decodeTokens = new Float64Array(n);
    for (const r of requests) {
      const w = Math.floor(r.arrival / o.windowS);
      if (w >= n) break;
      prefillTokens[w]! += Math.max(1, r.input - (r.prefixHitTokens ?? 0));
      // Decode work lands mostly in the window of arrival; spread it over that and the next window.
      decodeTokens[w]! += r.output / 2;
      if (w + 1 < n) decodeTokens[w + 1]! += r.output / 2;
    }
    this.schedule = [];
    for (let w = 0; w < n; w++) {
      // Look one window ahead too: perfect foresight means capacity is there when the load arrives.
      const pNext = w + 1 < n ? prefillTokens[w + 1]! : 0;
      const dNext = w + 1 < n ? decodeTokens[w + 1]! : 0;
      const pTps = Math.max(prefillTokens[w]!, pNext) / o.windowS;
      const dTps = Math.max(decodeTokens[w]!, dNext) / o.windowS;
      this.schedule.push({
        prefill: Math.max(o.prefill.min, Math.ceil(pTps / o.prefill.tpsPerReplica)),
        decode: Math.max(o.decode.min, Math.ceil(dTps / o.decode.tpsPerReplica)),
      });
    }
  }

  private at(now: number): { prefill: number; decode: number } {
    const w = Math.max(0, Math.min(this.schedule.length - 1, Math.floor((now - this.o.startS) / this.o.windowS)));
    return this.schedule[w]!;
  }

  initial(pools: readonly SimPool[], startS: number): Record<string, number> {
    return this.replicas(pools, startS);
  }

  control(input: ControlInput): ControlOutput {
    return { replicas: this.replicas(input.pools.map((v) => v.pool), input.now) };
  }

  /** The largest count the oracle ever asks for per role (what a static fleet sized for the peak needs). */
  peak(): { prefill: number; decode: number } {
    let prefill = 0;
    let decode = 0;
    for (const s of this.schedule) {
      prefill = Math.max(prefill, s.prefill);
      decode = Math.max(decode, s.decode);
    }
    return { prefill, decode };
  }

  private replicas(pools: readonly SimPool[], now: number): Record<string, number> {
    const s = this.at(now);
    const out: Record<string, number> = {};
    for (const p of pools) out[p.name] = p.name === this.o.prefill.pool ? s.prefill : p.name === this.o.decode.pool ? s.decode : 0;
    return out;
  }
}
