// `network.placement: 'engine'`: the simulated fleet asks the sidecar engine's own placement code (engine/placement,
// Algorithm 4) where new instances go, so cross-switch KV transfers follow real Deployment Group placements rather
// than a model of them. The fleet becomes a ClusterSnapshot (nodes with GPU type and S1/S2 switches sized from the
// pools; live instances as pods on their nodes) and each scale-out is one planPlacement call.
import type { Role } from '../../engine/core/types.js';
import { planPlacement } from '../../engine/placement/place.js';
import { DEFAULT_TOPOLOGY_KEYS, type Affinity, type ClusterSnapshot, type NodeInfo, type PlacementPool, type PodInfo, type ServicePlacementSpec } from '../../engine/placement/types.js';
import type { Instance } from './instance.js';

/** The pool fields placement needs (SimPool's). */
export interface PlacedPool {
  name: string;
  role: Role;
  gpuType: string;
  gpusPerInstance: number;
  maxInstances: number;
  units: number;
}

export interface EnginePlacementOptions {
  /** S1 switches (the fleet's network.switches). */
  switches: number;
  /** GPUs per node (default 8, or a pool's gpusPerInstance when larger). */
  gpusPerNode?: number;
  /** The service's Deployment Group domain (default 's1'). */
  affinity?: Affinity;
  /** P:D ratio in units for groups (default: the fleet's current ratio, 1:1 when a role has none). */
  ratio?: { prefill: number; decode: number };
}

/** Where one new instance goes: its node and S1 switch index (the fleet's switchId). */
export interface Placement {
  node: string;
  switchId: number;
}

const SERVICE = 'sim';
const OTHER: Record<Role, Role> = { prefill: 'decode', decode: 'prefill' };

/**
 * The simulated cluster: per GPU type enough nodes for every pool of that type at its maxInstances, spread in
 * contiguous blocks over the S1 switches (so every switch offers every type), S1s split over two S2 domains.
 */
export function simulatedNodes(pools: readonly PlacedPool[], o: EnginePlacementOptions): NodeInfo[] {
  const keys = DEFAULT_TOPOLOGY_KEYS;
  const switches = Math.max(1, Math.floor(o.switches));
  const s2Count = switches >= 2 ? 2 : 1;
  const nodes: NodeInfo[] = [];
  const types = [...new Set(pools.map((p) => p.gpuType))].sort();
  for (const t of types) {
    const of = pools.filter((p) => p.gpuType === t);
    const perNode = Math.max(o.gpusPerNode ?? 8, ...of.map((p) => p.gpusPerInstance));
    let count = 0;
    for (const p of of) count += Math.ceil(p.maxInstances / Math.max(1, Math.floor(perNode / p.gpusPerInstance)));
    // Every switch gets at least one node of the type, so a group can form anywhere.
    count = Math.max(count, switches);
    for (let k = 0; k < count; k++) {
      const s1 = Math.min(switches - 1, Math.floor((k * switches) / count));
      const s2 = Math.floor((s1 * s2Count) / switches);
      nodes.push({ name: `${t}-${k}`, labels: { [keys.gpuType]: t, [keys.s1]: `s1-${s1}`, [keys.s2]: `s2-${s2}` }, allocatableGpus: perNode });
    }
  }
  return nodes;
}

export class EnginePlacement {
  readonly nodes: NodeInfo[];
  private readonly switchOf = new Map<string, number>();
  /** Instance id → node. */
  private readonly nodeOfInstance = new Map<number, string>();
  /** New instances the plan had no slot for (placed on the least loaded switch instead). */
  fallbacks = 0;
  planned = 0;
  planMs = 0;

  constructor(private readonly pools: readonly PlacedPool[], private readonly o: EnginePlacementOptions) {
    this.nodes = simulatedNodes(pools, o);
    for (const n of this.nodes) this.switchOf.set(n.name, Number(n.labels[DEFAULT_TOPOLOGY_KEYS.s1]!.slice(3)));
  }

  nodeOf(inst: Instance): string | undefined {
    return this.nodeOfInstance.get(inst.id);
  }

