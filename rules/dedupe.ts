// One HTTP query per distinct PromQL at a time, and a result reused for a short while: many services (and any number
// of HPAs) sharing a query family cost one query per interval.
import type { InstantQuery, QueryResult } from './prometheus.js';

export class SharedQueries {
  private readonly inflight = new Map<string, Promise<QueryResult>>();
  private readonly recent = new Map<string, { atMs: number; result: QueryResult }>();
  /** HTTP queries actually sent. */
  sent = 0;

  constructor(
    private readonly query: InstantQuery,
    private readonly clock: () => number,
    /** A result younger than this is reused instead of asking again. */
    private readonly reuseMs = 1000,
    private readonly onSend: () => void = () => {},
  ) {}

  run(promql: string): Promise<QueryResult> {
    const now = this.clock();
    const hit = this.recent.get(promql);
    if (hit && now - hit.atMs < this.reuseMs) return Promise.resolve(hit.result);
    const pending = this.inflight.get(promql);
    if (pending) return pending;
    this.sent++;
    this.onSend();
    const p = this.query(promql)
      .then((result) => {
        this.recent.set(promql, { atMs: this.clock(), result });
        return result;
      })
      .finally(() => this.inflight.delete(promql));
    this.inflight.set(promql, p);
    return p;
  }

  /** Drops cached results of queries no rule uses any more. */
  retain(promqls: ReadonlySet<string>): void {
    for (const k of this.recent.keys()) if (!promqls.has(k)) this.recent.delete(k);
  }
}
