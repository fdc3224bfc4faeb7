// `baton adapter`: the External Metrics API server over PromQL rules.
import { hostname } from 'node:os';
import { Command } from 'commander';
import { startAdapter, type AdapterOptions } from '../../adapter/main.js';
import { parseBasicAuth, parseHeaderFlag } from '../../rules/prometheus.js';
import { integer, oneOf } from '../options.js';

interface AdapterFlags {
  rules: string;
  kedaPort?: number;
  prometheusHeader?: string[];
  prometheusHeaderFile?: string[];
  prometheusCertFile?: string;
  prometheusKeyFile?: string;
  kedaHost?: string;
  kedaClientCaFile?: string;
  prometheus: string;
  prometheusBearerTokenFile?: string;
  prometheusBasicAuth?: string;
  prometheusBasicAuthFile?: string;
  prometheusCaFile?: string;
  prometheusTimeout?: number;
  host: string;
  port: number;
  metricsPort?: number;
  tlsCertFile?: string;
  tlsPrivateKeyFile?: string;
  selfSigned?: boolean;
  requestheaderClientCaFile?: string;
  requestheaderAllowedNames?: string;
  clientCaFile?: string;
  kubeconfig?: string;
  authorizeAll?: boolean;
  insecureDev?: boolean;
  engineDemandFile?: string;
  enginePlanFile?: string;
  enginePlanMaxAge: number;
  stateFile?: string;
  stateMaxAge: number;
  ha?: boolean;
  haNamespace: string;
  haIdentity?: string;
  haLease: string;
  haLeaseDuration: number;
  haShards: number;
  haSyncInterval: number;
  haPublishDelay: number;
  serving: 'worker' | 'inline';
}

