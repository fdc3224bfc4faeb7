// A Prometheus-style histogram with fixed upper bounds, as the engines export them (cumulative `le` buckets, _sum,
// _count). Observations can carry a weight: n identical samples in one call (e.g. the inter-token gaps of one request).
export class BucketHistogram {
  /** Non-cumulative counts; the last slot is the +Inf overflow. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i]! > bounds[i - 1]!)) throw new Error(`histogram bounds must increase strictly; got ${bounds.join(', ')}`);
    }
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number, n = 1): void {
    if (!Number.isFinite(v) || !(n > 0)) return;
    // Bounds are short (≤ 25): a linear scan beats a binary search here.
    let i = 0;
    const b = this.bounds;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]! += n;
    this.sum += v * n;
    this.count += n;
  }
}

/** How Python's prometheus_client writes a bucket bound (`1.0`, `0.025`, `+Inf`): real engines' `le` values. */
export function formatLe(bound: number): string {
  if (bound === Infinity) return '+Inf';
  return Number.isInteger(bound) ? bound.toFixed(1) : String(bound);
}
