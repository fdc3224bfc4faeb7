// A scenario as plain, serializable data (what the CLI parses and what worker threads receive), and how to run it.
import type { GuardConfig, StabilityConfig } from '../engine/core/types.js';
import type { NetworkConfig } from './fleet/fleet.js';
import type { HpaRecipe } from './policies/coordinated.js';
import { heterogeneousPools, homogeneousPools, runScenario, type PolicyName, type PoolPlan, type ScenarioOptions, type ScenarioResult } from './scenario.js';
import { servicePreset, type ServicePreset } from './service.js';
import { buildWorkload, type WorkloadChoice } from './workload/build.js';

export interface ScenarioSpec {
  /** A preset name, or a service (plain data: a preset with a rule's SLOs). */
  service: string | ServicePreset;
  /** `heterogeneous` (default fleet) or `homogeneous:<GPU>`, or explicit pools. */
  fleet: string | PoolPlan[];
  workload: WorkloadChoice;
  policies: PolicyName[];
  ratio?: { prefill: number; decode: number };
  coldStartS?: number;
  stability?: StabilityConfig;
  guards?: GuardConfig[];
  hpa?: HpaRecipe;
  network?: NetworkConfig;
  timelineStepS?: number;
}

export function fleetPools(fleet: ScenarioSpec['fleet']): PoolPlan[] {
  if (Array.isArray(fleet)) return fleet;
  if (fleet === 'heterogeneous') return heterogeneousPools();
  const m = /^homogeneous(?::([A-Za-z0-9]+))?$/.exec(fleet);
  if (m) return homogeneousPools(m[1] ?? 'H100');
  throw new Error(`fleet '${fleet}' is neither 'heterogeneous' nor 'homogeneous[:GPU]'`);
}

export function scenarioOptions(spec: ScenarioSpec, onProgress?: (policy: string, f: number) => void): ScenarioOptions & { describe: string } {
  const service = servicePreset(spec.service);
  const w = buildWorkload(spec.workload, service);
  const o: ScenarioOptions & { describe: string } = {
    service,
    pools: fleetPools(spec.fleet),
    requests: w.requests,
    startS: w.startS,
    durationS: w.durationS,
    policies: spec.policies,
    seed: spec.workload.seed,
    describe: w.describe,
    timelineStepS: spec.timelineStepS ?? Math.max(60, Math.round(w.durationS / 288)),
  };
  if (spec.ratio) o.ratio = spec.ratio;
  if (spec.coldStartS !== undefined) o.coldStartS = spec.coldStartS;
  if (spec.stability) o.stability = spec.stability;
  if (spec.guards) o.guards = spec.guards;
  if (spec.hpa) o.hpa = spec.hpa;
  if (spec.network) o.network = spec.network;
  if (onProgress) o.onProgress = onProgress;
  return o;
}

export function runSpec(spec: ScenarioSpec, onProgress?: (policy: string, f: number) => void): ScenarioResult {
  return runScenario(scenarioOptions(spec, onProgress));
}
