// metav1.Status bodies: what every non-2xx answer of the API looks like. The HPA copies `message` into its events and
// conditions, so it must say what went wrong without leaking PromQL or Prometheus internals.
import type { MetricErrorReason } from './provider.js';

export type StatusReason = MetricErrorReason | 'Unauthorized';

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: StatusReason;
  code: number;
}

export function statusBody(code: number, reason: StatusReason, message: string): StatusBody {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export function statusJson(code: number, reason: StatusReason, message: string): string {
  return JSON.stringify(statusBody(code, reason, message));
}
