// The HPA request path over the rules engine, made O(1) per request: thousands of HPAs each polling every 15 s must not
// each scan every service. Per rule set, the pools a (namespace, metric, selector) selects are computed once; per
// request, only those pools' services are checked. While none of them has a new evaluation and none has gone stale, the
// same samples array is returned, so the server can reuse the rendered body (see server.ts). Any answer that is not a
// plain success (unknown metric, no match, stale, not evaluated yet) is delegated to the fallback (RulesProvider, or the
// main thread for a serving worker), so errors stay exactly what it says; so does /explain.
import { Evaluator, type PublishedValue } from '../rules/evaluator.js';
import { isFresh, RulesProvider } from '../rules/provider.js';
import type { RulePool, ServiceRule } from '../rules/types.js';
import { BoundedMap } from './bounded-map.js';
import type { Explanation, ExternalMetricSample, ExternalMetricsProvider, LabelMatcher, ServingProvider } from './provider.js';
import { parseSelector, type Requirement } from './selector.js';

/** What serving reads of a rule: who it publishes for and how long a value stays good. */
export type ServingRule = Pick<ServiceRule, 'name' | 'namespaces' | 'metric' | 'pools' | 'maxStalenessS'>;

/** The rule set as serving sees it (a new object whenever the rules change). */
export interface ServingRules {
  services: readonly ServingRule[];
}

/** A service's last published decision, as far as serving needs it. */
export interface PublishedGood {
  atMs: number;
  windowS?: number;
  values: readonly PublishedValue[];
}

/** Where published values come from: the evaluator itself, or a serving worker's mirror of it. */
export interface PublishedSource {
  rules(): ServingRules;
  state(service: string): { readonly lastGood?: PublishedGood | undefined } | undefined;
}

interface Candidate {
  rule: ServingRule;
  pool: RulePool;
  /** The label set RulesProvider matches selectors against, built once per rule set. */
  labels: Record<string, string>;
  /** Position in RulesProvider's order (services, then pools). */
  ordinal: number;
}

/** Every published pool of one metric, and the same indexed by the labels HPA selectors pin (service, pool). */
interface MetricPools {
  all: Candidate[];
  byLabel: Map<string, Map<string, Candidate[]>>;
}

/** Labels whose values are always the rule's own (publish() sets them last), so an index on them is exact. */
const INDEXED_LABELS = ['service', 'pool'] as const;

interface Answer {
  samples: ExternalMetricSample[];
  /** The evaluation each candidate's value came from: a new one (or a rules change) invalidates the answer. */
  goods: PublishedGood[];
  /** The answer goes stale (503) after this instant. */
  validUntilMs: number;
}

interface Selection {
  candidates: Candidate[];
  answer?: Answer;
}

/** Bounds memory against callers that send endless distinct selectors: oldest selections go first. */
const MAX_SELECTIONS = 50_000;
const MAX_SELECTION_BYTES = 16 * 1024 * 1024;

/**
 * `F`, the provider that answers whatever is not a plain success (and /explain): RulesProvider over the evaluator by
 * default, synchronous; a serving worker's is the main thread, asked over a message port.
 */
export class CachedRulesProvider<F extends ServingProvider = ExternalMetricsProvider> implements ServingProvider {
  private readonly inner: F;
  private rules: ServingRules | undefined;
  // A selection holds its candidates (shared objects) and, once answered, one sample per candidate.
  private readonly selections = new BoundedMap<Selection>(MAX_SELECTIONS, MAX_SELECTION_BYTES, (s) => 64 + s.candidates.length * 400);
  private byMetric = new Map<string, MetricPools>();
  private metricNamesCache: string[] = [];

  constructor(
    private readonly evaluator: PublishedSource,
    private readonly clock: () => number = Date.now,
    fallback?: F,
  ) {
    if (fallback) this.inner = fallback;
    else if (evaluator instanceof Evaluator) this.inner = new RulesProvider(evaluator, clock) as unknown as F;
    else throw new Error('CachedRulesProvider: a source other than the evaluator needs a fallback provider');
  }

  /** Drops everything derived from an older rule set. */
  private sync(): ServingRules {
    const rules = this.evaluator.rules();
    if (rules !== this.rules) {
      this.rules = rules;
      this.selections.clear();
      this.byMetric = poolsByMetric(rules);
      this.metricNamesCache = [...new Set(rules.services.map((r) => r.metric.name))].sort();
    }
    return rules;
  }

  metricNames(): string[] {
    this.sync();
    return this.metricNamesCache;
  }

