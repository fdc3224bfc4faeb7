// End to end with real KEDA instead of the APIService path: KEDA's operator and metrics apiserver (built from the
// pinned Go module) own v1beta1.external.metrics.k8s.io; one ScaledObject per pool calls Baton's external scaler over
// mutual TLS; KEDA's own HPAs in the real kube-controller-manager move the Deployments. Service A follows Baton's joint
// numbers at the ratio through a load step up and down; service `sleeper` scales from zero on its wake signal and back
// to zero after its idle window (KEDA's IsActive).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { generateCa, issueCert } from '../../adapter/certs.js';
import { externalScalerClient } from '../../adapter/keda/scaler.js';
import { startAdapter, type RunningAdapter } from '../../adapter/main.js';
import { startExporterScenario, type ExporterScenario } from '../../sim/exporter/index.js';
import { StaticPolicy } from '../../sim/policies/static.js';
import type { PoolPlan } from '../../sim/scenario.js';
import { waitFor } from './harness/api.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { trackFailures } from './harness/failures.js';
import { Gateway, gatewayRule } from './harness/gateway.js';
import { ensureKeda, startKeda, type RunningKeda } from './harness/keda.js';
import { startHttpSdPrometheus, type HttpSdPrometheus } from './harness/prometheus.js';
import { freePorts } from './harness/ports.js';
import { applyScenario, deployment, ruleYaml, workloadName, type PoolSpec } from './harness/workload.js';

const NS = 'llm';
const SERVICE = 'service-a';
const SLEEPER = 'sleeper';
const RATIO = { prefill: 3, decode: 2 };
const OUTPUT_TOKENS = 250;
const DECODE_TPS_PER_UNIT = 500;
const LOW_RPS = 3; // 1.5 decode units → decode 2, prefill 3
const HIGH_RPS = 13; // 6.5 decode units → decode 7, prefill 10
const IDLE_S = 10;
const COOLDOWN_S = 5;
const POOLS: PoolSpec[] = [
  { name: 'prefill-h100', role: 'prefill', gpuType: 'H100', nodes: 3, gpusPerNode: 8, minReplicas: 1, maxReplicas: 20 },
  { name: 'decode-h200', role: 'decode', gpuType: 'H200', nodes: 3, gpusPerNode: 8, minReplicas: 1, maxReplicas: 16 },
];
const SLEEPER_POOLS: PoolSpec[] = POOLS.map((p) => ({ ...p, nodes: 0, minReplicas: 0 }));

type Levels = Record<string, number>;

/** One ScaledObject per pool on Baton's external scaler; KEDA's HPA gets Baton's recipe (tolerance 0) per object. */
function scaledObject(service: string, pool: PoolSpec, scalerAddress: string, minReplicaCount: number): object {
  const rules = { stabilizationWindowSeconds: 0, tolerance: '0', selectPolicy: 'Max', policies: [{ type: 'Pods', value: 100, periodSeconds: 1 }] };
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name: workloadName(service, pool), namespace: NS },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: workloadName(service, pool) },
      minReplicaCount, maxReplicaCount: pool.maxReplicas, pollingInterval: 1, cooldownPeriod: COOLDOWN_S,
      advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleUp: rules, scaleDown: rules } } },
      triggers: [{ type: 'external', metadata: { scalerAddress, service, pool: pool.name }, authenticationRef: { name: 'baton-scaler-tls' } }],
    },
  };
}

