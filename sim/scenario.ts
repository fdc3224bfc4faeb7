// A scenario ties a service, a fleet, a workload and a set of policies together, and runs every policy on the very same
// request stream. The CLI, the demo, the benchmarks and the acceptance tests all go through here.
import type { GuardConfig, PoolConfig, ServicePolicyConfig, StabilityConfig } from '../engine/core/types.js';
import { DEFAULT_NETWORK, type NetworkConfig, type SimPool } from './fleet/fleet.js';
import { BATON_HPA_RECIPE, CoordinatedPolicy, type HpaRecipe } from './policies/coordinated.js';
import { HpaUtilizationPolicy } from './policies/hpa-util.js';
import { OraclePolicy } from './policies/oracle.js';
import { PerRoleTpsPolicy } from './policies/per-role-tps.js';
import { StaticPolicy } from './policies/static.js';
import type { SimPolicy } from './policy.js';
import { DEFAULT_MARGINS, instanceCapacity, poolUnits, type Margins, type MixSample, type ServicePreset } from './service.js';
import { simulate, type SimResult, type SimulationConfig } from './simulate.js';
import type { SimRequest } from './workload/index.js';

export const POLICY_NAMES = ['static', 'hpa-util', 'per-role-tps', 'coordinated', 'oracle'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

export interface PoolPlan extends Omit<SimPool, 'units'> {
  preference: number;
  minReplicas: number;
}

/** The default heterogeneous fleet: prefill on compute-rich H100, decode on bandwidth-rich H20, H200 as decode fallback. */
export function heterogeneousPools(maxPerPool = 400): PoolPlan[] {
  return [
    { name: 'prefill-h100', role: 'prefill', gpuType: 'H100', gpusPerInstance: 1, maxInstances: maxPerPool, preference: 0, minReplicas: 1 },
    { name: 'decode-h20', role: 'decode', gpuType: 'H20', gpusPerInstance: 1, maxInstances: maxPerPool, preference: 0, minReplicas: 1 },
    { name: 'decode-h200', role: 'decode', gpuType: 'H200', gpusPerInstance: 1, maxInstances: maxPerPool, preference: 1, minReplicas: 0 },
  ];
}

/** One GPU type for both roles (what the paper's +41 % cost per token compares against). */
export function homogeneousPools(gpuType = 'H100', maxPerPool = 400): PoolPlan[] {
  const t = gpuType.toLowerCase();
  return [
    { name: `prefill-${t}`, role: 'prefill', gpuType, gpusPerInstance: 1, maxInstances: maxPerPool, preference: 0, minReplicas: 1 },
    { name: `decode-${t}`, role: 'decode', gpuType, gpusPerInstance: 1, maxInstances: maxPerPool, preference: 0, minReplicas: 1 },
  ];
}

export interface ScenarioOptions {
  service: ServicePreset;
  pools: PoolPlan[];
  /** A fresh, identical request stream per call (every policy replays the same requests). */
  requests: () => Iterable<SimRequest>;
  startS: number;
  durationS: number;
  policies: readonly PolicyName[];
  /** Overrides of the pressure-tested P:D ratio (integers). */
  ratio?: { prefill: number; decode: number };
  margins?: Margins;
  stability?: StabilityConfig;
  guards?: GuardConfig[];
  hpa?: HpaRecipe;
  network?: NetworkConfig;
  coldStartS?: number;
  tickS?: number;
  windowS?: number;
  seed?: number;
  timelineStepS?: number;
  onProgress?: (policy: string, fraction: number) => void;
}

// The production defaults (rules/defaults.ts) but a 60 s scale-in cooldown: the simulated day's ramps are steep.
export const DEFAULT_STABILITY: StabilityConfig = { scaleUpCooldownS: 30, scaleDownCooldownS: 60, scaleInHysteresis: 0.1, scaleInDamping: 0.5 };

export function defaultGuards(svc: ServicePreset): GuardConfig[] {
  const tiers = [{ above: 0.9, scaleOut: 0.1 }, { above: 1.0, scaleOut: 0.2 }];
  return [
    { name: 'tbt_p99', slo: svc.sloTbtS, tiers },
    { name: 'ttft_p99', slo: svc.sloTtftS, tiers },
  ];
}

/** The best small-integer P:D (P + D ≤ 16, as in the paper's pressure test) for a real-valued prefill-per-decode ratio. */
export function integerRatio(prefillPerDecode: number, maxTotal = 16): { prefill: number; decode: number } {
  let best = { prefill: 1, decode: 1 };
  let bestErr = Infinity;
  for (let d = 1; d < maxTotal; d++) {
    for (let p = 1; p + d <= maxTotal; p++) {
      const err = Math.abs(p / d / prefillPerDecode - 1);
      if (err < bestErr - 1e-12) {
        bestErr = err;
        best = { prefill: p, decode: d };
      }
    }
  }
  return best;
}

export interface ScenarioPlan {
  mix: MixSample;
  simPools: SimPool[];
  policyConfig: ServicePolicyConfig;
  ratio: { prefill: number; decode: number };
  capacity: Record<string, { requestsPerS: number; tps: number }>;
}

/** Capacity, units, ratio and the coordinated policy's configuration for a scenario. */
export function planScenario(o: ScenarioOptions): ScenarioPlan {
  const margins = o.margins ?? DEFAULT_MARGINS;
  const mix = sampleMix(o.requests());
  const units = poolUnits(o.service, o.pools, mix);
  const simPools: SimPool[] = o.pools.map((p) => ({ name: p.name, role: p.role, gpuType: p.gpuType, gpusPerInstance: p.gpusPerInstance, maxInstances: p.maxInstances, units: units[p.name] ?? 1 }));
  const capacity: ScenarioPlan['capacity'] = {};
  for (const p of o.pools) {
    const c = instanceCapacity(o.service, p, margins, mix);
    capacity[p.name] = { requestsPerS: c.requestsPerS, tps: p.role === 'prefill' ? c.prefillTps : c.decodeTps };
  }
  const refP = o.pools.find((p) => p.role === 'prefill');
  const refD = o.pools.find((p) => p.role === 'decode');
  if (!refP || !refD) throw new Error('a scenario needs at least one prefill and one decode pool');
  const ratio = o.ratio ?? integerRatio(capacity[refD.name]!.requestsPerS / capacity[refP.name]!.requestsPerS);
  const pools: PoolConfig[] = o.pools.map((p) => ({
    name: p.name, role: p.role, gpuType: p.gpuType, unitsPerReplica: units[p.name] ?? 1, preference: p.preference, minReplicas: p.minReplicas, maxReplicas: p.maxInstances,
  }));
  const policyConfig: ServicePolicyConfig = {
    service: o.service.name,
    ratio,
    decodeTpsPerUnit: capacity[refD.name]!.tps,
    pools,
    guards: o.guards ?? defaultGuards(o.service),
    stability: o.stability ?? DEFAULT_STABILITY,
  };
  return { mix, simPools, policyConfig, ratio, capacity };
}

/** The first requests of the stream stand for its mix (what a pressure test would replay). */
export function sampleMix(requests: Iterable<SimRequest>, n = 20_000): MixSample {
  const out: { input: number; output: number }[] = [];
  for (const r of requests) {
    out.push({ input: Math.max(1, r.input - (r.prefixHitTokens ?? 0)), output: Math.max(1, r.output) });
    if (out.length >= n) break;
  }
  return out;
}

export function simulationConfig(o: ScenarioOptions, plan: ScenarioPlan): SimulationConfig {
  return {
    service: { name: o.service.name, sloTtftS: o.service.sloTtftS, sloTbtS: o.service.sloTbtS, shape: o.service.shape, ratio: plan.ratio },
    pools: plan.simPools,
    network: o.network ?? DEFAULT_NETWORK,
    coldStartS: o.coldStartS ?? 120,
    tickS: o.tickS ?? 5,
    windowS: o.windowS ?? 30,
    startS: o.startS,
    durationS: o.durationS,
    seed: o.seed ?? 1,
    timelineStepS: o.timelineStepS ?? 300,
  };
}

/** Builds the named policy for a scenario. The oracle reads the request stream ahead of time. */
export function buildPolicy(name: PolicyName, o: ScenarioOptions, plan: ScenarioPlan, oracle?: OraclePolicy): SimPolicy {
  const refP = o.pools.find((p) => p.role === 'prefill')!;
  const refD = o.pools.find((p) => p.role === 'decode')!;
  const capP = plan.capacity[refP.name]!;
  const capD = plan.capacity[refD.name]!;
  const orc = oracle ?? buildOracle(o, plan);
  const peak = orc.peak();
  // Every dynamic policy starts from the fleet the load at the start needs (as if it had been running before).
  const start = orc.initial(plan.simPools, o.startS);
  const initialP = Math.max(1, start[refP.name] ?? 1);
  const initialD = Math.max(1, start[refD.name] ?? 1);
  switch (name) {
    case 'static':
      return new StaticPolicy({ [refP.name]: peak.prefill, [refD.name]: peak.decode });
    case 'oracle':
      return orc;
    case 'coordinated':
      return new CoordinatedPolicy(plan.policyConfig, { evalIntervalS: o.tickS ?? 5, hpa: o.hpa ?? BATON_HPA_RECIPE }).startFrom(start);
    case 'hpa-util':
      return new HpaUtilizationPolicy({
        prefill: { pool: refP.name, min: refP.minReplicas || 1, max: refP.maxInstances, initial: initialP },
        decode: { pool: refD.name, min: refD.minReplicas || 1, max: refD.maxInstances, initial: initialD },
      }, 70);
    case 'per-role-tps':
      return new PerRoleTpsPolicy({
        prefill: { pool: refP.name, min: refP.minReplicas || 1, max: refP.maxInstances, initial: initialP, tpsPerReplica: capP.tps },
        decode: { pool: refD.name, min: refD.minReplicas || 1, max: refD.maxInstances, initial: initialD, tpsPerReplica: capD.tps },
      });
  }
}

/** Oracle sizing uses the capacity at the SLO edge (no planning margin): it is a lower bound. */
export const ORACLE_MARGINS: Margins = { prefillUtilization: 0.9, tbtBudget: 1.0, kvBudget: 0.9 };

export function buildOracle(o: ScenarioOptions, plan: ScenarioPlan): OraclePolicy {
  const refP = o.pools.find((p) => p.role === 'prefill')!;
  const refD = o.pools.find((p) => p.role === 'decode')!;
  const cap = (p: PoolPlan) => instanceCapacity(o.service, p, ORACLE_MARGINS, plan.mix);
  return new OraclePolicy(o.requests(), {
    startS: o.startS,
    durationS: o.durationS,
    windowS: 60,
    prefill: { pool: refP.name, tpsPerReplica: cap(refP).prefillTps, min: 1 },
    decode: { pool: refD.name, tpsPerReplica: cap(refD).decodeTps, min: 1 },
  });
}

export interface ScenarioResult {
  plan: ScenarioPlan;
  results: Record<string, SimResult>;
}

export function runScenario(o: ScenarioOptions): ScenarioResult {
  const plan = planScenario(o);
  const base = simulationConfig(o, plan);
  const oracle = buildOracle(o, plan);
  const results: Record<string, SimResult> = {};
  for (const name of o.policies) {
    const policy = buildPolicy(name, o, plan, oracle);
    const cfg: SimulationConfig = { ...base };
    if (o.onProgress) cfg.onProgress = (f) => o.onProgress!(name, f);
    results[name] = simulate(cfg, o.requests(), policy);
  }
  return { plan, results };
}
