// Property tests: random fabrics, services and demands; the plan never breaks the placement invariants.
// Fixed seed for CI (test/support/fast-check.ts); BATON_FC_SEED=<int> explores other seeds.
import assert from 'node:assert/strict';
import fc from '../support/fast-check.js';
import { planPlacement, slotLabelKey, type NodeInfo, type PlacementPool, type PodInfo, type ServicePlacementSpec } from '../../engine/placement/index.js';

const TYPES = ['H100', 'H20', 'L20'];

const fabricArb = fc.array(fc.array(fc.record({ nodes: fc.integer({ min: 1, max: 5 }), types: fc.subarray(TYPES, { minLength: 1 }) }), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 })
  .map((s2s) => {
    const nodes: NodeInfo[] = [];
    s2s.forEach((s1s, a) => s1s.forEach((r, b) => {
      for (let i = 0; i < r.nodes; i++) nodes.push({ name: `n${a}-${b}-${i}`, labels: { 'baton.io/gpu-type': r.types[i % r.types.length]!, 'baton.io/s1': `s1-${a}-${b}`, 'baton.io/s2': `s2-${a}` }, allocatableGpus: 8 });
    }));
    return nodes;
  });

const poolArb = (name: string, role: 'prefill' | 'decode', preference: number) => fc.record({
  gpuType: fc.constantFrom(...TYPES), gpusPerReplica: fc.constantFrom(1, 2, 4, 8), unitsPerReplica: fc.constantFrom(1, 1.5, 2), maxReplicas: fc.integer({ min: 1, max: 30 }),
}).map((p): PlacementPool => ({ name, role, preference, minReplicas: 0, ...p }));

const serviceArb = (i: number) => fc.record({
  affinity: fc.constantFrom('none' as const, 's1' as const, 's2' as const), priority: fc.integer({ min: 0, max: 3 }),
  rp: fc.integer({ min: 1, max: 3 }), rd: fc.integer({ min: 1, max: 3 }),
  pools: fc.tuple(poolArb('p', 'prefill', 0), poolArb('d', 'decode', 0), fc.option(poolArb('d2', 'decode', 1), { nil: undefined })),
  units: fc.integer({ min: 0, max: 24 }),
}).map((s) => ({
  spec: { service: `s${i}`, priority: s.priority, affinity: s.affinity, ratio: { prefill: s.rp, decode: s.rd }, pools: s.pools.filter((p): p is PlacementPool => p !== undefined) } as ServicePlacementSpec,
  demand: { service: `s${i}`, units: { prefill: (s.units * s.rp) / s.rd, decode: s.units } },
}));

const caseArb = fc.tuple(fabricArb, fc.tuple(serviceArb(0), serviceArb(1)), fc.array(fc.integer({ min: 0, max: 24 }), { minLength: 2, maxLength: 2 }));

function checkInvariants(nodes: NodeInfo[], specs: ServicePlacementSpec[], plan: ReturnType<typeof planPlacement>, pods: PodInfo[] = []): void {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const gpus = new Map<string, number>();
  for (const s of plan.slots) {
    const spec = specs.find((x) => x.service === s.service)!;
    const pool = spec.pools.find((p) => p.name === s.pool)!;
    gpus.set(s.node, (gpus.get(s.node) ?? 0) + Math.max(s.count, s.pods) * pool.gpusPerReplica);
    const n = byName.get(s.node)!;
    assert.equal(n.labels['baton.io/gpu-type'], pool.gpuType, `${s.service}/${s.pool} on a ${n.labels['baton.io/gpu-type']} node`);
    if (spec.affinity !== 'none') assert.equal(s.group, `${spec.affinity}:${n.labels[`baton.io/${spec.affinity}`]}`, `slot outside its group's domain: ${JSON.stringify(s)}`);
  }
  for (const [n, g] of gpus) assert.ok(g <= 8, `${n} over-allocated: ${g} GPUs`);
  for (const sp of plan.services) {
    const spec = specs.find((x) => x.service === sp.service)!;
    for (const p of spec.pools) {
      assert.ok(sp.pools[p.name]! <= p.maxReplicas || pods.length > 0, `${sp.service}/${p.name} above its max`);
      assert.equal(sp.pools[p.name], plan.slots.filter((s) => s.service === sp.service && s.pool === p.name).reduce((a, s) => a + s.count, 0));
    }
  }
  void pods;
}

