// The `--json FILE` document: the same figures as the table, plus the plan and every policy's timeline for plotting.
import type { Role } from '../../engine/core/types.js';
import type { ScenarioResult } from '../scenario.js';
import type { TimelinePoint } from '../simulate.js';
import type { SimPool } from '../fleet/fleet.js';
import { checkMeta, type ReportMeta } from './meta.js';
import { summarize } from './summary.js';

/** Bumped when a field changes meaning or disappears; adding fields keeps the version. */
export const REPORT_JSON_FORMAT = 'baton-simulate/1';

/** A simulated pool (units: capacity of one instance in role units, the role's reference pool is 1) and its plan. */
export interface JsonPool extends SimPool {
  minReplicas: number | null;
  preference: number | null;
  capacity: { requestsPerS: number; tps: number } | null;
}

export interface JsonPlan {
  ratio: { prefill: number; decode: number };
  decodeTpsPerUnit: number;
  pools: JsonPool[];
  mix: { sampled: number; meanInput: number; meanOutput: number };
}

export interface JsonPolicy {
  gpuHours: number;
  cost: number;
  /** Fractions in [0, 1] of completed requests. */
  sloAttainment: { ttft: number; tbt: number; both: number };
  ttft: { p50: number; p99: number };
  tbt: { p50: number; p99: number };
  meanGpuUtil: { prefill: number; decode: number };
  ratioDrift: number;
  scaleEvents: number;
  preemptions: number;
  crossSwitchShare: number;
  requests: number;
  completed: number;
  unfinished: number;
  /** GPU-hours ÷ static's and ÷ oracle's; null when that baseline was not run. */
  gpuHoursVsStatic: number | null;
  gpuHoursVsOracle: number | null;
  pools: Record<string, { gpuHours: number; cost: number }>;
  timeline: TimelinePoint[];
}

export interface JsonReport {
  format: typeof REPORT_JSON_FORMAT;
  service: { name: string; sloTtftS: number; sloTbtS: number };
  startS: number;
  durationS: number;
  source: string | null;
  plan: JsonPlan;
  policies: Record<string, JsonPolicy>;
}

export function toJson(result: ScenarioResult, meta: ReportMeta): JsonReport {
  checkMeta(meta, 'toJson');
  const rows = summarize(result, 'toJson');
  const { plan } = result;
  const configured = new Map(plan.policyConfig.pools.map((p) => [p.name, p]));
  let input = 0;
  let output = 0;
  for (const r of plan.mix) {
    input += r.input;
    output += r.output;
  }
  const n = plan.mix.length;
  const policies: Record<string, JsonPolicy> = {};
  for (const { policy, result: r, vsStatic, vsOracle } of rows) {
    policies[policy] = {
      gpuHours: r.gpuHours,
      cost: r.cost,
      sloAttainment: { ...r.sloAttainment },
      ttft: { ...r.ttft },
      tbt: { ...r.tbt },
      meanGpuUtil: { ...r.meanGpuUtil },
      ratioDrift: r.ratioDrift,
      scaleEvents: r.scaleEvents,
      preemptions: r.preemptions,
      crossSwitchShare: r.crossSwitchShare,
      requests: r.requests,
      completed: r.completed,
      unfinished: r.unfinished,
      gpuHoursVsStatic: vsStatic,
      gpuHoursVsOracle: vsOracle,
      pools: Object.fromEntries(Object.entries(r.pools).map(([k, v]) => [k, { ...v }])),
      timeline: r.timeline.map((p) => ({ ...p, replicas: { ...p.replicas }, ready: { ...p.ready } })),
    };
  }
  return {
    format: REPORT_JSON_FORMAT,
    service: { name: meta.service.name, sloTtftS: meta.service.sloTtftS, sloTbtS: meta.service.sloTbtS },
    startS: meta.startS,
    durationS: meta.durationS,
    source: meta.source ?? null,
    plan: {
      ratio: { ...plan.ratio },
      decodeTpsPerUnit: plan.policyConfig.decodeTpsPerUnit,
      pools: plan.simPools.map((p) => {
        const c = configured.get(p.name);
        const cap = plan.capacity[p.name];
        return {
          name: p.name, role: p.role, gpuType: p.gpuType, gpusPerInstance: p.gpusPerInstance, maxInstances: p.maxInstances,
          units: p.units, minReplicas: c?.minReplicas ?? null, preference: c?.preference ?? null,
          capacity: cap ? { requestsPerS: cap.requestsPerS, tps: cap.tps } : null,
        };
      }),
      mix: { sampled: n, meanInput: n ? input / n : 0, meanOutput: n ? output / n : 0 },
    },
    policies,
  };
}
