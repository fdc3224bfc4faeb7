// The what-if itself: at every step, the evaluation the adapter would have run (same readings, same `when` filtering,
// same decide()), then one stock HPA per pool with Baton's recipe (AverageValue 1, tolerance 0) moving a counterfactual
// fleet. Missing decode TPS holds the last decision; past maxStalenessSeconds the HPA cannot fetch the metric and keeps
// its replicas. Nothing ever scales down on a gap.
import { decide, noteSignalMissing } from '../engine/core/decide.js';
import { initialHpaState, stepHpa, type HpaSpec, type HpaState } from '../engine/core/hpa/index.js';
import type { GuardReading, PolicyState, Role, ServicePolicyConfig } from '../engine/core/types.js';
import { decidesWithoutSignal, guardReadingOf, readPerPool, readSingle } from '../rules/results.js';
import { policyConfigOf, type ServiceRule } from '../rules/types.js';
import { evaluateWhen, whenData } from '../rules/when.js';
import { BATON_HPA_RECIPE } from '../sim/policies/coordinated.js';
import type { History, HistoryQuery } from './history.js';

export interface ActualSource {
  promql: string;
  /** Label whose value names the pool (compared with each pool's poolLabelValue). */
  by: string;
}

/** The queries a what-if needs: the rule's own PromQL, plus what actually ran when known. */
export function whatIfQueries(rule: ServiceRule, actual?: ActualSource): HistoryQuery[] {
  const out: HistoryQuery[] = [{ name: 'decodeTps', promql: rule.decodeTps.promql }];
  for (const g of rule.guards) out.push({ name: `guard:${g.name}`, promql: g.query.promql });
  if (rule.wake) out.push({ name: 'wake', promql: rule.wake.query.promql });
  if (actual) out.push({ name: 'actual', promql: actual.promql });
  return out;
}

/** The actual-replicas source: the --actual flag, else the rule's `replicas` query. */
export function actualSourceOf(rule: ServiceRule, flag?: { promql: string; by: string }): ActualSource | undefined {
  if (flag) return flag;
  if (rule.replicas?.by) return { promql: rule.replicas.promql, by: rule.replicas.by };
  return undefined;
}

export interface WhatIfStep {
  t: number;
  /** Decode TPS read at this step; null where the signal was unusable (the step held). */
  decodeTps: number | null;
  held: boolean;
  /** Why the step held (the evaluator's wording), when it did. */
  problem?: string;
  /** Replicas per pool the what-if fleet has after this step. */
  replicas: Record<string, number>;
  /** Replicas per pool that actually ran (held across gaps in that series); null before the first known point. */
  actual: Record<string, number> | null;
  direction: 'up' | 'down' | 'hold' | null;
  /** Each guard's reading at this step: its value, null when empty (idle), 'error' when it could not be read. */
  guards: Record<string, number | null | 'error'>;
  /** The policy core's reason codes of this step's decision (none when it held). */
  reasons: string[];
}

export interface WhatIfOptions {
  rule: ServiceRule;
  history: History;
  actual?: ActualSource;
  /** HPA sync period (s); the controller's default 15. */
  hpaSyncPeriodS?: number;
}

export interface WhatIfRun {
  rule: ServiceRule;
  steps: WhatIfStep[];
  /** Steps where the actual series had a point of its own (not held). */
  actualPoints: number;
}

