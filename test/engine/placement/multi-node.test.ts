// Multi-node replicas (a LeaderWorkerSet group of `podsPerReplica` pods): capacity, GPU counts and published replicas
// count groups, slots count pods; every group's pods sit under one switch (S1, else S2); a P/D pair of groups shares the
// service's S1 when it asks for it; scale-in removes whole groups.
import assert from 'node:assert/strict';
import fc from '../../support/fast-check.js';
import { leadLabelKey, planPlacement, slotLabelKey, type NodeInfo, type PlacementPlan, type PlacementPool, type PodInfo, type ServiceDemand, type ServicePlacementSpec } from '../../../engine/placement/index.js';
import { labelPatches } from '../../../engine/sidecar/actuate.js';
import { node, pool, rack, service, snapshot } from '../placement-helpers.js';

/** Pods per switch of one pool: `{s1: {a1: 2, …}, s2: {…}}`. */
function podsBySwitch(plan: PlacementPlan, nodes: NodeInfo[], svc: string, poolName: string): { s1: Record<string, number>; s2: Record<string, number> } {
  const out = { s1: {} as Record<string, number>, s2: {} as Record<string, number> };
  for (const s of plan.slots) {
    if (s.service !== svc || s.pool !== poolName || s.count === 0) continue;
    const n = nodes.find((x) => x.name === s.node)!;
    out.s1[n.labels['baton.io/s1']!] = (out.s1[n.labels['baton.io/s1']!] ?? 0) + s.count;
    out.s2[n.labels['baton.io/s2']!] = (out.s2[n.labels['baton.io/s2']!] ?? 0) + s.count;
  }
  return out;
}

/** Group leaders per S1 of one pool. */
function leadersByS1(plan: PlacementPlan, nodes: NodeInfo[], svc: string, poolName: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of plan.slots) {
    if (s.service !== svc || s.pool !== poolName || !s.leaders) continue;
    assert.ok(s.leaders <= s.count, `a leader slot is one of the node's slots: ${JSON.stringify(s)}`);
    const sw = nodes.find((x) => x.name === s.node)!.labels['baton.io/s1']!;
    out[sw] = (out[sw] ?? 0) + s.leaders;
  }
  return out;
}

/** The plan as the cluster would hold it next cycle: slot labels written, one Ready pod per slot. */
function applied(nodes: NodeInfo[], plan: PlacementPlan, specs: ServicePlacementSpec[]): { nodes: NodeInfo[]; pods: PodInfo[] } {
  const labelled = nodes.map((n) => ({ ...n, labels: { ...n.labels } }));
  const pods: PodInfo[] = [];
  for (const s of plan.slots) {
    if (s.count === 0) continue;
    const n = labelled.find((x) => x.name === s.node)!;
    n.labels[slotLabelKey(s.service, s.pool)] = String(s.count);
    if (s.leaders) n.labels[leadLabelKey(s.service, s.pool)] = String(s.leaders);
    const p = specs.find((x) => x.service === s.service)!.pools.find((x) => x.name === s.pool)!;
    for (let k = 0; k < s.count; k++) {
      const pod: PodInfo = { name: `${s.service}-${s.pool}-${s.node}-${k}`, node: s.node, gpus: p.gpusPerReplica / (p.podsPerReplica ?? 1), service: s.service, pool: s.pool, ready: true };
      if (k < (s.leaders ?? 0)) pod.leader = true;
      pods.push(pod);
    }
  }
  return { nodes: labelled, pods };
}

const group8 = (o: Partial<PlacementPool> = {}) => pool('d', 'decode', 'H200', { gpusPerReplica: 16, podsPerReplica: 2, ...o });

