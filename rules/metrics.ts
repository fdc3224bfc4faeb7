// prom-client metrics of the rules engine, registered once per registry (the adapter passes its own; tests use fresh ones).
import { Counter, Gauge, Histogram, register as globalRegistry, type Registry } from 'prom-client';

/**
 * What an evaluator exports per service, read at scrape time: the evaluation keeps plain numbers on each service's
 * state, so thousands of services evaluated every few seconds cost no label hashing per evaluation.
 */
export interface ServiceSeries {
  service: string;
  /** Age of the value served; +Inf before the first good evaluation. */
  stalenessS: number;
  published: readonly { role: string; pool: string; value: number }[];
  /** Evaluations by result (ok, held, error) since start. */
  evaluations: Readonly<Record<string, number>>;
  /** Reasons given by the policy core, by code, since start. */
  reasons: Readonly<Record<string, number>>;
}

/** An evaluator's services, each time a scrape asks. */
export type SeriesSource = () => Iterable<ServiceSeries>;

export interface RulesMetrics {
  reloadSuccess: Gauge;
  lastReloadTimestamp: Gauge;
  lastReloadAttemptTimestamp: Gauge;
  reloadFailures: Counter;
  reloadErrors: Gauge;
  loadedServices: Gauge;
  queryDuration: Histogram<'query'>;
  queryErrors: Counter<'rule' | 'query' | 'kind'>;
  queriesSent: Counter;
  staleness: Gauge<'rule'>;
  desiredReplicas: Gauge<'service' | 'role' | 'pool'>;
  decisionReasons: Counter<'rule' | 'code'>;
  evaluations: Counter<'rule' | 'result'>;
  /** Evaluators add themselves here; the per-service series are rebuilt from them at scrape time. */
  sources: Set<SeriesSource>;
}

const byRegistry = new WeakMap<Registry, RulesMetrics>();

export function rulesMetrics(registry: Registry = globalRegistry): RulesMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const sources = new Set<SeriesSource>();
  const each = (visit: (s: ServiceSeries) => void): void => {
    for (const source of sources) for (const s of source()) visit(s);
  };
  const m: RulesMetrics = {
    sources,
    reloadSuccess: new Gauge({ name: 'baton_rules_reload_success', help: '1 when the last rule reload succeeded, 0 when it was refused', registers }),
    lastReloadTimestamp: new Gauge({ name: 'baton_rules_last_reload_timestamp_seconds', help: 'Time of the last successful rule reload', registers }),
    lastReloadAttemptTimestamp: new Gauge({ name: 'baton_rules_last_reload_attempt_timestamp_seconds', help: 'Time of the last rule reload attempt', registers }),
    reloadFailures: new Counter({ name: 'baton_rules_reload_failures_total', help: 'Rule reloads refused because the new set was invalid', registers }),
    reloadErrors: new Gauge({ name: 'baton_rules_reload_errors', help: 'Errors found in the last rule reload attempt (0 when it succeeded)', registers }),
    loadedServices: new Gauge({ name: 'baton_rules_services', help: 'Services in the rule set being served', registers }),
    queryDuration: new Histogram({
      name: 'baton_prometheus_query_duration_seconds',
      help: 'Latency of the HTTP queries sent to Prometheus, by query family (decodeTps, guard:<name>, replicas); a batched query counts once',
      labelNames: ['query'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    queryErrors: new Counter({ name: 'baton_prometheus_query_errors_total', help: 'Queries whose result could not be used, by rule, query and kind', labelNames: ['rule', 'query', 'kind'], registers }),
    queriesSent: new Counter({ name: 'baton_prometheus_queries_total', help: 'HTTP queries sent to Prometheus (after deduplication)', registers }),
    staleness: new Gauge({ name: 'baton_rules_staleness_seconds', help: 'Age of the value served for a rule (service); +Inf before the first good evaluation', labelNames: ['rule'], registers,
      collect() {
        this.reset();
        each((s) => this.set({ rule: s.service }, s.stalenessS));
      },
    }),
    desiredReplicas: new Gauge({ name: 'baton_rules_desired_replicas', help: 'Desired replicas being served per service, role and pool', labelNames: ['service', 'role', 'pool'], registers,
      collect() {
        this.reset();
        each((s) => {
          for (const v of s.published) this.set({ service: s.service, role: v.role, pool: v.pool }, v.value);
        });
      },
    }),
    decisionReasons: new Counter({ name: 'baton_rules_decision_reasons_total', help: 'Reasons given by the policy core, by rule and reason code', labelNames: ['rule', 'code'], registers,
      collect() {
        this.reset();
        each((s) => {
          for (const code in s.reasons) this.inc({ rule: s.service, code }, s.reasons[code]!);
        });
      },
    }),
    evaluations: new Counter({ name: 'baton_rules_evaluations_total', help: 'Evaluations by rule and result (ok; held: data unusable, last value kept; error: the evaluation failed, last value kept)', labelNames: ['rule', 'result'], registers,
      collect() {
        this.reset();
        each((s) => {
          for (const result in s.evaluations) this.inc({ rule: s.service, result }, s.evaluations[result]!);
        });
      },
    }),
  };
  byRegistry.set(registry, m);
  return m;
}