export function runWhatIf(o: WhatIfOptions): WhatIfRun {
  const { rule, history } = o;
  const specs = new Map<string, HpaSpec>();
  const hpa = new Map<string, HpaState>();
  for (const p of rule.pools) {
    specs.set(p.name, {
      minReplicas: p.minReplicas,
      maxReplicas: p.maxReplicas,
      metrics: [{ type: 'External', name: rule.metric.name, selector: `service=${rule.name},pool=${p.name}`, target: { type: 'AverageValue', averageValue: 1 } }],
      behavior: BATON_HPA_RECIPE.behavior!,
    });
    hpa.set(p.name, initialHpaState());
  }
  const controller = { ...BATON_HPA_RECIPE.controller, syncPeriodS: o.hpaSyncPeriodS ?? BATON_HPA_RECIPE.controller.syncPeriodS ?? 15 };
  const decodePools = rule.pools.filter((p) => p.role === 'decode');

  let policy: PolicyState = {};
  let fleet: Record<string, number> | undefined;
  let published: Record<string, number> | undefined;
  let lastGoodAt: number | undefined;
  let actual: Record<string, number> | null = null;
  let actualPoints = 0;
  const steps: WhatIfStep[] = [];

  for (let i = 0; i < history.times.length; i++) {
    const t = history.times[i]!;
    if (o.actual) {
      const raw = history.at('actual', i);
      const r = raw ? readPerPool(raw, { by: o.actual.by, pools: rule.pools, required: 'all' }) : undefined;
      if (r?.ok && r.perPool) {
        actual = { ...r.perPool };
        actualPoints++;
      }
    }
    // The counterfactual fleet starts where the real one stood (or at the pools' minimum when that is unknown).
    fleet ??= Object.fromEntries(rule.pools.map((p) => [p.name, actual?.[p.name] ?? p.minReplicas]));

    const rawSignal = history.at('decodeTps', i);
    // A pool may lack a decode series only where it had no replicas: in what ran when known, else in the what-if.
    const replicasForSeries = actual ?? fleet;
    const signal = !rawSignal
      ? { ok: false as const, problem: `decode TPS query failed: ${history.errors.decodeTps ?? 'no result'}` }
      : rule.decodeTps.by
        ? readPerPool(rawSignal, { by: rule.decodeTps.by, pools: decodePools, required: { replicas: replicasForSeries } })
        : readSingle(rawSignal);
    const values: Record<string, number | undefined> = { decodeTps: signal.ok ? signal.value : undefined };
    const readings: Record<string, GuardReading> = {};
    for (const g of rule.guards) {
      const raw = history.at(`guard:${g.name}`, i);
      const r = raw ? readSingle(raw) : undefined;
      values[g.name] = r?.ok ? r.value : undefined;
      readings[g.name] = guardReadingOf(r);
    }

    // Scale to zero, as the evaluator does it (decidesWithoutSignal).
    let wake: GuardReading | undefined;
    if (rule.wake) {
      const raw = history.at('wake', i);
      wake = guardReadingOf(raw ? readSingle(raw) : undefined);
    }
    const cfg = activeConfig(rule, t, values);
    let held = false;
    let problem: string | undefined;
    let direction: WhatIfStep['direction'] = null;
    let reasonCodes: string[] = [];
    if (!signal.ok && cfg.periodic?.mode !== 'only' && !decidesWithoutSignal(rule.wake !== undefined, wake)) {
      policy = noteSignalMissing(policy, t);
      held = true;
      problem = `decode TPS unusable: ${signal.problem}`;
    } else {
      const guards: Record<string, GuardReading> = {};
      for (const g of cfg.guards) guards[g.name] = readings[g.name];
      const d = decide(cfg, { now: t, decodeTps: values.decodeTps, guards, replicas: fleet, ...(rule.wake ? { wake } : {}) }, policy);
      policy = d.state;
      direction = d.direction;
      reasonCodes = [...new Set(d.reasons.map((r) => r.code))];
      published = Object.fromEntries(rule.pools.map((p) => [p.name, d[p.role].pools[p.name] ?? p.minReplicas]));
      lastGoodAt = t;
    }

    // The adapter serves the last good value until it is older than maxStalenessSeconds, then 503: the HPA keeps its size.
    const fresh = lastGoodAt !== undefined && t - lastGoodAt <= rule.maxStalenessS;
    const next: Record<string, number> = {};
    for (const p of rule.pools) {
      const cur = fleet[p.name]!;
      const value = fresh && published ? published[p.name] : undefined;
      const step = stepHpa(specs.get(p.name)!, controller, hpa.get(p.name)!, {
        now: t, specReplicas: cur, statusReplicas: cur, readyPods: cur,
        metrics: [value === undefined ? { error: lastGoodAt === undefined ? 'no value published yet' : 'the adapter answers 503: value is stale' } : value],
      });
      hpa.set(p.name, step.state);
      next[p.name] = step.desiredReplicas;
    }
    fleet = next;
    const guardValues: WhatIfStep['guards'] = {};
    for (const g of rule.guards) {
      const r = readings[g.name];
      guardValues[g.name] = r === undefined ? null : r === 'error' ? 'error' : r;
    }
    const s: WhatIfStep = { t, decodeTps: signal.ok ? signal.value : null, held, replicas: { ...next }, actual: actual ? { ...actual } : null, direction, guards: guardValues, reasons: reasonCodes };
    if (problem) s.problem = problem;
    steps.push(s);
  }
  return { rule, steps, actualPoints };
}

