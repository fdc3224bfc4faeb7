// Replays a loaded trace with its time axis and arrival rate scaled.
import { Rng } from '../rng.js';
import type { SimRequest } from './types.js';

export interface ReplayOptions {
  /** Multiplies every arrival time: 2 = the trace takes twice as long (half the rate). Default 1. */
  timeScale?: number;
  /** Multiplies the arrival rate while keeping the duration. Default 1. */
  rateScale?: number;
  /** Seed for the thinning/duplication draws. Default 1. */
  seed?: number;
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`replay: ${name} must be a finite number > 0, got ${v}`);
  return v;
}

/**
 * Lazily yields the trace's requests in arrival order with fresh ids 0, 1, 2, ...
 *
 * Rate scaling r (after time scaling): each request is emitted floor(r) times plus once more with
 * probability r - floor(r). For r < 1 that is independent thinning (keep with probability r), which
 * keeps a Poisson stream Poisson and keeps the trace's rate profile. For r > 1 the original stays at
 * its own arrival and each extra copy lands uniformly between that arrival and the next original
 * one, so the rate in every inter-arrival gap grows by r: the minute-by-minute profile is kept, and
 * bursts (many requests in the same instant, zero gaps) stay bursts r times as large. Copies keep the
 * original's lengths and prefixHitTokens. After the last request the mean gap of the trace is used.
 */
export function* replay(trace: readonly SimRequest[], opts: ReplayOptions = {}): Generator<SimRequest> {
  const timeScale = positive('timeScale', opts.timeScale ?? 1);
  const rateScale = positive('rateScale', opts.rateScale ?? 1);
  const rng = new Rng(opts.seed ?? 1);
  const whole = Math.floor(rateScale);
  const extraP = rateScale - whole;
  const n = trace.length;
  if (n === 0) return;
  const meanGap = n > 1 ? ((trace[n - 1]!.arrival - trace[0]!.arrival) * timeScale) / (n - 1) : 0;

  let id = 0;
  const extras: number[] = [];
  for (let i = 0; i < n; i++) {
    const src = trace[i]!;
    if (i > 0 && src.arrival < trace[i - 1]!.arrival) {
      throw new Error(`replay: trace must be sorted by arrival (request ${i} at ${src.arrival}s comes before ${trace[i - 1]!.arrival}s)`);
    }
    const copies = whole + (extraP > 0 && rng.next() < extraP ? 1 : 0);
    if (copies === 0) continue;
    const at = src.arrival * timeScale;
    yield { ...src, id: id++, arrival: at };
    if (copies === 1) continue;
    const next = i + 1 < n ? trace[i + 1]!.arrival * timeScale : at + meanGap;
    extras.length = 0;
    for (let c = 1; c < copies; c++) extras.push(at + (next - at) * rng.next());
    extras.sort((a, b) => a - b);
    for (const t of extras) yield { ...src, id: id++, arrival: t };
  }
}
