// e2e: a P/D service whose prefill and decode are LeaderWorkerSets of size 2 (every replica a group of 2 pods on 2
// nodes), on the real control plane with the real LWS manager (sigs.k8s.io/lws v0.9.0: controllers and pod webhook) and
// kwok GPU nodes under three S1 switches in two S2s, each S1 with one node more than a group needs. Stock HPAs scale
// both LeaderWorkerSets on Baton's metrics; `baton engine` (S1 affinity, pools read through /scale) plans every group
// and P/D pair under one leaf switch and labels leader and slot nodes; the stock scheduler follows the labels. Decode
// workers load weights slowly, so a group whose worker is not Ready counts as not ready. Scale-in removes whole groups.
// A DisaggregatedSet service (`scaler: engine`) is scaled by the engine itself: both roles in one write.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { leadLabelKey, slotLabelKey } from '../../engine/placement/labels.js';
import { Engine } from '../../engine/sidecar/engine.js';
import { parseEngineConfig } from '../../engine/sidecar/config.js';
import { waitFor } from './harness/api.js';
import { registerBaton, type RegisteredBaton } from './harness/baton.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { trackFailures } from './harness/failures.js';
import { Gateway, gatewayRule } from './harness/gateway.js';
import { ensureLws, startLws } from './harness/lws.js';
import { startHttpSdPrometheus } from './harness/prometheus.js';
import { hpa, topologyNode, type PoolSpec } from './harness/workload.js';

const NS = 'llm';
const SERVICE = 'big';
const GROUP_KEY = 'leaderworkerset.sigs.k8s.io/group-key';
const LWS_NAME = 'leaderworkerset.sigs.k8s.io/name';
const POOLS: PoolSpec[] = [
  { name: 'prefill-h100', role: 'prefill', gpuType: 'H100', nodes: 0, gpusPerNode: 8, minReplicas: 1, maxReplicas: 3 },
  { name: 'decode-h200', role: 'decode', gpuType: 'H200', nodes: 0, gpusPerNode: 8, minReplicas: 1, maxReplicas: 3 },
];
const [PREFILL, DECODE] = POOLS as [PoolSpec, PoolSpec];
const lwsName = (p: PoolSpec) => `${SERVICE}-${p.name}`;
// Three S1 switches (a1, a2 under sA; b1 under sB), 3 H100 and 3 H200 nodes each: room for one group per role per S1,
// one node of each type left over in every switch.
const SWITCHES = [['a1', 'sA'], ['a2', 'sA'], ['b1', 'sB']] as const;

/** The LeaderWorkerSet of a pool, as manifests/examples/scale-targets recommends (leaders on lead slots, workers follow). */
function leaderWorkerSet(p: PoolSpec, slowWorkers: boolean): object {
  const labels = { 'baton.io/service': SERVICE, 'baton.io/role': p.role, 'baton.io/pool': p.name };
  const container = { name: 'engine', image: 'vllm/vllm-openai:fake', resources: { limits: { 'nvidia.com/gpu': '8' } } };
  const nodeTerm = (key: string) => ({ requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'baton.io/gpu-type', operator: 'In', values: [p.gpuType] }, { key, operator: 'Gt', values: ['0'] }] }] } });
  const group = (topologyKey: string) => ({ labelSelector: { matchExpressions: [{ key: LWS_NAME, operator: 'Exists' }] }, matchLabelKeys: [GROUP_KEY], topologyKey });
  return {
    apiVersion: 'leaderworkerset.x-k8s.io/v1', kind: 'LeaderWorkerSet', metadata: { name: lwsName(p), namespace: NS },
    spec: {
      replicas: 1,
      leaderWorkerTemplate: {
        size: 2,
        leaderTemplate: { metadata: { labels }, spec: { affinity: { nodeAffinity: nodeTerm(leadLabelKey(SERVICE, p.name)) }, containers: [container] } },
        workerTemplate: {
          metadata: { labels: { ...labels, ...(slowWorkers ? { slowstart: 'true' } : {}) } },
          spec: {
            affinity: {
              nodeAffinity: nodeTerm(slotLabelKey(SERVICE, p.name)),
              podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [group('baton.io/s2')], preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: group('baton.io/s1') }] },
            },
            containers: [container],
          },
        },
      },
    },
  };
}

const ENGINE_CONFIG = {
  namespace: NS,
  services: [{
    service: SERVICE, affinity: 's1', ratio: { prefill: 1, decode: 1 },
    pools: POOLS.map((p) => ({ name: p.name, role: p.role, gpuType: p.gpuType, gpusPerReplica: 16, podsPerReplica: 2, minReplicas: p.minReplicas, maxReplicas: p.maxReplicas, target: { apiVersion: 'leaderworkerset.x-k8s.io/v1', kind: 'LeaderWorkerSet', name: lwsName(p), namespace: NS } })),
  }],
};