describe('e2e: real KEDA follows Baton through its external scaler (gRPC, mutual TLS), to and from zero', function () {
  this.timeout(150_000);
  let cluster: Cluster | undefined;
  let keda: RunningKeda | undefined;
  let sim: ExporterScenario | undefined;
  let gateway: Gateway | undefined;
  let prom: HttpSdPrometheus | undefined;
  let adapter: RunningAdapter | undefined;
  let servingCaPem = '';
  let kedaClientCert: { certPem: string; keyPem: string } | undefined;
  let scalerAddress = '';
  const failures = trackFailures();
  const timings: string[] = [];

  const api = () => cluster!.api;
  const replicasOf = async (service: string, pool: PoolSpec) =>
    (await api().get<{ spec: { replicas: number } }>(`/apis/apps/v1/namespaces/${NS}/deployments/${workloadName(service, pool)}`)).spec.replicas;
  const published = (service: string): Levels | undefined => {
    const good = adapter!.evaluator.state(service)?.lastGood;
    return good ? Object.fromEntries(good.values.map((v) => [v.pool, v.value])) : undefined;
  };
  const kedaHpa = (service: string, pool: PoolSpec) =>
    api().get<{ status?: { desiredReplicas?: number } }>(`/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/keda-hpa-${workloadName(service, pool)}`);

  /** Baton's published numbers = KEDA's HPAs' desiredReplicas = the Deployments, twice in a row, at the ratio. */
  async function settle(what: string, near?: (l: Levels) => boolean): Promise<Levels> {
    let previous = '';
    return waitFor(what, 110_000, async () => {
      const mine = published(SERVICE) ?? {};
      const desired: Levels = {};
      const replicas: Levels = {};
      for (const p of POOLS) {
        desired[p.name] = (await kedaHpa(SERVICE, p)).status?.desiredReplicas ?? -1;
        replicas[p.name] = await replicasOf(SERVICE, p);
      }
      const agree = POOLS.every((p) => mine[p.name] === desired[p.name] && desired[p.name] === replicas[p.name]);
      const key = JSON.stringify(replicas);
      const ok = agree && (!near || near(replicas)) && key === previous;
      previous = agree ? key : '';
      if (!ok) throw new Error(`Baton ${JSON.stringify(mine)}, KEDA HPA desired ${JSON.stringify(desired)}, deployments ${key}`);
      return replicas;
    }, 1200, () => cluster!.processes.assertAlive());
  }

  function assertRatio(levels: Levels): void {
    const d = levels['decode-h200']!;
    const p = levels['prefill-h100']!;
    const r = RATIO.prefill / RATIO.decode;
    assert.ok(p >= Math.max(1, Math.floor((d - 1) * r + 1e-9) + 1) && p <= Math.max(1, Math.ceil(d * r - 1e-9)), `prefill ${p} for decode ${d} breaks ${RATIO.prefill}:${RATIO.decode}`);
  }

  before(async function () {
    // Cold: the control plane and KEDA are built from Go modules first (~10 min each on 2 cores).
    this.timeout(60 * 60_000);
    const t0 = Date.now();
    const build = await ensureKeda();
    cluster = await startCluster({ hpaSyncPeriodS: 2 });
    timings.push(`control plane and KEDA binaries ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    try {
      keda = await startKeda(cluster, build);
      timings.push(`KEDA owns the external metrics APIService ${((Date.now() - t0) / 1000).toFixed(1)} s after start`);
      const simPools: PoolPlan[] = POOLS.map((p) => ({ name: p.name, role: p.role, gpuType: p.gpuType, gpusPerInstance: 1, maxInstances: 20, preference: 0, minReplicas: 1 }));
      sim = await startExporterScenario({
        rps: LOW_RPS, mix: [{ input: 2000, output: OUTPUT_TOKENS }], lengths: 'trace', pools: simPools,
        policy: new StaticPolicy({ 'prefill-h100': 8, 'decode-h200': 6 }), coldStartS: 0, speed: 1, seed: 3,
      });
      gateway = new Gateway(SLEEPER, `${sim.url}/sd`);
      await gateway.start();
      prom = await startHttpSdPrometheus(cluster.processes, cluster.runDir, `${gateway.url}/sd`, 1);

      const rulesDir = join(cluster.runDir, 'rules');
      mkdirSync(rulesDir);
      writeFileSync(join(rulesDir, `${SERVICE}.yaml`), ruleYaml({ service: SERVICE, namespace: NS, pools: POOLS, ratio: RATIO, decodeTpsPerUnit: DECODE_TPS_PER_UNIT, window: '15s', queryIntervalS: 2 }));
      writeFileSync(join(rulesDir, `${SLEEPER}.yaml`), gatewayRule({ service: SLEEPER, namespace: NS, ratio: RATIO, decodeTpsPerUnit: DECODE_TPS_PER_UNIT, idleS: IDLE_S, pools: SLEEPER_POOLS }));

      // Baton's scaler: its serving certificate (SAN 127.0.0.1, the scalerAddress KEDA dials) and the CA KEDA's client
      // certificate must chain to; the TriggerAuthentication hands KEDA that client certificate and Baton's CA.
      const servingCa = generateCa({ cn: 'baton-e2e-scaler-ca', days: 30 });
      servingCaPem = servingCa.certPem;
      const serving = issueCert(servingCa, { cn: 'baton.baton-system.svc', dnsNames: ['baton.baton-system.svc', 'localhost'], ips: ['127.0.0.1'], days: 30 });
      const kedaClientCa = generateCa({ cn: 'baton-e2e-keda-client-ca', days: 30 });
      const kedaClient = issueCert(kedaClientCa, { cn: 'keda-operator', client: true, days: 30 });
      kedaClientCert = kedaClient;
      const caFile = join(cluster.runDir, 'keda-client-ca.crt');
      writeFileSync(caFile, kedaClientCa.certPem);
      const [kedaPort, httpPort] = (await freePorts(2)) as [number, number];
      adapter = await startAdapter({
        rulesDir, prometheus: { url: prom.url }, host: '127.0.0.1', port: httpPort,
        tls: { certPem: serving.certPem, keyPem: serving.keyPem },
        security: { mode: 'cluster', kubeconfig: cluster.kubeconfig },
        keda: { port: kedaPort, clientCaFile: caFile },
        log: () => undefined,
      });
      scalerAddress = adapter.keda!.url.replace(/^[a-z]+:\/\//, '');

      await applyScenario(cluster, NS, SERVICE, POOLS);
      const b64 = (s: string) => Buffer.from(s).toString('base64');
      await cluster.apply([
        ...SLEEPER_POOLS.map((p) => deployment(NS, SLEEPER, p)),
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'baton-keda-client', namespace: NS }, type: 'kubernetes.io/tls', data: { 'ca.crt': b64(servingCa.certPem), 'tls.crt': b64(kedaClient.certPem), 'tls.key': b64(kedaClient.keyPem) } },
        {
          apiVersion: 'keda.sh/v1alpha1', kind: 'TriggerAuthentication', metadata: { name: 'baton-scaler-tls', namespace: NS },
          spec: { secretTargetRef: ['caCert:ca.crt', 'tlsClientCert:tls.crt', 'tlsClientKey:tls.key'].map((x) => ({ parameter: x.split(':')[0], name: 'baton-keda-client', key: x.split(':')[1] })) },
        },
        ...POOLS.map((p) => scaledObject(SERVICE, p, scalerAddress, 1)),
        ...SLEEPER_POOLS.map((p) => scaledObject(SLEEPER, p, scalerAddress, 0)),
      ]);
      timings.push(`scenario applied ${((Date.now() - t0) / 1000).toFixed(1)} s after start`);
    } catch (err) {
      failures.mark();
      throw err;
    }
  });

  after(async function () {
    this.timeout(60_000);
    failures.report(cluster, 'KEDA e2e');
    await keda?.close().catch(() => undefined);
    await adapter?.close().catch(() => undefined);
    await sim?.close().catch(() => undefined);
    await gateway?.close();
    await cluster?.stop(failures.any);
    if (timings.length) console.log(`      KEDA e2e timings:\n${timings.map((t) => `        ${t}`).join('\n')}`);
  });

  it('a gRPC client without a client certificate is refused; one with KEDA\'s certificate is answered', async () => {
    const Ctor = externalScalerClient();
    const ask = (cert?: { certPem: string; keyPem: string }) => new Promise<unknown>((res, rej) => {
      const c = new Ctor(scalerAddress, grpc.credentials.createSsl(Buffer.from(servingCaPem), cert ? Buffer.from(cert.keyPem) : null, cert ? Buffer.from(cert.certPem) : null)) as unknown as grpc.Client & { IsActive(r: unknown, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: unknown) => void): void };
      c.IsActive({ name: 'x', namespace: NS, scalerMetadata: { service: SERVICE, pool: 'decode-h200' } }, { deadline: Date.now() + 5000 }, (e, v) => {
        c.close();
        return e ? rej(e) : res(v);
      });
    });
    await waitFor('a first decision for service A', 60_000, () => adapter!.evaluator.state(SERVICE)?.lastGood);
    assert.deepEqual(await ask(kedaClientCert), { result: true });
    // Refused in the TLS handshake (UNAVAILABLE with a transport error, never an answer about the service): no client
    // certificate, or one from another CA.
    const refusedInHandshake = (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE && !/evaluation|service/.test(e.details);
    await assert.rejects(ask(), refusedInHandshake);
    const stranger = issueCert(generateCa({ cn: 'someone-else', days: 1 }), { cn: 'keda-operator', client: true, days: 1 });
    await assert.rejects(ask(stranger), refusedInHandshake);
  });

  it('KEDA reads Baton: ScaledObjects Ready and Active, KEDA\'s HPAs exist with tolerance 0', async () => {
    for (const p of POOLS) {
      await waitFor(`ScaledObject ${workloadName(SERVICE, p)} Ready and Active`, 90_000, async () => {
        const so = await api().get<{ status?: { conditions?: { type: string; status: string; message?: string }[] } }>(`/apis/keda.sh/v1alpha1/namespaces/${NS}/scaledobjects/${workloadName(SERVICE, p)}`);
        const c = (t: string) => so.status?.conditions?.find((x) => x.type === t);
        if (c('Ready')?.status === 'True' && c('Active')?.status === 'True') return true;
        throw new Error(`Ready=${c('Ready')?.status} (${c('Ready')?.message}) Active=${c('Active')?.status}`);
      }, 1000, () => cluster!.processes.assertAlive());
      const h = await api().get<{ spec: { behavior?: { scaleUp?: { tolerance?: string } } } }>(`/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/keda-hpa-${workloadName(SERVICE, p)}`);
      assert.equal(h.spec.behavior?.scaleUp?.tolerance, '0');
    }
  });

  it('low load: KEDA\'s HPAs follow Baton\'s joint numbers at the ratio', async () => {
    const levels = await settle(`low load ${LOW_RPS} rps`, (l) => l['decode-h200']! >= 2 && l['decode-h200']! <= 3);
    assertRatio(levels);
    timings.push(`low load: ${JSON.stringify(levels)}`);
  });

  it('step up, then down: both ScaledObjects move together at the ratio', async () => {
    const low = await settle('before the step');
    let t0 = Date.now();
    sim!.setRate(HIGH_RPS);
    const high = await settle(`high load ${HIGH_RPS} rps`, (l) => l['decode-h200']! >= 6);
    assertRatio(high);
    for (const p of POOLS) assert.ok(high[p.name]! > low[p.name]!, `${p.name}: ${low[p.name]} → ${high[p.name]}`);
    timings.push(`step up: ${JSON.stringify(high)} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    t0 = Date.now();
    sim!.setRate(LOW_RPS);
    const back = await settle(`back to ${LOW_RPS} rps`, (l) => l['decode-h200']! <= 3);
    assertRatio(back);
    for (const p of POOLS) assert.ok(back[p.name]! < high[p.name]!, `${p.name}: ${high[p.name]} → ${back[p.name]}`);
    timings.push(`step down: ${JSON.stringify(back)} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  it('scale from zero on the wake signal to the smallest pair, and back to zero after the idle window', async () => {
    const both = async () => Object.fromEntries(await Promise.all(SLEEPER_POOLS.map(async (p) => [p.name, await replicasOf(SLEEPER, p)] as const)));
    await waitFor('sleeper published 0/0 and its Deployments at 0', 60_000, async () => {
      const mine = published(SLEEPER);
      const r = await both();
      if (mine && Object.values(mine).every((v) => v === 0) && Object.values(r).every((v) => v === 0)) return true;
      throw new Error(`Baton ${JSON.stringify(mine)}, deployments ${JSON.stringify(r)}`);
    }, 1000);
    let t0 = Date.now();
    gateway!.queue = 3;
    await waitFor('sleeper woken: one prefill and one decode replica', 60_000, async () => {
      const r = await both();
      if (r['prefill-h100'] === 1 && r['decode-h200'] === 1) return true;
      throw new Error(`deployments ${JSON.stringify(r)}, Baton ${JSON.stringify(published(SLEEPER))}`);
    }, 500, () => cluster!.processes.assertAlive());
    timings.push(`wake: 0/0 → 1/1 in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // The pods report: traffic drains, nothing queues; the service is idle.
    gateway!.decodeTps = 0;
    gateway!.queue = 0;
    t0 = Date.now();
    await waitFor('sleeper back at zero', 90_000, async () => {
      const r = await both();
      if (Object.values(r).every((v) => v === 0)) return true;
      throw new Error(`deployments ${JSON.stringify(r)}, Baton ${JSON.stringify(published(SLEEPER))}`);
    }, 1000, () => cluster!.processes.assertAlive());
    const s = (Date.now() - t0) / 1000;
    assert.ok(s >= IDLE_S, `went to zero after ${s} s, before the ${IDLE_S} s idle window`);
    timings.push(`sleep: 1/1 → 0/0 in ${s.toFixed(1)} s (idle window ${IDLE_S} s, KEDA cooldown ${COOLDOWN_S} s)`);
  });
});
