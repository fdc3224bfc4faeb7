// Quick statistics of a request stream, for CLI output and tests.
import type { SimRequest } from './types.js';

export interface LengthStats {
  mean: number;
  p50: number;
  p99: number;
}

export interface WorkloadSummary {
  count: number;
  /** Last arrival minus first arrival, seconds. */
  durationS: number;
  /** count / durationS (0 when durationS is 0). */
  meanRps: number;
  input: LengthStats;
  output: LengthStats;
  /** Sum of prefixHitTokens / sum of input over requests that carry prefixHitTokens; undefined if none do. */
  prefixHitFraction?: number;
}

/** Nearest-rank percentile of a sorted array. */
function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function stats(values: Float64Array): LengthStats {
  let sum = 0;
  for (const v of values) sum += v;
  values.sort();
  return { mean: values.length ? sum / values.length : NaN, p50: percentile(values, 0.5), p99: percentile(values, 0.99) };
}

export function summarize(requests: Iterable<SimRequest>): WorkloadSummary {
  let inputs: Float64Array = new Float64Array(1024);
  let outputs: Float64Array = new Float64Array(1024);
  let count = 0;
  let first = Infinity;
  let last = -Infinity;
  let hit = 0;
  let hitInput = 0;
  let withHits = 0;
  for (const r of requests) {
    if (count === inputs.length) {
      const grow = (a: Float64Array): Float64Array => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      inputs = grow(inputs);
      outputs = grow(outputs);
    }
    inputs[count] = r.input;
    outputs[count] = r.output;
    count++;
    if (r.arrival < first) first = r.arrival;
    if (r.arrival > last) last = r.arrival;
    if (r.prefixHitTokens !== undefined) {
      withHits++;
      hit += r.prefixHitTokens;
      hitInput += r.input;
    }
  }
  const durationS = count > 0 ? last - first : 0;
  const summary: WorkloadSummary = {
    count,
    durationS,
    meanRps: durationS > 0 ? count / durationS : 0,
    input: stats(inputs.subarray(0, count)),
    output: stats(outputs.subarray(0, count)),
  };
  if (withHits > 0) summary.prefixHitFraction = hitInput > 0 ? hit / hitInput : 0;
  return summary;
}
