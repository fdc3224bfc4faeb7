// A real Kubernetes control plane on 127.0.0.1 for e2e tests: etcd → kube-apiserver (with the aggregation layer) →
// kube-controller-manager (HPA/deployment/replicaset…) → kube-scheduler → kwok (fake nodes, pods go Running).
// Free ports, per-run certificates and a fresh run dir every time; stop() (and process exit) kills every process group.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeApi, kubectl, waitFor } from './api.js';
import { ensureBinaries, type ClusterBinaries } from './binaries.js';
import { FRONT_PROXY_CLIENT_CN, generateClusterPki, type ClusterPki } from './pki.js';
import { freePorts } from './ports.js';
import { ProcessSet } from './processes.js';

export interface ClusterOptions {
  /** Run dir (created); default a fresh mkdtemp under $TMPDIR. */
  runDir?: string;
  /** kube-controller-manager --horizontal-pod-autoscaler-sync-period, seconds (default 2; upstream 15). */
  hpaSyncPeriodS?: number;
  /** kube-controller-manager --horizontal-pod-autoscaler-tolerance (default 0.1, upstream's). */
  hpaTolerance?: number;
  /** Controllers run as their own service accounts (bootstrap RBAC), as in a real cluster. Default true. */
  useServiceAccountCredentials?: boolean;
  /** --feature-gates for kube-apiserver and kube-controller-manager, e.g. "HPAConfigurableTolerance=true". */
  featureGates?: string;
  /**
   * Pods labelled `slowstart: "true"` become Ready this long after they are bound (kwok's Stage delay), as a model
   * server loading its weights would; other pods at once. Unset: every pod at once.
   */
  slowStartMs?: number;
  /** Keep the run dir after stop() (default: removed unless the run failed, see stop()). */
  keepRunDir?: boolean;
  log?: (line: string) => void;
}

export interface Cluster {
  runDir: string;
  kubeconfig: string;
  server: string;
  bin: ClusterBinaries;
  pki: ClusterPki;
  api: KubeApi;
  processes: ProcessSet;
  ports: Record<'etcd' | 'etcdPeer' | 'apiserver' | 'kwok', number>;
  settings: { hpaSyncPeriodS: number; hpaTolerance: number; featureGates: string; useServiceAccountCredentials: boolean };
  kubectl(args: string[], stdin?: string): Promise<string>;
  /** kubectl apply of one or more objects (serialized as a JSON List). */
  apply(objects: object[]): Promise<string>;
  /** Component log tails, for failure messages. */
  logTails(lines?: number): string;
  /** Stops every process (reverse order); removes the run dir unless `keep` (or keepRunDir). Idempotent. */
  stop(keep?: boolean): Promise<void>;
}

