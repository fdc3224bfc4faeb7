// The tree view S2 → S1 → nodes, rebuilt from one snapshot every cycle (paper §3.3 step 1): typed arrays indexed by
// node, switch and GPU type, free GPUs after what is already bound or reserved, RDMA subgroup tiers, and the slots each
// service pool already holds (from the slot labels and the pods actually there).
import { parseSlotLabel, DEFAULT_SLOT_PREFIX } from './labels.js';
import { DEFAULT_TOPOLOGY_KEYS, gpusPerPod, type ClusterSnapshot, type PlacementPool, type ServicePlacementSpec, type SubgroupInfo, type Tier, type TopologyKeys } from './types.js';

export interface HeldSlots {
  /** Slots of one service pool per node index: count = max(label, pods); pods = pods there now. */
  count: Map<number, number>;
  pods: Map<number, number>;
  ready: number;
  /** Multi-node pools: group leaders per node index (max(lead label, leader pods)), and leader pods there now. */
  leads: Map<number, number>;
  leaderPods: Map<number, number>;
}

export interface TopologyView {
  n: number;
  nodeNames: string[];
  nodeType: Int32Array;
  nodeS1: Int32Array;
  nodeS2: Int32Array;
  /** Tier of the S1 subgroup the node sits in. */
  nodeTier: Uint8Array;
  alloc: Float64Array;
  /** GPUs not bound to foreign pods nor reserved by slots; placement deducts from it (virtual allocation). */
  free: Float64Array;
  schedulable: Uint8Array;
  types: string[];
  typeIndex: Map<string, number>;
  s1Names: string[];
  s1S2: Int32Array;
  s1Tier: Uint8Array;
  s2Names: string[];
  s2Tier: Uint8Array;
  /** Keyed by poolKey(service, pool). */
  held: Map<string, HeldSlots>;
  nodeIndex: Map<string, number>;
}

export const poolKey = (service: string, pool: string): string => `${service}\u0000${pool}`;

function intern(map: Map<string, number>, names: string[], name: string): number {
  let i = map.get(name);
  if (i === undefined) {
    i = names.length;
    names.push(name);
    map.set(name, i);
  }
  return i;
}

