// e2e: pools that are not Deployments. Prefill runs as a StatefulSet, decode as a CRD with a scale subresource whose
// test controller makes pods and reports the Ready ones (test/e2e/harness/scale-crd.ts). Stock HPAs scale both on
// Baton's desired-replica metric through the real aggregator, and `baton engine` counts each pool's replicas from the
// pods its `/scale` selector selects (the pods carry no Baton label): asked-for replicas from spec, ready ones from pods.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine, type CycleResult } from '../../engine/sidecar/engine.js';
import { parseEngineConfig } from '../../engine/sidecar/config.js';
import { waitFor } from './harness/api.js';
import { registerBaton, type RegisteredBaton } from './harness/baton.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { trackFailures } from './harness/failures.js';
import { Gateway, gatewayRule } from './harness/gateway.js';
import { startHttpSdPrometheus } from './harness/prometheus.js';
import { crd, GROUP, KIND, PLURAL, server, ServerController } from './harness/scale-crd.js';
import { GPU_TYPE_LABEL, gpuNodes, hpa, type PoolSpec } from './harness/workload.js';

const NS = 'llm';
const SERVICE = 'mixed';
const SLOW_START_MS = 5000;
const POOLS: PoolSpec[] = [
  { name: 'prefill-h100', role: 'prefill', gpuType: 'H100', nodes: 2, gpusPerNode: 8, minReplicas: 1, maxReplicas: 12 },
  { name: 'decode-h200', role: 'decode', gpuType: 'H200', nodes: 2, gpusPerNode: 8, minReplicas: 1, maxReplicas: 8 },
];
const [PREFILL, DECODE] = POOLS as [PoolSpec, PoolSpec];
const STS = `${SERVICE}-${PREFILL.name}`;
const CR = `${SERVICE}-${DECODE.name}`;

function statefulSet(): object {
  const labels = { app: STS };
  return {
    apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: STS, namespace: NS },
    spec: {
      replicas: 1, serviceName: STS, podManagementPolicy: 'Parallel', selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { nodeSelector: { [GPU_TYPE_LABEL]: PREFILL.gpuType }, containers: [{ name: 'engine', image: 'vllm/vllm-openai:fake', resources: { limits: { 'nvidia.com/gpu': '1' } } }] } },
    },
  };
}

const ENGINE_CONFIG = {
  namespace: NS,
  services: [{
    service: SERVICE, ratio: { prefill: 3, decode: 2 },
    pools: [
      { name: PREFILL.name, role: 'prefill', gpuType: PREFILL.gpuType, maxReplicas: PREFILL.maxReplicas, target: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: STS, namespace: NS } },
      { name: DECODE.name, role: 'decode', gpuType: DECODE.gpuType, maxReplicas: DECODE.maxReplicas, target: { apiVersion: `${GROUP}/v1`, kind: KIND, name: CR, namespace: NS } },
    ],
  }],
};

