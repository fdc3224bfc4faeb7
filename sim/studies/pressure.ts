// The pressure test (HeteroScale Algorithm 1, first line): for a fixed number of instances split P:D in every way,
// find the highest request rate the fleet serves within its SLOs. Throughput against the ratio is bell-shaped: too few
// prefill instances and TTFT breaks, too few decode instances and TBT (then KV) breaks.
import type { SimPool } from '../fleet/fleet.js';
import { DEFAULT_NETWORK } from '../fleet/fleet.js';
import { StaticPolicy } from '../policies/static.js';
import type { ServicePreset } from '../service.js';
import { simulate } from '../simulate.js';
import { synthesize, type SimRequest } from '../workload/index.js';

export interface PressureOptions {
  service: ServicePreset;
  prefillGpu: string;
  decodeGpu: string;
  /** Instances in total, split P + D = total (the paper used 16). */
  total: number;
  /** Prefill counts to try; default every split from 1 to total − 1. */
  prefillCounts?: number[];
  /** Request mix to draw lengths from. */
  lengths: readonly SimRequest[];
  /** SLO attainment a rate must keep to count as served (both TTFT and TBT). */
  attainment?: number;
  /** Seconds of arrivals per probe. */
  probeS?: number;
  seed?: number;
  onProbe?: (prefill: number, rps: number, ok: boolean) => void;
}

export interface PressurePoint {
  prefill: number;
  decode: number;
  /** Highest request rate served within the SLOs. */
  maxRps: number;
  /** Prompt and generated tokens/s at that rate. */
  prefillTps: number;
  decodeTps: number;
}

export interface PressureResult {
  points: PressurePoint[];
  best: PressurePoint;
  /** Throughput at the best ratio over the better of the two extremes, minus one (0.15 = 15 % above). */
  peakOverExtremes: number;
}

const FLAT: { at: (t: number) => number; periodS: number } = { at: () => 1, periodS: 86_400 };

export function pressureTest(o: PressureOptions): PressureResult {
  const counts = o.prefillCounts ?? Array.from({ length: o.total - 1 }, (_, i) => i + 1);
  const points = counts.map((p) => probeSplit(o, p, o.total - p));
  let best = points[0]!;
  for (const p of points) if (p.decodeTps > best.decodeTps) best = p;
  const ends = Math.max(points[0]!.decodeTps, points[points.length - 1]!.decodeTps);
  return { points, best, peakOverExtremes: ends > 0 ? best.decodeTps / ends - 1 : Infinity };
}

function probeSplit(o: PressureOptions, prefill: number, decode: number): PressurePoint {
  const pools: SimPool[] = [
    { name: 'prefill', role: 'prefill', gpuType: o.prefillGpu, gpusPerInstance: 1, maxInstances: prefill, units: 1 },
    { name: 'decode', role: 'decode', gpuType: o.decodeGpu, gpusPerInstance: 1, maxInstances: decode, units: 1 },
  ];
  const probeS = o.probeS ?? 240;
  const need = o.attainment ?? 0.99;
  const run = (rps: number) => {
    const requests = synthesize({ lengths: o.lengths, envelope: FLAT, peakRps: rps, durationS: probeS, seed: o.seed ?? 3, meanInput: o.service.meanInput, meanOutput: o.service.meanOutput });
    const r = simulate({
      service: { name: o.service.name, sloTtftS: o.service.sloTtftS, sloTbtS: o.service.sloTbtS, shape: o.service.shape, ratio: { prefill, decode } },
      // Arrivals stop at probeS; the extra minute lets a healthy fleet finish what it took in.
      pools, network: DEFAULT_NETWORK, coldStartS: 0, tickS: 5, windowS: 30, startS: 0, durationS: probeS + 60, seed: o.seed ?? 3, timelineStepS: probeS,
    }, requests, new StaticPolicy({ prefill, decode }));
    // Requests left unfinished at the end of an overloaded probe are failures too.
    const served = r.completed * r.sloAttainment.both;
    const ok = served / Math.max(1, r.requests) >= need;
    o.onProbe?.(prefill, rps, ok);
    return { ok, r };
  };
  // Bracket the knee from above by doubling, then bisect in requests/s.
  let lo = 0;
  let hi = 4;
  while (run(hi).ok && hi < 1e5) {
    lo = hi;
    hi *= 2;
  }
  for (let i = 0; i < 9 && hi - lo > Math.max(0.05, lo * 0.01); i++) {
    const mid = (lo + hi) / 2;
    if (run(mid).ok) lo = mid;
    else hi = mid;
  }
  const meanIn = o.service.meanInput;
  const meanOut = o.service.meanOutput;
  return { prefill, decode, maxRps: lo, prefillTps: lo * meanIn, decodeTps: lo * meanOut };
}
