// A second front door beside the External Metrics API: KEDA's external scaler (gRPC), for clusters where KEDA owns
// v1beta1.external.metrics.k8s.io. It answers from the same provider (same evaluator, decisions and staleness rules):
// a ScaledObject per pool names the service and pool in its trigger metadata, KEDA's HPA targets 1 per replica, and
// the value is Baton's joint desired replicas for that pool. A stale or missing value is an error (UNAVAILABLE), never
// a number: KEDA then keeps the replicas, as the HPA does on a 503.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Counter, type Registry } from 'prom-client';
import { MetricError, type ExternalMetricsProvider } from '../provider.js';

/** This file runs from dist/adapter/keda/; the .proto stays in the source tree. */
const PROTO = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../..'), 'adapter/keda/externalscaler.proto');
export const DEFAULT_METRIC = 'baton_desired_replicas';

export interface ScaledObjectRef {
  name: string;
  namespace: string;
  scalerMetadata: Record<string, string>;
}

export interface KedaScalerOptions {
  provider: ExternalMetricsProvider;
  host?: string;
  /** 0 = a free port. */
  port: number;
  /** Serving certificate and key: the adapter's own; files are re-read every `refreshMs`, so a renewal is served. */
  identity: { certPem: string; keyPem: string } | { certFile: string; keyFile: string };
  /**
   * CA that client certificates must chain to (KEDA's TriggerAuthentication `tlsClientCert`), as a file (re-read every
   * `refreshMs`) or PEM. Without it, clients are not asked for a certificate: allowed only with --insecure-dev.
   */
  clientCa?: { pem: string } | { file: string };
  /** How often certificate files are re-read (ms). Default 10 000. */
  refreshMs?: number;
  /** How often StreamIsActive re-reads the value (ms); a change is pushed at once. Default 5000. */
  streamIntervalMs?: number;
  registry?: Registry;
  log?: (message: string) => void;
}

export interface RunningKedaScaler {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** What a trigger's metadata names: service, pool, and the metric (default baton_desired_replicas). */
export function triggerOf(ref: ScaledObjectRef | undefined): { namespace: string; service: string; pool: string; metric: string } {
  const md = ref?.scalerMetadata ?? {};
  const missing = ['service', 'pool'].filter((k) => !md[k]);
  if (!ref?.namespace) throw new MetricError(400, 'BadRequest', 'the ScaledObject reference has no namespace');
  if (missing.length) throw new MetricError(400, 'BadRequest', `trigger metadata needs ${missing.map((k) => `"${k}"`).join(' and ')} (the Baton service and pool this ScaledObject scales)`);
  return { namespace: ref.namespace, service: md.service!, pool: md.pool!, metric: md.metricName || DEFAULT_METRIC };
}

/** The name KEDA gives the metric in its HPA (prefixed there with s<N>-): lowercase, digits and '-'. */
export function metricNameOf(t: { service: string; pool: string }): string {
  return `baton-${t.service}-${t.pool}`.toLowerCase().replace(/[^a-z0-9-]+/g, '-').slice(0, 200);
}

/** Desired replicas Baton publishes for the trigger's pool, read through the provider seam. */
export function desiredReplicas(provider: ExternalMetricsProvider, t: ReturnType<typeof triggerOf>): number {
  const selectorText = `service=${t.service},pool=${t.pool}`;
  const samples = provider.getExternalMetric(t.namespace, t.metric, (l) => l.service === t.service && l.pool === t.pool, selectorText);
  if (samples.length !== 1) throw new MetricError(404, 'NotFound', `${t.metric} has ${samples.length} series for ${selectorText} in namespace ${t.namespace}; a trigger names one pool`);
  return samples[0]!.value;
}

const CODE_OF: Record<number, grpc.status> = { 400: grpc.status.INVALID_ARGUMENT, 403: grpc.status.PERMISSION_DENIED, 404: grpc.status.NOT_FOUND, 503: grpc.status.UNAVAILABLE };

function statusOf(e: unknown): { code: grpc.status; details: string } {
  if (e instanceof MetricError) return { code: CODE_OF[e.code] ?? grpc.status.INTERNAL, details: e.message };
  return { code: grpc.status.INTERNAL, details: (e as Error).message ?? String(e) };
}

/** The ExternalScaler service of the .proto: its client constructor (tests; `.service` is what the server adds). */
export function externalScalerClient(): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, defaults: true });
  return (grpc.loadPackageDefinition(def) as unknown as { externalscaler: { ExternalScaler: grpc.ServiceClientConstructor } }).externalscaler.ExternalScaler;
}

