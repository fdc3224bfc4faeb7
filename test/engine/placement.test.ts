import assert from 'node:assert/strict';
import { buildTopology, describeSubgroups, planPlacement, slotLabelKey, parseSlotLabel, type PlacementPlan, type PodInfo } from '../../engine/placement/index.js';
import { batonPod, node, pool, rack, service, snapshot } from './placement-helpers.js';

const groupsOf = (plan: PlacementPlan, svc: string) => plan.services.find((s) => s.service === svc)!.groups;
const slotsOf = (plan: PlacementPlan, svc: string) => plan.slots.filter((s) => s.service === svc);
const nodesOf = (plan: PlacementPlan, svc: string) => new Set(slotsOf(plan, svc).filter((s) => s.count > 0).map((s) => s.node));
const codes = (plan: PlacementPlan, svc: string) => plan.reasons.filter((r) => r.service === svc).map((r) => r.code);

// sA: homogeneous H100 (low). sB: H100 S1 + H20 S1 (medium). sC: one S1 mixing H100 and H20 (high).
const fabric = () => [
  ...rack('sA', 'a1', ['H100'], 4), ...rack('sA', 'a2', ['H100'], 4),
  ...rack('sB', 'b1', ['H100'], 4), ...rack('sB', 'b2', ['H20'], 4),
  ...rack('sC', 'c1', ['H100', 'H20'], 4),
];

describe('placement: topology view', () => {
  it('classifies RDMA subgroups into low, medium and high tiers', () => {
    const v = buildTopology(snapshot(fabric()), []);
    const tiers = Object.fromEntries(describeSubgroups(v).map((s) => [s.id, s.tier]));
    assert.deepEqual(tiers, { 's2:sA': 0, 's2:sB': 1, 's2:sC': 2, 's1:a1': 0, 's1:a2': 0, 's1:b1': 1, 's1:b2': 1, 's1:c1': 2 });
  });

  it('deducts foreign pods and held slots from free GPUs; slots are max(label, pods)', () => {
    const spec = service('chat', { pools: [pool('p', 'prefill', 'H100', { gpusPerReplica: 2 }), pool('d', 'decode', 'H100', { gpusPerReplica: 2 })] });
    const nodes = [node('n1', 'H100', 'a1', 'sA', 8, { [slotLabelKey('chat', 'p')]: '1' }), node('n2', 'H100', 'a1', 'sA', 8)];
    const pods = [{ name: 'other', node: 'n1', gpus: 3 }, batonPod('p1', 'n2', 'chat', 'd', 2), batonPod('p2', 'n2', 'chat', 'd', 2)];
    const v = buildTopology(snapshot(nodes, pods), [spec]);
    assert.deepEqual([...v.free], [8 - 3 - 2, 8 - 4]);
    assert.equal(v.held.get('chat\u0000d')!.count.get(1), 2);
  });

  it('rejects an S1 switch that appears under two S2 switches, naming the node', () => {
    assert.throws(() => buildTopology(snapshot([node('x', 'H100', 's1', 'sA'), node('y', 'H100', 's1', 'sB')]), []), /node y: S1 switch "s1"/);
  });

  it('slot labels round-trip and overlong keys are refused', () => {
    assert.deepEqual(parseSlotLabel(slotLabelKey('chat', 'prefill-h100'), '3'), { service: 'chat', pool: 'prefill-h100', count: 3 });
    assert.equal(parseSlotLabel('baton.io/slot.chat.p', 'x'), undefined);
    assert.throws(() => slotLabelKey('s'.repeat(40), 'p'.repeat(30)), /63/);
  });
});

