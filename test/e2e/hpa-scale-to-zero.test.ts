// End to end, scale to and from zero through the stock HPA (no KEDA): the control plane runs with the HPAScaleToZero
// gate on kube-apiserver and kube-controller-manager (beta and on by default from Kubernetes 1.37), HPAs have
// minReplicas 0, and Baton's adapter behind the real aggregator publishes 0 for an idle service (a fresh value, not a
// 503), so the HPAs take it to 0; then the smallest pair when its wake signal fires, and 0 again after the idle window.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './harness/api.js';
import { registerBaton, type RegisteredBaton } from './harness/baton.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { trackFailures } from './harness/failures.js';
import { Gateway, gatewayRule } from './harness/gateway.js';
import { startHttpSdPrometheus } from './harness/prometheus.js';
import { applyScenario, workloadName, type PoolSpec } from './harness/workload.js';

const NS = 'llm';
const SERVICE = 'sleeper';
const IDLE_S = 8;
const POOLS: PoolSpec[] = [
  { name: 'prefill-h100', role: 'prefill', gpuType: 'H100', nodes: 1, gpusPerNode: 8, minReplicas: 0, maxReplicas: 8 },
  { name: 'decode-h200', role: 'decode', gpuType: 'H200', nodes: 1, gpusPerNode: 8, minReplicas: 0, maxReplicas: 8 },
];

describe('e2e: the stock HPA scales a service to and from zero on Baton\'s numbers (HPAScaleToZero)', function () {
  this.timeout(120_000);
  let cluster: Cluster | undefined;
  let gateway: Gateway | undefined;
  let baton: RegisteredBaton | undefined;
  const failures = trackFailures();

  const replicas = async () => Object.fromEntries(await Promise.all(POOLS.map(async (p) =>
    [p.name, (await cluster!.api.get<{ spec: { replicas: number } }>(`/apis/apps/v1/namespaces/${NS}/deployments/${workloadName(SERVICE, p)}`)).spec.replicas] as const)));
  const published = () => Object.fromEntries((baton!.adapter.evaluator.state(SERVICE)?.lastGood?.values ?? []).map((v) => [v.pool, v.value]));

  before(async function () {
    this.timeout(60 * 60_000);
    cluster = await startCluster({ hpaSyncPeriodS: 2, featureGates: 'HPAScaleToZero=true' });
    try {
      gateway = new Gateway(SERVICE);
      await gateway.start();
      const prom = await startHttpSdPrometheus(cluster.processes, cluster.runDir, `${gateway.url}/sd`, 1);
      const rulesDir = join(cluster.runDir, 'rules');
      mkdirSync(rulesDir);
      writeFileSync(join(rulesDir, `${SERVICE}.yaml`), gatewayRule({ service: SERVICE, namespace: NS, ratio: { prefill: 3, decode: 2 }, decodeTpsPerUnit: 500, idleS: IDLE_S, pools: POOLS }));
      baton = await registerBaton(cluster, { rulesDir, prometheusUrl: prom.url });
      await applyScenario(cluster, NS, SERVICE, POOLS, { metric: 'baton_desired_replicas', tolerance: '0' });
      // The HPA scales from zero only a workload it took to zero itself (its ScaledToZero condition); one that sits at 0
      // from the start counts as switched off by hand. So the service starts at one replica per role.
      for (const p of POOLS) await cluster.kubectl(['-n', NS, 'scale', 'deployment', workloadName(SERVICE, p), '--replicas=1']);
    } catch (err) {
      failures.mark();
      throw err;
    }
  });

  after(async function () {
    this.timeout(60_000);
    failures.report(cluster, 'scale-to-zero e2e');
    await baton?.close().catch(() => undefined);
    await gateway?.close();
    await cluster?.stop(failures.any);
  });

  it('an idle service is taken to 0, woken to one replica per role by the wake signal, back to 0 after the idle window', async () => {
    const hpa = await cluster!.api.get<{ spec: { minReplicas: number } }>(`/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/${workloadName(SERVICE, POOLS[1]!)}`);
    assert.equal(hpa.spec.minReplicas, 0, 'the gate lets an HPA keep minReplicas 0');
    await waitFor('Baton publishes 0/0 for the idle service and the HPAs take it to 0', 60_000, async () => {
      const r = await replicas();
      const mine = published();
      if (POOLS.every((p) => mine[p.name] === 0 && r[p.name] === 0)) return true;
      throw new Error(`Baton ${JSON.stringify(mine)}, deployments ${JSON.stringify(r)}`);
    }, 1000, () => cluster!.processes.assertAlive());
    const scaledToZero = await cluster!.api.get<{ status?: { conditions?: { type: string; status: string }[] } }>(`/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/${workloadName(SERVICE, POOLS[1]!)}`);
    assert.equal(scaledToZero.status?.conditions?.find((c) => c.type === 'ScaledToZero')?.status, 'True');
    gateway!.queue = 2;
    await waitFor('the HPAs scale both roles from 0 to 1', 60_000, async () => {
      const r = await replicas();
      if (POOLS.every((p) => r[p.name] === 1)) return true;
      throw new Error(`deployments ${JSON.stringify(r)}, Baton ${JSON.stringify(published())}`);
    }, 500, () => cluster!.processes.assertAlive());
    gateway!.queue = 0;
    gateway!.decodeTps = 0;
    const t0 = Date.now();
    await waitFor('the HPAs scale both roles back to 0', 60_000, async () => {
      const r = await replicas();
      if (POOLS.every((p) => r[p.name] === 0)) return true;
      throw new Error(`deployments ${JSON.stringify(r)}, Baton ${JSON.stringify(published())}`);
    }, 500, () => cluster!.processes.assertAlive());
    assert.ok((Date.now() - t0) / 1000 >= IDLE_S, 'not before the idle window');
  });
});
