// What the plan means for the cluster, as pure diffs: slot label patches per node and pod-deletion-cost annotations.
// Invariant: a slot label's value is never below the pods of its pool on that node (a lead label's, below the group
// leaders there), and a key is removed only when no such pod is there, so no running pod loses the label its
// nodeAffinity selected.
import { DEFAULT_SLOT_PREFIX, leadLabelKey, parseSlotLabel, slotLabelKey } from '../placement/labels.js';
import type { ClusterSnapshot, PlacementPlan, ServicePlacementSpec } from '../placement/types.js';

export { DELETION_COST_ANNOTATION as DELETION_COST } from '../placement/identity.js';
/** Cost on pods the plan wants gone: the ReplicaSet deletes the lowest cost first on an HPA scale-down. */
export const DRAIN_COST = '-1000';

export interface LabelPatch {
  node: string;
  /** key → value, or null to remove the key. */
  labels: Record<string, string | null>;
}

export function labelPatches(snap: ClusterSnapshot, plan: PlacementPlan, specs: readonly ServicePlacementSpec[], prefix = DEFAULT_SLOT_PREFIX): LabelPatch[] {
  const known = new Set(specs.flatMap((s) => s.pools.map((p) => `${s.service}.${p.name}`)));
  // Pods per node and label key: every pod of a pool counts toward its slot label, a group leader also toward the lead label.
  const podsAt = new Map<string, number>();
  const count = (node: string, key: string) => podsAt.set(`${node}\u0000${key}`, (podsAt.get(`${node}\u0000${key}`) ?? 0) + 1);
  for (const p of snap.pods) {
    if (!p.service || !p.pool) continue;
    count(p.node, slotLabelKey(p.service, p.pool, prefix));
    if (p.leader) count(p.node, leadLabelKey(p.service, p.pool, prefix));
  }
  const want = new Map<string, Map<string, number>>();
  for (const s of plan.slots) {
    let m = want.get(s.node);
    if (!m) want.set(s.node, (m = new Map()));
    m.set(slotLabelKey(s.service, s.pool, prefix), s.count);
    if (s.leaders !== undefined) m.set(leadLabelKey(s.service, s.pool, prefix), s.leaders);
  }
  const out: LabelPatch[] = [];
  for (const n of snap.nodes) {
    const desired = want.get(n.name) ?? new Map<string, number>();
    const labels: Record<string, string | null> = {};
    const keys = new Set<string>(desired.keys());
    for (const [k, v] of Object.entries(n.labels)) {
      const slot = parseSlotLabel(k, v, prefix);
      if (slot && known.has(`${slot.service}.${slot.pool}`)) keys.add(k);
    }
    for (const k of keys) {
      const pods = podsAt.get(`${n.name}\u0000${k}`) ?? 0;
      const value = Math.max(desired.get(k) ?? 0, pods);
      const next = value > 0 ? String(value) : null;
      if ((n.labels[k] ?? null) !== next) labels[k] = next;
    }
    if (Object.keys(labels).length) out.push({ node: n.name, labels });
  }
  return out;
}

export interface CostPatch {
  /** namespace/name */
  pod: string;
  cost: string | null;
}

/**
 * Pods to drain get DRAIN_COST: on each node, (pods − planned slots) pods of the pool, not-Ready ones first. Pods that
 * no longer need draining lose the annotation. `current` is each Baton pod's annotation value now.
 */
export function deletionCosts(snap: ClusterSnapshot, plan: PlacementPlan, current: Map<string, string | undefined>): CostPatch[] {
  const planned = new Map<string, number>();
  for (const s of plan.slots) planned.set(`${s.node}\u0000${s.service}\u0000${s.pool}`, s.count);
  const byNodePool = new Map<string, typeof snap.pods>();
  for (const p of snap.pods) {
    if (!p.service || !p.pool) continue;
    const k = `${p.node}\u0000${p.service}\u0000${p.pool}`;
    let l = byNodePool.get(k);
    if (!l) byNodePool.set(k, (l = []));
    l.push(p);
  }
  const out: CostPatch[] = [];
  for (const [k, pods] of byNodePool) {
    const excess = pods.length - (planned.get(k) ?? 0);
    pods.sort((a, b) => Number(a.ready ?? false) - Number(b.ready ?? false) || a.name.localeCompare(b.name));
    pods.forEach((p, i) => {
      const cost = i < excess ? DRAIN_COST : null;
      const now = current.get(p.name);
      if (cost === DRAIN_COST && now !== DRAIN_COST) out.push({ pod: p.name, cost });
      if (cost === null && now === DRAIN_COST) out.push({ pod: p.name, cost: null });
    });
  }
  return out;
}
