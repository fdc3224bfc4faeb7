// `baton adapter`: rules from a directory (hot-reloaded) → evaluator on its own intervals → provider → External
// Metrics API server. The one place that wires the parts; the CLI, the e2e harness and the benchmarks all start it here.
import { Registry, collectDefaultMetrics } from 'prom-client';
import { Evaluator, lastDecisionReplicas, type GoodValue, type ReplicaSource } from '../rules/evaluator.js';
import { PrometheusClient, PrometheusError, type PrometheusClientOptions } from '../rules/prometheus.js';
import { withFileSettings } from '../rules/prometheus-settings.js';
import type { RuleSet } from '../rules/types.js';
import { redactUrl } from '../rules/redact.js';
import { RuleStore } from '../rules/store.js';
import type { AuthenticationConfig } from './authn.js';
import { CachedRulesProvider } from './cached-provider.js';
import type { HaCoordinator } from './ha/coordinator.js';
import { startHa, type HaSettings } from './ha/start.js';
import { watchServingCert } from './cert-reload.js';
import { PlanBridge } from './plan-bridge.js';
import { DEFAULT_STATE_MAX_AGE_S, StateFileWriter, loadStateFile } from './state-file.js';
import { authenticationConfigFromCluster, authenticationConfigFromFiles, loadKubeConfig, pollAuthenticationConfig, sarReviewerFromKubeConfig } from './kube.js';
import { createAdapterServer, servingMaterial, type AdapterLog, type AdapterServer, type AuthOptions, type TlsOptions } from './server.js';
import { startKedaScaler, type RunningKedaScaler } from './keda/scaler.js';
import type { SubjectAccessReviewer } from './authz.js';
import type { WorkerInit } from './serving/protocol.js';
import { startServingWorker } from './serving/host.js';

export interface AdapterOptions {
  rulesDir: string;
  prometheus: PrometheusClientOptions;
  host?: string;
  port?: number;
  metricsPort?: number;
  tls: TlsOptions;
  /** How callers are authenticated and authorized. */
  security:
    | { mode: 'insecure-dev' }
    /** From files: requestheader client CA + allowed names (+ optional client CA); SAR through the kubeconfig, or allow all authenticated. */
    | { mode: 'files'; requestheaderClientCaFile: string; requestheaderAllowedNames?: string[]; clientCaFile?: string; kubeconfig?: string; authorizeAll?: boolean }
    /** In-cluster style: CAs from the extension-apiserver-authentication ConfigMap, SAR for every request. */
    | { mode: 'cluster'; kubeconfig?: string };
  log?: AdapterLog;
  /** The sidecar engine contract (engine/sidecar/README.md): demand out, plan in. */
  engine?: { demandFile?: string; planFile?: string; maxPlanAgeS?: number };
  /** Decision memory across restarts (adapter/state-file.ts): read at start, rewritten after decisions. */
  stateFile?: string;
  /** Memories older than this are ignored at start (default 900 s). */
  stateMaxAgeS?: number;
  /** How often the serving certificate files are checked for a renewal (default 10 s). */
  certReloadMs?: number;
  /** High availability (adapter/ha): replicas elect a leader and serve its decisions from ConfigMaps. */
  ha?: HaSettings;
  /**
   * KEDA's external scaler (gRPC over TLS, the serving certificate) beside the External Metrics API, answering from the
   * same provider. `clientCaFile`: CA that KEDA's client certificate must chain to (required unless insecure-dev).
   */
  keda?: { host?: string; port: number; clientCaFile?: string; streamIntervalMs?: number };
  /**
   * Where the HTTPS server runs: `worker` (default), its own thread and heap answering from a mirror of the published
   * values, so the evaluation's garbage collection never pauses an HPA request; `inline`, the main thread.
   */
  serving?: 'worker' | 'inline';
  /** Called when serving can no longer go on (the serving worker died); the CLI exits so that the pod restarts. */
  onFatal?: (err: Error) => void;
}

export interface RunningAdapter {
  server: AdapterServer;
  /** Present with `ha`: leadership and the store. */
  ha?: HaCoordinator;
  evaluator: Evaluator;
  store: RuleStore;
  registry: Registry;
  /** Present with `keda`. */
  keda?: RunningKedaScaler;
  close(): Promise<void>;
}

export const defaultLog: AdapterLog = (level, message, fields) => {
  const line = JSON.stringify({ ts: new Date().toISOString(), level, msg: message, ...fields });
  if (level === 'info') console.log(line);
  else console.error(line);
};