export function adapterCommand(): Command {
  return new Command('adapter')
    .description('serve external.metrics.k8s.io/v1beta1: desired replicas per service/role/pool computed from PromQL rules')
    .requiredOption('--rules <file|dir>', 'a rule file, or a directory of rule files (YAML), hot-reloaded')
    .requiredOption('--prometheus <url>', 'Prometheus (or VictoriaMetrics) HTTP API base URL')
    .option('--prometheus-bearer-token-file <file>', 'bearer token for Prometheus (re-read on every query)')
    .option('--prometheus-basic-auth-file <file>', 'basic auth for Prometheus: a file holding user:password (re-read on every query)')
    .option('--prometheus-basic-auth <user:password>', 'basic auth for Prometheus (visible in the process list: prefer the file or $BATON_PROMETHEUS_BASIC_AUTH)')
    .option('--prometheus-ca-file <file>', 'CA bundle that signed the Prometheus server certificate')
    .option('--prometheus-header <NAME=VALUE>', 'extra header on every Prometheus request, repeatable (X-Scope-OrgID=team-a for Mimir/Cortex, THANOS-TENANT=…)', (v: string, acc: string[] = []) => [...acc, v])
    .option('--prometheus-header-file <NAME=FILE>', 'a header whose value is read from a file on every request, repeatable', (v: string, acc: string[] = []) => [...acc, v])
    .option('--prometheus-cert-file <file>', 'client certificate (PEM) for a Prometheus that requires mutual TLS')
    .option('--prometheus-key-file <file>', 'client key (PEM) for --prometheus-cert-file')
    .option('--prometheus-timeout <ms>', 'deadline of one Prometheus request, connection to last byte', integer('--prometheus-timeout'))
    .option('--host <addr>', 'listen address', '127.0.0.1')
    .option('--port <n>', 'HTTPS port (0 = free)', integer('--port'), 6443)
    .option('--metrics-port <n>', 'also serve /metrics over plain HTTP on this port', integer('--metrics-port'))
    .option('--tls-cert-file <file>', 'serving certificate (PEM)')
    .option('--tls-private-key-file <file>', 'serving key (PEM)')
    .option('--self-signed', 'development: generate a throwaway serving certificate', false)
    .option('--requestheader-client-ca-file <file>', "front-proxy CA (kube-apiserver's --requestheader-client-ca-file); without it the cluster's ConfigMap is read")
    .option('--requestheader-allowed-names <names>', 'comma-separated CNs allowed to act as the front proxy (empty = any)')
    .option('--client-ca-file <file>', 'CA for ordinary client certificates (e.g. kubectl with a client cert)')
    .option('--kubeconfig <file>', 'kubeconfig for SubjectAccessReview and the authentication ConfigMap (default: in-cluster / $KUBECONFIG)')
    .option('--authorize-all', 'with --requestheader-client-ca-file and no kubeconfig: every authenticated caller may read', false)
    .option('--insecure-dev', 'development only: no authentication or authorization (logged loudly)', false)
    .option('--engine-demand-file <file>', "after each evaluation write each service's desired units per role here (baton engine --demand)")
    .option('--engine-plan-file <file>', "serve the sidecar engine's per-pool split from its --plan-file when fresh")
    .option('--engine-plan-max-age <seconds>', 'an engine plan older than this is ignored', integer('--engine-plan-max-age'), 60)
    .option('--state-file <file>', 'keep decision memory (held level, cooldowns, published replicas) here across restarts')
    .option('--state-max-age <seconds>', 'a saved memory older than this is ignored at start', integer('--state-max-age'), 900)
    .option('--keda-port <n>', "also serve KEDA's external scaler (gRPC over TLS, the serving certificate) on this port", integer('--keda-port'))
    .option('--keda-host <addr>', 'listen address of the KEDA external scaler (default: --host)')
    .option('--keda-client-ca-file <file>', "CA that KEDA's client certificate (TriggerAuthentication tlsClientCert) must chain to; required unless --insecure-dev")
    .option('--ha', 'high availability: replicas elect a leader (a Lease) and serve its decisions from ConfigMaps', false)
    .option('--ha-namespace <ns>', 'namespace of the Lease and the decision ConfigMaps', 'baton-system')
    .option('--ha-identity <id>', "this replica's election identity; give the pod name, as the pod's engine does (default $POD_NAME or hostname)")
    .option('--ha-lease <name>', "Lease name; the engine's --lease, so that the adapter and the engine of one pod lead together", 'baton-leader')
    .option('--ha-lease-duration <s>', 'lease duration in seconds', integer('--ha-lease-duration'), 15)
    .option('--ha-shards <n>', 'decision ConfigMaps to spread services over (each holds at most 1 MiB)', integer('--ha-shards'), 8)
    .option('--ha-sync-interval <ms>', 'how often every replica reads the decisions', integer('--ha-sync-interval'), 500)
    .option('--serving <where>', 'worker: HTTPS in its own thread, answering from a mirror of the decisions (no evaluation GC on the request path); inline: the main thread', oneOf('--serving', ['worker', 'inline'] as const), 'worker')
    .option('--ha-publish-delay <ms>', 'a decision is served by every replica this long after the leader wrote it', integer('--ha-publish-delay'), 1500)
    .action(async (f: AdapterFlags) => {
      const tls: AdapterOptions['tls'] = f.selfSigned
        ? { selfSigned: true }
        : f.tlsCertFile && f.tlsPrivateKeyFile
          ? { certFile: f.tlsCertFile, keyFile: f.tlsPrivateKeyFile }
          : fail('give --tls-cert-file and --tls-private-key-file, or --self-signed for development');
      const security: AdapterOptions['security'] = f.insecureDev
        ? { mode: 'insecure-dev' }
        : f.requestheaderClientCaFile
          ? {
              mode: 'files', requestheaderClientCaFile: f.requestheaderClientCaFile,
              requestheaderAllowedNames: (f.requestheaderAllowedNames ?? '').split(',').map((s) => s.trim()).filter(Boolean),
              ...(f.clientCaFile ? { clientCaFile: f.clientCaFile } : {}), ...(f.kubeconfig ? { kubeconfig: f.kubeconfig } : {}), authorizeAll: f.authorizeAll === true,
            }
          : { mode: 'cluster', ...(f.kubeconfig ? { kubeconfig: f.kubeconfig } : {}) };
      const prometheus: AdapterOptions['prometheus'] = { url: f.prometheus };
      // Unset, the rule file's timeout applies, else the client's 5 s.
      if (f.prometheusTimeout !== undefined) prometheus.timeoutMs = f.prometheusTimeout;
      if (f.prometheusBearerTokenFile) prometheus.bearerTokenFile = f.prometheusBearerTokenFile;
      if (f.prometheusCaFile) prometheus.caFile = f.prometheusCaFile;
      if (f.prometheusHeader?.length) prometheus.headers = Object.fromEntries(f.prometheusHeader.map((h) => parseHeaderFlag(h, '--prometheus-header')));
      if (f.prometheusHeaderFile?.length) prometheus.headerFiles = Object.fromEntries(f.prometheusHeaderFile.map((h) => parseHeaderFlag(h, '--prometheus-header-file')));
      if (f.prometheusCertFile || f.prometheusKeyFile) {
        if (!f.prometheusCertFile || !f.prometheusKeyFile) fail('--prometheus-cert-file and --prometheus-key-file go together');
        prometheus.certFile = f.prometheusCertFile;
        prometheus.keyFile = f.prometheusKeyFile;
      }
      if (f.prometheusBasicAuthFile) prometheus.basicAuthFile = f.prometheusBasicAuthFile;
      else if (process.env.BATON_PROMETHEUS_BASIC_AUTH) prometheus.basicAuth = parseBasicAuth(process.env.BATON_PROMETHEUS_BASIC_AUTH, '$BATON_PROMETHEUS_BASIC_AUTH');
      else if (f.prometheusBasicAuth) {
        prometheus.basicAuth = parseBasicAuth(f.prometheusBasicAuth, '--prometheus-basic-auth');
        console.error('baton adapter: warning: --prometheus-basic-auth puts the password in the process list; use --prometheus-basic-auth-file or $BATON_PROMETHEUS_BASIC_AUTH');
      }
      const opts: AdapterOptions = { rulesDir: f.rules, prometheus, host: f.host, port: f.port, tls, security, serving: f.serving, onFatal: () => process.exit(1) };
      if (f.metricsPort !== undefined) opts.metricsPort = f.metricsPort;
      if (f.engineDemandFile || f.enginePlanFile) {
        opts.engine = { maxPlanAgeS: f.enginePlanMaxAge };
        if (f.engineDemandFile) opts.engine.demandFile = f.engineDemandFile;
        if (f.enginePlanFile) opts.engine.planFile = f.enginePlanFile;
      }
      if (f.stateFile) {
        opts.stateFile = f.stateFile;
        opts.stateMaxAgeS = f.stateMaxAge;
      }
      if (f.kedaPort !== undefined) {
        opts.keda = { port: f.kedaPort, ...(f.kedaHost ? { host: f.kedaHost } : {}), ...(f.kedaClientCaFile ? { clientCaFile: f.kedaClientCaFile } : {}) };
      } else if (f.kedaHost || f.kedaClientCaFile) fail('--keda-host and --keda-client-ca-file need --keda-port');
      if (f.ha) {
        if (f.haPublishDelay <= f.haSyncInterval) fail('--ha-publish-delay must be longer than --ha-sync-interval, or replicas switch at different times');
        opts.ha = {
          namespace: f.haNamespace, identity: f.haIdentity ?? process.env.POD_NAME ?? hostname(), leaseName: f.haLease, leaseDurationS: f.haLeaseDuration,
          shards: f.haShards, syncIntervalMs: f.haSyncInterval, publishDelayMs: f.haPublishDelay,
        };
      }
      const running = await startAdapter(opts);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await running.close();
    });
}

function fail(message: string): never {
  throw new Error(message);
}
