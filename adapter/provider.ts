// The narrow seam between the External Metrics API server and whatever computes the values (custom-metrics-apiserver's
// provider shape). The server knows HTTP, TLS, auth and selectors; a provider knows metrics. Neither knows the other's insides.

/** One item of an ExternalMetricValueList before it is rendered as a Kubernetes Quantity. */
export interface ExternalMetricSample {
  metricName: string;
  labels: Record<string, string>;
  value: number;
  /** When the value was computed (ms since epoch). */
  timestampMs: number;
  /** Width of the query window behind the value, when there is one. */
  windowSeconds?: number;
}

export type MetricErrorReason = 'BadRequest' | 'Forbidden' | 'NotFound' | 'ServiceUnavailable' | 'InternalError';

/** An error that becomes a metav1.Status with this HTTP code and reason. */
export class MetricError extends Error {
  constructor(
    readonly code: 400 | 403 | 404 | 500 | 503,
    readonly reason: MetricErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'MetricError';
  }
}

/** Labels of a series tested against a parsed label selector (adapter/selector.ts). */
export type LabelMatcher = (labels: Record<string, string>) => boolean;

/** How a query ran as part of a merged one: the query sent, the labels it was split by, this query's slice of it. */
export interface BatchTrace {
  promql: string;
  by: readonly string[];
  slice: Readonly<Record<string, string>>;
  /** Queries the merged one answers. */
  queries: number;
}

/** What `/explain` and `baton explain` show: the whole path from PromQL to the served number. */
export interface Explanation {
  namespace: string;
  metric: string;
  selector: string;
  /** `batch`: the query ran as part of one merged query; `raw` is then this query's slice of its answer. */
  queries: { name: string; promql: string; evaluatedAtMs?: number; raw?: unknown; error?: string; batch?: BatchTrace }[];
  values: ExternalMetricSample[];
  reasons: unknown[];
  /** Per service, the level arithmetic of the decision served (engine/core/derivation.ts). */
  derivations?: { service: string; steps: { step: string; text: string; units?: number }[] }[];
  stale?: boolean;
}

export interface ExternalMetricsProvider {
  /** Metric names for discovery (the APIResourceList); may be empty, the server adds a placeholder. */
  metricNames(): string[];
  /** Values for one request; throws MetricError (404 unknown metric, 503 stale/no data). Must not block on Prometheus. */
  getExternalMetric(namespace: string, metric: string, selector: LabelMatcher, selectorText: string): ExternalMetricSample[];
  explain(namespace: string, metric: string, selector: LabelMatcher, selectorText: string): Explanation;
}

/**
 * What the HTTP server reads: a provider whose answers may come later (a serving worker asks the main thread for the
 * rare answers its mirror cannot give: errors, /explain). A synchronous ExternalMetricsProvider is one.
 */
export interface ServingProvider {
  metricNames(): string[];
  getExternalMetric(namespace: string, metric: string, selector: LabelMatcher, selectorText: string): ExternalMetricSample[] | Promise<ExternalMetricSample[]>;
  explain(namespace: string, metric: string, selector: LabelMatcher, selectorText: string): Explanation | Promise<Explanation>;
}
