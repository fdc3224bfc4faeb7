// Kubernetes objects → the placement's plain snapshot (pure, so it is unit-tested without a cluster).
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { POD_POOL_LABEL, POD_SERVICE_LABEL } from '../placement/labels.js';
import type { ClusterSnapshot, NodeInfo, PodInfo, TopologyKeys } from '../placement/types.js';

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
export function podInfo(p: V1Pod, keys: TopologyKeys): PodInfo | undefined {
  const node = p.spec?.nodeName;
  const phase = p.status?.phase;
  if (!node || phase === 'Succeeded' || phase === 'Failed') return undefined;
  const info: PodInfo = { name: `${p.metadata?.namespace}/${p.metadata?.name}`, node, gpus: podGpus(p, keys) };
  const labels = p.metadata?.labels ?? {};
  if (labels[POD_SERVICE_LABEL] && labels[POD_POOL_LABEL]) {
    info.service = labels[POD_SERVICE_LABEL];
    info.pool = labels[POD_POOL_LABEL];
  }
  info.ready = !p.metadata?.deletionTimestamp && (p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false);
  return info;
}

export function toSnapshot(nodes: V1Node[], pods: V1Pod[], keys: TopologyKeys): ClusterSnapshot {
  const out: PodInfo[] = [];
  for (const p of pods) {
    const i = podInfo(p, keys);
    if (i) out.push(i);
  }
  return { nodes: nodes.map((n) => nodeInfo(n, keys)), pods: out };
}

/** Ready replicas per service and pool, for the Ready-ratio guard. */
export function readyByPool(snap: ClusterSnapshot): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const p of snap.pods) {
    if (!p.service || !p.pool) continue;
    let m = out.get(p.service);
    if (!m) out.set(p.service, (m = {}));
    m[p.pool] = (m[p.pool] ?? 0) + (p.ready ? 1 : 0);
  }
  return out;
}
