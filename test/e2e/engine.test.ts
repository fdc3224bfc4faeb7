// e2e: `baton engine` on a real control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok). 100 kwok GPU
// nodes under 10 S1 switches in 3 S2 domains, three GPU types; two services: `chat` (priority 10, S1 affinity,
// H100 prefill / H20 decode, a small H100 decode fallback pool) and `batch` (priority 1, no affinity, H100).
// The engine labels nodes; Deployments select the labels with node affinity and the stock kube-scheduler binds. The
// test plays the pool HPAs (AverageValue 1 = the engine's desired replicas): it copies the plan ConfigMap's
// desired.json to each Deployment's scale subresource, as the HPA would (that path is proven in hpa-scaling.test.ts).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { slotLabelKey } from '../../engine/placement/labels.js';
import { Engine } from '../../engine/sidecar/engine.js';
import { parseEngineConfig, type EngineConfig } from '../../engine/sidecar/config.js';
import { waitFor } from './harness/api.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { slotDeployment, topologyNode, waitForNodesReady } from './harness/workload.js';

const NS = 'llm';
const ENGINE_NS = 'baton';
type Units = { prefill: number; decode: number };

interface Pool { service: string; name: string; role: 'prefill' | 'decode'; gpuType: string; preference: number; maxReplicas: number }
const POOLS: Pool[] = [
  { service: 'chat', name: 'p-h100', role: 'prefill', gpuType: 'H100', preference: 0, maxReplicas: 20 },
  { service: 'chat', name: 'd-h20', role: 'decode', gpuType: 'H20', preference: 0, maxReplicas: 20 },
  { service: 'chat', name: 'd-h100', role: 'decode', gpuType: 'H100', preference: 1, maxReplicas: 1 },
  { service: 'batch', name: 'p', role: 'prefill', gpuType: 'H100', preference: 0, maxReplicas: 100 },
  { service: 'batch', name: 'd', role: 'decode', gpuType: 'H100', preference: 0, maxReplicas: 100 },
];
const CONFIG = {
  namespace: ENGINE_NS,
  services: [
    { service: 'chat', priority: 10, affinity: 's1', ratio: { prefill: 1, decode: 1 }, pools: POOLS.filter((p) => p.service === 'chat').map(({ service: _s, ...p }) => ({ ...p, gpusPerReplica: 8 })) },
    { service: 'batch', priority: 1, affinity: 'none', ratio: { prefill: 1, decode: 1 }, pools: POOLS.filter((p) => p.service === 'batch').map(({ service: _s, ...p }) => ({ ...p, gpusPerReplica: 8 })) },
  ],
};

// s2-a: a1..a4 all H100 (low tier). s2-b: b1 H100, b2 H20, b3 L20 (medium). s2-c: c1, c2 mix H100/H20 (high), c3 L20.
interface Rack { s2: string; s1: string; types: string[] }
const RACKS: Rack[] = [
  ...['a1', 'a2', 'a3', 'a4'].map((s1) => ({ s2: 's2-a', s1, types: ['H100'] })),
  { s2: 's2-b', s1: 'b1', types: ['H100'] }, { s2: 's2-b', s1: 'b2', types: ['H20'] }, { s2: 's2-b', s1: 'b3', types: ['L20'] },
  { s2: 's2-c', s1: 'c1', types: ['H100', 'H20'] }, { s2: 's2-c', s1: 'c2', types: ['H100', 'H20'] }, { s2: 's2-c', s1: 'c3', types: ['L20'] },
];
const HIGH_TIER_S1 = new Set(['c1', 'c2']);

function nodes(): object[] {
  return RACKS.flatMap((r) => Array.from({ length: 10 }, (_, i) => topologyNode(`${r.s1}-${i}`, r.types[i % r.types.length]!, r.s1, r.s2)));
}

const deployment = (p: Pool): object => slotDeployment(NS, p.service, p);

interface KNode { metadata: { name: string; labels: Record<string, string> } }
interface KPod { metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string; annotations?: Record<string, string> }; spec: { nodeName?: string }; status: { phase: string; conditions?: { type: string; status: string }[] } }

