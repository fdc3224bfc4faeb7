// KEDA's external scaler served by a real adapter (startAdapter, scripted Prometheus), called with @grpc/grpc-js the
// way KEDA calls it: mutual TLS against the configured CA, IsActive / GetMetricSpec / GetMetrics / StreamIsActive
// answering Baton's joint per-pool numbers from the same provider as the External Metrics API; a stale value is an
// error (UNAVAILABLE), never a number; a client without a certificate, or with one from another CA, is refused.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { generateCa, issueCert } from '../../adapter/certs.js';
import { externalScalerClient, metricNameOf, triggerOf } from '../../adapter/keda/scaler.js';
import { testPki } from './fixtures.js';
import { startAdapterHarness, startScriptedPrometheus, until, type AdapterHarness, type ScriptedPrometheusServer } from './harness.js';

const DECODE_Q = 'sum by (pool) (rate(vllm:generation_tokens_total{service="chat"}[1m]))';
const RULES = `services:
  - name: chat
    namespaces: [llm]
    ratio: {prefill: 3, decode: 2}
    decodeTpsPerUnit: 1000
    decodeTps: {promql: '${DECODE_Q}', by: pool}
    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1}
    queryIntervalSeconds: 1
    maxStalenessSeconds: 3
    pools:
      - {name: prefill-h100, role: prefill, minReplicas: 0, maxReplicas: 40}
      - {name: decode-h100, role: decode, minReplicas: 0, maxReplicas: 40}
`;

