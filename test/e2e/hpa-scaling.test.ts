// End to end on a real control plane: the simulator's exporter → a real Prometheus (http_sd) → Baton's adapter →
// the real aggregator (front-proxy certs, APIService caBundle) → stock autoscaling/v2 HPAs in the real
// kube-controller-manager → Deployments → kwok pods Running on GPU nodes of the right pool. Load steps up, then down.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { decide } from '../../engine/core/decide.js';
import type { Decision } from '../../engine/core/types.js';
import { policyConfigOf, type ServiceRule } from '../../rules/types.js';
import { startExporterScenario, type ExporterScenario } from '../../sim/exporter/index.js';
import { StaticPolicy } from '../../sim/policies/static.js';
import type { PoolPlan } from '../../sim/scenario.js';
import { waitFor } from './harness/api.js';
import { registerBaton, type RegisteredBaton } from './harness/baton.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { queryScalar, startHttpSdPrometheus, type HttpSdPrometheus } from './harness/prometheus.js';
import { applyScenario, GPU_TYPE_LABEL, POOL_LABEL, ruleYaml, workloadName, type PoolSpec } from './harness/workload.js';

const NS = 'llm';
const SERVICE = 'service-a'; // the simulator's preset A names its series service="service-a"
const METRIC = 'baton_desired_replicas';
const RATIO = { prefill: 3, decode: 2 };
const OUTPUT_TOKENS = 250; // every request: 2000 prompt tokens, 250 generated: decode TPS = rps × 250
const DECODE_TPS_PER_UNIT = 500;
const LOW_RPS = 3; // 1.5 decode units → decode 2, prefill 3
const HIGH_RPS = 13; // 6.5 decode units → decode 7, prefill 10
const SCRAPE_S = 1;
const RULE_INTERVAL_S = 2;
const RATE_WINDOW = '15s';
const HPA_SYNC_S = 2;
const POOLS: PoolSpec[] = [
  { name: 'prefill-h100', role: 'prefill', gpuType: 'H100', nodes: 3, gpusPerNode: 8, minReplicas: 1, maxReplicas: 20 },
  { name: 'decode-h200', role: 'decode', gpuType: 'H200', nodes: 3, gpusPerNode: 8, minReplicas: 1, maxReplicas: 16 },
];
const [PREFILL, DECODE] = POOLS as [PoolSpec, PoolSpec];

