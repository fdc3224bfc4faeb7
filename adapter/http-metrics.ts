// The adapter's own HTTP metrics in the prom-client registry it is given. Label children are cached so the hot path
// does one Map lookup instead of prom-client's label hashing.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type RouteLabel = 'discovery' | 'metric' | 'explain' | 'health' | 'metrics' | 'openapi' | 'other';

function getOrCreate<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export class AdapterHttpMetrics {
  private readonly duration: Histogram<'route' | 'code'>;
  readonly inFlight: Gauge;
  private readonly reviews: Counter<'outcome'>;
  private readonly children = new Map<string, { observe(v: number): void }>();

  constructor(registry: Registry) {
    this.duration = getOrCreate(
      registry,
      'baton_adapter_http_request_duration_seconds',
      () =>
        new Histogram({
          name: 'baton_adapter_http_request_duration_seconds',
          help: 'Latency of requests to the External Metrics API server, by route and HTTP status code.',
          labelNames: ['route', 'code'] as const,
          buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
          registers: [registry],
        }),
    );
    this.inFlight = getOrCreate(
      registry,
      'baton_adapter_http_requests_in_flight',
      () =>
        new Gauge({
          name: 'baton_adapter_http_requests_in_flight',
          help: 'Requests being served by the External Metrics API server right now.',
          registers: [registry],
        }),
    );
    this.reviews = getOrCreate(
      registry,
      'baton_adapter_subject_access_reviews_total',
      () =>
        new Counter({
          name: 'baton_adapter_subject_access_reviews_total',
          help: 'SubjectAccessReviews sent to the kube-apiserver (cache misses), by outcome.',
          labelNames: ['outcome'] as const,
          registers: [registry],
        }),
    );
  }

  observe(route: RouteLabel, code: number, seconds: number): void {
    const key = `${route}:${code}`;
    let child = this.children.get(key);
    if (!child) {
      child = this.duration.labels(route, String(code));
      this.children.set(key, child);
    }
    child.observe(seconds);
  }

  review(outcome: 'allowed' | 'denied' | 'error'): void {
    this.reviews.inc({ outcome });
  }
}