describe('placement: properties over random fabrics', () => {
  it('cold plans: GPU types match, no node over-allocated, slots inside their domain, groups hold both roles within one replica of the ratio, no overshoot', () => {
    fc.assert(fc.property(caseArb, ([nodes, svcs]) => {
      const specs = svcs.map((s) => s.spec);
      const demands = svcs.map((s) => s.demand);
      const plan = planPlacement({ nodes, pods: [] }, specs, demands);
      checkInvariants(nodes, specs, plan);
      for (const sp of plan.services) {
        const spec = specs.find((x) => x.service === sp.service)!;
        const step = Math.max(...spec.pools.map((p) => p.unitsPerReplica / spec.ratio[p.role]));
        for (const g of sp.groups) {
          assert.ok(g.units.prefill > 0 && g.units.decode > 0, `${sp.service} group ${g.id} holds one role only: ${JSON.stringify(g)}`);
          assert.ok(Math.abs(g.units.prefill / spec.ratio.prefill - g.units.decode / spec.ratio.decode) <= step + 1e-9, `${sp.service} group ${g.id} off ratio: ${JSON.stringify(g)}`);
        }
        const maxU = Math.max(...spec.pools.map((p) => p.unitsPerReplica));
        for (const r of ['prefill', 'decode'] as const) assert.ok(sp.units[r] <= sp.requested[r] + maxU + 1e-9, `${sp.service} ${r} overshoots: ${sp.units[r]} for ${sp.requested[r]}`);
      }
      assert.deepEqual(planPlacement({ nodes, pods: [] }, specs, demands), plan, 'deterministic');
    }), { numRuns: 300 });
  });

  it('the next cycle from the applied plan (labels and pods) keeps every invariant and never plans a slot below its pods', () => {
    fc.assert(fc.property(caseArb, ([nodes, svcs, next]) => {
      const specs = svcs.map((s) => s.spec);
      const first = planPlacement({ nodes, pods: [] }, specs, svcs.map((s) => s.demand));
      const labelled = nodes.map((n) => ({ ...n, labels: { ...n.labels } }));
      const pods: PodInfo[] = [];
      for (const s of first.slots) {
        labelled.find((n) => n.name === s.node)!.labels[slotLabelKey(s.service, s.pool)] = String(s.count);
        const g = specs.find((x) => x.service === s.service)!.pools.find((p) => p.name === s.pool)!.gpusPerReplica;
        for (let k = 0; k < s.count; k++) pods.push({ name: `${s.service}-${s.pool}-${s.node}-${k}`, node: s.node, gpus: g, service: s.service, pool: s.pool, ready: true });
      }
      const demands = svcs.map((s, i) => ({ service: s.demand.service, units: { prefill: (next[i]! * s.spec.ratio.prefill) / s.spec.ratio.decode, decode: next[i]! } }));
      const plan = planPlacement({ nodes: labelled, pods }, specs, demands);
      checkInvariants(labelled, specs, plan, pods);
      for (const s of plan.slots) assert.equal(s.pods, pods.filter((p) => p.node === s.node && p.service === s.service && p.pool === s.pool).length);
      for (const sp of plan.services) {
        const spec = specs.find((x) => x.service === sp.service)!;
        const step = Math.max(...spec.pools.map((p) => p.unitsPerReplica / spec.ratio[p.role]));
        for (const g of sp.groups) {
          const off = Math.abs(g.units.prefill / spec.ratio.prefill - g.units.decode / spec.ratio.decode);
          assert.ok(off <= step + 1e-9, `${sp.service} group ${g.id} off ratio after the next cycle: ${JSON.stringify(g)}`);
        }
      }
      for (const p of pods) assert.ok(plan.slots.some((s) => s.node === p.node && s.service === p.service && s.pool === p.pool), `pod ${p.name} lost its slot entry`);
    }), { numRuns: 200 });
  });
});
