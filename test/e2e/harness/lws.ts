// Real LeaderWorkerSet on the e2e control plane: its manager (the LWS and DisaggregatedSet controllers, and the webhooks
// that label, annotate and place group pods), built from the pinned Go module (scripts/build-lws.sh) and run as a local
// process with the admin kubeconfig. Its webhooks are served on 127.0.0.1 with a certificate made here, reached by the
// apiserver through URL webhook configurations (the module's own, with `url` and `caBundle` instead of a Service).
// LWS needs the statefulset controller, which the harness's controller-manager runs.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { generateCa, issueCert } from '../../../adapter/certs.js';
import { waitFor } from './api.js';
import { REPO_ROOT } from './binaries.js';
import { runBuildScript } from './build-script.js';
import type { Cluster } from './cluster.js';
import { freePorts } from './ports.js';

export interface LwsBuild {
  manager: string;
  crds: string;
  webhooks: string;
}

/** Builds or finds the LWS manager (cold ~2 min on 2 cores, warm < 1 s). */
export async function ensureLws(log?: (line: string) => void): Promise<LwsBuild> {
  const dir = await runBuildScript(join(REPO_ROOT, 'scripts/build-lws.sh'), log);
  return { manager: join(dir, 'bin', 'lws-manager'), crds: join(dir, 'crds'), webhooks: join(dir, 'webhook', 'manifests.yaml') };
}

interface Webhook {
  name: string;
  clientConfig: { service?: { path?: string }; url?: string; caBundle?: string };
  objectSelector?: object;
}

/**
 * The module's webhook configurations pointed at `base` (https://127.0.0.1:port) with `caPem`. The pod webhooks get the
 * objectSelector LWS's own kustomize patch adds (only pods of a LeaderWorkerSet), so other pods never wait on it.
 */
export function webhookConfigurations(manifests: string, base: string, caPem: string): object[] {
  return parseAllDocuments(manifests).map((d) => d.toJSON() as { kind: string; metadata: { name: string }; webhooks: Webhook[] }).filter((o) => o).map((o) => ({
    ...o,
    metadata: { name: `lws-${o.metadata.name}` },
    webhooks: o.webhooks.map((w) => ({
      ...w,
      clientConfig: { url: `${base}${w.clientConfig.service?.path ?? ''}`, caBundle: Buffer.from(caPem).toString('base64') },
      ...(w.name === 'mpod.kb.io' || w.name === 'vpod.kb.io' ? { objectSelector: { matchExpressions: [{ key: 'leaderworkerset.sigs.k8s.io/name', operator: 'Exists' }] } } : {}),
    })),
  }));
}

export async function startLws(cluster: Cluster, build: LwsBuild): Promise<void> {
  const dir = join(cluster.runDir, 'lws');
  const certDir = join(dir, 'certs');
  mkdirSync(certDir, { recursive: true });
  const ca = generateCa({ cn: 'baton-e2e-lws-webhook-ca', days: 30 });
  const serving = issueCert(ca, { cn: 'lws-webhook', dnsNames: ['localhost'], ips: ['127.0.0.1'], days: 30 });
  writeFileSync(join(certDir, 'tls.crt'), serving.certPem, { mode: 0o600 });
  writeFileSync(join(certDir, 'tls.key'), serving.keyPem, { mode: 0o600 });
  const [webhookPort, probePort] = (await freePorts(2)) as [number, number];
  const config = join(dir, 'config.yaml');
  writeFileSync(config, [
    'apiVersion: config.lws.x-k8s.io/v1alpha1',
    'kind: Configuration',
    'leaderElection: {leaderElect: false}',
    'internalCertManagement: {enable: false}',
    `webhook: {host: 127.0.0.1, port: ${webhookPort}, certDir: "${certDir}"}`,
    'metrics: {bindAddress: "0"}',
    `health: {healthProbeBindAddress: "127.0.0.1:${probePort}"}`,
    '',
  ].join('\n'));

  // Server-side: the CRDs are larger than client-side apply's annotation allows.
  await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-f', build.crds]);
  for (const crd of ['leaderworkersets.leaderworkerset.x-k8s.io', 'disaggregatedsets.disaggregatedset.x-k8s.io']) {
    await waitFor(`CRD ${crd} Established`, 30_000, async () => {
      const c = await cluster.api.get<{ status?: { conditions?: { type: string; status: string }[] } }>(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd}`);
      return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True') ? true : undefined;
    }, 300);
  }
  cluster.processes.start('lws-manager', build.manager, [`--kubeconfig=${cluster.kubeconfig}`, `--config=${config}`, '--zap-log-level=info'], { ...process.env, KUBECONFIG: cluster.kubeconfig });
  await waitFor('LWS manager healthy', 60_000, async () => {
    const r = await fetch(`http://127.0.0.1:${probePort}/readyz`).catch(() => undefined);
    return r?.ok ? true : undefined;
  }, 300, () => cluster.processes.assertAlive());
  await cluster.apply(webhookConfigurations(readFileSync(build.webhooks, 'utf8'), `https://127.0.0.1:${webhookPort}`, ca.certPem));
  // The webhook server answers once its certificate is loaded; an LWS created before that would be refused.
  await waitFor('LWS webhooks answer', 60_000, async () => {
    const probe = { apiVersion: 'leaderworkerset.x-k8s.io/v1', kind: 'LeaderWorkerSet', metadata: { name: 'probe', namespace: 'default' }, spec: { leaderWorkerTemplate: { size: 1, workerTemplate: { spec: { containers: [{ name: 'c', image: 'x' }] } } } } };
    const r = await cluster.api.request('POST', '/apis/leaderworkerset.x-k8s.io/v1/namespaces/default/leaderworkersets?dryRun=All', probe);
    if (r.status === 201 || r.status === 200) return true;
    throw new Error(`dry-run create: HTTP ${r.status} ${r.text.slice(0, 300)}`);
  }, 500, () => cluster.processes.assertAlive());
}