  /** The snapshot of the fleet now: active instances are the service's pods; draining ones only hold their GPUs. */
  snapshot(live: readonly Instance[]): ClusterSnapshot {
    const pods: PodInfo[] = [];
    for (const i of live) {
      const node = this.nodeOfInstance.get(i.id);
      if (!node || i.state === 'gone') continue;
      const pod: PodInfo = { name: `i${i.id}`, node, gpus: i.gpus };
      if (i.state !== 'draining') {
        pod.service = SERVICE;
        pod.pool = i.pool;
        pod.ready = i.state === 'ready';
      }
      pods.push(pod);
    }
    return { nodes: this.nodes, pods };
  }

  /**
   * Where `count` new instances of `pool` go, given every live instance. The other role is asked for at least the
   * ratio's share of this role, so groups form with room for it (those extra slots are virtual: nothing is created).
   * Instances the plan cannot place get `fallback(role)`'s switch and no node.
   */
  place(pool: string, count: number, live: readonly Instance[], fallback: (role: Role) => number): Placement[] {
    const target = this.pools.find((p) => p.name === pool);
    if (!target) throw new Error(`unknown pool ${pool}`);
    const active = new Map<string, number>();
    for (const i of live) if (i.state === 'starting' || i.state === 'ready') active.set(i.pool, (active.get(i.pool) ?? 0) + 1);
    const role = target.role;
    const other = OTHER[role];
    const units: Record<Role, number> = { prefill: 0, decode: 0 };
    const maxUnits: Record<Role, number> = { prefill: 0, decode: 0 };
    for (const p of this.pools) {
      units[p.role] += (active.get(p.name) ?? 0) * p.units;
      maxUnits[p.role] += p.maxInstances * p.units;
    }
    units[role] += count * target.units;
    // Groups form at the configured ratio, else at the ratio of what the fleet will have (1:1 while a role has none).
    const ratio = this.o.ratio ?? (units.prefill > 0 && units.decode > 0 ? { prefill: units.prefill, decode: units.decode } : { prefill: 1, decode: 1 });
    // First into the groups that exist (the other role as it is). When that leaves instances unplaced, plan again with
    // the other role asked for its share at the ratio (at least what it has, at most its pools' room), so new groups can
    // open with both roles; those extra slots are virtual: nothing is created for them.
    const plan = this.plan(pool, count, active, units, live, [], ratio);
    // Only what the rest needs at the ratio: a larger virtual ask would make this role look ahead in every group.
    const virtual = Math.min(maxUnits[other], units[other] + ((count - plan.length) * target.units * ratio[other]) / ratio[role]);
    if (plan.length < count && virtual > units[other] + 1e-9) {
      const placedFirst = new Map(active).set(pool, (active.get(pool) ?? 0) + plan.length);
      plan.push(...this.plan(pool, count - plan.length, placedFirst, { ...units, [other]: virtual } as Record<Role, number>, live, plan, ratio));
    }
    this.planned += plan.length;
    while (plan.length < count) {
      this.fallbacks++;
      plan.push({ node: '', switchId: fallback(role) });
    }
    return plan;
  }

  /**
   * Scale-in the engine's way: which live instances of `pool` to remove so that `keep` stay. The plan shrinks groups in
   * precious tiers and small groups first while keeping each group's ratio; the instances on the nodes it frees go
   * first (what pod-deletion-cost does in the cluster). Returns the ids to prefer, at most `active - keep`.
   */
  shrink(pool: string, keep: number, live: readonly Instance[]): Set<number> {
    const active = new Map<string, number>();
    for (const i of live) if (i.state === 'starting' || i.state === 'ready') active.set(i.pool, (active.get(i.pool) ?? 0) + 1);
    const have = active.get(pool) ?? 0;
    const out = new Set<number>();
    if (keep >= have) return out;
    const units: Record<Role, number> = { prefill: 0, decode: 0 };
    for (const p of this.pools) units[p.role] += (p.name === pool ? keep : (active.get(p.name) ?? 0)) * p.units;
    const slots = this.planSlots(pool, keep - have, active, units, live);
    const onNode = new Map<string, Instance[]>();
    for (const i of live) {
      if (i.pool !== pool || (i.state !== 'starting' && i.state !== 'ready')) continue;
      const n = this.nodeOfInstance.get(i.id);
      if (n) (onNode.get(n) ?? onNode.set(n, []).get(n)!).push(i);
    }
    for (const [node, insts] of onNode) {
      const excess = insts.length - (slots.get(node) ?? 0);
      for (let k = 0; k < excess && out.size < have - keep; k++) out.add(insts[k]!.id);
    }
    return out;
  }

