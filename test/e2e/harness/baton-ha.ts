// Several `baton adapter --ha` processes behind the real aggregator: each a child process with its own port and no
// local state, the decision store on the real kube-apiserver (ConfigMaps, a Lease); in front of them a round-robin
// TLS-passthrough TCP proxy on the port the APIService points at (what a Service with several endpoints does).
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCa, issueCert } from '../../../adapter/certs.js';
import { waitFor } from './api.js';
import { APISERVICE_NAME } from './baton.js';
import type { Cluster } from './cluster.js';
import { freePorts } from './ports.js';
import { ProcessSet, type ManagedProcess } from './processes.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

export interface HaReplica {
  name: string;
  port: number;
  proc: ManagedProcess;
}

export interface HaOptions {
  rulesDir: string;
  prometheusUrl: string;
  prometheusTimeoutMs: number;
  leaseDurationS: number;
  syncIntervalMs: number;
  publishDelayMs: number;
}

export interface HaBaton {
  replicas(): HaReplica[];
  /** Starts one more replica (a rollout's new pod: empty local state) and waits until it answers. */
  addReplica(name: string): Promise<HaReplica>;
  /** SIGKILL (a crash) or SIGTERM (a clean stop, as in a rollout); the proxy stops sending it connections. */
  stopReplica(name: string, signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** The identity holding the Lease now. */
  leader(): Promise<string>;
  /** GET `path` from one replica directly, as the aggregator would (front-proxy certificate, the HPA's identity). */
  direct(r: HaReplica, path: string): Promise<{ status: number; body: string }>;
  close(): Promise<void>;
}

export async function registerBatonHa(cluster: Cluster, o: HaOptions, names: string[]): Promise<HaBaton> {
  const namespace = 'baton-system';
  const serviceName = 'baton-adapter';
  const ca = generateCa({ cn: 'baton-e2e-ha-ca', days: 30 });
  const serving = issueCert(ca, { cn: `${serviceName}.${namespace}.svc`, dnsNames: [`${serviceName}.${namespace}.svc`, 'localhost'], ips: ['127.0.0.1'], days: 30 });
  const certFile = join(cluster.runDir, 'ha-serving.crt');
  const keyFile = join(cluster.runDir, 'ha-serving.key');
  writeFileSync(certFile, serving.certPem);
  writeFileSync(keyFile, serving.keyPem, { mode: 0o600 });
  const procs = new ProcessSet(cluster.runDir);
  const live: HaReplica[] = [];
  let next = 0;

  // Round robin per connection over the live replicas; a replica that refuses is skipped.
  const proxy = net.createServer((client) => {
    client.on('error', () => undefined);
    const tryAt = (attempt: number): void => {
      if (attempt >= live.length || live.length === 0) return void client.destroy();
      const r = live[next++ % live.length]!;
      const up = net.connect(r.port, '127.0.0.1');
      let connected = false;
      up.once('connect', () => {
        connected = true;
        client.pipe(up);
        up.pipe(client);
        client.once('close', () => up.destroy());
        up.once('close', () => client.destroy());
      });
      up.on('error', () => {
        if (!connected) tryAt(attempt + 1);
        else client.destroy();
      });
    };
    tryAt(0);
  });
  const [proxyPort] = (await freePorts(1)) as [number];
  await new Promise<void>((r) => proxy.listen(proxyPort, '127.0.0.1', r));

  const f = cluster.pki.files;
  const direct = (r: HaReplica, path: string) => new Promise<{ status: number; body: string }>((res, rej) => {
    const req = https.request(`https://127.0.0.1:${r.port}${path}`, {
      ca: ca.certPem, servername: `${serviceName}.${namespace}.svc`, agent: false,
      cert: readFileSync(f.frontProxyClientCert), key: readFileSync(f.frontProxyClientKey),
      headers: { 'X-Remote-User': 'system:serviceaccount:kube-system:horizontal-pod-autoscaler', 'X-Remote-Group': 'system:serviceaccounts' },
    }, (resp) => {
      let body = '';
      resp.setEncoding('utf8');
      resp.on('data', (c: string) => (body += c));
      resp.on('end', () => res({ status: resp.statusCode ?? 0, body }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', rej);
    req.end();
  });

  const addReplica = async (name: string): Promise<HaReplica> => {
    const [port] = (await freePorts(1)) as [number];
    const proc = procs.start(`adapter-${name}`, process.execPath, [
      join(repoRoot, 'bin/baton.js'), 'adapter', '--rules', o.rulesDir, '--prometheus', o.prometheusUrl, '--host', '127.0.0.1', '--port', String(port),
      '--tls-cert-file', certFile, '--tls-private-key-file', keyFile, '--kubeconfig', cluster.kubeconfig,
      '--ha', '--ha-namespace', namespace, '--ha-identity', name, '--ha-lease-duration', String(o.leaseDurationS),
      '--ha-sync-interval', String(o.syncIntervalMs), '--ha-publish-delay', String(o.publishDelayMs), '--prometheus-timeout', String(o.prometheusTimeoutMs),
    ]);
    const r: HaReplica = { name, port, proc };
    await waitFor(`replica ${name} answers /readyz`, 60_000, async () => ((await direct(r, '/readyz')).status === 200 ? true : undefined), 300, () => {
      if (proc.exited !== undefined) throw new Error(`adapter ${name} exited (${proc.exited}): ${readFileSync(proc.logFile, 'utf8').slice(-3000)}`);
    });
    live.push(r);
    return r;
  };

  await cluster.apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: serviceName, namespace }, spec: { type: 'ExternalName', externalName: '127.0.0.1' } },
  ]);
  for (const n of names) await addReplica(n);
  await cluster.apply([{
    apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', metadata: { name: APISERVICE_NAME },
    spec: { group: 'external.metrics.k8s.io', version: 'v1beta1', groupPriorityMinimum: 100, versionPriority: 100, service: { name: serviceName, namespace, port: proxyPort }, caBundle: Buffer.from(ca.certPem).toString('base64') },
  }]);
  await waitFor(`APIService ${APISERVICE_NAME} Available=True`, 60_000, async () => {
    const s = await cluster.api.get<{ status?: { conditions?: { type: string; status: string; message?: string }[] } }>(`/apis/apiregistration.k8s.io/v1/apiservices/${APISERVICE_NAME}`);
    const c = s.status?.conditions?.find((x) => x.type === 'Available');
    if (c?.status === 'True') return true;
    throw new Error(`Available=${c?.status ?? 'unknown'}: ${c?.message ?? ''}`);
  }, 500);

  const stopReplica = async (name: string, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> => {
    const i = live.findIndex((r) => r.name === name);
    if (i < 0) throw new Error(`no live replica ${name}`);
    const [r] = live.splice(i, 1) as [HaReplica];
    process.kill(-r.proc.pid, signal);
    await waitFor(`replica ${name} exits`, 20_000, () => (r.proc.exited !== undefined ? true : undefined), 100);
  };

  return {
    replicas: () => [...live],
    addReplica,
    stopReplica,
    leader: async () => (await cluster.api.get<{ spec?: { holderIdentity?: string } }>(`/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/baton-leader`)).spec?.holderIdentity ?? '',
    direct,
    async close() {
      await cluster.api.delete(`/apis/apiregistration.k8s.io/v1/apiservices/${APISERVICE_NAME}`).catch(() => undefined);
      await procs.stopAll();
      await new Promise<void>((r) => proxy.close(() => r()));
    },
  };
}
