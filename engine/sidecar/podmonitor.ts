// The PodMonitor that scrapes a stack's engines with the labels Baton's rule presets select on (service, role, pool),
// built from the same pod-label mapping the engine counts pods with (engine/placement/identity.ts).
import { relabelingsFor, roleValues, type IdentityLabels } from '../placement/identity.js';

export interface PodMonitorOptions {
  name?: string;
  namespace?: string;
  /** The engines' metrics port name (vLLM serves /metrics on its API port). */
  port?: string;
  interval?: string;
}

export function podMonitorFor(id: IdentityLabels, o: PodMonitorOptions = {}): Record<string, unknown> {
  const values = roleValues(id);
  const exists = (key: string) => ({ key, operator: 'Exists' });
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PodMonitor',
    metadata: { name: o.name ?? 'baton-engines', namespace: o.namespace ?? 'baton-system', labels: { 'app.kubernetes.io/name': 'baton' } },
    spec: {
      namespaceSelector: { any: true },
      selector: {
        matchExpressions: [
          exists(id.service),
          { key: id.role, operator: 'In', values: [...values.prefill, ...values.decode] },
          ...(id.pool ? [exists(id.pool)] : []),
        ],
      },
      podMetricsEndpoints: [{
        port: o.port ?? 'http',
        path: '/metrics',
        // Baton's rate windows (1m) need several samples per window.
        interval: o.interval ?? '15s',
        relabelings: relabelingsFor(id),
      }],
    },
  };
}
