// Turning a query result into a number, refusing every shape that would otherwise become a silent 0: an error, an
// empty result, NaN, ±Inf, a negative rate, or series split in a way the rule did not promise.
import { GUARD_ERROR, type GuardReading } from '../engine/core/types.js';
import type { QueryResult, Series } from './prometheus.js';
import type { RulePool } from './types.js';

export type ProblemKind = 'error' | 'empty' | 'nan' | 'inf' | 'negative' | 'series' | 'shape';

export type Reading =
  | { ok: true; value: number; perPool?: Record<string, number> }
  | { ok: false; kind: ProblemKind; problem: string };

const fail = (kind: ProblemKind, problem: string): Reading => ({ ok: false, kind, problem });

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `{${parts.join(', ')}}`;
}

/** `where` names the value in the problem; a function, so a good value costs no message. */
function checkValue(v: number, where: string | (() => string)): Reading | undefined {
  if (v >= 0 && v !== Infinity) return undefined;
  const at = typeof where === 'string' ? where : where();
  if (Number.isNaN(v)) return fail('nan', `${at} is NaN`);
  if (!Number.isFinite(v)) return fail('inf', `${at} is ${v > 0 ? '+Inf' : '-Inf'}`);
  return fail('negative', `${at} is negative (${v})`);
}

/** Exactly one value: a scalar, or a vector with one series. */
export function readSingle(result: QueryResult): Reading {
  if (result.kind === 'scalar') return checkValue(result.value, 'the scalar') ?? { ok: true, value: result.value };
  if (result.kind !== 'vector') return fail('shape', `expected an instant vector or scalar, got a ${result.kind}`);
  if (result.series.length === 0) return fail('empty', 'the query returned no series');
  if (result.series.length > 1) {
    const shown = result.series.slice(0, 3).map((s) => labelText(s.labels)).join(', ');
    return fail('series', `expected one series, got ${result.series.length}: ${shown}${result.series.length > 3 ? ', …' : ''} (aggregate with sum(...) or key it with "by")`);
  }
  const only = result.series[0]!;
  return checkValue(only.value, () => `the value of ${labelText(only.labels)}`) ?? { ok: true, value: only.value };
}

export interface PerPoolOptions {
  /** Label whose value names the pool. */
  by: string;
  /** The pools the result may contain. */
  pools: readonly RulePool[];
  /**
   * A pool without a series is only acceptable where we know it has no replicas (a pool scaled to zero exports
   * nothing); `required: 'all'` demands a series for every pool (used for the replicas query).
   */
  required: 'all' | { replicas: Record<string, number> };
}

/** A vector keyed by the pool label: each series maps to exactly one known pool; the value is their sum. */
export function readPerPool(result: QueryResult, opts: PerPoolOptions): Reading {
  if (result.kind !== 'vector') return fail('shape', `expected an instant vector keyed by "${opts.by}", got a ${result.kind}`);
  if (result.series.length === 0) return fail('empty', 'the query returned no series');
  const poolByValue = new Map(opts.pools.map((p) => [p.poolLabelValue, p]));
  const perPool: Record<string, number> = {};
  const seen = new Map<string, Series>();
  for (const s of result.series) {
    const key = s.labels[opts.by];
    if (key === undefined) return fail('series', `series ${labelText(s.labels)} has no "${opts.by}" label (aggregate with sum by (${opts.by}) (...))`);
    const pool = poolByValue.get(key);
    if (!pool) return fail('series', `series ${labelText(s.labels)} names no pool of this rule (expected ${opts.by} in ${[...poolByValue.keys()].join(', ')})`);
    const twin = seen.get(key);
    if (twin) return fail('series', `two series for ${opts.by}="${key}": ${labelText(twin.labels)} and ${labelText(s.labels)} (aggregate with sum by (${opts.by}) (...))`);
    seen.set(key, s);
    const bad = checkValue(s.value, () => `the value for ${opts.by}="${key}"`);
    if (bad) return bad;
    perPool[pool.name] = s.value;
  }
  for (const p of opts.pools) {
    if (p.name in perPool) continue;
    const known = opts.required === 'all' ? undefined : opts.required.replicas[p.name];
    if (known === 0) {
      perPool[p.name] = 0;
      continue;
    }
    return fail('series', `no series for ${opts.by}="${p.poolLabelValue}" (pool ${p.name}${known !== undefined ? ` has ${known} replicas` : ''})`);
  }
  let sum = 0;
  for (const v of Object.values(perPool)) sum += v;
  return { ok: true, value: sum, perPool };
}

/**
 * A guard query's reading as the policy core takes it (GuardReading): its value; empty when no requests finished in
 * the window (no series, or the NaN histogram_quantile gives on zero rates); an error for anything else (the query
 * failed, or answered a shape, a sign or an infinity that is no latency), which blocks scale-in.
 */
/**
 * Scale to zero: whether the core decides although decode TPS is unusable. Without pods there is no decode TPS, so
 * while the wake query answers (a value or empty) it is no outage; when the wake query fails too, it is one (hold).
 * The one rule for the adapter's evaluator and the what-if replay.
 */
export function decidesWithoutSignal(hasWake: boolean, wake: GuardReading | undefined): boolean {
  return hasWake && wake !== GUARD_ERROR;
}

export function guardReadingOf(reading: Reading | undefined): GuardReading {
  if (!reading) return GUARD_ERROR;
  if (reading.ok) return reading.value;
  return reading.kind === 'empty' || reading.kind === 'nan' ? undefined : GUARD_ERROR;
}
