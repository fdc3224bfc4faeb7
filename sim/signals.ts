// The paper's eight per-service signals over a sliding window, as a real Prometheus would compute them from the
// engines' counters: rates of token counters, busy-time utilization, and latency quantiles of recent requests.
export interface Signals {
  /** KV-cache-missed prefill tokens/s. */
  prefillTps: number;
  decodeTps: number;
  prefillGpuUtil: number;
  decodeGpuUtil: number;
  prefillSmActivity: number;
  decodeSmActivity: number;
  ttftP99: number | undefined;
  tbtP99: number | undefined;
  /** Requests arriving per second (what a router in front of the pods sees, pods or not): a scale-to-zero wake signal. */
  arrivalsPerS?: number;
}

export const SIGNAL_NAMES = [
  'prefillTps', 'decodeTps', 'prefillGpuUtil', 'decodeGpuUtil', 'prefillSmActivity', 'decodeSmActivity', 'ttftP99', 'tbtP99',
] as const;
export type SignalName = (typeof SIGNAL_NAMES)[number];

/**
 * nvidia-smi utilization as measured on H100/H200: 86–87 % whenever a decode batch runs (batch 1 to 256 alike), 15–18 %
 * with weights resident and nothing running (sim/data/gpu-profiles). Decode utilization is therefore no load signal.
 */
export const DECODE_UTIL_BUSY = 0.865;
export const UTIL_IDLE = 0.16;
/**
 * SM activity (not measured; shapes from the paper's Fig. 2d / Fig. 4): prefill ≈ 0.72 when computing; decode rises with
 * the batch's share of the KV cache from ≈ 0.3 to ≈ 0.65.
 */
export const PREFILL_SM_BUSY = 0.72;
export const DECODE_SM_BASE = 0.3;
export const DECODE_SM_SPAN = 0.35;

/** p-quantile (0..1) of a sample, nearest-rank; undefined for an empty sample. */
export function quantile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank];
}