function writeKubeconfig(path: string, server: string, pki: ClusterPki): void {
  const f = pki.files;
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: baton-e2e`,
      `  cluster: {server: "${server}", certificate-authority: "${f.caCert}"}`,
      'users:',
      '- name: admin',
      `  user: {client-certificate: "${f.adminCert}", client-key: "${f.adminKey}"}`,
      'contexts:',
      '- name: baton-e2e',
      '  context: {cluster: baton-e2e, user: admin}',
      'current-context: baton-e2e',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
}

export async function startCluster(o: ClusterOptions = {}): Promise<Cluster> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const t0 = Date.now();
  const step = (what: string) => log(`[e2e cluster +${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}`);
  const bin = await ensureBinaries(log);
  const runDir = o.runDir ?? mkdtempSync(join(tmpdir(), 'baton-e2e-cluster-'));
  mkdirSync(runDir, { recursive: true });
  const pki = generateClusterPki(join(runDir, 'pki'));
  const [etcd, etcdPeer, apiserver, kwok] = (await freePorts(4)) as [number, number, number, number];
  const ports = { etcd, etcdPeer, apiserver, kwok };
  const server = `https://127.0.0.1:${apiserver}`;
  const kubeconfig = join(runDir, 'admin.kubeconfig');
  writeKubeconfig(kubeconfig, server, pki);
  const settings = {
    hpaSyncPeriodS: o.hpaSyncPeriodS ?? 2,
    hpaTolerance: o.hpaTolerance ?? 0.1,
    featureGates: o.featureGates ?? '',
    useServiceAccountCredentials: o.useServiceAccountCredentials ?? true,
  };
  step(`run dir ${runDir}; ports ${JSON.stringify(ports)}`);

  const processes = new ProcessSet(runDir);
  const api = KubeApi.fromFiles(server, pki.files.caCert, pki.files.adminCert, pki.files.adminKey);
  let stopped = false;
  const cluster: Cluster = {
    runDir,
    kubeconfig,
    server,
    bin,
    pki,
    api,
    processes,
    ports,
    settings,
    kubectl: (args, stdin) => kubectl(bin.path('kubectl'), kubeconfig, args, stdin),
    apply: (objects) => kubectl(bin.path('kubectl'), kubeconfig, ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects })),
    logTails: (lines) => processes.logTails(lines),
    async stop(keep = false) {
      if (stopped) return;
      stopped = true;
      api.close();
      await processes.stopAll();
      if (keep || o.keepRunDir) log(`[e2e cluster] kept run dir ${runDir}`);
      else rmSync(runDir, { recursive: true, force: true });
    },
  };

  try {
    const f = pki.files;
    processes.start('etcd', bin.path('etcd'), [
      '--name=node0', `--data-dir=${join(runDir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcd}`, `--advertise-client-urls=http://127.0.0.1:${etcd}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=node0=http://127.0.0.1:${etcdPeer}`,
      '--auto-compaction-retention=1', '--quota-backend-bytes=8589934592', '--unsafe-no-fsync=true', '--log-level=warn',
    ]);
    await waitFor('etcd /health', 30_000, async () => ((await fetch(`http://127.0.0.1:${etcd}/health`)).ok ? true : undefined), 200, () => processes.assertAlive());
    step('etcd healthy');

    const gates = settings.featureGates ? [`--feature-gates=${settings.featureGates}`] : [];
    processes.start('kube-apiserver', bin.path('kube-apiserver'), [
      `--etcd-servers=http://127.0.0.1:${etcd}`,
      '--bind-address=127.0.0.1', `--secure-port=${apiserver}`, '--advertise-address=127.0.0.1', '--endpoint-reconciler-type=none',
      '--service-cluster-ip-range=10.96.0.0/16',
      `--tls-cert-file=${f.apiserverCert}`, `--tls-private-key-file=${f.apiserverKey}`, `--client-ca-file=${f.caCert}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${f.saPub}`, `--service-account-signing-key-file=${f.saKey}`,
      '--authorization-mode=Node,RBAC', '--allow-privileged=true',
      // Aggregation layer: the aggregator presents this client cert to the adapter and names the user in X-Remote-*.
      `--requestheader-client-ca-file=${f.frontProxyCaCert}`, `--requestheader-allowed-names=${FRONT_PROXY_CLIENT_CN}`,
      '--requestheader-extra-headers-prefix=X-Remote-Extra-', '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-username-headers=X-Remote-User',
      `--proxy-client-cert-file=${f.frontProxyClientCert}`, `--proxy-client-key-file=${f.frontProxyClientKey}`,
      // false: the ClusterIP resolver, whose ExternalName branch dials https://<externalName>:<port> = the loopback
      // adapter. The endpoint resolver (true) refuses ExternalName and EndpointSlices refuse loopback addresses.
      '--enable-aggregator-routing=false',
      '--profiling=false', '--v=1', ...gates,
    ]);
    await waitFor('kube-apiserver /readyz', 120_000, async () => ((await api.getText('/readyz')) === 'ok' ? true : undefined), 300, () => processes.assertAlive());
    step('kube-apiserver ready');

    processes.start('kube-controller-manager', bin.path('kube-controller-manager'), [
      `--kubeconfig=${kubeconfig}`, '--bind-address=127.0.0.1', '--secure-port=0', '--leader-elect=false',
      '--controllers=deployment-controller,replicaset-controller,statefulset-controller,horizontal-pod-autoscaler-controller,garbage-collector-controller,namespace-controller,serviceaccount-controller,node-lifecycle-controller',
      `--use-service-account-credentials=${settings.useServiceAccountCredentials}`,
      `--horizontal-pod-autoscaler-sync-period=${settings.hpaSyncPeriodS}s`,
      `--horizontal-pod-autoscaler-tolerance=${settings.hpaTolerance}`,
      '--kube-api-qps=100', '--kube-api-burst=200', '--v=2', ...gates,
    ]);
    const schedulerConfig = join(runDir, 'scheduler.yaml');
    writeFileSync(schedulerConfig, [
      'apiVersion: kubescheduler.config.k8s.io/v1',
      'kind: KubeSchedulerConfiguration',
      `clientConnection: {kubeconfig: "${kubeconfig}", qps: 100, burst: 200}`,
      'leaderElection: {leaderElect: false}',
      '',
    ].join('\n'));
    processes.start('kube-scheduler', bin.path('kube-scheduler'), [`--config=${schedulerConfig}`, '--bind-address=127.0.0.1', '--secure-port=0', '--v=1']);
    const stages = ['node-initialize', 'node-heartbeat-with-lease', 'pod-ready', 'pod-complete', 'pod-delete'].map((s) => `--config=${join(bin.stagesDir, s + '.yaml')}`);
    if (o.slowStartMs !== undefined) stages.splice(2, 1, ...slowStartStages(bin.stagesDir, runDir, o.slowStartMs));
    processes.start('kwok', bin.path('kwok'), [
      `--kubeconfig=${kubeconfig}`, ...stages,
      '--manage-all-nodes=false', '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      `--server-address=127.0.0.1:${kwok}`, '--node-ip=10.0.0.1', '--node-lease-duration-seconds=40', '--v=1',
    ]);
    await waitFor('default service account', 60_000, async () => ((await api.request('GET', '/api/v1/namespaces/default/serviceaccounts/default')).status === 200 ? true : undefined), 300, () => processes.assertAlive());
    step('controller-manager, scheduler and kwok running');
    return cluster;
  } catch (err) {
    const tails = processes.logTails();
    await cluster.stop(true);
    throw new Error(`${(err as Error).message}\n${tails}`);
  }
}

