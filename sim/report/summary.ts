// The per-policy figures every view shows (table, JSON, HTML), derived once so they cannot disagree.
import type { ScenarioResult } from '../scenario.js';
import type { SimResult } from '../simulate.js';

export interface PolicySummary {
  policy: string;
  result: SimResult;
  /** GPU-hours ÷ static peak's GPU-hours; null when static was not run (or used none). */
  vsStatic: number | null;
  /** GPU-hours ÷ the oracle's; null when the oracle was not run (or used none). */
  vsOracle: number | null;
}

/** Policies in the order they were run, with GPU-hours relative to the static and oracle baselines. */
export function summarize(result: ScenarioResult, where: string): PolicySummary[] {
  if (result === null || typeof result !== 'object' || result.results === null || typeof result.results !== 'object') {
    throw new Error(`${where}: expected a ScenarioResult with .results`);
  }
  const names = Object.keys(result.results);
  if (names.length === 0) throw new Error(`${where}: the ScenarioResult has no policies (results is empty)`);
  const base = (name: string): number | null => {
    const r = result.results[name];
    return r && r.gpuHours > 0 ? r.gpuHours : null;
  };
  const staticH = base('static');
  const oracleH = base('oracle');
  return names.map((policy) => {
    const r = result.results[policy]!;
    if (!Number.isFinite(r.gpuHours)) throw new Error(`${where}: policy '${policy}' has non-finite gpuHours (${r.gpuHours})`);
    return {
      policy,
      result: r,
      vsStatic: staticH === null ? null : r.gpuHours / staticH,
      vsOracle: oracleH === null ? null : r.gpuHours / oracleH,
    };
  });
}

/**
 * The share of requests within both SLOs a run must reach to count as meeting its SLO. Every view marks the policies
 * below it, and calls the oracle a lower bound only when it reaches it.
 */
export const SLO_GOAL = 0.99;

/** Policies whose attainment (TTFT and TBT both) is under the goal. */
export function underGoal(rows: readonly PolicySummary[], goal = SLO_GOAL): PolicySummary[] {
  return rows.filter((r) => r.result.sloAttainment.both < goal);
}

/** What "vs oracle" means in this run: a lower bound only when the oracle itself met the SLO goal. */
export function oracleMeaning(rows: readonly PolicySummary[], goal = SLO_GOAL): string | undefined {
  const oracle = rows.find((r) => r.policy === 'oracle');
  if (!oracle) return undefined;
  const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
  return oracle.result.sloAttainment.both >= goal
    ? 'vs oracle: GPU-hours as a multiple of the oracle lower bound (perfect foresight, no cold start).'
    : `vs oracle: GPU-hours as a multiple of the oracle's. The oracle itself misses the SLO goal (${pct(oracle.result.sloAttainment.both)} < ${pct(goal)}), so it is no lower bound here: its capacity is too small for this workload.`;
}

/** The note naming the policies under the SLO goal, or undefined when none is. */
export function underGoalNote(rows: readonly PolicySummary[], goal = SLO_GOAL): string | undefined {
  const under = underGoal(rows, goal);
  if (!under.length) return undefined;
  return `under the ${(goal * 100).toFixed(0)} % SLO goal (both SLOs): ${under.map((r) => `${r.policy} ${(r.result.sloAttainment.both * 100).toFixed(2)} %`).join(', ')}.`;
}