  getExternalMetric(namespace: string, metric: string, selector: LabelMatcher, selectorText: string): ExternalMetricSample[] | ReturnType<F['getExternalMetric']> {
    this.sync();
    const key = `${namespace}\u0000${metric}\u0000${selectorText}`;
    let sel = this.selections.get(key);
    if (!sel) {
      const pools = this.byMetric.get(metric);
      const scan = pools ? narrowed(pools, selectorText) : [];
      sel = { candidates: scan.filter((c) => (!c.rule.namespaces || c.rule.namespaces.includes(namespace)) && selector(c.labels)) };
      this.selections.set(key, sel);
    }
    const now = this.clock();
    const cached = sel.answer;
    if (cached && now <= cached.validUntilMs && this.unchanged(sel.candidates, cached.goods)) return cached.samples;
    const answer = this.answer(sel.candidates, metric, now);
    if (!answer) {
      delete sel.answer;
      return this.inner.getExternalMetric(namespace, metric, selector, selectorText) as ReturnType<F['getExternalMetric']>;
    }
    sel.answer = answer;
    return answer.samples;
  }

  /** Bytes held by the selection cache (bounded). */
  get cacheBytes(): number {
    return this.selections.bytes;
  }

  explain(namespace: string, metric: string, selector: LabelMatcher, selectorText: string): Explanation | ReturnType<F['explain']> {
    return this.inner.explain(namespace, metric, selector, selectorText) as ReturnType<F['explain']>;
  }

  private unchanged(candidates: Candidate[], goods: PublishedGood[]): boolean {
    for (let i = 0; i < candidates.length; i++) {
      if (this.evaluator.state(candidates[i]!.rule.name)?.lastGood !== goods[i]) return false;
    }
    return true;
  }

  /** The samples when every candidate has a fresh value; undefined when RulesProvider must answer (an error). */
  private answer(candidates: Candidate[], metric: string, now: number): Answer | undefined {
    if (candidates.length === 0) return undefined;
    const samples: ExternalMetricSample[] = [];
    const goods: PublishedGood[] = [];
    let validUntilMs = Infinity;
    for (const c of candidates) {
      const good = this.evaluator.state(c.rule.name)?.lastGood;
      // Not evaluated yet, or stale: the fallback answers those, with freshnessProblem's words.
      if (!good || !isFresh(good.atMs, c.rule.maxStalenessS, now)) return undefined;
      const v = good.values.find((x) => x.pool === c.pool.name);
      if (!v) return undefined;
      const sample: ExternalMetricSample = { metricName: metric, labels: v.labels, value: v.value, timestampMs: good.atMs };
      if (good.windowS !== undefined) sample.windowSeconds = good.windowS;
      samples.push(sample);
      goods.push(good);
      // isFresh: stale once (now - atMs) / 1000 > maxStalenessS.
      validUntilMs = Math.min(validUntilMs, good.atMs + c.rule.maxStalenessS * 1000);
    }
    return { samples, goods, validUntilMs };
  }
}

function poolsByMetric(rules: ServingRules): Map<string, MetricPools> {
  const out = new Map<string, MetricPools>();
  let ordinal = 0;
  for (const rule of rules.services) {
    let m = out.get(rule.metric.name);
    if (!m) out.set(rule.metric.name, (m = { all: [], byLabel: new Map(INDEXED_LABELS.map((l) => [l, new Map()])) }));
    for (const pool of rule.pools) {
      const labels = { ...rule.metric.labels, ...pool.labels, service: rule.name, role: pool.role, pool: pool.name };
      const c: Candidate = { rule, pool, labels, ordinal: ordinal++ };
      m.all.push(c);
      for (const l of INDEXED_LABELS) {
        const index = m.byLabel.get(l)!;
        const list = index.get(labels[l]!);
        if (list) list.push(c);
        else index.set(labels[l]!, [c]);
      }
    }
  }
  return out;
}

/**
 * The pools worth testing against a selector: when it pins service or pool to listed values (`=`, `==`, `in`), only
 * those pools; otherwise all. The full selector is still applied afterwards, so this only saves work.
 */
function narrowed(pools: MetricPools, selectorText: string): Candidate[] {
  let requirements: Requirement[];
  try {
    requirements = parseSelector(selectorText).requirements;
  } catch {
    return pools.all; // the server has already answered 400; be correct regardless
  }
  for (const r of requirements) {
    const index = pools.byLabel.get(r.key);
    if (!index || (r.operator !== '=' && r.operator !== '==' && r.operator !== 'in')) continue;
    const hits = [...new Set(r.values)].flatMap((v) => index.get(v) ?? []);
    return r.values.length > 1 ? hits.sort((a, b) => a.ordinal - b.ordinal) : hits;
  }
  return pools.all;
}