export async function startAdapter(o: AdapterOptions): Promise<RunningAdapter> {
  const log = o.log ?? defaultLog;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'baton_adapter_' });
  // One client per Prometheus settings: the flags completed by the rule set's `prometheus:` block. A candidate set is
  // dry-run with its own settings; the served set's client answers the evaluator and swaps when a reload changes them.
  const clients = new Map<string, PrometheusClient>();
  const clientFor = (s: RuleSet['prometheus']): PrometheusClient => {
    const key = JSON.stringify(s ?? null);
    let c = clients.get(key);
    if (!c) clients.set(key, (c = new PrometheusClient(withFileSettings(o.prometheus, s))));
    return c;
  };
  const store = new RuleStore({ dir: o.rulesDir, registry, log: (m) => log('warn', m), dryRun: (q, candidate) => dryRunQuery(clientFor(candidate.prometheus), q) });
  // Refuse to start on an invalid rule set: the error names file, line and field.
  const rules = await store.load();
  let prom = clientFor(rules.prometheus);
  const useClientOf = (rs: RuleSet): void => {
    prom = clientFor(rs.prometheus);
    for (const [key, c] of clients) {
      if (c === prom) continue;
      c.close();
      clients.delete(key);
    }
  };
  useClientOf(rules);
  let evaluatorRef: Evaluator | undefined;
  const bridge = o.engine?.demandFile || o.engine?.planFile
    ? new PlanBridge({ ...o.engine, log: (m) => log('warn', m), liveServices: () => (evaluatorRef?.rules().services ?? []).map((s) => s.name) })
    : undefined;
  const restore = o.stateFile ? loadStateFile(o.stateFile, Date.now(), o.stateMaxAgeS ?? DEFAULT_STATE_MAX_AGE_S, (m) => log('warn', m)) : {};
  const stateWriter = o.stateFile ? new StateFileWriter(o.stateFile, () => evaluatorRef?.memories() ?? {}, (m) => log('warn', m)) : undefined;
  let ha: HaCoordinator | undefined;
  const evaluator = new Evaluator({
    query: (q) => prom.query(q), registry, log: (m) => log('warn', m), replicaSource: oneAtATime(lastDecisionReplicas),
    ...(o.ha ? { deferPublish: (service: string, good: GoodValue) => ha?.publish(service, good) } : {}),
    ...(bridge ? { afterDecision: bridge.afterDecision } : {}),
    restore,
    ...(stateWriter ? { onDecision: () => stateWriter.changed() } : {}),
  });
  evaluatorRef = evaluator;
  if (o.stateFile) log('info', 'decision memory', { stateFile: o.stateFile, restored: Object.keys(restore) });
  evaluator.setRules(rules);
  store.onChange((rs) => {
    useClientOf(rs);
    evaluator.setRules(rs);
    log('info', 'rules reloaded', { services: rs.services.length });
  });
  store.watch();
  if (o.ha) {
    const settings = { ...o.ha, ...(o.ha.kubeconfig === undefined && o.security.mode !== 'insecure-dev' && o.security.kubeconfig ? { kubeconfig: o.security.kubeconfig } : {}) };
    await startHa(settings, evaluator, (m) => log('info', m), (c) => (ha = c));
  } else {
    evaluator.start();
  }

  const { auth, kubeconfig } = await authOptions(o);
  const provider = new CachedRulesProvider(evaluator);
  const serverOpts: Parameters<typeof createAdapterServer>[0] = {
    provider,
    tls: o.tls,
    auth,
    registry,
    log,
    ready: () => (evaluator.rules().services.length > 0 ? true : 'no rules loaded'),
  };
  if (o.host !== undefined) serverOpts.host = o.host;
  if (o.port !== undefined) serverOpts.port = o.port;
  if (o.metricsPort !== undefined) serverOpts.metricsPort = o.metricsPort;
  const server = (o.serving ?? 'worker') === 'worker'
    ? await startServingWorker({ init: workerInit(serverOpts), evaluator, provider, ...reviewerOf(auth), registry, ready: serverOpts.ready!, log, ...(o.onFatal ? { onFatal: o.onFatal } : {}) })
    : await createAdapterServer(serverOpts);
  // In cluster mode the front-proxy CA can rotate: follow the ConfigMap and swap it in without a restart.
  const stopPolling = kubeconfig
    ? pollAuthenticationConfig(kubeconfig, (cfg) => server.setAuthentication(cfg), (err) => log('warn', 'reading extension-apiserver-authentication failed', { error: String(err) }))
    : undefined;
  const stopCertWatch = 'certFile' in o.tls
    ? watchServingCert(o.tls.certFile, o.tls.keyFile, (c, k) => server.setServingCert(c, k), (err) => log('warn', err.message), o.certReloadMs ?? 10_000,
      () => log('info', 'serving certificate reloaded', { certFile: 'certFile' in o.tls ? o.tls.certFile : '' }))
    : undefined;
  // The second front door reads the same provider: one evaluator, one set of decisions and staleness rules.
  let keda: RunningKedaScaler | undefined;
  if (o.keda) {
    if (!o.keda.clientCaFile && o.security.mode !== 'insecure-dev') {
      await server.close();
      await evaluator.stop();
      throw new Error('--keda-port needs --keda-client-ca-file (the CA that signed the certificate in KEDA\'s TriggerAuthentication), or --insecure-dev');
    }
    // Certificate files are followed (renewals served without a restart); a development certificate is made once.
    const identity = 'certFile' in o.tls ? { certFile: o.tls.certFile, keyFile: o.tls.keyFile } : servingMaterial(o.tls);
    keda = await startKedaScaler({
      provider, host: o.keda.host ?? o.host ?? '127.0.0.1', port: o.keda.port, identity, registry,
      log: (m) => log('warn', m),
      ...(o.keda.clientCaFile ? { clientCa: { file: o.keda.clientCaFile } } : {}),
      ...(o.certReloadMs !== undefined ? { refreshMs: o.certReloadMs } : {}),
      ...(o.keda.streamIntervalMs !== undefined ? { streamIntervalMs: o.keda.streamIntervalMs } : {}),
    });
    log('info', 'KEDA external scaler serving', { address: keda.url, clientCa: o.keda.clientCaFile ?? null });
  }
  log('info', 'baton adapter serving', { url: server.url, rules: o.rulesDir, prometheus: redactUrl(o.prometheus.url), services: rules.services.length });
  return {
    server,
    evaluator,
    store,
    registry,
    ...(ha ? { ha } : {}),
    ...(keda ? { keda } : {}),
    async close() {
      await keda?.close();
      stopPolling?.();
      stopCertWatch?.();
      await ha?.stop(); // a clean stop hands the lease over at once
      await server.close();
      await evaluator.stop();
      stateWriter?.flush();
      store.close();
      for (const c of clients.values()) c.close();
    },
  };
}

