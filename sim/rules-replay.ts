// Replays a service of a rule file (the same YAML the adapter serves) in the simulator: the rule's ratio, per-unit
// target, guards, stability, periodic table and pools become the coordinated policy, side by side with the other
// policies on the same requests. What an author sees here is what the adapter would do with that rule.
import type { ServicePolicyConfig } from '../engine/core/types.js';
import { type RuleGuard, type ServiceRule, policyConfigOf } from '../rules/types.js';
import { evaluateWhen, whenData } from '../rules/when.js';
import { GPU_SPECS } from './gpu/specs.js';
import { BATON_HPA_RECIPE, CoordinatedPolicy } from './policies/coordinated.js';
import type { ControlInput, ControlOutput, SimPolicy } from './policy.js';
import type { RuleCapacity } from './studies/rule-capacity.js';
import { buildOracle, buildPolicy, planScenario, simulationConfig, type PoolPlan, type ScenarioOptions, type ScenarioPlan, type ScenarioResult } from './scenario.js';
import type { Signals } from './signals.js';
import { simulate, type SimResult, type SimulationConfig } from './simulate.js';
import { scenarioOptions, type ScenarioSpec } from './spec.js';

/** Simulator signals a rule guard can read: the simulator measures p99 TBT and p99 TTFT of recent requests. */
type GuardSignal = 'tbtP99' | 'ttftP99';

export interface RuleReplayPlan {
  rule: ServiceRule;
  pools: PoolPlan[];
  /** The rule's policy configuration, with guard names the simulator can feed (see guardSignal). */
  policyConfig: ServicePolicyConfig;
  /** Simulator signal per guard name; a guard missing here reads as missing (it never fires). */
  guardSignals: Record<string, GuardSignal>;
  /** What differs from production, for the report. */
  notes: string[];
}

/**
 * The rule's pools as simulator pools, by each pool's gpuType. One GPU per replica unless given; the pool's
 * maxReplicas is also its most instances.
 */
export function rulePoolPlans(rule: ServiceRule, gpusPerInstance = 1): PoolPlan[] {
  const known = Object.keys(GPU_SPECS);
  return rule.pools.map((p, i) => {
    const key = p.gpuType.trim().toUpperCase();
    if (!GPU_SPECS[key]) {
      const hint = p.gpuType === 'default' ? ' (the pool sets no gpuType)' : '';
      throw new Error(`${rule.source.file}: service "${rule.name}" pools[${i}] "${p.name}": gpuType "${p.gpuType}"${hint} is not a GPU the simulator models; set gpuType to one of ${known.join(', ')}`);
    }
    return { name: p.name, role: p.role, gpuType: key, gpusPerInstance, maxInstances: p.maxReplicas, preference: p.preference, minReplicas: p.minReplicas };
  });
}

/** tbt_pNN / itl_pNN read the simulator's p99 TBT, ttft_pNN its p99 TTFT; other guards have no simulated series. */
export function guardSignal(name: string): GuardSignal | undefined {
  if (/^(tbt|itl)_p\d{2,3}$/.test(name)) return 'tbtP99';
  if (/^ttft_p\d{2,3}$/.test(name)) return 'ttftP99';
  return undefined;
}

export function planRuleReplay(rule: ServiceRule, gpusPerInstance = 1): RuleReplayPlan {
  const pools = rulePoolPlans(rule, gpusPerInstance);
  const roles = new Set(rule.pools.map((p) => p.role));
  if (!roles.has('prefill') || !roles.has('decode')) throw new Error(`${rule.source.file}: service "${rule.name}" needs at least one prefill and one decode pool to simulate`);
  const policyConfig = policyConfigOf(rule);
  // Simulated time is local time (seconds since the day's midnight), so the periodic table reads it unshifted.
  if (policyConfig.periodic) policyConfig.periodic.utcOffsetS = 0;
  const guardSignals: Record<string, GuardSignal> = {};
  const notes: string[] = [];
  for (const g of rule.guards) {
    const sig = guardSignal(g.name);
    if (sig) {
      guardSignals[g.name] = sig;
      if (!/_p99$/.test(g.name)) notes.push(`guard ${g.name} reads the simulator's p99 (${sig === 'tbtP99' ? 'TBT' : 'TTFT'}): the simulator measures no other quantile`);
    } else {
      notes.push(`guard ${g.name} has no simulated series (custom PromQL): it reads as missing and never fires`);
    }
  }
  if (rule.guards.some((g) => g.when) || rule.periodic?.when) notes.push('`when` conditions are evaluated every rule interval on simulated local time, as the adapter does');
  return { rule, pools, policyConfig, guardSignals, notes };
}

/**
 * The coordinated policy with the rule's `when` conditions: every decision sees only the guards (and the periodic
 * table) whose condition holds then, exactly as the adapter's evaluator filters them before calling decide().
 * CoordinatedPolicy reads its configuration at each decision, so the active parts are swapped in place.
 */
export class RuleCoordinatedPolicy implements SimPolicy {
  readonly name = 'coordinated';
  private readonly inner: CoordinatedPolicy;
  private readonly live: ServicePolicyConfig;

  constructor(private readonly replay: RuleReplayPlan, evalIntervalS: number, start: Record<string, number>) {
    this.live = { ...replay.policyConfig, guards: [...replay.policyConfig.guards] };
    this.inner = new CoordinatedPolicy(this.live, { evalIntervalS, hpa: BATON_HPA_RECIPE }, this.name).startFrom(start);
  }