describe('e2e: baton engine places P/D slots by switch affinity, pool fallback and the ratio guard (real control plane, 100 kwok GPU nodes)', function () {
  this.timeout(600_000);
  let cluster: Cluster | undefined;
  let config: EngineConfig;
  let demandFile = '';
  let configFile = '';
  let kc: k8s.KubeConfig;
  let engine: Engine | undefined;
  const children: ChildProcess[] = [];
  let failed = false;

  const api = () => cluster!.api;
  const setDemand = (d: Record<string, Units>) => writeFileSync(demandFile, JSON.stringify({ services: d }));
  const listNodes = async () => new Map((await api().get<{ items: KNode[] }>('/api/v1/nodes')).items.map((n) => [n.metadata.name, n]));
  const livePods = async () => (await api().get<{ items: KPod[] }>(`/api/v1/namespaces/${NS}/pods`)).items.filter((p) => p.spec.nodeName && p.status.phase !== 'Succeeded' && p.status.phase !== 'Failed');
  const desired = async (): Promise<Record<string, Record<string, number>>> => {
    const cm = await api().get<{ data: Record<string, string> }>(`/api/v1/namespaces/${ENGINE_NS}/configmaps/baton-plan`);
    return JSON.parse(cm.data['desired.json']!);
  };
  const plan = async () => JSON.parse((await api().get<{ data: Record<string, string> }>(`/api/v1/namespaces/${ENGINE_NS}/configmaps/baton-plan`)).data['plan.json']!) as {
    services: { service: string; pools: Record<string, number>; groups: { id: string; tier: number; replicas: Record<string, number> }[] }[];
    reasons: { code: string; service: string; role?: string; message: string }[];
  };

  /** The HPA's part: each Deployment's replicas = the engine's desired replicas for its pool. */
  async function hpaSync(): Promise<void> {
    const want = await desired();
    for (const p of POOLS) {
      const n = want[p.service]?.[p.name] ?? 0;
      const r = await api().request('PATCH', `/apis/apps/v1/namespaces/${NS}/deployments/${p.service}-${p.name}/scale`, { spec: { replicas: n } }, 'application/merge-patch+json');
      assert.equal(r.status, 200, r.text);
    }
  }

  /** The invariant that must hold at every instant: no bound pod's node lacks its slot label (value ≥ pods there). */
  async function assertNoPodLostItsLabel(): Promise<void> {
    const [ns, pods] = await Promise.all([listNodes(), livePods()]);
    const per = new Map<string, number>();
    for (const p of pods) {
      const key = slotLabelKey(p.metadata.labels!['baton.io/service']!, p.metadata.labels!['baton.io/pool']!);
      per.set(`${p.spec.nodeName}|${key}`, (per.get(`${p.spec.nodeName}|${key}`) ?? 0) + 1);
    }
    for (const [k, n] of per) {
      const [node, key] = k.split('|') as [string, string];
      const v = Number(ns.get(node)?.metadata.labels[key] ?? 0);
      assert.ok(v >= n, `${n} pods of ${key} on ${node} but the label says ${v}`);
    }
  }

  /** Runs the in-process engine and the HPA stand-in until the fleet stops moving and every pod is Running and Ready. */
  /**
   * Until pods = desired, all Ready, and desired unchanged for `holdMs` (in-process cycles run one per check; a child
   * engine cycles on its own every second and may still be lifting a ready-guard cap, so it gets a few cycles).
   */
  async function converge(what: string, cycle: () => Promise<unknown>, holdMs = 0): Promise<void> {
    let last = '';
    let since = 0;
    await waitFor(what, 60_000, async () => {
      await cycle();
      await assertNoPodLostItsLabel();
      await hpaSync();
      await assertNoPodLostItsLabel();
      const pods = await livePods();
      const want = await desired();
      const counts: Record<string, number> = {};
      for (const p of pods) if (!p.metadata.deletionTimestamp) counts[`${p.metadata.labels!['baton.io/service']}/${p.metadata.labels!['baton.io/pool']}`] = (counts[`${p.metadata.labels!['baton.io/service']}/${p.metadata.labels!['baton.io/pool']}`] ?? 0) + 1;
      const all = (await api().get<{ items: KPod[] }>(`/api/v1/namespaces/${NS}/pods`)).items;
      const settled = POOLS.every((p) => (counts[`${p.service}/${p.name}`] ?? 0) === (want[p.service]?.[p.name] ?? 0))
        && all.every((p) => !p.metadata.deletionTimestamp && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      const key = JSON.stringify(want);
      if (!settled || key !== last) since = Date.now();
      const stable = settled && key === last && Date.now() - since >= holdMs;
      last = settled ? key : '';
      if (!stable) throw new Error(`want ${key}, pods ${JSON.stringify(counts)}, not ready/terminating: ${all.filter((p) => p.metadata.deletionTimestamp || !p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length}`);
      return true;
    }, 500);
  }

  /** Placement assertions on the pods as bound: chat's groups stay inside one S1 at the ratio; batch avoids c1/c2 unless forced. */
  async function assertPlacement(o: { batchMayUseHighTier: boolean }): Promise<{ chatGroups: Map<string, Units>; batchByS1: Map<string, number> }> {
    const [ns, pods] = await Promise.all([listNodes(), livePods()]);
    const chatGroups = new Map<string, Units>();
    const batchByS1 = new Map<string, number>();
    for (const p of pods) {
      const node = ns.get(p.spec.nodeName!)!;
      const s1 = node.metadata.labels['baton.io/s1']!;
      const role = p.metadata.labels!['baton.io/role'] as 'prefill' | 'decode';
      if (p.metadata.labels!['baton.io/service'] === 'chat') {
        const g = chatGroups.get(s1) ?? { prefill: 0, decode: 0 };
        g[role]++;
        chatGroups.set(s1, g);
      } else {
        batchByS1.set(s1, (batchByS1.get(s1) ?? 0) + 1);
      }
    }
    for (const [s1, g] of chatGroups) {
      assert.ok(g.prefill > 0 && g.decode > 0, `chat group under ${s1} has only one role: ${JSON.stringify(g)}`);
      assert.ok(Math.abs(g.prefill - g.decode) <= 1, `chat group under ${s1} is off the 1:1 ratio by more than one replica: ${JSON.stringify(g)}`);
    }
    if (!o.batchMayUseHighTier) for (const s1 of batchByS1.keys()) assert.ok(!HIGH_TIER_S1.has(s1), `batch (no affinity) took S1-heterogeneous ${s1} while lower tiers have room: ${JSON.stringify([...batchByS1])}`);
    return { chatGroups, batchByS1 };
  }

  function spawnEngine(identity: string, extra: string[] = []): ChildProcess {
    const entry = fileURLToPath(new URL('../../cli/commands/engine.js', import.meta.url));
    const log = openSync(join(cluster!.runDir, `engine-${identity}.log`), 'a');
    const script = `import(${JSON.stringify(entry)}).then((m) => m.engineCommand().parseAsync(process.argv.slice(1), { from: 'user' }))`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, '--', '--config', configFile, '--demand', demandFile, '--kubeconfig', cluster!.kubeconfig, '--interval', '1', '--lease-duration', '4', '--identity', identity, ...extra], { stdio: ['ignore', log, log] });
    closeSync(log);
    children.push(child);
    return child;
  }

  before(async function () {
    this.timeout(3_600_000); // a cold build of the control plane binaries
    cluster = await startCluster({ log: () => undefined });
    await cluster.apply([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ENGINE_NS } },
      ...nodes(),
    ]);
    await cluster.apply(POOLS.map(deployment));
    await waitForNodesReady(api(), 100);
    configFile = join(cluster.runDir, 'engine.json');
    demandFile = join(cluster.runDir, 'demand.json');
    writeFileSync(configFile, JSON.stringify(CONFIG));
    config = parseEngineConfig(CONFIG, 'engine.json');
    kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    engine = new Engine({ config, kubeconfig: kc, demandFile, identity: 'in-process', leaseDurationS: 4, log: (l) => process.stderr.write(l + '\n') });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
    // A test that failed half-way must not leave a child engine holding the lease for the next one.
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await engine?.stop().catch(() => undefined);
    if (failed && cluster) process.stderr.write(cluster.logTails(15) + '\n');
    await cluster?.stop(failed);
  });

  it('places a first fleet: chat in the S1s that mix its GPU types, batch in the homogeneous low tier', async () => {
    setDemand({ chat: { prefill: 3, decode: 3 }, batch: { prefill: 4, decode: 4 } });
    await converge('first fleet', () => engine!.cycleOnce());
    const { chatGroups, batchByS1 } = await assertPlacement({ batchMayUseHighTier: false });
    assert.deepEqual([...chatGroups.keys()].every((s1) => HIGH_TIER_S1.has(s1)), true, JSON.stringify([...chatGroups]));
    assert.ok([...batchByS1.keys()].every((s1) => s1.startsWith('a')), `batch outside the low tier: ${JSON.stringify([...batchByS1])}`);
    const want = await desired();
    assert.deepEqual(want, { batch: { p: 4, d: 4 }, chat: { 'p-h100': 3, 'd-h20': 3, 'd-h100': 0 } });
  });

  it('scales up: batch fills the low tier, then the medium one, never the S1-heterogeneous switches', async () => {
    setDemand({ chat: { prefill: 8, decode: 8 }, batch: { prefill: 22, decode: 22 } });
    await converge('scale-up', () => engine!.cycleOnce());
    const { batchByS1 } = await assertPlacement({ batchMayUseHighTier: false });
    const inA = [...batchByS1].filter(([s]) => s.startsWith('a')).reduce((a, [, n]) => a + n, 0);
    assert.equal(inA, 40, 'the whole low tier first');
    assert.equal(batchByS1.get('b1'), 4);
  });

  it('a pool runs out: decode falls back to its H100 pool, then prefill is capped to keep the ratio', async () => {
    setDemand({ chat: { prefill: 12, decode: 12 }, batch: { prefill: 22, decode: 22 } });
    await converge('exhaustion', () => engine!.cycleOnce());
    await assertPlacement({ batchMayUseHighTier: false });
    const want = await desired();
    assert.deepEqual(want.chat, { 'p-h100': 11, 'd-h20': 10, 'd-h100': 1 });
    const p = await plan();
    const chat = p.reasons.filter((r) => r.service === 'chat');
    assert.ok(chat.some((r) => r.code === 'pool-fallback' && /preferred pool d-h20 exhausted/.test(r.message)), JSON.stringify(chat));
    assert.ok(chat.some((r) => r.code === 'capped' && r.role === 'prefill' && /^capped: decode cannot be placed → prefill capped/.test(r.message)), JSON.stringify(chat));
    const events = await api().get<{ items: { reason: string; type: string; message: string }[] }>(`/api/v1/namespaces/${ENGINE_NS}/events`);
    assert.ok(events.items.some((e) => e.reason === 'Capped' && e.type === 'Warning'), 'a Warning Event says prefill was capped');
  });

  it('scales down: precious groups shrink first, drained pods go before their slots, no running pod loses its label', async () => {
    setDemand({ chat: { prefill: 4, decode: 4 }, batch: { prefill: 6, decode: 6 } });
    let sawDrainMark = false;
    await converge('scale-down', async () => {
      await engine!.cycleOnce();
      const pods = await livePods();
      if (pods.some((x) => x.metadata.annotations?.['controller.kubernetes.io/pod-deletion-cost'] === '-1000')) sawDrainMark = true;
    });
    assert.ok(sawDrainMark, 'pods to remove were marked with pod-deletion-cost first');
    const { chatGroups, batchByS1 } = await assertPlacement({ batchMayUseHighTier: false });
    assert.ok(!batchByS1.has('b1'), `batch released the medium tier before the low one: ${JSON.stringify([...batchByS1])}`);
    assert.ok(!chatGroups.has('c1'), `chat released its high-tier groups first: ${JSON.stringify([...chatGroups])}`);
    // Every label now matches the plan exactly (no leftover slots once the pods are gone).
    const ns = await listNodes();
    const pods = await livePods();
    let labelled = 0;
    for (const n of ns.values()) for (const [k, v] of Object.entries(n.metadata.labels)) if (k.startsWith('baton.io/slot.')) labelled += Number(v);
    assert.equal(labelled, pods.length);
  });

  it('a killed engine mid-transition: the restarted one resumes from the cluster and converges', async () => {
    await engine!.stop(); // release the lease so the child can lead
    setDemand({ chat: { prefill: 6, decode: 6 }, batch: { prefill: 12, decode: 12 } });
    const slotLabels = async () => JSON.stringify([...(await listNodes()).values()].map((n) => Object.entries(n.metadata.labels).filter(([k]) => k.startsWith('baton.io/slot.')).sort()));
    const before = await slotLabels();
    const first = spawnEngine('e1');
    // Kill it as soon as it has started moving the fleet (its first label writes), before the HPAs caught up.
    await waitFor('e1 starts the transition', 30_000, async () => ((await slotLabels()) !== before ? true : undefined), 20);
    first.kill('SIGKILL');
    const hpasCaughtUp = JSON.stringify(await desired()).includes('"p":12');
    spawnEngine('e2');
    // e2 must wait out e1's lease (4 s), then take over from whatever e1 left behind.
    await waitFor('e2 takes the lease over', 30_000, async () => {
      const lease = await api().get<{ spec: { holderIdentity: string } }>(`/apis/coordination.k8s.io/v1/namespaces/${ENGINE_NS}/leases/baton-engine`);
      return lease.spec.holderIdentity === 'e2' ? true : undefined;
    }, 200);
    process.stderr.write(`      (e1 killed ${hpasCaughtUp ? 'after' : 'before'} it published the new desired replicas)\n`);
    await converge('restart converges', async () => undefined, 4000);
    await assertPlacement({ batchMayUseHighTier: false });
    assert.deepEqual(await desired(), { batch: { p: 12, d: 12 }, chat: { 'p-h100': 6, 'd-h20': 5, 'd-h100': 1 } });
    const lease = await api().get<{ spec: { holderIdentity: string } }>(`/apis/coordination.k8s.io/v1/namespaces/${ENGINE_NS}/leases/baton-engine`);
    assert.equal(lease.spec.holderIdentity, 'e2');
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await waitFor('engine children exit', 20_000, () => (children.every((c) => c.exitCode !== null || c.signalCode !== null) ? true : undefined));
  });

  it('two engines at once: only the lease holder writes; an advisory engine never writes', async () => {
    const a = new Engine({ config, kubeconfig: kc, demandFile, identity: 'twin-a', leaseDurationS: 4, log: () => undefined });
    const b = new Engine({ config, kubeconfig: kc, demandFile, identity: 'twin-b', leaseDurationS: 4, log: () => undefined });
    const adv = new Engine({ config, kubeconfig: kc, demandFile, identity: 'adv', advisory: true, port: 0, planFile: join(cluster!.runDir, 'plan.json'), log: () => undefined });
    await adv.start(); // serves /plan and /metrics on 127.0.0.1 (its loop cycles too: advisory, so it writes nothing)
    // Wait out the lease of the SIGTERMed e2 if it could not release it.
    await waitFor('a leader among the twins', 15_000, async () => {
      const [ra, rb] = await Promise.all([a.cycleOnce(), b.cycleOnce()]);
      return ra.leader || rb.leader ? true : undefined;
    }, 500);
    setDemand({ chat: { prefill: 4, decode: 4 }, batch: { prefill: 16, decode: 16 } });
    let leaderWrites = 0;
    for (let i = 0; i < 4; i++) {
      const [ra, rb, rv] = await Promise.all([a.cycleOnce(), b.cycleOnce(), adv.cycleOnce()]);
      assert.ok(ra.leader !== rb.leader, `exactly one leader (a: ${ra.leader}, b: ${rb.leader})`);
      const follower = ra.leader ? rb : ra;
      assert.equal(follower.labelPatches + follower.costPatches, 0, 'the follower wrote');
      assert.equal(rv.leader, false);
      assert.equal(rv.labelPatches + rv.costPatches, 0, 'the advisory engine wrote');
      assert.deepEqual(rv.plan.services.map((s) => s.pools), (ra.leader ? ra : rb).plan.services.map((s) => s.pools), 'the advisory plan is the same plan');
      leaderWrites += (ra.leader ? ra : rb).labelPatches;
      await hpaSync();
      await assertNoPodLostItsLabel();
    }
    assert.ok(leaderWrites > 0, 'the leader moved the fleet');
    const served = (await (await fetch(`${adv.url}/plan`)).json()) as { desired: Record<string, Record<string, number>>; slots: unknown[] };
    assert.deepEqual(served.desired, JSON.parse(readFileSync(join(cluster!.runDir, 'plan.json'), 'utf8')).desired);
    assert.ok(served.slots.length > 0);
    const metrics = await (await fetch(`${adv.url}/metrics`)).text();
    assert.match(metrics, /baton_engine_desired_replicas\{service="batch",role="decode",pool="d"\} 16/);
    assert.match(metrics, /baton_engine_advisory 1/);
    await converge('twins converge', async () => {
      const [ra, rb] = await Promise.all([a.cycleOnce(), b.cycleOnce()]);
      assert.ok(ra.leader !== rb.leader);
    });
    await assertPlacement({ batchMayUseHighTier: false });
    await Promise.all([a.stop(), b.stop(), adv.stop()]);
  });
});