describe('e2e: stock HPAs scale a StatefulSet pool and a CRD pool with a /scale subresource; the engine counts both through /scale', function () {
  this.timeout(180_000);
  let cluster: Cluster | undefined;
  let gateway: Gateway | undefined;
  let baton: RegisteredBaton | undefined;
  let controller: ServerController | undefined;
  let engine: Engine | undefined;
  const failures = trackFailures();

  const published = () => Object.fromEntries((baton!.adapter.evaluator.state(SERVICE)?.lastGood?.values ?? []).map((v) => [v.pool, v.value]));
  const specs = async () => ({
    [PREFILL.name]: (await cluster!.api.get<{ spec: { replicas: number } }>(`/apis/apps/v1/namespaces/${NS}/statefulsets/${STS}`)).spec.replicas,
    [DECODE.name]: (await cluster!.api.get<{ spec: { replicas: number } }>(`/apis/${GROUP}/v1/namespaces/${NS}/${PLURAL}/${CR}`)).spec.replicas,
  });
  const crStatus = async () => (await cluster!.api.get<{ status?: { replicas?: number } }>(`/apis/${GROUP}/v1/namespaces/${NS}/${PLURAL}/${CR}`)).status?.replicas;
  const reading = (c: CycleResult, pool: string) => c.targets.find((t) => t.pool === pool);

  /** Waits until the HPAs have set both targets to what Baton publishes for `decodeTps`, returning those counts. */
  async function follow(decodeTps: number, what: string): Promise<Record<string, number>> {
    gateway!.decodeTps = decodeTps;
    return waitFor(what, 60_000, async () => {
      const want = published();
      const got = await specs();
      if (POOLS.every((p) => want[p.name] !== undefined && got[p.name] === want[p.name]) && want[DECODE.name] === Math.max(DECODE.minReplicas, Math.ceil(decodeTps / 500))) return got;
      throw new Error(`Baton ${JSON.stringify(want)}, targets ${JSON.stringify(got)}, controller ${controller!.lastError ?? 'ok'}`);
    }, 500, () => cluster!.processes.assertAlive());
  }

  before(async function () {
    this.timeout(60 * 60_000);
    cluster = await startCluster({ hpaSyncPeriodS: 2, slowStartMs: SLOW_START_MS });
    try {
      gateway = new Gateway(SERVICE);
      gateway.decodeTps = 400;
      await gateway.start();
      const prom = await startHttpSdPrometheus(cluster.processes, cluster.runDir, `${gateway.url}/sd`, 1);
      const rulesDir = join(cluster.runDir, 'rules');
      mkdirSync(rulesDir);
      writeFileSync(join(rulesDir, `${SERVICE}.yaml`), gatewayRule({ service: SERVICE, namespace: NS, ratio: { prefill: 3, decode: 2 }, decodeTpsPerUnit: 500, pools: POOLS }));
      baton = await registerBaton(cluster, { rulesDir, prometheusUrl: prom.url });
      await cluster.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }, crd(), ...POOLS.flatMap(gpuNodes)]);
      await waitFor(`CRD ${PLURAL}.${GROUP} served`, 30_000, async () => ((await cluster!.api.request('GET', `/apis/${GROUP}/v1/namespaces/${NS}/${PLURAL}`)).status === 200 ? true : undefined));
      await waitFor(`service account ${NS}/default`, 30_000, async () => ((await cluster!.api.request('GET', `/api/v1/namespaces/${NS}/serviceaccounts/default`)).status === 200 ? true : undefined));
      // Decode pods load their weights for SLOW_START_MS before they are Ready (kwok's slow-start stage).
      await cluster.apply([
        statefulSet(), server(NS, CR, DECODE.gpuType, 1, { slowstart: 'true' }),
        hpa(NS, SERVICE, PREFILL, { metric: 'baton_desired_replicas', tolerance: '0', scaleTargetRef: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: STS } }),
        hpa(NS, SERVICE, DECODE, { metric: 'baton_desired_replicas', tolerance: '0', scaleTargetRef: { apiVersion: `${GROUP}/v1`, kind: KIND, name: CR } }),
      ]);
      controller = new ServerController(cluster.api, NS);
      controller.start();
      engine = new Engine({ config: parseEngineConfig(ENGINE_CONFIG, 'engine.json'), kubeconfig: cluster.kubeconfig, advisory: true, demand: () => [], identity: 'e2e-targets', log: () => undefined });
    } catch (err) {
      failures.mark();
      throw err;
    }
  });

  after(async function () {
    this.timeout(60_000);
    failures.report(cluster, 'scale-targets e2e');
    await engine?.stop().catch(() => undefined);
    await controller?.stop();
    await baton?.close().catch(() => undefined);
    await gateway?.close();
    await cluster?.stop(failures.any);
  });

  it('scales both kinds up at the ratio; the engine sees the asked-for decode replicas before they are Ready, then all Ready', async () => {
    const low = await follow(400, 'the HPAs hold both pools at the low level');
    const high = await follow(3000, 'the HPAs scale the StatefulSet and the InferenceServer up to Baton\'s numbers');
    assert.ok(high[DECODE.name]! > low[DECODE.name]! && high[PREFILL.name]! > low[PREFILL.name]!, JSON.stringify({ low, high }));
    assert.ok(Math.abs(high[PREFILL.name]! / high[DECODE.name]! - 3 / 2) <= 0.5, `ratio 3:2 within rounding: ${JSON.stringify(high)}`);

    // Within the decode pods' slow start: asked for more than are Ready, and the CRD's status says the same.
    const early = await engine!.cycleOnce();
    assert.equal(reading(early, DECODE.name)?.reading?.replicas, high[DECODE.name], JSON.stringify(early.targets));
    assert.equal(reading(early, PREFILL.name)?.reading?.replicas, high[PREFILL.name]);
    assert.ok((early.ready.get(SERVICE)?.[DECODE.name] ?? 0) < high[DECODE.name]!, `decode not all Ready yet: ${JSON.stringify(Object.fromEntries(early.ready))}`);
    assert.deepEqual(early.errors, []);

    await waitFor('every replica Ready, counted by the engine from the /scale selectors alone', 60_000, async () => {
      const c = await engine!.cycleOnce();
      const ready = c.ready.get(SERVICE) ?? {};
      const status = await crStatus();
      if (ready[PREFILL.name] === high[PREFILL.name] && ready[DECODE.name] === high[DECODE.name] && status === high[DECODE.name]) return true;
      throw new Error(`engine ready ${JSON.stringify(ready)}, InferenceServer status.replicas ${status}, asked ${JSON.stringify(high)}`);
    }, 500);
  });

  it('scales both kinds down; removed pods stop counting', async () => {
    const down = await follow(900, 'the HPAs scale both pools down to Baton\'s numbers');
    await waitFor('the engine counts only the remaining replicas', 60_000, async () => {
      const c = await engine!.cycleOnce();
      const ready = c.ready.get(SERVICE) ?? {};
      if (ready[PREFILL.name] === down[PREFILL.name] && ready[DECODE.name] === down[DECODE.name] && (await crStatus()) === down[DECODE.name]) return true;
      throw new Error(`engine ready ${JSON.stringify(ready)}, asked ${JSON.stringify(down)}`);
    }, 500);
  });
});
