// bench:placement — one placement cycle (Algorithm 4 over the tree view) on synthetic fabrics. Each S2 holds 8 S1
// switches; each S1 holds ~20 nodes of 8 GPUs; 3 GPU types (H100, H20, L20), one per S1 except every fourth S1, which
// mixes them (the high tier). 24 services (S1-, S2- and non-affine, heterogeneous and homogeneous P/D, priorities 1–3)
// ask for ~70 % of the fleet. Two cases per size: `cold` (an empty fleet: every slot is new) and `steady` (the cold
// plan's slots written back as labels with pods on them, then demand moves ±20 % per service: growth and scale-in).
// The headline row, 20,000 GPUs / 2,500 nodes / 128 S1 switches, must plan within 200 ms.
// `groups-cold` / `groups-steady`: the same fabric with multi-node replicas only: every replica is a group of 8 pods × 8
// GPUs (a LeaderWorkerSet of size 8), each group under one switch; at 20,000 GPUs it must plan within 50 ms.
import { writeFileSync } from 'node:fs';
import { leadLabelKey, planPlacement, slotLabelKey, type ClusterSnapshot, type NodeInfo, type PlacementPool, type PodInfo, type ServiceDemand, type ServicePlacementSpec } from '../engine/placement/index.js';

interface Row {
  case: 'cold' | 'steady' | 'groups-cold' | 'groups-steady';
  gpus: number;
  nodes: number;
  switches: number;
  s2Switches: number;
  services: number;
  slots: number;
  planMs: number;
}

const TYPES = ['H100', 'H20', 'L20'];

function fabric(nodes: number, s1Count: number): NodeInfo[] {
  const out: NodeInfo[] = [];
  for (let i = 0; i < nodes; i++) {
    const s1 = Math.floor((i * s1Count) / nodes);
    const type = s1 % 4 === 3 ? TYPES[i % 3]! : TYPES[Math.floor(s1 / 8) % 3]!;
    out.push({ name: `node-${i}`, labels: { 'baton.io/gpu-type': type, 'baton.io/s1': `s1-${s1}`, 'baton.io/s2': `s2-${Math.floor(s1 / 8)}` }, allocatableGpus: 8 });
  }
  return out;
}

function services(gpus: number): { specs: ServicePlacementSpec[]; demand: ServiceDemand[] } {
  const specs: ServicePlacementSpec[] = [];
  const demand: ServiceDemand[] = [];
  const n = 24;
  const perService = (0.7 * gpus) / n; // GPUs each service asks for
  for (let i = 0; i < n; i++) {
    const het = i % 2 === 0;
    const pt = TYPES[i % 3]!;
    const dt = het ? TYPES[(i + 1) % 3]! : pt;
    const g = [1, 2, 4, 8][i % 4]!;
    const pools: PlacementPool[] = [
      { name: 'p', role: 'prefill', gpuType: pt, unitsPerReplica: 1, gpusPerReplica: g, preference: 0, minReplicas: 0, maxReplicas: 100000 },
      { name: 'd', role: 'decode', gpuType: dt, unitsPerReplica: 1, gpusPerReplica: g, preference: 0, minReplicas: 0, maxReplicas: 100000 },
      { name: 'd-fb', role: 'decode', gpuType: TYPES[(i + 2) % 3]!, unitsPerReplica: 1, gpusPerReplica: g, preference: 1, minReplicas: 0, maxReplicas: 100000 },
    ];
    specs.push({ service: `svc-${i}`, priority: 1 + (i % 3), affinity: (['s1', 's2', 'none'] as const)[i % 3]!, ratio: { prefill: 1, decode: 1 }, pools });
    const units = Math.max(1, Math.floor(perService / g / 2));
    demand.push({ service: `svc-${i}`, units: { prefill: units, decode: units } });
  }
  return { specs, demand };
}

/** The services with 8-node groups: each pool's replica is 8 pods × 8 GPUs. */
function groupServices(specs: ServicePlacementSpec[], demand: ServiceDemand[]): { specs: ServicePlacementSpec[]; demand: ServiceDemand[] } {
  return {
    specs: specs.map((s) => ({ ...s, pools: s.pools.map((p) => ({ ...p, gpusPerReplica: 64, podsPerReplica: 8 })) })),
    demand: demand.map((d, i) => {
      const g = [1, 2, 4, 8][i % 4]!;
      const units = Math.max(1, Math.floor((d.units.prefill * g) / 64));
      return { service: d.service, units: { prefill: units, decode: units } };
    }),
  };
}

