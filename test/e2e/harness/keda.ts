// Real KEDA on the e2e control plane: its operator and its metrics apiserver, built from the pinned Go module
// (scripts/build-keda.sh), run as local processes with the admin kubeconfig; KEDA's metrics apiserver owns
// v1beta1.external.metrics.k8s.io behind the real aggregator (ExternalName Service → 127.0.0.1, caBundle), and the two
// talk over KEDA's own mutual-TLS gRPC with certificates made here.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateCa, issueCert } from '../../../adapter/certs.js';
import { waitFor } from './api.js';
import { APISERVICE_NAME } from './baton.js';
import { REPO_ROOT } from './binaries.js';
import { runBuildScript } from './build-script.js';
import type { Cluster } from './cluster.js';
import { freePorts } from './ports.js';

export const KEDA_NAMESPACE = 'keda';

export interface KedaBuild {
  dir: string;
  operator: string;
  adapter: string;
  crds: string;
}

/** Runs scripts/build-keda.sh (cold ~11 min on 2 cores, warm < 1 s); progress goes to stderr. */
export async function ensureKeda(log?: (line: string) => void): Promise<KedaBuild> {
  const dir = await runBuildScript(join(REPO_ROOT, 'scripts/build-keda.sh'), log);
  return { dir, operator: join(dir, 'bin', 'keda-operator'), adapter: join(dir, 'bin', 'keda-adapter'), crds: join(dir, 'crds') };
}

export interface RunningKeda {
  /** Deletes the APIService (a dead backend stalls discovery); the processes stop with the cluster. */
  close(): Promise<void>;
}

function writePems(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, pem] of Object.entries(files)) writeFileSync(join(dir, name), pem, { mode: 0o600 });
}

export async function startKeda(cluster: Cluster, build: KedaBuild): Promise<RunningKeda> {
  const dir = join(cluster.runDir, 'keda');
  // KEDA's operator ↔ metrics apiserver gRPC: one CA, a serving cert for the operator, a client cert for the adapter.
  const grpcCa = generateCa({ cn: 'baton-e2e-keda-grpc-ca', days: 30 });
  const operatorCert = issueCert(grpcCa, { cn: 'keda-operator', dnsNames: ['localhost'], ips: ['127.0.0.1'], days: 30 });
  const adapterClient = issueCert(grpcCa, { cn: 'keda-metrics-apiserver', client: true, days: 30 });
  writePems(join(dir, 'operator-certs'), { 'ca.crt': grpcCa.certPem, 'tls.crt': operatorCert.certPem, 'tls.key': operatorCert.keyPem });
  writePems(join(dir, 'adapter-certs'), { 'ca.crt': grpcCa.certPem, 'tls.crt': adapterClient.certPem, 'tls.key': adapterClient.keyPem });
  // The metrics apiserver's serving cert, which the aggregator checks against the APIService's caBundle.
  const servingCa = generateCa({ cn: 'baton-e2e-keda-serving-ca', days: 30 });
  const svc = `keda-metrics-apiserver.${KEDA_NAMESPACE}.svc`;
  const serving = issueCert(servingCa, { cn: svc, dnsNames: [svc, `${svc}.cluster.local`, 'localhost'], ips: ['127.0.0.1'], days: 30 });
  writePems(join(dir, 'serving'), { 'tls.crt': serving.certPem, 'tls.key': serving.keyPem });

  await cluster.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: KEDA_NAMESPACE } }]);
  // Server-side: the ScaledJob CRD is larger than client-side apply's annotation allows.
  await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-f', build.crds]);
  for (const crd of ['scaledobjects.keda.sh', 'triggerauthentications.keda.sh', 'clustertriggerauthentications.keda.sh', 'scaledjobs.keda.sh']) {
    await waitFor(`CRD ${crd} Established`, 30_000, async () => {
      const c = await cluster.api.get<{ status?: { conditions?: { type: string; status: string }[] } }>(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd}`);
      return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True') ? true : undefined;
    }, 300);
  }

  const [grpcPort, operatorMetrics, operatorProbe, securePort, adapterMetrics] = (await freePorts(5)) as [number, number, number, number, number];
  const env = { ...process.env, POD_NAMESPACE: KEDA_NAMESPACE, KEDA_CLUSTER_OBJECT_NAMESPACE: KEDA_NAMESPACE, WATCH_NAMESPACE: '', KUBECONFIG: cluster.kubeconfig };
  cluster.processes.start('keda-operator', build.operator, [
    `--kubeconfig=${cluster.kubeconfig}`, '--leader-elect=false', '--enable-cert-rotation=false',
    `--cert-dir=${join(dir, 'operator-certs')}`, `--metrics-service-bind-address=127.0.0.1:${grpcPort}`,
    `--metrics-bind-address=127.0.0.1:${operatorMetrics}`, `--health-probe-bind-address=127.0.0.1:${operatorProbe}`,
    '--zap-log-level=info', '--zap-encoder=console',
  ], env);
  cluster.processes.start('keda-metrics-apiserver', build.adapter, [
    `--secure-port=${securePort}`, '--bind-address=127.0.0.1',
    `--tls-cert-file=${join(dir, 'serving', 'tls.crt')}`, `--tls-private-key-file=${join(dir, 'serving', 'tls.key')}`,
    `--cert-dir=${join(dir, 'adapter-certs')}`, `--metrics-service-address=127.0.0.1:${grpcPort}`, `--port=${adapterMetrics}`,
    `--lister-kubeconfig=${cluster.kubeconfig}`, `--authentication-kubeconfig=${cluster.kubeconfig}`, `--authorization-kubeconfig=${cluster.kubeconfig}`,
    '--zap-log-level=info', '--zap-encoder=console',
  ], env);

  await cluster.apply([
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'keda-metrics-apiserver', namespace: KEDA_NAMESPACE }, spec: { type: 'ExternalName', externalName: '127.0.0.1' } },
    {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: APISERVICE_NAME },
      spec: {
        group: 'external.metrics.k8s.io', version: 'v1beta1', groupPriorityMinimum: 100, versionPriority: 100,
        service: { name: 'keda-metrics-apiserver', namespace: KEDA_NAMESPACE, port: securePort },
        caBundle: Buffer.from(servingCa.certPem).toString('base64'),
      },
    },
  ]);
  await waitFor(`APIService ${APISERVICE_NAME} (KEDA) Available=True`, 90_000, async () => {
    const s = await cluster.api.get<{ status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } }>(`/apis/apiregistration.k8s.io/v1/apiservices/${APISERVICE_NAME}`);
    const c = s.status?.conditions?.find((x) => x.type === 'Available');
    if (c?.status === 'True') return true;
    throw new Error(`Available=${c?.status ?? 'unknown'} ${c?.reason ?? ''}: ${c?.message ?? ''}`);
  }, 500, () => cluster.processes.assertAlive());
  return {
    close: async () => {
      await cluster.api.delete(`/apis/apiregistration.k8s.io/v1/apiservices/${APISERVICE_NAME}`).catch(() => undefined);
    },
  };
}