export function buildTopology(snap: ClusterSnapshot, specs: readonly ServicePlacementSpec[], keys: TopologyKeys = DEFAULT_TOPOLOGY_KEYS, slotPrefix = DEFAULT_SLOT_PREFIX): TopologyView {
  const pools = new Map<string, PlacementPool>();
  for (const s of specs) for (const p of s.pools) pools.set(poolKey(s.service, p.name), p);

  const nodes = snap.nodes.filter((nd) => nd.labels[keys.gpuType] !== undefined);
  const n = nodes.length;
  const typeIndex = new Map<string, number>();
  const types: string[] = [];
  const s1Index = new Map<string, number>();
  const s1Names: string[] = [];
  const s2Index = new Map<string, number>();
  const s2Names: string[] = [];
  const s1S2List: number[] = [];
  const nodeType = new Int32Array(n);
  const nodeS1 = new Int32Array(n);
  const nodeS2 = new Int32Array(n);
  const alloc = new Float64Array(n);
  const free = new Float64Array(n);
  const schedulable = new Uint8Array(n);
  const nodeNames: string[] = new Array(n);
  const nodeIndex = new Map<string, number>();
  const held = new Map<string, HeldSlots>();
  const heldOf = (k: string): HeldSlots => {
    let h = held.get(k);
    if (!h) held.set(k, (h = { count: new Map(), pods: new Map(), ready: 0, leads: new Map(), leaderPods: new Map() }));
    return h;
  };

  for (let i = 0; i < n; i++) {
    const nd = nodes[i]!;
    nodeNames[i] = nd.name;
    nodeIndex.set(nd.name, i);
    nodeType[i] = intern(typeIndex, types, nd.labels[keys.gpuType]!);
    const s2 = intern(s2Index, s2Names, nd.labels[keys.s2] ?? '-');
    const s1Name = nd.labels[keys.s1] ?? '-';
    const before = s1Names.length;
    const s1 = intern(s1Index, s1Names, s1Name);
    if (s1 === before) s1S2List.push(s2);
    else if (s1S2List[s1] !== s2) throw new Error(`node ${nd.name}: S1 switch "${s1Name}" is under S2 "${s2Names[s2]}" here but under "${s2Names[s1S2List[s1]!]}" on another node`);
    nodeS1[i] = s1;
    nodeS2[i] = s2;
    if (!(nd.allocatableGpus >= 0)) throw new Error(`node ${nd.name}: allocatable GPUs must be a number ≥ 0, got ${nd.allocatableGpus}`);
    alloc[i] = nd.allocatableGpus;
    free[i] = nd.allocatableGpus;
    schedulable[i] = nd.unschedulable ? 0 : 1;
    for (const [k, v] of Object.entries(nd.labels)) {
      const slot = parseSlotLabel(k, v, slotPrefix);
      if (slot && pools.has(poolKey(slot.service, slot.pool))) heldOf(poolKey(slot.service, slot.pool))[slot.lead ? 'leads' : 'count'].set(i, slot.count);
    }
  }

  // Pods: Baton's count per node toward their pool's slots; everyone else's GPUs are simply gone.
  for (const pod of snap.pods) {
    const i = nodeIndex.get(pod.node);
    if (i === undefined) continue;
    const k = pod.service !== undefined && pod.pool !== undefined ? poolKey(pod.service, pod.pool) : undefined;
    if (k && pools.has(k)) {
      const h = heldOf(k);
      h.pods.set(i, (h.pods.get(i) ?? 0) + 1);
      if (pod.ready) h.ready++;
      if (pod.leader) h.leaderPods.set(i, (h.leaderPods.get(i) ?? 0) + 1);
    } else {
      free[i]! -= pod.gpus;
    }
  }
  for (const [k, h] of held) {
    const gpus = gpusPerPod(pools.get(k)!);
    for (const [i, pods] of h.pods) if ((h.count.get(i) ?? 0) < pods) h.count.set(i, pods);
    for (const [i, pods] of h.leaderPods) if ((h.leads.get(i) ?? 0) < pods) h.leads.set(i, pods);
    for (const [i, c] of h.count) free[i]! -= c * gpus;
  }

  // Tiers (paper §3.2): an S1 with several GPU types is high; a homogeneous S1 is low when its whole S2 is one type,
  // medium when the S2 mixes types. An S2 domain is as precious as its most precious S1.
  const s1Types: Set<number>[] = s1Names.map(() => new Set());
  const s2Types: Set<number>[] = s2Names.map(() => new Set());
  for (let i = 0; i < n; i++) {
    s1Types[nodeS1[i]!]!.add(nodeType[i]!);
    s2Types[nodeS2[i]!]!.add(nodeType[i]!);
  }
  const s1S2 = Int32Array.from(s1S2List);
  const s1Tier = new Uint8Array(s1Names.length);
  const s2Tier = new Uint8Array(s2Names.length);
  for (let s = 0; s < s1Names.length; s++) {
    const t: Tier = s1Types[s]!.size > 1 ? 2 : s2Types[s1S2[s]!]!.size > 1 ? 1 : 0;
    s1Tier[s] = t;
    if (t > s2Tier[s1S2[s]!]!) s2Tier[s1S2[s]!] = t;
  }
  const nodeTier = new Uint8Array(n);
  for (let i = 0; i < n; i++) nodeTier[i] = s1Tier[nodeS1[i]!]!;
  return { n, nodeNames, nodeType, nodeS1, nodeS2, nodeTier, alloc, free, schedulable, types, typeIndex, s1Names, s1S2, s1Tier, s2Names, s2Tier, held, nodeIndex };
}

/** The subgroups with their tiers and capacity, for the plan and for people. */
export function describeSubgroups(v: TopologyView): SubgroupInfo[] {
  const out: SubgroupInfo[] = [];
  const agg = (level: 's1' | 's2', names: string[], of: Int32Array, tiers: Uint8Array) => {
    const gpus = new Float64Array(names.length);
    const free = new Float64Array(names.length);
    const ts: Set<string>[] = names.map(() => new Set());
    for (let i = 0; i < v.n; i++) {
      gpus[of[i]!]! += v.alloc[i]!;
      free[of[i]!]! += Math.max(0, v.free[i]!);
      ts[of[i]!]!.add(v.types[v.nodeType[i]!]!);
    }
    names.forEach((name, s) => out.push({ id: `${level}:${name}`, level, tier: tiers[s] as Tier, gpuTypes: [...ts[s]!].sort(), gpus: gpus[s]!, free: free[s]! }));
  };
  agg('s2', v.s2Names, v.nodeS2, v.s2Tier);
  agg('s1', v.s1Names, v.nodeS1, v.s1Tier);
  return out;
}
