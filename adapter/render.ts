// ExternalMetricValueList JSON (k8s.io/metrics external_metrics/v1beta1, reference A4).
import type { ExternalMetricSample } from './provider.js';
import { formatQuantity } from './quantity.js';
import { GROUP_VERSION } from './discovery.js';

let lastSecond = NaN;
let lastStamp = '';

/** metav1.Time: RFC 3339 in UTC at second precision, as Go marshals it ("2026-01-01T00:00:00Z"). */
export function rfc3339(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastStamp = new Date(second * 1000).toISOString().slice(0, 19) + 'Z';
  }
  return lastStamp;
}

/** Render samples; throws NonFiniteQuantityError (via formatQuantity) rather than publish NaN/Inf. */
export function renderValueList(samples: readonly ExternalMetricSample[]): string {
  const items = samples.map((s) => {
    if (!Number.isFinite(s.timestampMs)) throw new Error(`metric ${s.metricName} has no valid timestamp`);
    const item: Record<string, unknown> = {
      metricName: s.metricName,
      metricLabels: s.labels,
      timestamp: rfc3339(s.timestampMs),
    };
    if (s.windowSeconds !== undefined) item.window = Math.round(s.windowSeconds);
    item.value = formatQuantity(s.value);
    return item;
  });
  return JSON.stringify({ kind: 'ExternalMetricValueList', apiVersion: GROUP_VERSION, metadata: {}, items });
}
