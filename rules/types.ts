// The loaded, validated form of a rule file. Everything the evaluator needs is resolved here (presets expanded, defaults
// filled), so evaluation never has to look at YAML again.
import type { PeriodicConfig, PoolConfig, ServicePolicyConfig, StabilityConfig } from '../engine/core/types.js';
import type { PrometheusFileSettings } from './prometheus-settings.js';

/** A json-logic expression (json-logic-js), evaluated over {hour, minute, weekday, values}. */
export type WhenCondition = Record<string, unknown>;

/** A PromQL query and how its result is keyed. */
export interface QuerySpec {
  promql: string;
  /**
   * When set, the result is a vector keyed by this label, whose values name pools (see RulePool.poolLabelValue).
   * When absent, the result must be one value: a scalar or a vector with exactly one series.
   */
  by?: string;
}

export interface RulePool extends PoolConfig {
  /** Value of the service's pool label that identifies this pool's series (defaults to the pool name). */
  poolLabelValue: string;
  /** Extra labels published with this pool's desired replicas. */
  labels: Record<string, string>;
}

export interface RuleGuard {
  name: string;
  query: QuerySpec;
  slo: number;
  tiers: { above: number; scaleOut: number }[];
  roles?: ('prefill' | 'decode')[];
  when?: WhenCondition;
}

/** Where a value came from in the source, for error messages. */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

export interface ServiceRule {
  name: string;
  /** Namespaces whose HPAs may read this service's metric; undefined = any. */
  namespaces?: string[];
  engine?: string;
  pools: RulePool[];
  ratio: { prefill: number; decode: number };
  decodeTpsPerUnit: number;
  decodeTps: QuerySpec;
  guards: RuleGuard[];
  stability: StabilityConfig;
  periodic?: PeriodicConfig & { when?: WhenCondition };
  /**
   * Scale to and from zero: the wake signal's query (demand seen without pods: a router queue, frontend arrivals), the
   * value it fires above, and the idle window before zero.
   */
  wake?: { query: QuerySpec; above: number; idleS: number };
  /**
   * Drain-aware scale-in: requests running per pod (keyed by the pool label `query.by` and the replica index
   * `indexLabel`); a lower count is published only once the replicas it removes (index ≥ the new count) run none, or
   * after `maxWaitS`.
   */
  drain?: { query: QuerySpec & { by: string }; indexLabel: string; maxWaitS: number };
  /** Optional PromQL for the pools' current replicas (keyed by the pool label); otherwise the replica source decides. */
  replicas?: QuerySpec;
  metric: { name: string; labels: Record<string, string> };
  maxStalenessS: number;
  queryIntervalS: number;
  /** Width of the signal's range window (from the PromQL or set explicitly), published as the value's window. */
  windowS?: number;
  /** Offset of local time from UTC (seconds) for `when` conditions. */
  utcOffsetS: number;
  source: SourcePos;
  /**
   * Where each query family (decodeTps, guard:<name>, replicas) was written: its PromQL field, or for a preset the field
   * that made it (`engine`, the guard). A live error names this place.
   */
  querySources?: Record<string, SourcePos & { path: string }>;
  /** The series a preset selects: its `match` labels and the label naming a series' pool (absent without a preset). */
  selects?: { match: Record<string, string>; poolLabel: string };
}

export interface RuleSet {
  services: ServiceRule[];
  /** How to reach Prometheus, from the one rule file that says (rules/prometheus-settings.ts), with that file's name. */
  prometheus?: PrometheusFileSettings & { file: string };
  /** Files the set was loaded from. */
  files: string[];
  loadedAtMs: number;
}

export interface RuleError {
  file: string;
  line: number;
  col: number;
  /** Field path in the document, e.g. services[0].pools[1].role */
  path: string;
  message: string;
}

export interface QueryFamily {
  /** decodeTps, guard:<name>, replicas, wake or drain. */
  name: string;
  spec: QuerySpec;
}

// Derived once per rule object: rules are immutable once loaded, and a reload makes new objects.
const familiesByRule = new WeakMap<ServiceRule, readonly QueryFamily[]>();

/** A rule's queries in a fixed order: decodeTps, one per guard (`guard:<name>`), then replicas, wake and drain when the rule has them. */
export function queryFamiliesOf(rule: ServiceRule): readonly QueryFamily[] {
  let out = familiesByRule.get(rule);
  if (!out) {
    const list: QueryFamily[] = [{ name: 'decodeTps', spec: rule.decodeTps }];
    for (const g of rule.guards) list.push({ name: `guard:${g.name}`, spec: g.query });
    if (rule.replicas) list.push({ name: 'replicas', spec: rule.replicas });
    if (rule.wake) list.push({ name: 'wake', spec: rule.wake.query });
    if (rule.drain) list.push({ name: 'drain', spec: rule.drain.query });
    familiesByRule.set(rule, (out = list));
  }
  return out;
}

/** The policy core's view of a service (no PromQL, no when-conditions). */
export function policyConfigOf(s: ServiceRule): ServicePolicyConfig {
  const cfg: ServicePolicyConfig = {
    service: s.name,
    ratio: { ...s.ratio },
    decodeTpsPerUnit: s.decodeTpsPerUnit,
    pools: s.pools.map(({ name, role, gpuType, unitsPerReplica, preference, minReplicas, maxReplicas }) => ({
      name, role, gpuType, unitsPerReplica, preference, minReplicas, maxReplicas,
    })),
    guards: s.guards.map((g) => ({ name: g.name, slo: g.slo, tiers: g.tiers.map((t) => ({ ...t })), ...(g.roles ? { roles: [...g.roles] } : {}) })),
    stability: { ...s.stability },
  };
  if (s.wake) cfg.scaleToZero = { wakeAbove: s.wake.above, idleS: s.wake.idleS };
  if (s.periodic) {
    const { when: _when, ...periodic } = s.periodic;
    cfg.periodic = { ...periodic, entries: periodic.entries.map((e) => ({ ...e })) };
  }
  return cfg;
}

export function formatRuleError(e: RuleError): string {
  return `${e.file}:${e.line}:${e.col}: ${e.path ? e.path + ': ' : ''}${e.message}`;
}