interface Pod { metadata: { name: string; labels: Record<string, string>; deletionTimestamp?: string }; spec: { nodeName?: string }; status: { conditions?: { type: string; status: string }[] } }

describe('e2e: LeaderWorkerSet pools (groups of 2 pods) scale at the ratio through stock HPAs; groups and P/D pairs stay under one switch; a DisaggregatedSet scaled by the engine in single writes (real LWS v0.9.0)', function () {
  this.timeout(300_000);
  let cluster: Cluster | undefined;
  let gateway: Gateway | undefined;
  let baton: RegisteredBaton | undefined;
  let engine: Engine | undefined;
  const failures = trackFailures();
  const s1Of = new Map<string, string>();

  const published = () => Object.fromEntries((baton!.adapter.evaluator.state(SERVICE)?.lastGood?.values ?? []).map((v) => [v.pool, v.value]));
  const replicas = async () => Object.fromEntries(await Promise.all(POOLS.map(async (p) =>
    [p.name, (await cluster!.api.get<{ spec: { replicas: number } }>(`/apis/leaderworkerset.x-k8s.io/v1/namespaces/${NS}/leaderworkersets/${lwsName(p)}`)).spec.replicas] as const)));
  const podsOf = async (p: PoolSpec) => (await cluster!.api.get<{ items: Pod[] }>(`/api/v1/namespaces/${NS}/pods?labelSelector=${encodeURIComponent(`${LWS_NAME}=${lwsName(p)}`)}`)).items.filter((x) => !x.metadata.deletionTimestamp);
  const ready = (p: Pod) => p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  /** Groups of a pool: group key → the S1 switches of its bound pods, its pod count and Ready pods. */
  const groupsOf = async (p: PoolSpec) => {
    const out = new Map<string, { switches: Set<string>; pods: number; bound: number; ready: number }>();
    for (const pod of await podsOf(p)) {
      const k = pod.metadata.labels[GROUP_KEY]!;
      const g = out.get(k) ?? { switches: new Set<string>(), pods: 0, bound: 0, ready: 0 };
      g.pods++;
      if (pod.spec.nodeName) {
        g.bound++;
        g.switches.add(s1Of.get(pod.spec.nodeName)!);
      }
      if (ready(pod)) g.ready++;
      out.set(k, g);
    }
    return out;
  };

  /** Waits until both LeaderWorkerSets have Baton's replicas and every group is whole, bound and Ready. */
  async function settle(decodeTps: number, expect: number, what: string): Promise<void> {
    gateway!.decodeTps = decodeTps;
    await waitFor(what, 120_000, async () => {
      const want = published();
      const got = await replicas();
      const groups = await Promise.all(POOLS.map(groupsOf));
      const whole = groups.every((gs) => gs.size === expect && [...gs.values()].every((g) => g.pods === 2 && g.bound === 2 && g.ready === 2));
      if (POOLS.every((p) => want[p.name] === expect && got[p.name] === expect) && whole) return true;
      throw new Error(`Baton ${JSON.stringify(want)}, LWS ${JSON.stringify(got)}, groups ${JSON.stringify(groups.map((gs) => [...gs.values()].map((g) => ({ ...g, switches: [...g.switches] }))))}, engine ${engine!.lastError ?? 'ok'}`);
    }, 1000, () => cluster!.processes.assertAlive());
  }

  /** Every group under one S1; per S1 as many prefill groups as decode groups (pairs under one switch). */
  async function assertPlacement(): Promise<void> {
    const perSwitch: Record<string, Record<string, number>> = {};
    for (const p of POOLS) {
      for (const [key, g] of await groupsOf(p)) {
        assert.equal(g.switches.size, 1, `${p.name} group ${key} spans switches ${[...g.switches].join(', ')}`);
        const sw = [...g.switches][0]!;
        (perSwitch[sw] ??= {})[p.role] = (perSwitch[sw]![p.role] ?? 0) + 1;
      }
    }
    for (const [sw, c] of Object.entries(perSwitch)) assert.equal(c.prefill, c.decode, `P/D pairs under ${sw}: ${JSON.stringify(perSwitch)}`);
  }

  before(async function () {
    this.timeout(60 * 60_000);
    const build = await ensureLws();
    cluster = await startCluster({ hpaSyncPeriodS: 2, slowStartMs: 6000 });
    try {
      await startLws(cluster, build);
      gateway = new Gateway(SERVICE);
      gateway.decodeTps = 400;
      await gateway.start();
      const prom = await startHttpSdPrometheus(cluster.processes, cluster.runDir, `${gateway.url}/sd`, 1);
      const rulesDir = join(cluster.runDir, 'rules');
      mkdirSync(rulesDir);
      writeFileSync(join(rulesDir, `${SERVICE}.yaml`), gatewayRule({ service: SERVICE, namespace: NS, ratio: { prefill: 1, decode: 1 }, decodeTpsPerUnit: 500, pools: POOLS }));
      baton = await registerBaton(cluster, { rulesDir, prometheusUrl: prom.url });
      const nodes: object[] = [];
      for (const [s1, s2] of SWITCHES) {
        for (let i = 0; i < 3; i++) {
          for (const type of ['H100', 'H200']) {
            const name = `${s1}-${type.toLowerCase()}-${i}`;
            s1Of.set(name, s1);
            nodes.push(topologyNode(name, type, s1, s2));
          }
        }
      }
      await cluster.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }, ...nodes]);
      await waitFor(`service account ${NS}/default`, 30_000, async () => ((await cluster!.api.request('GET', `/api/v1/namespaces/${NS}/serviceaccounts/default`)).status === 200 ? true : undefined));
      await cluster.apply([
        leaderWorkerSet(PREFILL, false), leaderWorkerSet(DECODE, true),
        ...POOLS.map((p) => hpa(NS, SERVICE, p, { metric: 'baton_desired_replicas', tolerance: '0', scaleTargetRef: { apiVersion: 'leaderworkerset.x-k8s.io/v1', kind: 'LeaderWorkerSet', name: lwsName(p) } })),
      ]);
      engine = new Engine({
        config: parseEngineConfig(ENGINE_CONFIG, 'engine.json'), kubeconfig: cluster.kubeconfig, intervalS: 1, identity: 'e2e-lws', leaseDurationS: 10, log: () => undefined,
        demand: () => {
          const d = baton!.adapter.evaluator.state(SERVICE)?.lastGood?.decision;
          return d ? [{ service: SERVICE, units: { prefill: d.prefill.units, decode: d.decode.units } }] : [];
        },
      });
      await engine.start();
    } catch (err) {
      failures.mark();
      throw err;
    }
  });

  after(async function () {
    this.timeout(60_000);
    failures.report(cluster, 'LWS e2e');
    await engine?.stop().catch(() => undefined);
    await baton?.close().catch(() => undefined);
    await gateway?.close();
    await cluster?.stop(failures.any);
  });

  it('one group per role at low load, both whole under one switch', async () => {
    await settle(400, 1, 'one whole, Ready group per role');
    await assertPlacement();
  });

  it('scales up to three pairs; a group whose worker is still loading counts as not ready; every group and pair under one S1', async () => {
    gateway!.decodeTps = 1400;
    // Within the decode workers' slow start: leaders Ready, workers not; the engine counts only whole Ready groups.
    const seen = await waitFor('a decode group whose leader is Ready and whose worker is not', 90_000, async () => {
      const groups = [...(await groupsOf(DECODE)).values()];
      const partial = groups.filter((g) => g.bound === 2 && g.ready === 1).length;
      if (partial === 0) return undefined;
      const whole = groups.filter((g) => g.ready === 2 && g.pods === 2).length;
      const counted = engine!.lastPlan ? (await engine!.cycleOnce()).ready.get(SERVICE)?.[DECODE.name] : undefined;
      // Recount after the engine's cycle: a worker may have become Ready meanwhile.
      const after = [...(await groupsOf(DECODE)).values()].filter((g) => g.ready === 2 && g.pods === 2).length;
      if (counted === undefined || counted < whole || counted > after) return undefined;
      return { partial, counted, leadersReady: groups.filter((g) => g.ready >= 1).length };
    }, 250);
    assert.ok(seen.counted < seen.leadersReady, `not-ready groups are not counted: ${JSON.stringify(seen)}`);
    await settle(1400, 3, 'three whole, Ready groups per role');
    await assertPlacement();
    const nodes = await cluster!.api.get<{ items: { metadata: { name: string; labels: Record<string, string> } }[] }>('/api/v1/nodes');
    const leads = nodes.items.filter((n) => Number(n.metadata.labels[leadLabelKey(SERVICE, DECODE.name)] ?? 0) > 0).map((n) => s1Of.get(n.metadata.name)).sort();
    assert.deepEqual(leads, ['a1', 'a2', 'b1'], 'one decode leader slot per S1');
  });

  it('a DisaggregatedSet service: the engine scales both roles in one write each (advisory writes nothing)', async () => {
    const DS_NS = 'ds';
    const DS = 'chat';
    const role = (name: string, p: PoolSpec) => ({
      name,
      spec: {
        replicas: 1,
        leaderWorkerTemplate: {
          size: 1,
          workerTemplate: {
            spec: {
              affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'baton.io/gpu-type', operator: 'In', values: [p.gpuType] }, { key: slotLabelKey(DS, p.name), operator: 'Gt', values: ['0'] }] }] } } },
              containers: [{ name: 'engine', image: 'vllm/vllm-openai:fake', resources: { limits: { 'nvidia.com/gpu': '8' } } }],
            },
          },
        },
      },
    });
    await cluster!.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: DS_NS } }]);
    await waitFor(`service account ${DS_NS}/default`, 30_000, async () => ((await cluster!.api.request('GET', `/api/v1/namespaces/${DS_NS}/serviceaccounts/default`)).status === 200 ? true : undefined));
    await cluster!.apply([{ apiVersion: 'disaggregatedset.x-k8s.io/v1', kind: 'DisaggregatedSet', metadata: { name: DS, namespace: DS_NS }, spec: { roles: [role('prefill', PREFILL), role('decode', DECODE)] } }]);
    const path = `/apis/disaggregatedset.x-k8s.io/v1/namespaces/${DS_NS}/disaggregatedsets/${DS}`;
    const read = async () => {
      const o = await cluster!.api.get<{ metadata: { generation: number }; spec: { roles: { name: string; spec: { replicas?: number } }[] } }>(path);
      return { generation: o.metadata.generation, replicas: Object.fromEntries(o.spec.roles.map((r) => [r.name, r.spec.replicas ?? 0])) };
    };
    const config = parseEngineConfig({
      namespace: DS_NS,
      services: [{
        service: DS, scaler: 'engine', ratio: { prefill: 1, decode: 1 },
        pools: POOLS.map((p) => ({ name: p.name, role: p.role, gpuType: p.gpuType, gpusPerReplica: 8, maxReplicas: 6, target: { apiVersion: 'disaggregatedset.x-k8s.io/v1', kind: 'DisaggregatedSet', name: DS, namespace: DS_NS, role: p.role } })),
      }],
    }, 'ds-engine.json');
    let units = { prefill: 3, decode: 3 };
    const demand = () => [{ service: DS, units }];
    const common = { config, kubeconfig: cluster!.kubeconfig, demand, leaseDurationS: 10, log: () => undefined };
    const advisory = new Engine({ ...common, advisory: true, identity: 'e2e-ds-advisory' });
    const scaler = new Engine({ ...common, identity: 'e2e-ds' });
    try {
      const before = await read();
      assert.deepEqual(before.replicas, { prefill: 1, decode: 1 });
      const a = await advisory.cycleOnce();
      assert.equal(a.scaleWrites, 0);
      assert.deepEqual(await read(), before, 'advisory: nothing written');

      const up = await scaler.cycleOnce();
      assert.deepEqual(up.errors, []);
      assert.equal(up.scaleWrites, 1);
      const afterUp = await read();
      assert.deepEqual(afterUp.replicas, { prefill: 3, decode: 3 }, 'both roles moved');
      assert.equal(afterUp.generation, before.generation + 1, 'in one write');
      await waitFor('the DisaggregatedSet\'s roles run 3 Ready replicas each, counted by the engine through the role selectors', 90_000, async () => {
        const c = await scaler.cycleOnce();
        const ready = c.ready.get(DS) ?? {};
        if (ready[PREFILL.name] === 3 && ready[DECODE.name] === 3) return c;
        throw new Error(`engine ready ${JSON.stringify(ready)}, errors ${c.errors.join('; ')}`);
      }, 1000, () => cluster!.processes.assertAlive());
      assert.equal((await read()).generation, afterUp.generation, 'steady: no further writes');

      units = { prefill: 1, decode: 1 };
      const down = await scaler.cycleOnce();
      assert.equal(down.scaleWrites, 1);
      const afterDown = await read();
      assert.deepEqual(afterDown.replicas, { prefill: 1, decode: 1 });
      assert.equal(afterDown.generation, afterUp.generation + 1, 'scale-in in one write too');
    } finally {
      await scaler.stop();
      await advisory.stop();
    }
  });

  it('scales in by whole groups; what stays is whole and paired', async () => {
    await settle(400, 1, 'back to one whole group per role');
    await assertPlacement();
    const c = await engine!.cycleOnce();
    assert.deepEqual(c.ready.get(SERVICE), { [PREFILL.name]: 1, [DECODE.name]: 1 });
    assert.deepEqual(c.targets.map((t) => t.reading?.replicas), [1, 1]);
  });
});