type Unary = (req: unknown, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void;
type Client = grpc.Client & Record<'IsActive' | 'GetMetricSpec' | 'GetMetrics', Unary> & { StreamIsActive(req: unknown): grpc.ClientReadableStream<{ result: boolean }> };

describe('KEDA external scaler (gRPC) on a real adapter', function () {
  this.timeout(30_000);
  let prom: ScriptedPrometheusServer;
  let h: AdapterHarness;
  let address: string;
  let caDir: string;
  const clients: grpc.Client[] = [];

  const client = (cert?: { certPem: string; keyPem: string }, servingCa = readFileSync(h.pki.servingCa, 'utf8')): Client => {
    const Ctor = externalScalerClient();
    const creds = grpc.credentials.createSsl(Buffer.from(servingCa), cert ? Buffer.from(cert.keyPem) : null, cert ? Buffer.from(cert.certPem) : null);
    const c = new Ctor(address, creds, { 'grpc.ssl_target_name_override': 'localhost' }) as unknown as Client;
    clients.push(c);
    return c;
  };
  const call = <T>(c: Client, method: 'IsActive' | 'GetMetricSpec' | 'GetMetrics', req: unknown): Promise<T> =>
    new Promise((res, rej) => c[method](req, (err, out) => (err ? rej(err) : res(out as T))));
  const ref = (pool: string, md: Record<string, string> = {}) => ({ name: `chat-${pool}`, namespace: 'llm', scalerMetadata: { service: 'chat', pool, ...md } });

  before(async () => {
    prom = await startScriptedPrometheus();
    prom.answers.set(DECODE_Q, [[{ pool: 'decode-h100' }, 2500]]);
    // KEDA's TriggerAuthentication certificate chains to this CA (alice's certificate stands in for KEDA's).
    caDir = mkdtempSync(join(tmpdir(), 'baton-keda-'));
    writeFileSync(join(caDir, 'keda-client-ca.crt'), testPki().clientCa.certPem);
    h = await startAdapterHarness({ rules: { 'chat.yaml': RULES }, prometheusUrl: prom.url, extra: { certReloadMs: 200, keda: { port: 0, clientCaFile: join(caDir, 'keda-client-ca.crt'), streamIntervalMs: 200 } } });
    await until('a first good evaluation', async () => h.running.evaluator.state('chat')?.lastGood, 10_000);
    address = h.running.keda!.url;
  });

  after(async () => {
    for (const c of clients) c.close();
    await h?.close();
    await prom?.close();
    rmSync(caDir, { recursive: true, force: true });
  });

  it('refuses to start without a client CA unless --insecure-dev', async () => {
    await assert.rejects(startAdapterHarness({ rules: { 'chat.yaml': RULES }, prometheusUrl: prom.url, extra: { keda: { port: 0 } } }).then((x) => x.close()),
      /--keda-port needs --keda-client-ca-file/);
  });

  it("answers the pool's joint desired replicas: IsActive, GetMetricSpec (target 1), GetMetrics", async () => {
    const c = client(testPki().alice);
    // 2500 tok/s = 2.5 units: decode 3, prefill ⌈2.5 × 3/2⌉ = 4.
    assert.deepEqual(await call(c, 'IsActive', ref('decode-h100')), { result: true });
    assert.deepEqual(await call(c, 'GetMetricSpec', ref('decode-h100')), { metricSpecs: [{ metricName: 'baton-chat-decode-h100', targetSize: 1, targetSizeFloat: 1 }] });
    assert.deepEqual(await call(c, 'GetMetrics', { scaledObjectRef: ref('prefill-h100'), metricName: 's0-baton-chat-prefill-h100' }),
      { metricValues: [{ metricName: 's0-baton-chat-prefill-h100', metricValue: 4, metricValueFloat: 4 }] });
    const decode = await call<{ metricValues: { metricValueFloat: number }[] }>(c, 'GetMetrics', { scaledObjectRef: ref('decode-h100'), metricName: 'x' });
    assert.equal(decode.metricValues[0]!.metricValueFloat, 3);
    // The same number the External Metrics API serves.
    const api = await h.get('/apis/external.metrics.k8s.io/v1beta1/namespaces/llm/baton_desired_replicas?labelSelector=pool%3Ddecode-h100');
    assert.equal(api.json.items[0].value, '3');
  });

  it('names what is wrong: missing metadata, an unknown pool, a namespace the rule does not serve', async () => {
    const c = client(testPki().alice);
    await assert.rejects(call(c, 'IsActive', { name: 'x', namespace: 'llm', scalerMetadata: { service: 'chat' } }),
      (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /trigger metadata needs "pool"/.test(e.details));
    await assert.rejects(call(c, 'GetMetricSpec', ref('decode-b200')), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
    await assert.rejects(call(c, 'IsActive', { ...ref('decode-h100'), namespace: 'other' }), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND && /not served in namespace other/.test(e.details));
  });

  it('refuses a client without a certificate, and one whose certificate another CA signed', async () => {
    await assert.rejects(call(client(), 'IsActive', ref('decode-h100')), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
    await assert.rejects(call(client(testPki().rogue), 'IsActive', ref('decode-h100')), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
  });

  it('StreamIsActive pushes a change; at zero load IsActive is false; a stale value is UNAVAILABLE, never a number', async () => {
    const c = client(testPki().alice);
    const stream = c.StreamIsActive(ref('decode-h100'));
    const seen: boolean[] = [];
    stream.on('data', (m: { result: boolean }) => seen.push(m.result));
    stream.on('error', () => { /* cancelled at the end */ });
    await until('the current state on open', async () => (seen.length >= 1 ? true : undefined), 5000);
    assert.deepEqual(seen, [true]);
    prom.answers.set(DECODE_Q, [[{ pool: 'decode-h100' }, 0]]);
    await until('false pushed', async () => (seen.at(-1) === false ? true : undefined), 10_000);
    assert.deepEqual(await call(c, 'IsActive', ref('decode-h100')), { result: false });
    stream.cancel();

    prom.answers.delete(DECODE_Q); // no series: the service holds, then its value goes stale
    await until('UNAVAILABLE once stale', async () => {
      try {
        await call(c, 'GetMetrics', { scaledObjectRef: ref('decode-h100'), metricName: 'x' });
        return undefined;
      } catch (e) {
        return (e as grpc.ServiceError).code === grpc.status.UNAVAILABLE ? true : undefined;
      }
    }, 15_000);
  });

  it('serves a renewed certificate without a restart (the files are followed)', async () => {
    prom.answers.set(DECODE_Q, [[{ pool: 'decode-h100' }, 2500]]);
    const ca = generateCa({ cn: 'renewed-serving-ca' });
    const renewed = issueCert(ca, { cn: 'baton-adapter', dnsNames: ['localhost'], ips: ['127.0.0.1'] });
    writeFileSync(h.pki.servingKey, renewed.keyPem);
    writeFileSync(h.pki.servingCert, renewed.certPem);
    await until('the renewed certificate on new connections', async () => {
      // An error (old certificate, or a value not fresh yet) is retried; the last one is shown on a time-out.
      return await call(client(testPki().alice, ca.certPem), 'IsActive', ref('decode-h100'));
    }, 10_000);
  });

  it('trigger metadata and metric names', () => {
    assert.deepEqual(triggerOf({ name: 'a', namespace: 'llm', scalerMetadata: { service: 's', pool: 'p', metricName: 'm' } }), { namespace: 'llm', service: 's', pool: 'p', metric: 'm' });
    assert.equal(metricNameOf({ service: 'Chat_1', pool: 'decode.h200' }), 'baton-chat-1-decode-h200');
  });
});