describe('placement: Algorithm 4 scale-out', () => {
  it('an S1-affine service keeps every slot of a group under one S1, at the ratio within one replica', () => {
    const spec = service('chat', { affinity: 's1', ratio: { prefill: 1, decode: 2 }, pools: [pool('p', 'prefill', 'H100', { gpusPerReplica: 4 }), pool('d', 'decode', 'H100', { gpusPerReplica: 4 })] });
    const plan = planPlacement(snapshot(fabric()), [spec], [{ service: 'chat', units: { prefill: 3, decode: 6 } }]);
    const groups = groupsOf(plan, 'chat');
    assert.equal(groups.length, 2, JSON.stringify(groups));
    for (const s of slotsOf(plan, 'chat')) assert.equal(`s1:${s.node.split('-')[0]}`, s.group);
    for (const g of groups) assert.ok(Math.abs(g.units.prefill * 2 - g.units.decode) <= 2, JSON.stringify(g));
    assert.deepEqual(plan.services[0]!.pools, { p: 3, d: 6 });
    assert.ok(groups.every((g) => g.tier === 0), 'low tier first');
  });

  it('a low-affinity service does not take S1-heterogeneous nodes while lower tiers have room, then spills', () => {
    const spec = service('bulk', { pools: [pool('p', 'prefill', 'H100'), pool('d', 'decode', 'H100')] });
    const small = planPlacement(snapshot(fabric()), [spec], [{ service: 'bulk', units: { prefill: 4, decode: 4 } }]);
    assert.ok([...nodesOf(small, 'bulk')].every((n) => n.startsWith('a')), [...nodesOf(small, 'bulk')].join());
    const big = planPlacement(snapshot(fabric()), [spec], [{ service: 'bulk', units: { prefill: 7, decode: 7 } }]);
    const used = [...nodesOf(big, 'bulk')];
    assert.equal(used.filter((n) => n.startsWith('a')).length, 8);
    assert.equal(used.filter((n) => n.startsWith('b1')).length, 4);
    assert.equal(used.filter((n) => n.startsWith('c')).length, 2, 'only what lower tiers could not hold');
  });

  it('an S2-affine heterogeneous service takes the medium S2 before the high one; a homogeneous one takes the low S2', () => {
    const het = service('het', { affinity: 's2', pools: [pool('p', 'prefill', 'H100'), pool('d', 'decode', 'H20')] });
    const homo = service('homo', { affinity: 's2', pools: [pool('p', 'prefill', 'H100'), pool('d', 'decode', 'H100')] });
    const plan = planPlacement(snapshot(fabric()), [het, homo], [{ service: 'het', units: { prefill: 2, decode: 2 } }, { service: 'homo', units: { prefill: 2, decode: 2 } }]);
    assert.deepEqual(groupsOf(plan, 'het').map((g) => g.id), ['s2:sB']);
    assert.deepEqual(groupsOf(plan, 'homo').map((g) => g.id), ['s2:sA']);
  });

  it('an S1-affine heterogeneous P/D service goes to the S1 that mixes its types (only that satisfies the affinity)', () => {
    const spec = service('tight', { affinity: 's1', pools: [pool('p', 'prefill', 'H100'), pool('d', 'decode', 'H20')] });
    const plan = planPlacement(snapshot(fabric()), [spec], [{ service: 'tight', units: { prefill: 2, decode: 2 } }]);
    assert.deepEqual(groupsOf(plan, 'tight').map((g) => [g.id, g.tier]), [['s1:c1', 2]]);
  });

  it('grows existing groups before opening new ones in the same tier', () => {
    const spec = service('chat', { affinity: 's1', pools: [pool('p', 'prefill', 'H100'), pool('d', 'decode', 'H100')] });
    const nodes = fabric();
    const label = (name: string, p: string) => (nodes.find((n) => n.name === name)!.labels[slotLabelKey('chat', p)] = '1');
    label('a2-0', 'p');
    label('a2-1', 'd');
    const plan = planPlacement(snapshot(nodes), [spec], [{ service: 'chat', units: { prefill: 2, decode: 2 } }]);
    assert.deepEqual(groupsOf(plan, 'chat').map((g) => g.id), ['s1:a2']);
  });

  it('virtual allocation: two services in one cycle never share a GPU', () => {
    const a = service('a', { priority: 2, pools: [pool('p', 'prefill', 'H100', { gpusPerReplica: 3 }), pool('d', 'decode', 'H100', { gpusPerReplica: 3 })] });
    const b = service('b', { priority: 1, pools: [pool('p', 'prefill', 'H100', { gpusPerReplica: 3 }), pool('d', 'decode', 'H100', { gpusPerReplica: 3 })] });
    const nodes = rack('s', 'x', ['H100'], 3);
    const plan = planPlacement(snapshot(nodes), [a, b], [{ service: 'a', units: { prefill: 2, decode: 2 } }, { service: 'b', units: { prefill: 2, decode: 2 } }]);
    const used = new Map<string, number>();
    for (const s of plan.slots) used.set(s.node, (used.get(s.node) ?? 0) + s.count * 3);
    for (const [n, g] of used) assert.ok(g <= 8, `${n} holds ${g} GPUs`);
    assert.deepEqual(plan.services.find((s) => s.service === 'a')!.pools, { p: 2, d: 2 });
    assert.deepEqual(plan.services.find((s) => s.service === 'b')!.pools, { p: 1, d: 1 }, '6 slots of 3 GPUs fit on three 8-GPU nodes');
  });

  it('is a pure function of the snapshot: same input, same plan; the input is not mutated', () => {
    const spec = service('chat', { affinity: 's2', pools: [pool('p', 'prefill', 'H100'), pool('d', 'decode', 'H20')] });
    const snap = snapshot(fabric());
    const before = JSON.stringify(snap);
    const p1 = planPlacement(snap, [spec], [{ service: 'chat', units: { prefill: 3, decode: 3 } }]);
    const p2 = planPlacement(snap, [spec], [{ service: 'chat', units: { prefill: 3, decode: 3 } }]);
    assert.deepEqual(p1, p2);
    assert.equal(JSON.stringify(snap), before);
  });
});