interface Hpa {
  spec: { behavior?: { scaleUp?: { tolerance?: string }; scaleDown?: { tolerance?: string } } };
  status?: { desiredReplicas?: number; currentReplicas?: number; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}
interface ValueList {
  items: { metricName: string; metricLabels: Record<string, string>; value: string }[];
}
type Levels = Record<string, number>;
/** A plateau: the served replicas per pool and the decode units of the decision they came from. */
interface Settled {
  levels: Levels;
  decodeUnits: number;
}

function quantity(v: string): number {
  return v.endsWith('m') ? Number(v.slice(0, -1)) / 1000 : Number(v);
}

describe('e2e: stock HPAs scale prefill and decode from Baton metrics (real kube-apiserver, KCM, kwok, Prometheus)', function () {
  this.timeout(120_000);
  let cluster: Cluster | undefined;
  let sim: ExporterScenario | undefined;
  let prom: HttpSdPrometheus | undefined;
  let baton: RegisteredBaton | undefined;
  let failed = false;
  const timings: string[] = [];

  const api = () => cluster!.api;
  const hpaOf = (pool: PoolSpec) => api().get<Hpa>(`/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/${workloadName(SERVICE, pool)}`);
  const deploymentReplicas = async (pool: PoolSpec) =>
    (await api().get<{ spec: { replicas: number } }>(`/apis/apps/v1/namespaces/${NS}/deployments/${workloadName(SERVICE, pool)}`)).spec.replicas;
  /** Baton's values as the aggregator serves them to anyone (the HPA reads the same path). */
  const servedLevels = async (): Promise<Levels> => {
    const list = await api().get<ValueList>(`/apis/external.metrics.k8s.io/v1beta1/namespaces/${NS}/${METRIC}?labelSelector=${encodeURIComponent(`service=${SERVICE}`)}`);
    return Object.fromEntries(list.items.map((i) => [i.metricLabels.pool!, quantity(i.value)]));
  };
  const lastDecision = (): Decision => {
    const d = baton!.adapter.evaluator.state(SERVICE)?.lastGood?.decision;
    assert.ok(d, 'Baton has no decision yet');
    return d;
  };
  const rule = (): ServiceRule => baton!.adapter.evaluator.rules().services.find((s) => s.name === SERVICE)!;
  /** What decide() asks for at a steady `rps` from the pools' minimum (fresh state: no hysteresis history). */
  const nominal = (rps: number): Levels => {
    const r = rule();
    const d = decide(policyConfigOf(r), { now: 0, decodeTps: rps * OUTPUT_TOKENS, guards: {}, replicas: { [PREFILL.name]: 1, [DECODE.name]: 1 } }, {});
    return { [PREFILL.name]: d.prefill.pools[PREFILL.name]!, [DECODE.name]: d.decode.pools[DECODE.name]! };
  };

  /**
   * Waits until the chain has settled: Baton's served values = the HPAs' desiredReplicas = the Deployments' replicas
   * (twice, a sync period apart), the values are Baton's last decision at the configured ratio, and they lie near
   * what decide() gives for the configured load (the simulator's arrivals are random: ±25 % or ±1).
   */
  async function settle(rps: number, what: string): Promise<Settled> {
    const want = nominal(rps);
    let previous = '';
    return waitFor(`${what}: HPAs, Deployments and Baton agree near ${JSON.stringify(want)}`, 100_000, async () => {
      const served = await servedLevels();
      // The decision behind the served values, read in the same poll (a new evaluation may land at any time).
      const d = lastDecision();
      const fromDecision = POOLS.every((p) => d[p.role].pools[p.name] === served[p.name]);
      const desired: Levels = {};
      const replicas: Levels = {};
      for (const p of POOLS) {
        desired[p.name] = (await hpaOf(p)).status?.desiredReplicas ?? -1;
        replicas[p.name] = await deploymentReplicas(p);
      }
      const agree = POOLS.every((p) => served[p.name] === desired[p.name] && desired[p.name] === replicas[p.name]);
      const near = POOLS.every((p) => Math.abs(served[p.name]! - want[p.name]!) <= Math.max(1, Math.ceil(0.25 * want[p.name]!)));
      const key = JSON.stringify(served);
      const stable = agree && near && fromDecision && key === previous;
      previous = agree && near ? key : '';
      if (!stable) throw new Error(`served ${key}, HPA desired ${JSON.stringify(desired)}, deployments ${JSON.stringify(replicas)}, Baton's decision ${JSON.stringify(d.decode.pools)}/${JSON.stringify(d.prefill.pools)}`);
      return { levels: served, decodeUnits: d.decode.units };
    }, HPA_SYNC_S * 1000 + 200, () => cluster!.processes.assertAlive());
  }

  /**
   * The served values keep the configured P:D ratio. Baton sizes prefill from the decode units before rounding to
   * whole replicas (decode D = ceil(u), prefill P = ceil(u × 3/2) for some u in (D-1, D]), so P lies in
   * [floor((D-1) × 3/2) + 1, ceil(D × 3/2)]; `decodeUnits` is what the decision's decode replicas provide.
   */
  function assertRatio({ levels, decodeUnits }: Settled): void {
    const d = levels[DECODE.name]!;
    const p = levels[PREFILL.name]!;
    const r = RATIO.prefill / RATIO.decode;
    assert.equal(d, decodeUnits, 'one decode replica is one unit');
    const lo = Math.max(PREFILL.minReplicas, Math.floor((d - 1) * r + 1e-9) + 1);
    const hi = Math.max(PREFILL.minReplicas, Math.ceil(d * r - 1e-9));
    assert.ok(p >= lo && p <= hi, `prefill ${p} for decode ${d} breaks ${RATIO.prefill}:${RATIO.decode} (expected ${lo}..${hi})`);
  }

  async function assertPodsRunningInPool(levels: Levels): Promise<void> {
    const nodes = await api().get<{ items: { metadata: { name: string; labels: Record<string, string> } }[] }>('/api/v1/nodes');
    const gpuOf = new Map(nodes.items.map((n) => [n.metadata.name, n.metadata.labels[GPU_TYPE_LABEL]]));
    for (const p of POOLS) {
      await waitFor(`${levels[p.name]} Running pods of ${p.name} on ${p.gpuType} nodes`, 60_000, async () => {
        const pods = await api().get<{ items: { metadata: { name: string; deletionTimestamp?: string }; spec: { nodeName?: string }; status: { phase: string } }[] }>(
          `/api/v1/namespaces/${NS}/pods?labelSelector=${encodeURIComponent(`${POOL_LABEL}=${p.name}`)}`);
        const live = pods.items.filter((x) => !x.metadata.deletionTimestamp);
        const running = live.filter((x) => x.status.phase === 'Running');
        for (const x of running) assert.equal(gpuOf.get(x.spec.nodeName ?? ''), p.gpuType, `pod ${x.metadata.name} of ${p.name} runs on ${x.spec.nodeName}`);
        if (live.length === levels[p.name] && running.length === live.length) return true;
        throw new Error(`${running.length} Running of ${live.length} live pods`);
      }, 500);
    }
  }

  /** Load step → first change of the decode HPA's desiredReplicas in `direction`; also when Baton's value moved. */
  async function step(rps: number, direction: 'up' | 'down'): Promise<{ batonS: number; hpaS: number }> {
    const before = (await hpaOf(DECODE)).status?.desiredReplicas ?? 0;
    const t0 = Date.now();
    sim!.setRate(rps);
    let batonS: number | undefined;
    const moved = (v: number) => (direction === 'up' ? v > before : v < before);
    const hpaS = await waitFor(`decode HPA desiredReplicas to move ${direction} from ${before}`, 90_000, async () => {
      const served = baton!.adapter.evaluator.state(SERVICE)?.lastGood?.decision.decode.pools[DECODE.name];
      if (batonS === undefined && served !== undefined && moved(served)) batonS = (Date.now() - t0) / 1000;
      const v = (await hpaOf(DECODE)).status?.desiredReplicas ?? before;
      return moved(v) ? (Date.now() - t0) / 1000 : undefined;
    }, 100);
    return { batonS: batonS ?? hpaS, hpaS };
  }

  before(async function () {
    // The only long hook: a cold build of the control plane from Go modules takes ~10+ min on 2 cores.
    this.timeout(60 * 60_000);
    const t0 = Date.now();
    cluster = await startCluster({ hpaSyncPeriodS: HPA_SYNC_S });
    timings.push(`control plane up in ${((Date.now() - t0) / 1000).toFixed(1)} s (incl. binary check/build)`);
    try {
      const simPools: PoolPlan[] = POOLS.map((p) => ({ name: p.name, role: p.role, gpuType: p.gpuType, gpusPerInstance: 1, maxInstances: 20, preference: 0, minReplicas: 1 }));
      // A fixed simulated fleet big enough for the high load: only the load moves the decode TPS Baton reads.
      sim = await startExporterScenario({
        rps: LOW_RPS, mix: [{ input: 2000, output: OUTPUT_TOKENS }], lengths: 'trace', pools: simPools,
        policy: new StaticPolicy({ [PREFILL.name]: 8, [DECODE.name]: 6 }), coldStartS: 0, speed: 1, seed: 3,
      });
      prom = await startHttpSdPrometheus(cluster.processes, cluster.runDir, `${sim.url}/sd`, SCRAPE_S);
      const rulesDir = join(cluster.runDir, 'rules');
      mkdirSync(rulesDir);
      writeFileSync(join(rulesDir, `${SERVICE}.yaml`), ruleYaml({
        service: SERVICE, namespace: NS, pools: POOLS, ratio: RATIO, decodeTpsPerUnit: DECODE_TPS_PER_UNIT, window: RATE_WINDOW, queryIntervalS: RULE_INTERVAL_S,
      }));
      baton = await registerBaton(cluster, { rulesDir, prometheusUrl: prom.url });
      await applyScenario(cluster, NS, SERVICE, POOLS, { metric: METRIC, tolerance: '0' });
      timings.push(`scenario applied ${((Date.now() - t0) / 1000).toFixed(1)} s after start`);
    } catch (err) {
      failed = true;
      throw err;
    }
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });

  after(async function () {
    this.timeout(60_000);
    if (failed && cluster) {
      console.error(`\n===== e2e failed: component log tails (run dir kept: ${cluster.runDir}) =====\n${cluster.logTails(30)}`);
      if (baton) console.error(`(adapter log: ${baton.logFile})`);
    }
    await baton?.close().catch(() => undefined);
    await sim?.close().catch(() => undefined);
    await cluster?.stop(failed);
    if (timings.length) console.log(`      e2e timings:\n${timings.map((t) => `        ${t}`).join('\n')}`);
  });

  it('the kube-apiserver keeps per-HPA tolerance 0 (HPAConfigurableTolerance is on)', async () => {
    const h = await hpaOf(DECODE);
    assert.equal(h.spec.behavior?.scaleUp?.tolerance, '0');
    assert.equal(h.spec.behavior?.scaleDown?.tolerance, '0');
    const metrics = await api().getText('/metrics');
    assert.match(metrics, /kubernetes_feature_enabled\{name="HPAConfigurableTolerance",stage="[A-Z]+"\} 1/);
  });

  it('serves Baton values through the real aggregator (kubectl get --raw)', async () => {
    await waitFor('Baton first decision', 60_000, () => baton!.adapter.evaluator.state(SERVICE)?.lastGood);
    const raw = await cluster!.kubectl(['get', '--raw', `/apis/external.metrics.k8s.io/v1beta1/namespaces/${NS}/${METRIC}`]);
    const list = JSON.parse(raw) as ValueList & { kind: string };
    assert.equal(list.kind, 'ExternalMetricValueList');
    const published = baton!.adapter.evaluator.state(SERVICE)!.lastGood!.values;
    assert.equal(list.items.length, POOLS.length);
    for (const p of POOLS) {
      const item = list.items.find((i) => i.metricLabels.pool === p.name);
      assert.ok(item, `no item for pool ${p.name} in ${raw}`);
      assert.equal(item.metricName, METRIC);
      assert.deepEqual([item.metricLabels.service, item.metricLabels.role], [SERVICE, p.role]);
      // The value may move between the two reads only when a new evaluation lands; both are Baton's.
      const mine = published.find((v) => v.pool === p.name)!.value;
      assert.ok(Math.abs(quantity(item.value) - mine) <= 1, `${p.name}: served ${item.value}, Baton ${mine}`);
    }
  });

  it('refuses a request sent straight to the adapter without the front-proxy certificate (401)', async () => {
    const path = `/apis/external.metrics.k8s.io/v1beta1/namespaces/${NS}/${METRIC}`;
    const status = (headers: Record<string, string>) => new Promise<number>((resolve, reject) => {
      const req = https.request(baton!.url + path, { ca: baton!.caPem, servername: 'baton-adapter.baton-system.svc', headers }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(await status({}), 401);
    // Forged front-proxy headers without the front-proxy client certificate are not believed.
    assert.equal(await status({ 'X-Remote-User': 'system:serviceaccount:kube-system:horizontal-pod-autoscaler', 'X-Remote-Group': 'system:masters' }), 401);
  });

  it('low load: HPAs ScalingActive=True, follow Baton at the ratio; pods Running on their pool', async () => {
    // The rate window fills first (the fleet just started): settle on the low plateau, not on the ramp towards it.
    const want = LOW_RPS * OUTPUT_TOKENS;
    await waitFor(`decode TPS in Prometheus near ${want}`, 60_000, async () => {
      const tps = await queryScalar(prom!.url, `sum(rate(vllm:generation_tokens_total{service="${SERVICE}",pool="${DECODE.name}"}[${RATE_WINDOW}]))`);
      return tps !== undefined && tps > 0.75 * want ? tps : undefined;
    }, 500);
    const settled = await settle(LOW_RPS, `low load ${LOW_RPS} rps`);
    const levels = settled.levels;
    for (const p of POOLS) {
      const c = (await hpaOf(p)).status?.conditions?.find((x) => x.type === 'ScalingActive');
      assert.equal(c?.status, 'True', `${p.name} ScalingActive: ${c?.reason} ${c?.message}`);
    }
    assertRatio(settled);
    await assertPodsRunningInPool(levels);
    timings.push(`low load ${LOW_RPS} rps: ${JSON.stringify(levels)} (decide() nominal ${JSON.stringify(nominal(LOW_RPS))})`);
  });

  let low: Levels = {};
  it('step up: both roles scale out at the ratio; Deployments and pods follow', async function () {
    low = await servedLevels();
    const t = await step(HIGH_RPS, 'up');
    const settled = await settle(HIGH_RPS, `high load ${HIGH_RPS} rps`);
    const levels = settled.levels;
    assertRatio(settled);
    for (const p of POOLS) assert.ok(levels[p.name]! > low[p.name]!, `${p.name} went from ${low[p.name]} to ${levels[p.name]}`);
    await assertPodsRunningInPool(levels);
    timings.push(`step up ${LOW_RPS}→${HIGH_RPS} rps: Baton moved after ${t.batonS.toFixed(1)} s, decode HPA desiredReplicas after ${t.hpaS.toFixed(1)} s; settled at ${JSON.stringify(levels)} (nominal ${JSON.stringify(nominal(HIGH_RPS))})`);
    timings.push(`  intervals: scrape ${SCRAPE_S} s, rate window ${RATE_WINDOW}, rule query ${RULE_INTERVAL_S} s, HPA sync ${HPA_SYNC_S} s`);
  });

  it('step down: both roles scale in at the ratio; Deployments and pods follow', async () => {
    const high = await servedLevels();
    const t = await step(LOW_RPS, 'down');
    const settled = await settle(LOW_RPS, `back to low load ${LOW_RPS} rps`);
    const levels = settled.levels;
    assertRatio(settled);
    for (const p of POOLS) assert.ok(levels[p.name]! < high[p.name]!, `${p.name} went from ${high[p.name]} to ${levels[p.name]}`);
    await assertPodsRunningInPool(levels);
    const tps = await queryScalar(prom!.url, `sum(rate(vllm:generation_tokens_total{service="${SERVICE}"}[${RATE_WINDOW}]))`);
    timings.push(`step down ${HIGH_RPS}→${LOW_RPS} rps: Baton moved after ${t.batonS.toFixed(1)} s, decode HPA desiredReplicas after ${t.hpaS.toFixed(1)} s; settled at ${JSON.stringify(levels)}; decode TPS now ${tps?.toFixed(0)}`);
  });
});