/** Certificates that never change (PEM given, or a development certificate). */
class FixedCertificates implements grpc.experimental.CertificateProvider {
  constructor(private readonly ca: Buffer | null, private readonly identity: { certificate: Buffer; privateKey: Buffer } | null) {}
  addCaCertificateListener(l: grpc.experimental.CaCertificateUpdateListener): void { l(this.ca ? { caCertificate: this.ca } : null); }
  removeCaCertificateListener(): void {}
  addIdentityCertificateListener(l: grpc.experimental.IdentityCertificateUpdateListener): void { l(this.identity); }
  removeIdentityCertificateListener(): void {}
}

/**
 * TLS for the scaler. Client certificates are verified cryptographically against the configured CA by the TLS stack
 * (a client without one, or with one another CA signed, fails the handshake); certificate files are followed, so a
 * renewed serving certificate or CA is used without a restart.
 */
function credentialsOf(o: KedaScalerOptions): grpc.ServerCredentials {
  const refreshIntervalMs = o.refreshMs ?? 10_000;
  // The watchers read the files later; an unreadable one is refused now, by name.
  for (const [what, file] of [['certificate', 'certFile' in o.identity ? o.identity.certFile : undefined], ['key', 'keyFile' in o.identity ? o.identity.keyFile : undefined], ['client CA', o.clientCa && 'file' in o.clientCa ? o.clientCa.file : undefined]] as const) {
    if (file === undefined) continue;
    try {
      readFileSync(file);
    } catch (e) {
      throw new Error(`KEDA external scaler: ${what} file ${file}: ${(e as Error).message}`);
    }
  }
  const identity = 'certFile' in o.identity
    ? new grpc.experimental.FileWatcherCertificateProvider({ certificateFile: o.identity.certFile, privateKeyFile: o.identity.keyFile, refreshIntervalMs })
    : new FixedCertificates(null, { certificate: Buffer.from(o.identity.certPem), privateKey: Buffer.from(o.identity.keyPem) });
  if (!o.clientCa) {
    if ('certFile' in o.identity) return providerCredentials(null, identity, false);
    return grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(o.identity.keyPem), cert_chain: Buffer.from(o.identity.certPem) }], false);
  }
  const ca = 'file' in o.clientCa
    ? new grpc.experimental.FileWatcherCertificateProvider({ caCertificateFile: o.clientCa.file, refreshIntervalMs })
    : new FixedCertificates(Buffer.from(o.clientCa.pem), null);
  return providerCredentials(ca, identity, true);
}

/**
 * grpc-js 1.14's createCertificateProviderServerCredentials(ca, identity, …) hands its arguments to the constructor in
 * the other order (identity, ca): checked on the object, so the call stays right whether or not that gets fixed.
 */
function providerCredentials(ca: grpc.experimental.CertificateProvider | null, identity: grpc.experimental.CertificateProvider, requireClientCertificate: boolean): grpc.ServerCredentials {
  const make = grpc.experimental.createCertificateProviderServerCredentials as unknown as (a: unknown, b: unknown, r: boolean) => grpc.ServerCredentials;
  const asDocumented = make(ca, identity, requireClientCertificate);
  if ((asDocumented as unknown as { identityCertificateProvider?: unknown }).identityCertificateProvider === identity) return asDocumented;
  return make(identity, ca, requireClientCertificate);
}