describe('placement: heterogeneous pools', () => {
  const pools = () => [
    pool('p-h100', 'prefill', 'H100', { preference: 0 }),
    pool('d-h20', 'decode', 'H20', { preference: 0, unitsPerReplica: 1 }),
    pool('d-h100', 'decode', 'H100', { preference: 1, unitsPerReplica: 2 }),
  ];

  it('fills the preferred pool, falls back to the next compatible one in its units, and says so', () => {
    const nodes = [...rack('s', 'x', ['H100'], 6), ...rack('s', 'y', ['H20'], 2)];
    const plan = planPlacement(snapshot(nodes), [service('chat', { pools: pools() })], [{ service: 'chat', units: { prefill: 4, decode: 4 } }]);
    assert.deepEqual(plan.services[0]!.pools, { 'p-h100': 4, 'd-h20': 2, 'd-h100': 1 });
    assert.equal(plan.services[0]!.units.decode, 4);
    const fb = plan.reasons.find((r) => r.code === 'pool-fallback')!;
    assert.equal(fb.pool, 'd-h100');
    assert.match(fb.message, /preferred pool d-h20 exhausted/);
  });

  it('respects pool maxReplicas and minReplicas like splitUnits', () => {
    const ps = pools();
    ps[1]!.maxReplicas = 1;
    ps[2]!.minReplicas = 1;
    const nodes = [...rack('s', 'x', ['H100'], 6), ...rack('s', 'y', ['H20'], 4)];
    const plan = planPlacement(snapshot(nodes), [service('chat', { pools: ps })], [{ service: 'chat', units: { prefill: 3, decode: 3 } }]);
    assert.deepEqual(plan.services[0]!.pools, { 'p-h100': 3, 'd-h20': 1, 'd-h100': 1 });
  });

  it('scarcity goes to the higher-priority service; the other falls back', () => {
    const nodes = [...rack('s', 'x', ['H100'], 8), ...rack('s', 'y', ['H20'], 2)];
    const hi = service('hi', { priority: 10, pools: pools() });
    const lo = service('lo', { priority: 1, pools: pools() });
    const plan = planPlacement(snapshot(nodes), [lo, hi], [{ service: 'lo', units: { prefill: 2, decode: 2 } }, { service: 'hi', units: { prefill: 2, decode: 2 } }]);
    assert.deepEqual(plan.services.find((s) => s.service === 'hi')!.pools, { 'p-h100': 2, 'd-h20': 2, 'd-h100': 0 });
    assert.deepEqual(plan.services.find((s) => s.service === 'lo')!.pools, { 'p-h100': 2, 'd-h20': 0, 'd-h100': 1 });
  });

  it('ratio guard: decode cannot be placed → prefill capped (scale both or neither), with the reason', () => {
    const nodes = [...rack('s', 'x', ['H100'], 10), ...rack('s', 'y', ['H20'], 2)];
    const spec = service('chat', { pools: [pool('p', 'prefill', 'H100'), pool('d', 'decode', 'H20')] });
    const plan = planPlacement(snapshot(nodes), [spec], [{ service: 'chat', units: { prefill: 6, decode: 6 } }]);
    assert.deepEqual(plan.services[0]!.pools, { p: 2, d: 2 });
    const capped = plan.reasons.find((r) => r.code === 'capped')!;
    assert.equal(capped.role, 'prefill');
    assert.match(capped.message, /^capped: decode cannot be placed → prefill capped/);
    assert.ok(codes(plan, 'chat').includes('unplaced'));
  });

  it('pool maxima bound the pair: past one role\'s maximum the other is capped at the ratio', () => {
    const nodes = rack('s', 'x', ['H100'], 10);
    const spec = service('chat', { pools: [pool('p', 'prefill', 'H100', { maxReplicas: 2 }), pool('d', 'decode', 'H100')] });
    const plan = planPlacement(snapshot(nodes), [spec], [{ service: 'chat', units: { prefill: 5, decode: 5 } }]);
    assert.deepEqual(plan.services[0]!.pools, { p: 2, d: 2 });
    assert.match(plan.reasons.find((r) => r.code === 'capped')!.message, /prefill pools are at most 2 units → decode capped/);
  });

  it('an S1-affine group never starts with one role alone', () => {
    // x has H100 only; y has H20 only: no S1 can host both roles.
    const nodes = [...rack('s', 'x', ['H100'], 4), ...rack('s', 'y', ['H20'], 4)];
    const spec = service('chat', { affinity: 's1', pools: [pool('p', 'prefill', 'H100'), pool('d', 'decode', 'H20')] });
    const plan = planPlacement(snapshot(nodes), [spec], [{ service: 'chat', units: { prefill: 2, decode: 2 } }]);
    assert.deepEqual(plan.services[0]!.pools, { p: 0, d: 0 });
    assert.equal(plan.slots.length, 0);
  });
});

