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