export async function startKedaScaler(o: KedaScalerOptions): Promise<RunningKedaScaler> {
  const requests = o.registry ? new Counter({ name: 'baton_keda_requests_total', help: 'KEDA external scaler calls by method and gRPC status code.', labelNames: ['method', 'code'], registers: [o.registry] }) : undefined;
  const count = (method: string, code: grpc.status): void => requests?.inc({ method, code: grpc.status[code] });
  const unary = <Req, Res>(method: string, answer: (req: Req) => Res): grpc.handleUnaryCall<Req, Res> => (call, callback) => {
    try {
      const res = answer(call.request);
      count(method, grpc.status.OK);
      callback(null, res);
    } catch (e) {
      const s = statusOf(e);
      count(method, s.code);
      callback({ code: s.code, details: s.details });
    }
  };
  const streams = new Set<grpc.ServerWritableStream<ScaledObjectRef, { result: boolean }>>();
  const handlers: grpc.UntypedServiceImplementation = {
    IsActive: unary<ScaledObjectRef, { result: boolean }>('IsActive', (ref) => ({ result: desiredReplicas(o.provider, triggerOf(ref)) > 0 })),
    GetMetricSpec: unary<ScaledObjectRef, unknown>('GetMetricSpec', (ref) => {
      const t = triggerOf(ref);
      // Validate now, so a ScaledObject naming a pool Baton does not serve fails when it is created, not later.
      desiredReplicas(o.provider, t);
      // AverageValue 1: KEDA's HPA asks for ⌈value / 1⌉ replicas, Baton's joint number.
      return { metricSpecs: [{ metricName: metricNameOf(t), targetSize: 1, targetSizeFloat: 1 }] };
    }),
    GetMetrics: unary<{ scaledObjectRef: ScaledObjectRef; metricName: string }, unknown>('GetMetrics', (req) => {
      const t = triggerOf(req.scaledObjectRef);
      const v = desiredReplicas(o.provider, t);
      return { metricValues: [{ metricName: req.metricName || metricNameOf(t), metricValue: Math.ceil(v), metricValueFloat: v }] };
    }),
    StreamIsActive: (call: grpc.ServerWritableStream<ScaledObjectRef, { result: boolean }>) => {
      let t: ReturnType<typeof triggerOf>;
      try {
        t = triggerOf(call.request);
      } catch (e) {
        const s = statusOf(e);
        count('StreamIsActive', s.code);
        call.destroy(Object.assign(new Error(s.details), { code: s.code, details: s.details }));
        return;
      }
      count('StreamIsActive', grpc.status.OK);
      streams.add(call);
      let last: boolean | undefined;
      const push = (): void => {
        try {
          const active = desiredReplicas(o.provider, t) > 0;
          if (active !== last) call.write({ result: active });
          last = active;
        } catch {
          // No value (stale, unknown): push nothing; KEDA keeps its last answer and polls IsActive on its interval.
        }
      };
      push();
      const timer = setInterval(push, o.streamIntervalMs ?? 5000);
      const end = (): void => {
        clearInterval(timer);
        streams.delete(call);
      };
      call.on('cancelled', end);
      call.on('close', end);
      call.on('error', end);
    },
  };

  if (!o.clientCa) o.log?.('KEDA external scaler: no client CA: any client that reaches the port may read (development only)');
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 });
  server.addService(externalScalerClient().service, handlers);
  const host = o.host ?? '127.0.0.1';
  const creds = credentialsOf(o);
  const port = await new Promise<number>((res, rej) => server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${o.port}`, creds, (err, p) => (err ? rej(err) : res(p))));
  return {
    port,
    url: `${host}:${port}`,
    close: () => new Promise<void>((res) => {
      for (const s of streams) s.end();
      server.tryShutdown(() => res());
      setTimeout(() => { server.forceShutdown(); res(); }, 2000).unref();
    }),
  };
}