describe('placement: scale-in and guards', () => {
  const spec = () => service('chat', { affinity: 's1', pools: [pool('p', 'prefill', 'H100'), pool('d', 'decode', 'H100')] });
  // Group in a1 (low) and in c1 (high, H100 nodes c1-0 and c1-2).
  const held = () => {
    const nodes = fabric();
    for (const [n, p] of [['a1-0', 'p'], ['a1-1', 'd'], ['a1-2', 'p'], ['a1-3', 'd'], ['c1-0', 'p'], ['c1-2', 'd']] as const) nodes.find((x) => x.name === n)!.labels[slotLabelKey('chat', p)] = '1';
    return nodes;
  };

  it('shrinks groups in the high tier first', () => {
    const plan = planPlacement(snapshot(held()), [spec()], [{ service: 'chat', units: { prefill: 2, decode: 2 } }]);
    assert.deepEqual(groupsOf(plan, 'chat').map((g) => g.id), ['s1:a1']);
    assert.ok(codes(plan, 'chat').includes('scale-in'));
  });

  it('keeps a node\'s slot (count 0, pods 1) while its pod drains and says so', () => {
    const pods = [batonPod('x', 'c1-0', 'chat', 'p'), batonPod('y', 'c1-2', 'chat', 'd')];
    const plan = planPlacement(snapshot(held(), pods), [spec()], [{ service: 'chat', units: { prefill: 2, decode: 2 } }]);
    const c1 = plan.slots.filter((s) => s.node.startsWith('c1'));
    assert.deepEqual(c1.map((s) => [s.node, s.count, s.pods]), [['c1-0', 0, 1], ['c1-2', 0, 1]]);
    assert.ok(codes(plan, 'chat').includes('draining'));
    assert.deepEqual(plan.services[0]!.pools, { p: 2, d: 2 });
  });

  it('releases unused (podless) slots before slots with pods', () => {
    const nodes = fabric();
    for (const [n, p] of [['a1-0', 'p'], ['a1-1', 'd'], ['a1-2', 'p'], ['a1-3', 'd']] as const) nodes.find((x) => x.name === n)!.labels[slotLabelKey('chat', p)] = '1';
    const pods = [batonPod('x', 'a1-2', 'chat', 'p'), batonPod('y', 'a1-3', 'chat', 'd')];
    const plan = planPlacement(snapshot(nodes, pods), [spec()], [{ service: 'chat', units: { prefill: 1, decode: 1 } }]);
    assert.deepEqual(plan.slots.filter((s) => s.count > 0).map((s) => s.node), ['a1-2', 'a1-3']);
  });

  it('ready guard: decode not Ready → prefill held where it is', () => {
    const pods = [batonPod('x', 'a1-0', 'chat', 'p'), batonPod('y', 'a1-1', 'chat', 'd', 8, false)];
    const nodes = fabric();
    nodes.find((x) => x.name === 'a1-0')!.labels[slotLabelKey('chat', 'p')] = '1';
    nodes.find((x) => x.name === 'a1-1')!.labels[slotLabelKey('chat', 'd')] = '1';
    const plan = planPlacement(snapshot(nodes, pods), [spec()], [{ service: 'chat', units: { prefill: 3, decode: 3 }, ready: { p: 1, d: 0 } }]);
    // Prefill held at 1; decode may run one replica ahead of it in the group, no further (scale both or neither).
    assert.deepEqual(plan.services[0]!.pools, { p: 1, d: 2 });
    const r = plan.reasons.find((x) => x.code === 'ready-guard')!;
    assert.equal(r.role, 'prefill');
    const ok = planPlacement(snapshot(nodes, pods), [spec()], [{ service: 'chat', units: { prefill: 3, decode: 3 }, ready: { p: 1, d: 1 } }]);
    assert.deepEqual(ok.services[0]!.pools, { p: 3, d: 3 });
  });

  // fast-check counterexample (seed 1059590877): decode replicas worth 1.5 units cannot shed the 1 unit asked, so only
  // prefill shrinks. It must shrink in the group where it leads, not in the smaller group where it already trails.
  it('a role that trails in a group is not shrunk past one replica of the ratio while the other role cannot shrink', () => {
    const ps1 = (name: string, t: string, s1: string) => node(name, t, s1, 's2-0');
    const spec = service('s1', { affinity: 's1', ratio: { prefill: 3, decode: 2 }, pools: [pool('p', 'prefill', 'H20', { gpusPerReplica: 1, maxReplicas: 13 }), pool('d', 'decode', 'H100', { gpusPerReplica: 1, unitsPerReplica: 1.5, maxReplicas: 6 })] });
    const nodes = [ps1('x-h100', 'H100', 'x'), ps1('x-h20', 'H20', 'x'), ps1('y-h100', 'H100', 'y'), ps1('y-h20', 'H20', 'y')];
    const pods: PodInfo[] = [];
    for (const [n, p, c] of [['x-h20', 'p', 8], ['x-h100', 'd', 3], ['y-h20', 'p', 5], ['y-h100', 'd', 3]] as const) {
      nodes.find((x) => x.name === n)!.labels[slotLabelKey('s1', p)] = String(c);
      for (let k = 0; k < c; k++) pods.push(batonPod(`${n}-${p}-${k}`, n, 's1', p, 1));
    }
    const norm = (g: { units: { prefill: number; decode: number } }) => Math.abs(g.units.prefill / 3 - g.units.decode / 2);
    const plan = planPlacement(snapshot(nodes, pods), [spec], [{ service: 's1', units: { prefill: 12, decode: 8 } }]);
    assert.deepEqual(groupsOf(plan, 's1').map((g) => [g.id, g.replicas]), [['s1:x', { p: 7, d: 3 }], ['s1:y', { p: 5, d: 3 }]]);
    for (const g of groupsOf(plan, 's1')) assert.ok(norm(g) <= 0.75 + 1e-9, JSON.stringify(g));
    // Only the trailing group exists: nowhere can take the cut, so prefill is held rather than pushed off ratio.
    const onlyY = planPlacement(snapshot(nodes.filter((n) => n.name.startsWith('y')), pods.filter((p) => p.node.startsWith('y'))), [spec], [{ service: 's1', units: { prefill: 4, decode: 4 } }]);
    assert.deepEqual(onlyY.services[0]!.pools, { p: 5, d: 3 });
  });

  it('no demand holds what is placed', () => {
    const plan = planPlacement(snapshot(held()), [spec()], []);
    assert.deepEqual(plan.services[0]!.pools, { p: 3, d: 3 });
  });

  it('bad input gets an error that names it', () => {
    assert.throws(() => planPlacement(snapshot([]), [service('Chat', { pools: [] })], []), /services\[0\] \(Chat\): service name "Chat"/);
    assert.throws(() => planPlacement(snapshot([]), [service('c', { pools: [pool('p', 'prefill', 'H100')] })], []), /no decode pool/);
    assert.throws(() => planPlacement(snapshot([]), [spec()], [{ service: 'chat', units: { prefill: -1, decode: 1 } }]), /demand for chat: prefill units/);
  });
});