describe('placement: multi-node replicas (groups of pods)', () => {
  it('a group of 2 pods × 8 GPUs takes two nodes under one S1, skipping an S1 with room for only one pod', () => {
    // a1 has one free H200 node (the other is full of someone else's pods), a2 has three.
    const nodes = [...rack('sA', 'a1', ['H200'], 2), ...rack('sA', 'a2', ['H200'], 3), ...rack('sA', 'p1', ['H100'], 2)];
    const foreign: PodInfo = { name: 'x/other', node: 'a1-0', gpus: 8 };
    const spec = service('chat', { pools: [pool('p', 'prefill', 'H100'), group8()] });
    const plan = planPlacement(snapshot(nodes, [foreign]), [spec], [{ service: 'chat', units: { prefill: 1, decode: 1 } }]);
    const by = podsBySwitch(plan, nodes, 'chat', 'd');
    assert.deepEqual(by.s1, { a2: 2 }, JSON.stringify(plan.slots));
    assert.deepEqual(leadersByS1(plan, nodes, 'chat', 'd'), { a2: 1 }, 'one leader slot, in the group\'s switch');
    assert.equal(plan.slots.find((x) => x.pool === 'p')!.leaders, undefined, 'single-pod pools have no leader slots');
    assert.equal(plan.services[0]!.pools.d, 1, 'one replica = one group');
    assert.deepEqual(plan.services[0]!.units, { prefill: 1, decode: 1 });
    assert.deepEqual(plan.services[0]!.groups[0]!.replicas, { p: 1, d: 1 });
  });

  it('falls back to one S2 when no S1 has room for the whole group, and never spreads wider', () => {
    // Each S1 has one free node; sA's two S1s together fit a group, sB has one S1 only.
    const nodes = [node('a1-0', 'H200', 'a1', 'sA'), node('a2-0', 'H200', 'a2', 'sA'), node('b1-0', 'H200', 'b1', 'sB'), ...rack('sA', 'p1', ['H100'], 2)];
    const spec = service('chat', { pools: [pool('p', 'prefill', 'H100'), group8()] });
    const plan = planPlacement(snapshot(nodes), [spec], [{ service: 'chat', units: { prefill: 2, decode: 2 } }]);
    const by = podsBySwitch(plan, nodes, 'chat', 'd');
    assert.deepEqual(by.s2, { sA: 2 }, 'one group under sA; the second cannot span sA and sB');
    assert.equal(plan.services[0]!.pools.d, 1);
    assert.equal(plan.services[0]!.pools.p, 1, 'prefill held at the ratio');
    assert.ok(plan.reasons.some((r) => r.code === 'capped' || r.code === 'unplaced'), JSON.stringify(plan.reasons));
  });

  it('with S1 affinity, each P/D pair of groups lands under one leaf switch', () => {
    const nodes = [...rack('sA', 'a1', ['H100', 'H200'], 8), ...rack('sA', 'a2', ['H100', 'H200'], 8)];
    const spec = service('chat', { affinity: 's1', pools: [pool('p', 'prefill', 'H100', { gpusPerReplica: 16, podsPerReplica: 2 }), group8()] });
    const plan = planPlacement(snapshot(nodes), [spec], [{ service: 'chat', units: { prefill: 3, decode: 3 } }]);
    for (const g of plan.services[0]!.groups) assert.equal(g.replicas.p, g.replicas.d, `pair in ${g.id}: ${JSON.stringify(g.replicas)}`);
    const p = podsBySwitch(plan, nodes, 'chat', 'p').s1;
    const d = podsBySwitch(plan, nodes, 'chat', 'd').s1;
    assert.deepEqual(p, d, 'prefill and decode groups share their S1');
    assert.deepEqual(plan.services[0]!.pools, { p: 3, d: 3 });
    for (const c of Object.values(d)) assert.equal(c % 2, 0, 'whole groups per S1');
    assert.deepEqual(leadersByS1(plan, nodes, 'chat', 'd'), Object.fromEntries(Object.entries(d).map(([k, c]) => [k, c / 2])), 'one leader per group, in its S1');
  });

  it('scale-in removes whole groups: pods leave two at a time and every switch keeps whole groups', () => {
    const nodes = [...rack('sA', 'a1', ['H200'], 4), ...rack('sA', 'a2', ['H200'], 4), ...rack('sA', 'p1', ['H100'], 8)];
    const spec = service('chat', { pools: [pool('p', 'prefill', 'H100'), group8()] });
    const first = planPlacement(snapshot(nodes), [spec], [{ service: 'chat', units: { prefill: 4, decode: 4 } }]);
    assert.equal(first.services[0]!.pools.d, 4);
    const now = applied(nodes, first, [spec]);
    const second = planPlacement(snapshot(now.nodes, now.pods), [spec], [{ service: 'chat', units: { prefill: 1, decode: 1 } }]);
    assert.deepEqual(second.services[0]!.pools, { p: 1, d: 1 });
    const kept = podsBySwitch(second, nodes, 'chat', 'd');
    assert.deepEqual(Object.values(kept.s1), [2], `one whole group left: ${JSON.stringify(kept)}`);
    assert.deepEqual(Object.values(leadersByS1(second, nodes, 'chat', 'd')), [1], 'its leader slot stays; the others go with their groups');
    assert.ok(second.slots.filter((x) => x.pool === 'd' && x.leaders).every((x) => Object.keys(kept.s1).includes(nodes.find((n) => n.name === x.node)!.labels['baton.io/s1']!)));
    assert.equal(second.slots.filter((s) => s.pool === 'd').reduce((a, s) => a + s.pods - s.count, 0), 6, 'six pods (three groups) drain');
  });

  it('counts held groups from pods: a group half created is one replica, not half of one', () => {
    const nodes = [...rack('sA', 'a1', ['H200'], 4), ...rack('sA', 'p1', ['H100'], 2)];
    const spec = service('chat', { pools: [pool('p', 'prefill', 'H100'), group8()] });
    const pods: PodInfo[] = [
      { name: 'p-0', node: 'p1-0', gpus: 8, service: 'chat', pool: 'p', ready: true },
      { name: 'd-0', node: 'a1-0', gpus: 8, service: 'chat', pool: 'd', ready: true },
    ];
    const plan = planPlacement(snapshot(nodes, pods), [spec], []);
    assert.equal(plan.services[0]!.pools.d, 1);
  });

  it('writes a lead label beside the slot label on the leader\'s node, and keeps it while a leader pod is there', () => {
    const nodes = [...rack('sA', 'a1', ['H200'], 2), ...rack('sA', 'p1', ['H100'], 1)];
    const spec = service('chat', { pools: [pool('p', 'prefill', 'H100'), group8()] });
    const plan = planPlacement(snapshot(nodes), [spec], [{ service: 'chat', units: { prefill: 1, decode: 1 } }]);
    const patches = labelPatches(snapshot(nodes), plan, [spec]);
    const lead = leadLabelKey('chat', 'd');
    assert.equal(lead, 'baton.io/slot.chat.d.lead');
    assert.deepEqual(patches.filter((x) => x.labels[lead]).map((x) => x.node), ['a1-0']);
    assert.deepEqual(patches.filter((x) => x.labels[slotLabelKey('chat', 'd')]).map((x) => x.node).sort(), ['a1-0', 'a1-1']);
    // Demand gone, the leader still running: its lead label stays until it is.
    const now = applied(nodes, plan, [spec]);
    const idle = planPlacement(snapshot(now.nodes, now.pods), [spec], [{ service: 'chat', units: { prefill: 0, decode: 0 } }]);
    assert.deepEqual(labelPatches(snapshot(now.nodes, now.pods), idle, [spec]).filter((x) => lead in x.labels), []);
    const gone = now.pods.filter((x) => x.pool !== 'd');
    assert.deepEqual(labelPatches(snapshot(now.nodes, gone), idle, [spec]).filter((x) => lead in x.labels).map((x) => [x.node, x.labels[lead]]), [['a1-0', null]]);
  });

  it('refuses a pool whose podsPerReplica is not a whole number ≥ 1', () => {
    const spec = service('chat', { pools: [pool('p', 'prefill', 'H100'), group8({ podsPerReplica: 1.5 })] });
    assert.throws(() => planPlacement(snapshot([]), [spec], []), /pools\[1\] \(d\): podsPerReplica must be a whole number ≥ 1, got 1\.5/);
  });

  it('property: groups stay whole under one switch and GPUs are never oversubscribed, growing and shrinking', () => {
    const arb = fc.record({
      s2s: fc.array(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }),
      size: fc.constantFrom(1, 2, 4), gpus: fc.constantFrom(4, 8), affinity: fc.constantFrom('none' as const, 's1' as const, 's2' as const),
      units: fc.array(fc.integer({ min: 0, max: 10 }), { minLength: 2, maxLength: 4 }),
    });
    fc.assert(fc.property(arb, ({ s2s, size, gpus, affinity, units }) => {
      const nodes: NodeInfo[] = [];
      s2s.forEach((s1s, a) => s1s.forEach((count, b) => {
        for (let i = 0; i < count; i++) nodes.push(node(`n${a}-${b}-${i}`, i % 2 ? 'H200' : 'H100', `s1-${a}-${b}`, `s2-${a}`));
      }));
      const specs = [service('svc', { affinity, pools: [pool('p', 'prefill', 'H100', { gpusPerReplica: gpus * size, podsPerReplica: size }), group8({ gpusPerReplica: gpus * size, podsPerReplica: size })] })];
      let state = { nodes, pods: [] as PodInfo[] };
      for (const u of units) {
        const demand: ServiceDemand[] = [{ service: 'svc', units: { prefill: u, decode: u } }];
        const plan = planPlacement(snapshot(state.nodes, state.pods), specs, demand);
        const used = new Map<string, number>();
        for (const s of plan.slots) used.set(s.node, (used.get(s.node) ?? 0) + Math.max(s.count, s.pods) * gpus);
        for (const [n, g] of used) assert.ok(g <= 8, `${n} holds ${g} GPUs`);
        for (const poolName of ['p', 'd']) {
          const by = podsBySwitch(plan, nodes, 'svc', poolName);
          if (size > 1) assert.equal(Object.values(leadersByS1(plan, nodes, 'svc', poolName)).reduce((a, b) => a + b, 0), plan.services[0]!.pools[poolName], `${poolName}: one leader slot per group`);
          const pods = Object.values(by.s2).reduce((a, b) => a + b, 0);
          assert.equal(pods, plan.services[0]!.pools[poolName]! * size, `${poolName}: ${pods} pods for ${plan.services[0]!.pools[poolName]} groups of ${size}`);
          for (const [sw, c] of Object.entries(by.s2)) assert.equal(c % size, 0, `${poolName}: ${c} pods under ${sw} (groups of ${size})`);
        }
        state = applied(nodes, plan, specs);
        // Draining pods leave once their slots are gone (the HPA scale-down removed them).
      }
    }), { numRuns: 150 });
  });
});