/** `plan` written back: slot (and lead) labels and one Ready pod per slot, leaders first. */
function applied(nodeList: NodeInfo[], specs: ServicePlacementSpec[], plan: ReturnType<typeof planPlacement>): ClusterSnapshot {
  const labelled = nodeList.map((n) => ({ ...n, labels: { ...n.labels } }));
  const byName = new Map(labelled.map((n) => [n.name, n]));
  const pods: PodInfo[] = [];
  for (const s of plan.slots) {
    const n = byName.get(s.node)!;
    n.labels[slotLabelKey(s.service, s.pool)] = String(s.count);
    if (s.leaders) n.labels[leadLabelKey(s.service, s.pool)] = String(s.leaders);
    const p = specs.find((x) => x.service === s.service)!.pools.find((x) => x.name === s.pool)!;
    const g = p.gpusPerReplica / (p.podsPerReplica ?? 1);
    for (let k = 0; k < s.count; k++) pods.push({ name: `${s.service}-${s.pool}-${s.node}-${k}`, node: s.node, gpus: g, service: s.service, pool: s.pool, ready: true, ...(k < (s.leaders ?? 0) ? { leader: true } : {}) });
  }
  return { nodes: labelled, pods };
}

function moved(demand: ServiceDemand[]): ServiceDemand[] {
  return demand.map((d, i) => {
    const f = i % 2 === 0 ? 1.2 : 0.8;
    return { service: d.service, units: { prefill: Math.round(d.units.prefill * f), decode: Math.round(d.units.decode * f) } };
  });
}

function time(fn: () => unknown, runs: number): number {
  fn(); // warm the JIT
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    fn();
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return Math.round(ms[Math.floor(ms.length / 2)]! * 10) / 10;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const sizes = (arg('--nodes') ?? '312,625,1250,2500,5000,10000').split(',').map(Number);
const runs = Number(arg('--runs') ?? 7);
const rows: Row[] = [];
for (const nodes of sizes) {
  const s1 = Math.max(1, Math.round((nodes * 128) / 2500));
  const nodeList = fabric(nodes, s1);
  const gpus = nodes * 8;
  const { specs, demand } = services(gpus);
  const cold: ClusterSnapshot = { nodes: nodeList, pods: [] };
  const plan = planPlacement(cold, specs, demand);
  const slots = plan.slots.reduce((a, s) => a + s.count, 0);
  rows.push({ case: 'cold', gpus, nodes, switches: s1, s2Switches: Math.ceil(s1 / 8), services: specs.length, slots, planMs: time(() => planPlacement(cold, specs, demand), runs) });

  // Steady: the cold plan is in the cluster (labels, one pod per slot), demand moves ±20 %.
  const steady = applied(nodeList, specs, plan);
  const next = moved(demand);
  const steadyPlan = planPlacement(steady, specs, next);
  rows.push({ case: 'steady', gpus, nodes, switches: s1, s2Switches: Math.ceil(s1 / 8), services: specs.length, slots: steadyPlan.slots.reduce((a, s) => a + s.count, 0), planMs: time(() => planPlacement(steady, specs, next), runs) });

  // The same, every replica an 8-node group.
  const grouped = groupServices(specs, demand);
  const groupPlan = planPlacement(cold, grouped.specs, grouped.demand);
  rows.push({ case: 'groups-cold', gpus, nodes, switches: s1, s2Switches: Math.ceil(s1 / 8), services: specs.length, slots: groupPlan.slots.reduce((a, s) => a + s.count, 0), planMs: time(() => planPlacement(cold, grouped.specs, grouped.demand), runs) });
  const groupSteady = applied(nodeList, grouped.specs, groupPlan);
  const groupNext = moved(grouped.demand);
  const groupSteadyPlan = planPlacement(groupSteady, grouped.specs, groupNext);
  rows.push({ case: 'groups-steady', gpus, nodes, switches: s1, s2Switches: Math.ceil(s1 / 8), services: specs.length, slots: groupSteadyPlan.slots.reduce((a, s) => a + s.count, 0), planMs: time(() => planPlacement(groupSteady, grouped.specs, groupNext), runs) });
}

const header = ['case', 'gpus', 'nodes', 'switches', 's2', 'services', 'slots', 'planMs'];
console.log(header.map((h) => h.padStart(h === 'case' ? 14 : 9)).join(''));
for (const r of rows) console.log([r.case, r.gpus, r.nodes, r.switches, r.s2Switches, r.services, r.slots, r.planMs].map((x, i) => String(x).padStart(i === 0 ? 14 : 9)).join(''));
const headline = rows.find((r) => r.nodes === 2500 && r.case === 'cold');
if (headline) console.log(`headline: ${headline.gpus} GPUs / ${headline.nodes} nodes / ${headline.switches} switches / 3 GPU types: ${headline.planMs} ms (target ≤ 200 ms)`);
for (const c of ['groups-cold', 'groups-steady'] as const) {
  const g = rows.find((r) => r.nodes === 2500 && r.case === c);
  if (g) console.log(`8-node groups (${c}): ${g.gpus} GPUs, ${g.slots} pods: ${g.planMs} ms (target ≤ 50 ms)`);
}
const json = arg('--json');
if (json) writeFileSync(json, JSON.stringify({ bench: 'placement', node: process.version, runs, rows }, null, 2) + '\n');