  initial(pools: Parameters<SimPolicy['initial']>[0]): Record<string, number> {
    return this.inner.initial(pools);
  }

  control(input: ControlInput): ControlOutput {
    const { rule, policyConfig } = this.replay;
    const values = this.observed(input.signals);
    const when = whenData(input.now, 0, values);
    const active = (g: RuleGuard): boolean => !g.when || evaluateWhen(g.when, when);
    // Guards go in under the name CoordinatedPolicy feeds (tbt_p99 / ttft_p99); unmapped guards keep theirs (missing).
    this.live.guards = policyConfig.guards
      .filter((g) => active(rule.guards.find((r) => r.name === g.name)!))
      .map((g) => ({ ...g, name: this.replay.guardSignals[g.name] === 'tbtP99' ? 'tbt_p99' : this.replay.guardSignals[g.name] === 'ttftP99' ? 'ttft_p99' : g.name }));
    if (policyConfig.periodic && !(rule.periodic?.when && !evaluateWhen(rule.periodic.when, when))) this.live.periodic = policyConfig.periodic;
    else delete this.live.periodic;
    return this.inner.control(input);
  }

  private observed(s: Signals): Record<string, number | undefined> {
    const values: Record<string, number | undefined> = { decodeTps: s.decodeTps };
    for (const g of this.replay.rule.guards) {
      const sig = this.replay.guardSignals[g.name];
      values[g.name] = sig ? s[sig] : undefined;
    }
    return values;
  }
}

export interface RuleReplayResult extends ScenarioResult {
  replay: RuleReplayPlan;
}

/**
 * Runs the spec's workload and policies on the rule's pools; `coordinated` is the rule. The plan (ratio, per-unit
 * target, units per replica) is the rule's, so P:D drift is measured against the rule's ratio. The other policies size
 * from the simulator's measured capacity of the rule's pools, as in any other run.
 */
export function runRuleReplay(spec: ScenarioSpec, rule: ServiceRule, onProgress?: (policy: string, f: number) => void, capacity?: RuleCapacity): RuleReplayResult {
  const replay = planRuleReplay(rule);
  const o: ScenarioOptions = scenarioOptions({ ...spec, fleet: replay.pools, ratio: { ...rule.ratio } }, onProgress);
  const measured = planScenario(o);
  const plan: ScenarioPlan = {
    ...measured,
    ratio: { ...rule.ratio },
    policyConfig: replay.policyConfig,
    simPools: measured.simPools.map((p) => ({ ...p, units: rule.pools.find((r) => r.name === p.name)!.unitsPerReplica })),
  };
  const base = simulationConfig(o, plan);
  const oracle = buildOracle(o, measured);
  const results: Record<string, SimResult> = {};
  for (const name of o.policies) {
    const policy = name === 'coordinated'
      ? new RuleCoordinatedPolicy(replay, rule.queryIntervalS, oracle.initial(plan.simPools, o.startS))
      : buildPolicy(name, o, measured, oracle);
    const cfg: SimulationConfig = { ...base };
    if (onProgress) cfg.onProgress = (f) => onProgress(name, f);
    results[name] = simulate(cfg, o.requests(), policy);
  }
  replay.notes.push(...capacityNotes(rule, measured, capacity));
  return { plan, results, replay };
}

/**
 * Where the rule's numbers differ from what the simulator measures for these GPUs and this request mix. The per-unit
 * target and the ratio come from the pressure test at the rule's SLO (sim/studies/rule-capacity.ts, what `sweep --rules`
 * prints); units per replica from the pools' relative capacities.
 */
export function capacityNotes(rule: ServiceRule, measured: ScenarioPlan, capacity?: RuleCapacity): string[] {
  const notes: string[] = [];
  if (capacity) {
    notes.push(`decodeTpsPerUnit: the rule says ${rule.decodeTpsPerUnit} tok/s; at its SLO the pressure test's ${capacity.decodePool} (${capacity.decodeGpu}) carries ${capacity.decodeTpsPerUnit} tok/s per unit`);
    const said = `${rule.ratio.prefill}:${rule.ratio.decode}`;
    const best = `${capacity.ratio.prefill}:${capacity.ratio.decode}`;
    if (said !== best) notes.push(`ratio: the rule says ${said}; the pressure test's best split for this mix is ${best} (${capacity.prefillGpu}:${capacity.decodeGpu} instances ${capacity.pressure.best.prefill}:${capacity.pressure.best.decode})`);
  }
  // The simulator's units are relative to each role's first pool; restate them against the rule's reference pool.
  for (const role of ['prefill', 'decode'] as const) {
    const inRole = rule.pools.filter((p) => p.role === role);
    const ref = inRole.find((p) => p.unitsPerReplica === 1) ?? inRole[0];
    const refSim = ref && measured.simPools.find((s) => s.name === ref.name)?.units;
    if (!ref || !refSim) continue;
    for (const p of inRole) {
      const sim = measured.simPools.find((s) => s.name === p.name)?.units;
      if (sim === undefined) continue;
      const restated = Math.round((sim / refSim) * ref.unitsPerReplica * 100) / 100;
      if (Math.abs(restated - p.unitsPerReplica) > 0.15 * p.unitsPerReplica) {
        notes.push(`unitsPerReplica of ${p.name}: the rule says ${p.unitsPerReplica}; the simulator measures ${restated} (${ref.name} = ${ref.unitsPerReplica})`);
      }
    }
  }
  return notes;
}
