// Kubernetes objects → the placement's plain snapshot (pure, so it is unit-tested without a cluster).
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { GROUP_LEADER_LABEL, GROUP_SIZE_ANNOTATION, IDENTITY_PRESETS, identityOf, type IdentityLabels, type PodIdentity } from '../placement/identity.js';
import type { ClusterSnapshot, NodeInfo, PodInfo, ServicePlacementSpec, TopologyKeys } from '../placement/types.js';

/** How pods are attributed to a service pool: the label mapping, and the pool of a pod whose labels name none. */
export interface PodAttribution {
  identity: IdentityLabels;
  /** The pool of a pod the mapping gives no pool label for: its service's only pool of that role. */
  poolOf?: (id: PodIdentity) => string | undefined;
  /** Pools whose workload was read through `/scale`: a pod its selector selects is that pool's, whatever its labels. */
  targets?: readonly TargetSelection[];
  /**
   * Multi-node groups with a known pool, keyed `namespace/group`: a LeaderWorkerSet's `/scale` selector selects only
   * leaders, so its workers are found by the group label they share with their leader.
   */
  groups?: ReadonlyMap<string, { service: string; pool: string }>;
}

/** One pool's workload as its scale subresource describes it. */
export interface TargetSelection {
  service: string;
  pool: string;
  namespace: string;
  matches: (labels: Record<string, string>) => boolean;
}

function targetOf(p: V1Pod, targets: readonly TargetSelection[] | undefined): TargetSelection | undefined {
  if (!targets) return undefined;
  const ns = p.metadata?.namespace;
  const labels = p.metadata?.labels ?? {};
  return targets.find((t) => t.namespace === ns && t.matches(labels));
}

/**
 * `by` plus the groups of pods its targets select, so every pod of a group belongs to its leader's pool (pure: the
 * engine calls it on each cycle's pod list and reuses the result for the pods it re-reads on a node).
 */
export function withTargetGroups(by: PodAttribution, pods: readonly V1Pod[]): PodAttribution {
  const key = by.identity.group;
  if (!by.targets?.length || !key) return by;
  const groups = new Map<string, { service: string; pool: string }>();
  for (const p of pods) {
    const group = p.metadata?.labels?.[key];
    const t = group ? targetOf(p, by.targets) : undefined;
    if (t && group) groups.set(`${p.metadata?.namespace}/${group}`, { service: t.service, pool: t.pool });
  }
  return { ...by, groups };
}

const BATON: PodAttribution = { identity: IDENTITY_PRESETS.baton };

/** Attribution over configured services: a pod without a pool label belongs to its service's only pool of its role. */
export function attribution(identity: IdentityLabels, services: readonly ServicePlacementSpec[]): PodAttribution {
  const only = new Map<string, string | undefined>();
  for (const s of services) {
    for (const role of ['prefill', 'decode'] as const) {
      const pools = s.pools.filter((p) => p.role === role);
      only.set(`${s.service}/${role}`, pools.length === 1 ? pools[0]!.name : undefined);
    }
  }
  return { identity, poolOf: (id) => (id.role ? only.get(`${id.service}/${id.role}`) : undefined) };
}

/** Kubernetes quantities for GPU counts are integers ("8"); anything else counts as 0 with no guessing. */
function count(q: string | undefined): number {
  if (q === undefined) return 0;
  const n = Number(q);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

function nodeReady(n: V1Node): boolean {
  const c = n.status?.conditions?.find((x) => x.type === 'Ready');
  return c ? c.status === 'True' : true;
}

export function nodeInfo(n: V1Node, keys: TopologyKeys): NodeInfo {
  const info: NodeInfo = { name: n.metadata?.name ?? '', labels: { ...(n.metadata?.labels ?? {}) }, allocatableGpus: count(n.status?.allocatable?.[keys.gpuResource]) };
  if (n.spec?.unschedulable || !nodeReady(n) || n.metadata?.deletionTimestamp) info.unschedulable = true;
  return info;
}

export function podGpus(p: V1Pod, keys: TopologyKeys): number {
  let g = 0;
  for (const c of p.spec?.containers ?? []) g += count((c.resources?.limits?.[keys.gpuResource] ?? c.resources?.requests?.[keys.gpuResource]) as string | undefined);
  return g;
}

/** Bound, unfinished pods: they hold GPUs (and, for Baton's, a slot label) until they are gone. */
export function podInfo(p: V1Pod, keys: TopologyKeys, by: PodAttribution = BATON): PodInfo | undefined {
  const node = p.spec?.nodeName;
  const phase = p.status?.phase;
  if (!node || phase === 'Succeeded' || phase === 'Failed') return undefined;
  const info: PodInfo = { name: `${p.metadata?.namespace}/${p.metadata?.name}`, node, gpus: podGpus(p, keys) };
  const labels = p.metadata?.labels ?? {};
  const group = by.identity.group ? labels[by.identity.group] : undefined;
  const owner = targetOf(p, by.targets) ?? (group ? by.groups?.get(`${p.metadata?.namespace}/${group}`) : undefined);
  const id = owner ? undefined : identityOf(labels, by.identity);
  const pool = owner?.pool ?? (id && (id.pool ?? by.poolOf?.(id)));
  const service = owner?.service ?? id?.service;
  if (service && pool) {
    info.service = service;
    info.pool = pool;
    if (group) {
      info.group = group;
      const size = Number(p.metadata?.annotations?.[GROUP_SIZE_ANNOTATION]);
      if (Number.isInteger(size) && size > 0) info.groupSize = size;
      if (labels[GROUP_LEADER_LABEL] === '0') info.leader = true;
    }
  }
  info.ready = !p.metadata?.deletionTimestamp && (p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false);
  return info;
}

export function toSnapshot(nodes: V1Node[], pods: V1Pod[], keys: TopologyKeys, by: PodAttribution = BATON): ClusterSnapshot {
  by = by.groups ? by : withTargetGroups(by, pods);
  const out: PodInfo[] = [];
  for (const p of pods) {
    const i = podInfo(p, keys, by);
    if (i) out.push(i);
  }
  return { nodes: nodes.map((n) => nodeInfo(n, keys)), pods: out };
}

/**
 * Ready replicas per service and pool, for the Ready-ratio guard. A replica that is a multi-node group counts once, and
 * only when every pod of it is Ready: all the pods present, and as many as its size annotation says (a worker that has
 * not been created yet keeps the group unready).
 */
export function readyByPool(snap: ClusterSnapshot): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  const groups = new Map<string, { service: string; pool: string; pods: number; ready: number; size?: number }>();
  const add = (service: string, pool: string, n: number): void => {
    let m = out.get(service);
    if (!m) out.set(service, (m = {}));
    m[pool] = (m[pool] ?? 0) + n;
  };
  for (const p of snap.pods) {
    if (!p.service || !p.pool) continue;
    if (!p.group) {
      add(p.service, p.pool, p.ready ? 1 : 0);
      continue;
    }
    const key = `${p.service}\u0000${p.pool}\u0000${p.group}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { service: p.service, pool: p.pool, pods: 0, ready: 0 }));
    g.pods++;
    if (p.ready) g.ready++;
    if (p.groupSize !== undefined) g.size = Math.max(g.size ?? 0, p.groupSize);
  }
  for (const g of groups.values()) add(g.service, g.pool, g.ready === g.pods && g.pods >= (g.size ?? g.pods) ? 1 : 0);
  return out;
}
