// Registers Baton's adapter with the real aggregator: an ExternalName Service → 127.0.0.1, an APIService
// v1beta1.external.metrics.k8s.io whose caBundle is the CA that signed the adapter's serving cert (SAN <svc>.<ns>.svc),
// and the adapter in `cluster` security mode: front-proxy CA from kube-system/extension-apiserver-authentication, SAR
// through the real kube-apiserver for every caller (the HPA controller's bootstrap RBAC decides).
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateCa, issueCert } from '../../../adapter/certs.js';
import { startAdapter, type RunningAdapter } from '../../../adapter/main.js';
import { waitFor } from './api.js';
import type { Cluster } from './cluster.js';
import { freePorts } from './ports.js';

export const APISERVICE_NAME = 'v1beta1.external.metrics.k8s.io';

export interface BatonOptions {
  rulesDir: string;
  prometheusUrl: string;
  /** Namespace of the Service the APIService points at. Default baton-system. */
  namespace?: string;
  serviceName?: string;
  /** Prometheus client timeout (default: the client's 5 s). */
  prometheusTimeoutMs?: number;
}

export interface RegisteredBaton {
  /** The running adapter (a new one after restartAdapter). */
  readonly adapter: RunningAdapter;
  port: number;
  url: string;
  /** PEM of the CA in the APIService's caBundle. */
  caPem: string;
  logFile: string;
  /** Stops the adapter (the APIService stays), waits `downMs`, starts a fresh one on the same port and certificate. */
  restartAdapter(downMs?: number): Promise<RunningAdapter>;
  /** Deletes the APIService first (a dead backend stalls discovery and namespace deletion), then stops the adapter. */
  close(): Promise<void>;
}

interface ApiServiceStatus {
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

export async function registerBaton(cluster: Cluster, o: BatonOptions): Promise<RegisteredBaton> {
  const namespace = o.namespace ?? 'baton-system';
  const serviceName = o.serviceName ?? 'baton-adapter';
  const ca = generateCa({ cn: 'baton-e2e-adapter-ca', days: 30 });
  const serving = issueCert(ca, {
    cn: `${serviceName}.${namespace}.svc`,
    dnsNames: [`${serviceName}.${namespace}.svc`, `${serviceName}.${namespace}.svc.cluster.local`, 'localhost'],
    ips: ['127.0.0.1'],
    days: 30,
  });
  const [port] = (await freePorts(1)) as [number];
  const logFile = join(cluster.runDir, 'baton-adapter.log');
  const options: Parameters<typeof startAdapter>[0] = {
    rulesDir: o.rulesDir,
    prometheus: { url: o.prometheusUrl, ...(o.prometheusTimeoutMs !== undefined ? { timeoutMs: o.prometheusTimeoutMs } : {}) },
    host: '127.0.0.1',
    port,
    tls: { certPem: serving.certPem, keyPem: serving.keyPem },
    security: { mode: 'cluster', kubeconfig: cluster.kubeconfig },
    // As the install runs it: decision memory survives restartAdapter.
    stateFile: join(cluster.runDir, 'baton-state.json'),
    log: (level, message, fields) => appendFileSync(logFile, JSON.stringify({ ts: new Date().toISOString(), level, msg: message, ...fields }) + '\n'),
  };
  let adapter = await startAdapter(options);
  const restartAdapter = async (downMs = 0): Promise<RunningAdapter> => {
    await adapter.close();
    await new Promise((r) => setTimeout(r, downMs));
    adapter = await startAdapter(options);
    return adapter;
  };
  const close = async (): Promise<void> => {
    await cluster.api.delete(`/apis/apiregistration.k8s.io/v1/apiservices/${APISERVICE_NAME}`).catch(() => undefined);
    await adapter.close();
  };
  try {
    await cluster.apply([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: serviceName, namespace }, spec: { type: 'ExternalName', externalName: '127.0.0.1' } },
      {
        apiVersion: 'apiregistration.k8s.io/v1',
        kind: 'APIService',
        metadata: { name: APISERVICE_NAME },
        spec: {
          group: 'external.metrics.k8s.io',
          version: 'v1beta1',
          groupPriorityMinimum: 100,
          versionPriority: 100,
          service: { name: serviceName, namespace, port },
          caBundle: Buffer.from(ca.certPem).toString('base64'),
        },
      },
    ]);
    await waitFor(`APIService ${APISERVICE_NAME} Available=True`, 60_000, async () => {
      const s = await cluster.api.get<ApiServiceStatus>(`/apis/apiregistration.k8s.io/v1/apiservices/${APISERVICE_NAME}`);
      const c = s.status?.conditions?.find((x) => x.type === 'Available');
      if (c?.status === 'True') return true;
      throw new Error(`Available=${c?.status ?? 'unknown'} ${c?.reason ?? ''}: ${c?.message ?? ''}`);
    }, 500, () => cluster.processes.assertAlive());
  } catch (err) {
    await close();
    throw err;
  }
  return {
    get adapter() {
      return adapter;
    },
    port,
    url: adapter.server.url,
    caPem: ca.certPem,
    logFile,
    restartAdapter,
    close,
  };
}
