// The rules engine behind the External Metrics API seam: answers only from memory (the evaluator's last good values),
// never by querying Prometheus. Unknown metric → 404; stale or never evaluated → 503, so the HPA holds its replicas.
import { MetricError, type ExternalMetricSample, type ExternalMetricsProvider, type Explanation, type LabelMatcher } from '../adapter/provider.js';
import type { Evaluator, ServiceState } from './evaluator.js';
import { deriveDecision } from '../engine/core/derivation.js';
import { policyConfigOf, queryFamiliesOf, type RulePool, type ServiceRule } from './types.js';

interface Candidate {
  rule: ServiceRule;
  pool: RulePool;
  labels: Record<string, string>;
}

export class RulesProvider implements ExternalMetricsProvider {
  constructor(
    private readonly evaluator: Evaluator,
    private readonly clock: () => number = Date.now,
  ) {}

  metricNames(): string[] {
    return [...new Set(this.evaluator.rules().services.map((s) => s.metric.name))].sort();
  }

  getExternalMetric(namespace: string, metric: string, selector: LabelMatcher, selectorText: string): ExternalMetricSample[] {
    const candidates = this.candidates(namespace, metric, selector, selectorText);
    const out: ExternalMetricSample[] = [];
    for (const c of candidates) {
      const st = this.evaluator.state(c.rule.name);
      const problem = freshnessProblem(c.rule, st, this.clock());
      if (problem) throw new MetricError(503, 'ServiceUnavailable', problem);
      const v = st!.lastGood!.values.find((x) => x.pool === c.pool.name);
      if (!v) throw new MetricError(503, 'ServiceUnavailable', `service ${c.rule.name}: no value for pool ${c.pool.name} yet`);
      const sample: ExternalMetricSample = { metricName: metric, labels: { ...v.labels }, value: v.value, timestampMs: st!.lastGood!.atMs };
      if (st!.lastGood!.windowS !== undefined) sample.windowSeconds = st!.lastGood!.windowS;
      out.push(sample);
    }
    return out;
  }

  explain(namespace: string, metric: string, selector: LabelMatcher, selectorText: string): Explanation {
    const services = this.servicesOf(namespace, metric);
    const matching = services.filter((s) => this.poolsOf(s, selector).length > 0);
    const shown = matching.length ? matching : services;
    const ex: Explanation = { namespace, metric, selector: selectorText, queries: [], values: [], reasons: [] };
    let stale = false;
    for (const rule of shown) {
      const st = this.evaluator.state(rule.name);
      for (const q of st?.queries ?? []) {
        const entry: Explanation['queries'][number] = { name: `${rule.name}/${q.name}`, promql: q.promql, evaluatedAtMs: q.evaluatedAtMs };
        if (q.raw !== undefined) entry.raw = q.raw;
        if (q.error !== undefined) entry.error = q.error;
        if (q.batch) entry.batch = q.batch;
        ex.queries.push(entry);
      }
      if (st?.queries.length === 0 || !st) for (const q of queryFamiliesOf(rule)) ex.queries.push({ name: `${rule.name}/${q.name}`, promql: q.spec.promql, error: 'not evaluated yet' });
      const problem = freshnessProblem(rule, st, this.clock());
      if (problem) {
        stale = true;
        ex.reasons.push({ code: 'stale', service: rule.name, message: problem });
      }
      if (st?.lastProblem) ex.reasons.push({ code: 'held', service: rule.name, message: st.lastProblem });
      const good = st?.lastGood;
      if (!good) continue;
      for (const v of good.values) {
        if (!selector(v.labels)) continue;
        const sample: ExternalMetricSample = { metricName: metric, labels: { ...v.labels }, value: v.value, timestampMs: good.atMs };
        if (good.windowS !== undefined) sample.windowSeconds = good.windowS;
        ex.values.push(sample);
      }
      ex.reasons.push(...good.decision.reasons.map((r) => ({ service: rule.name, ...r })));
      ex.reasons.push(...(good.extraReasons ?? []).map((r) => ({ service: rule.name, ...r })));
      // Built on demand: an evaluation keeps only the decision's numbers.
      const steps = deriveDecision(policyConfigOf(rule), good.decision);
      if (good.extraReasons?.length) steps.push({ step: 'published', text: "the engine's plan set the published split (see reasons)" });
      (ex.derivations ??= []).push({ service: rule.name, steps });
    }
    if (stale) ex.stale = true;
    return ex;
  }

  private servicesOf(namespace: string, metric: string): ServiceRule[] {
    const all = this.evaluator.rules().services.filter((s) => s.metric.name === metric);
    if (all.length === 0) throw new MetricError(404, 'NotFound', `metric ${metric} is not defined by any rule (known: ${this.metricNames().join(', ') || 'none'})`);
    const here = all.filter((s) => !s.namespaces || s.namespaces.includes(namespace));
    if (here.length === 0) throw new MetricError(404, 'NotFound', `metric ${metric} is not served in namespace ${namespace} (rules allow: ${[...new Set(all.flatMap((s) => s.namespaces ?? []))].join(', ')})`);
    return here;
  }

  /** Pools whose published label set the selector matches; known from the rules even before any evaluation. */
  private poolsOf(rule: ServiceRule, selector: LabelMatcher): Candidate[] {
    return rule.pools
      .map((pool) => ({ rule, pool, labels: { ...rule.metric.labels, ...pool.labels, service: rule.name, role: pool.role, pool: pool.name } }))
      .filter((c) => selector(c.labels));
  }

  private candidates(namespace: string, metric: string, selector: LabelMatcher, selectorText: string): Candidate[] {
    const services = this.servicesOf(namespace, metric);
    const out = services.flatMap((s) => this.poolsOf(s, selector));
    if (out.length === 0) {
      const known = services.flatMap((s) => s.pools.map((p) => `{service=${s.name},role=${p.role},pool=${p.name}}`)).slice(0, 10).join(' ');
      throw new MetricError(404, 'NotFound', `no series of ${metric} in namespace ${namespace} matches selector "${selectorText}" (series: ${known})`);
    }
    return out;
  }
}

/** A value decided at `atMs` may still be served at `nowMs` (the one staleness rule for every serving path). */
export function isFresh(atMs: number, maxStalenessS: number, nowMs: number): boolean {
  return (nowMs - atMs) / 1000 <= maxStalenessS;
}

/** Why a service's value may not be served now, or undefined when it may. */
export function freshnessProblem(rule: ServiceRule, st: ServiceState | undefined, nowMs: number): string | undefined {
  if (!st?.lastGood) {
    const why = st?.lastProblem ? `: ${st.lastProblem}` : '';
    return `service ${rule.name} has no good evaluation yet${why}`;
  }
  if (!isFresh(st.lastGood.atMs, rule.maxStalenessS, nowMs)) {
    const ageS = (nowMs - st.lastGood.atMs) / 1000;
    return `service ${rule.name}: the last good value is ${ageS.toFixed(1)} s old, over maxStalenessSeconds ${rule.maxStalenessS}${st.lastProblem ? ` (${st.lastProblem})` : ''}`;
  }
  return undefined;
}

