// Services and the capacity one instance of a pool gives them at their SLOs. Every policy (coordinated targets, oracle,
// static peak, per-role TPS targets) sizes from these same numbers, so comparisons are fair.
import { decodeTpsAt, gpuModel, LLAMA3_8B, maxDecodeBatch, type ModelShape } from './gpu/index.js';
import type { SimPool } from './fleet/fleet.js';

export interface ServicePreset {
  name: string;
  meanInput: number;
  meanOutput: number;
  sloTtftS: number;
  sloTbtS: number;
  shape: ModelShape;
}

/** HeteroScale's services A and B (paper §5.1): lengths and SLOs as the issue states them. */
export const SERVICE_PRESETS: Readonly<Record<string, ServicePreset>> = Object.freeze({
  A: { name: 'service-a', meanInput: 3000, meanOutput: 350, sloTtftS: 1, sloTbtS: 0.04, shape: LLAMA3_8B },
  B: { name: 'service-b', meanInput: 7800, meanOutput: 700, sloTtftS: 1, sloTbtS: 0.02, shape: LLAMA3_8B },
});

/** A preset by name (`A`, `service-b`), or the given service as it is (a rule's SLOs on a preset's lengths). */
export function servicePreset(name: string | ServicePreset): ServicePreset {
  if (typeof name === 'object') return name;
  const key = name.toUpperCase().replace(/^SERVICE-?/, '');
  const p = SERVICE_PRESETS[key];
  if (!p) throw new Error(`unknown service preset '${name}'; known: ${Object.keys(SERVICE_PRESETS).join(', ')}`);
  return p;
}

/** A preset judged against other SLOs (a rule's guards, or --slo-ttft/--slo-tbt), under the service's own name. */
export function withSlo(base: ServicePreset, slo: { ttftS: number; tbtS: number }, name = base.name): ServicePreset {
  return { ...base, name, sloTtftS: slo.ttftS, sloTbtS: slo.tbtS };
}

/** Planning margins: how close to the SLO capacity an instance is planned to run. */
export interface Margins {
  /** Prefill utilization that keeps TTFT p99 well inside the SLO (M/G/1 queueing: TTFT doubles from ρ 0.7 to 0.8). */
  prefillUtilization: number;
  /** Decode step time budget as a share of the TBT SLO. */
  tbtBudget: number;
  /** Share of the KV cache planned to be in use (the rest absorbs length variance without preemption). */
  kvBudget: number;
}

export const DEFAULT_MARGINS: Margins = { prefillUtilization: 0.8, tbtBudget: 0.9, kvBudget: 0.8 };

export interface InstanceCapacity {
  /** Prompt tokens/s one instance sustains at the planned utilization. */
  prefillTps: number;
  /** Generated tokens/s one instance sustains within the TBT SLO and the planned KV share. */
  decodeTps: number;
  /** Requests/s one instance of the role carries. */
  requestsPerS: number;
}

/** A sample of the request mix (prompt lengths after prefix-cache hits). Long prompts cost more than their share. */
export type MixSample = readonly { input: number; output: number }[];

/** What one instance of `pool` carries for `svc`, at the margins; with a mix sample, prefill uses its mean service time. */
export function instanceCapacity(svc: ServicePreset, pool: Pick<SimPool, 'role' | 'gpuType' | 'gpusPerInstance'>, m: Margins = DEFAULT_MARGINS, mix?: MixSample): InstanceCapacity {
  const gpu = gpuModel(pool.gpuType, svc.shape);
  if (pool.role === 'prefill') {
    let rate = gpu.prefillTokensPerSecond(svc.meanInput);
    if (mix && mix.length > 0) {
      let tokens = 0;
      let seconds = 0;
      for (const r of mix) {
        tokens += r.input;
        seconds += gpu.prefillSeconds(r.input);
      }
      rate = tokens / seconds;
    }
    const tps = rate * pool.gpusPerInstance * m.prefillUtilization;
    return { prefillTps: tps, decodeTps: 0, requestsPerS: tps / svc.meanInput };
  }
  // Mean context of a sequence in flight: its prompt plus half its output.
  const ctx = svc.meanInput + svc.meanOutput / 2;
  const bySlo = maxDecodeBatch(gpu, ctx, svc.sloTbtS * m.tbtBudget);
  const byKv = Math.floor((gpu.kvCapacityTokens * pool.gpusPerInstance * m.kvBudget) / ctx);
  const batch = Math.max(0, Math.min(bySlo, byKv));
  const tps = batch > 0 ? decodeTpsAt(gpu, batch, ctx) * pool.gpusPerInstance : 0;
  return { prefillTps: 0, decodeTps: tps, requestsPerS: tps / svc.meanOutput };
}

/**
 * Units per instance for each pool: the role's reference pool (lowest preference in `order`, else the first) is 1 and
 * the others are worth their capacity relative to it.
 */
export function poolUnits(svc: ServicePreset, pools: readonly Omit<SimPool, 'units'>[], mix?: MixSample): Record<string, number> {
  const out: Record<string, number> = {};
  for (const role of ['prefill', 'decode'] as const) {
    const inRole = pools.filter((p) => p.role === role);
    const ref = inRole[0];
    if (!ref) continue;
    const refCap = instanceCapacity(svc, ref, DEFAULT_MARGINS, mix).requestsPerS;
    for (const p of inRole) out[p.name] = refCap > 0 ? round2(instanceCapacity(svc, p, DEFAULT_MARGINS, mix).requestsPerS / refCap) : 1;
  }
  return out;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