/** The policy config of one evaluation: guards and periodic table whose `when` holds at t (the evaluator's filtering). */
function activeConfig(rule: ServiceRule, t: number, values: Record<string, number | undefined>): ServicePolicyConfig {
  const when = whenData(t, rule.utcOffsetS, values);
  const cfg = policyConfigOf(rule);
  cfg.guards = cfg.guards.filter((g) => {
    const rg = rule.guards.find((x) => x.name === g.name)!;
    return !rg.when || evaluateWhen(rg.when, when);
  });
  if (rule.periodic?.when && !evaluateWhen(rule.periodic.when, when)) delete cfg.periodic;
  return cfg;
}

export interface PoolHours {
  pool: string;
  role: Role;
  gpuType: string;
  gpusPerReplica: number;
  /** $ per GPU-hour (--gpu-cost, else the simulator's price for the GPU type); null when unknown. */
  pricePerGpuHour: number | null;
  whatIf: { gpuHours: number; cost: number | null; min: number; mean: number; max: number };
  /**
   * null when nothing is known about what ran. `whatIfGpuHours` is the what-if over the same covered stretch, so the
   * two compare like with like.
   */
  actual: { gpuHours: number; cost: number | null; mean: number; coveredHours: number; whatIfGpuHours: number; whatIfCost: number | null } | null;
}

/**
 * GPU-hours: the replicas after step i hold until step i + 1 (the last point closes the range), times GPUs per replica.
 * What ran counts only the stretch where it is known (from its first point on), and so does the what-if beside it.
 */
export function gpuHours(run: WhatIfRun, gpusPerReplica: (pool: string) => number, pricePerGpuHour: (pool: string) => number | null = () => null): PoolHours[] {
  const { steps, rule } = run;
  return rule.pools.map((p) => {
    const gpus = gpusPerReplica(p.name);
    const price = pricePerGpuHour(p.name);
    let wh = 0;
    let ah = 0;
    let whCovered = 0;
    let covered = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < steps.length; i++) {
      const r = steps[i]!.replicas[p.name]!;
      min = Math.min(min, r);
      max = Math.max(max, r);
      if (i + 1 >= steps.length) break;
      const dtH = (steps[i + 1]!.t - steps[i]!.t) / 3600;
      wh += r * gpus * dtH;
      const a = steps[i]!.actual?.[p.name];
      if (a !== undefined) {
        ah += a * gpus * dtH;
        whCovered += r * gpus * dtH;
        covered += dtH;
      }
    }
    const spanH = steps.length > 1 ? (steps.at(-1)!.t - steps[0]!.t) / 3600 : 0;
    const cost = (h: number): number | null => (price === null ? null : h * price);
    return {
      pool: p.name,
      role: p.role,
      gpuType: p.gpuType,
      gpusPerReplica: gpus,
      pricePerGpuHour: price,
      whatIf: { gpuHours: wh, cost: cost(wh), min: steps.length ? min : 0, mean: spanH > 0 ? wh / gpus / spanH : (steps[0]?.replicas[p.name] ?? 0), max: steps.length ? max : 0 },
      actual: run.actualPoints > 0 ? { gpuHours: ah, cost: cost(ah), mean: covered > 0 ? ah / gpus / covered : 0, coveredHours: covered, whatIfGpuHours: whCovered, whatIfCost: cost(whCovered) } : null,
    };
  });
}