/**
 * One run of a new query before its rule set is taken: Prometheus' refusal (HTTP 400/422, an API error) refuses the
 * set; anything that only says Prometheus could not answer now (network, timeout, 5xx) does not.
 */
export async function dryRunQuery(prom: PrometheusClient, promql: string): Promise<string | undefined> {
  try {
    await prom.query(promql);
    return undefined;
  } catch (e) {
    if (!(e instanceof PrometheusError)) return undefined;
    const refused = e.kind === 'api' || (e.kind === 'http' && (e.status === 400 || e.status === 422));
    return refused ? e.message : undefined;
  }
}

/**
 * Services sharing a query all resume when its answer arrives; thousands of them would then run their policy step in one
 * burst and hold every HPA request behind it (p99 in the hundreds of ms at 2,500 services). The replica lookup is the
 * evaluator's last await before decide(): letting one waiter through per event-loop turn interleaves those steps with
 * requests. Each lookup runs when its turn comes, so it sees the latest decision.
 */
export function oneAtATime(source: ReplicaSource): ReplicaSource {
  const waiting: (() => void)[] = [];
  let head = 0;
  let scheduled = false;
  const next = (): void => {
    const release = waiting[head++];
    if (head === waiting.length) {
      waiting.length = 0;
      head = 0;
    }
    scheduled = waiting.length > 0;
    if (scheduled) setImmediate(next);
    release?.();
  };
  return (rule, state) =>
    new Promise<void>((resolve) => {
      waiting.push(resolve);
      if (!scheduled) {
        scheduled = true;
        setImmediate(next);
      }
    }).then(() => source(rule, state));
}

/** The serving worker's start settings: everything the inline server takes that is plain data. */
function workerInit(s: Parameters<typeof createAdapterServer>[0]): WorkerInit {
  const auth: WorkerInit['auth'] = 'insecureDev' in s.auth
    ? { insecureDev: true }
    : {
      authentication: s.auth.authentication,
      authorization: 'reviewer' in s.auth.authorization ? { review: true, ...(s.auth.authorization.ttlMs !== undefined ? { ttlMs: s.auth.authorization.ttlMs } : {}) } : 'all',
    };
  const init: WorkerInit = { tls: s.tls, auth };
  if (s.host !== undefined) init.host = s.host;
  if (s.port !== undefined) init.port = s.port;
  if (s.metricsPort !== undefined) init.metricsPort = s.metricsPort;
  return init;
}

function reviewerOf(auth: AuthOptions): { reviewer?: SubjectAccessReviewer } {
  return !('insecureDev' in auth) && 'reviewer' in auth.authorization ? { reviewer: auth.authorization.reviewer } : {};
}

async function authOptions(o: AdapterOptions): Promise<{ auth: AuthOptions; kubeconfig?: Awaited<ReturnType<typeof loadKubeConfig>> }> {
  const s = o.security;
  if (s.mode === 'insecure-dev') return { auth: { insecureDev: true } };
  if (s.mode === 'files') {
    const files: Parameters<typeof authenticationConfigFromFiles>[0] = { requestheaderClientCaFile: s.requestheaderClientCaFile };
    if (s.requestheaderAllowedNames) files.requestheaderAllowedNames = s.requestheaderAllowedNames;
    if (s.clientCaFile) files.clientCaFile = s.clientCaFile;
    const authentication: AuthenticationConfig = authenticationConfigFromFiles(files);
    if (s.authorizeAll || !s.kubeconfig) return { auth: { authentication, authorization: { allowAllAuthenticated: true } } };
    const kc = await loadKubeConfig(s.kubeconfig);
    return { auth: { authentication, authorization: { reviewer: await sarReviewerFromKubeConfig(kc) } } };
  }
  const kc = await loadKubeConfig(s.kubeconfig);
  const authentication = await authenticationConfigFromCluster(kc);
  return { auth: { authentication, authorization: { reviewer: await sarReviewerFromKubeConfig(kc) } }, kubeconfig: kc };
}
