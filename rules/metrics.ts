// prom-client metrics of the rules engine, registered once per registry (the adapter passes its own; tests use fresh ones).
import { Counter, Gauge, Histogram, register as globalRegistry, type Registry } from 'prom-client';

export interface RulesMetrics {
  reloadSuccess: Gauge;
  lastReloadTimestamp: Gauge;
  lastReloadAttemptTimestamp: Gauge;
  reloadFailures: Counter;
  reloadErrors: Gauge;
  loadedServices: Gauge;
  queryDuration: Histogram<'rule' | 'query'>;
  queryErrors: Counter<'rule' | 'query' | 'kind'>;
  queriesSent: Counter;
  staleness: Gauge<'rule'>;
  desiredReplicas: Gauge<'service' | 'role' | 'pool'>;
  decisionReasons: Counter<'rule' | 'code'>;
  evaluations: Counter<'rule' | 'result'>;
  /** Called at scrape time to refresh gauges that age by themselves (staleness); evaluators add themselves here. */
  beforeScrape: Set<() => void>;
}

const byRegistry = new WeakMap<Registry, RulesMetrics>();

export function rulesMetrics(registry: Registry = globalRegistry): RulesMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const beforeScrape = new Set<() => void>();
  const m: RulesMetrics = {
    beforeScrape,
    reloadSuccess: new Gauge({ name: 'baton_rules_reload_success', help: '1 when the last rule reload succeeded, 0 when it was refused', registers }),
    lastReloadTimestamp: new Gauge({ name: 'baton_rules_last_reload_timestamp_seconds', help: 'Time of the last successful rule reload', registers }),
    lastReloadAttemptTimestamp: new Gauge({ name: 'baton_rules_last_reload_attempt_timestamp_seconds', help: 'Time of the last rule reload attempt', registers }),
    reloadFailures: new Counter({ name: 'baton_rules_reload_failures_total', help: 'Rule reloads refused because the new set was invalid', registers }),
    reloadErrors: new Gauge({ name: 'baton_rules_reload_errors', help: 'Errors found in the last rule reload attempt (0 when it succeeded)', registers }),
    loadedServices: new Gauge({ name: 'baton_rules_services', help: 'Services in the rule set being served', registers }),
    queryDuration: new Histogram({
      name: 'baton_prometheus_query_duration_seconds',
      help: 'Latency of Prometheus queries by rule (service) and query family',
      labelNames: ['rule', 'query'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    queryErrors: new Counter({ name: 'baton_prometheus_query_errors_total', help: 'Queries whose result could not be used, by rule, query and kind', labelNames: ['rule', 'query', 'kind'], registers }),
    queriesSent: new Counter({ name: 'baton_prometheus_queries_total', help: 'HTTP queries sent to Prometheus (after deduplication)', registers }),
    staleness: new Gauge({ name: 'baton_rules_staleness_seconds', help: 'Age of the value served for a rule (service); +Inf before the first good evaluation', labelNames: ['rule'], registers,
      collect() {
        for (const refresh of beforeScrape) refresh();
      },
    }),
    desiredReplicas: new Gauge({ name: 'baton_rules_desired_replicas', help: 'Desired replicas being served per service, role and pool', labelNames: ['service', 'role', 'pool'], registers }),
    decisionReasons: new Counter({ name: 'baton_rules_decision_reasons_total', help: 'Reasons given by the policy core, by rule and reason code', labelNames: ['rule', 'code'], registers }),
    evaluations: new Counter({ name: 'baton_rules_evaluations_total', help: 'Evaluations by rule and result (ok; held: data unusable, last value kept; error: the evaluation failed, last value kept)', labelNames: ['rule', 'result'], registers }),
  };
  byRegistry.set(registry, m);
  return m;
}