  /** One planPlacement call: this role's pools pinned to what the fleet wants, the other role free within its pools. */
  private plan(pool: string, count: number, active: Map<string, number>, units: Record<Role, number>, live: readonly Instance[], extra: readonly Placement[], ratio: Record<Role, number>): Placement[] {
    const slots = this.planSlots(pool, count, active, units, live, extra, ratio);
    const pods = new Map<string, number>();
    for (const e of extra) pods.set(e.node, (pods.get(e.node) ?? 0) + 1);
    for (const i of live) {
      const n = i.pool === pool && i.state !== 'draining' && i.state !== 'gone' ? this.nodeOfInstance.get(i.id) : undefined;
      if (n) pods.set(n, (pods.get(n) ?? 0) + 1);
    }
    const out: Placement[] = [];
    for (const [node, c] of slots) for (let k = pods.get(node) ?? 0; k < c && out.length < count; k++) out.push({ node, switchId: this.switchOf.get(node)! });
    return out;
  }

  /** Slots per node the plan gives `pool` when it changes by `delta` instances. */
  private planSlots(pool: string, delta: number, active: Map<string, number>, units: Record<Role, number>, live: readonly Instance[], extra: readonly Placement[] = [], ratio?: Record<Role, number>): Map<string, number> {
    const count = delta;
    const role = this.pools.find((p) => p.name === pool)!.role;
    // The split between this role's pools is the policy's, not the engine's: pin them (the scaled pool's minimum is its
    // new size; its maximum stays the pool's, so the pools' maxima never cap the other role's virtual slots).
    const specPools: PlacementPool[] = this.pools.map((p, k) => {
      const have = (active.get(p.name) ?? 0) + (p.name === pool ? count : 0);
      const pinned = p.role === role;
      return { name: p.name, role: p.role, gpuType: p.gpuType, unitsPerReplica: p.units, gpusPerReplica: p.gpusPerInstance, preference: k, minReplicas: pinned ? have : (active.get(p.name) ?? 0), maxReplicas: pinned && p.name !== pool ? have : p.maxInstances };
    });
    const groupRatio = ratio ?? (units.prefill > 0 && units.decode > 0 ? { prefill: units.prefill, decode: units.decode } : { prefill: 1, decode: 1 });
    const spec: ServicePlacementSpec = { service: SERVICE, priority: 0, affinity: this.o.affinity ?? 's1', ratio: groupRatio, pools: specPools };
    const snap = this.snapshot(live);
    // Placements already decided this call count as this pool's pods.
    for (const [k, e] of extra.entries()) snap.pods.push({ name: `new${k}`, node: e.node, gpus: this.pools.find((p) => p.name === pool)!.gpusPerInstance, service: SERVICE, pool, ready: true });
    const t0 = performance.now();
    const plan = planPlacement(snap, [spec], [{ service: SERVICE, units }]);
    this.planMs += performance.now() - t0;
    const out = new Map<string, number>();
    for (const s of plan.slots) if (s.pool === pool) out.set(s.node, s.count);
    return out;
  }

  /** Records the node of an instance just created from a placement. */
  bind(inst: Instance, p: Placement): void {
    if (p.node) this.nodeOfInstance.set(inst.id, p.node);
  }

  /** Forgets a retired instance. */
  release(inst: Instance): void {
    this.nodeOfInstance.delete(inst.id);
  }
}