/**
 * kwok's pod-ready stage split in two: pods without the `slowstart` label as before, pods with `slowstart: "true"`
 * after `delayMs` (Stage spec.delay). Returns the --config flags.
 */
function slowStartStages(stagesDir: string, runDir: string, delayMs: number): string[] {
  const ready = readFileSync(join(stagesDir, 'pod-ready.yaml'), 'utf8');
  const anchor = '    matchExpressions:\n';
  if (!ready.includes(anchor) || !ready.includes('  next:\n')) throw new Error(`${stagesDir}/pod-ready.yaml: unexpected layout for the slow-start split`);
  const fast = ready.replace(anchor, `${anchor}    - key: '.metadata.labels.slowstart'\n      operator: 'DoesNotExist'\n`);
  const slow = ready
    .replace('name: pod-ready', 'name: pod-ready-slow')
    .replace(anchor, `${anchor}    - key: '.metadata.labels.slowstart'\n      operator: 'In'\n      values: ['true']\n`)
    .replace('  next:\n', `  delay:\n    durationMilliseconds: ${Math.round(delayMs)}\n  next:\n`);
  const fastFile = join(runDir, 'pod-ready-fast.yaml');
  const slowFile = join(runDir, 'pod-ready-slow.yaml');
  writeFileSync(fastFile, fast);
  writeFileSync(slowFile, slow);
  return [`--config=${fastFile}`, `--config=${slowFile}`];
}
