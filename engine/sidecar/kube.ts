// The engine's conversations with the kube-apiserver (@kubernetes/client-node 1.4): periodic lists of nodes and pods,
// resourceVersion-safe merge patches of node labels retried on conflict, pod-deletion-cost annotations, the plan
// ConfigMap and Events. Writes run a few at a time.
import * as k8s from '@kubernetes/client-node';
import type { LabelPatch, CostPatch } from './actuate.js';

export const FIELD_MANAGER = 'baton-engine';
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

export function statusOf(err: unknown): number | undefined {
  if (err instanceof k8s.ApiException) return err.code;
  const c = (err as { code?: unknown })?.code;
  return typeof c === 'number' ? c : undefined;
}

export interface KubeClients {
  core: k8s.CoreV1Api;
  coordination: k8s.CoordinationV1Api;
}

export function makeClients(kc: k8s.KubeConfig): KubeClients {
  return { core: kc.makeApiClient(k8s.CoreV1Api), coordination: kc.makeApiClient(k8s.CoordinationV1Api) };
}

export function loadKubeConfig(path?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

export async function listCluster(c: KubeClients): Promise<{ nodes: k8s.V1Node[]; pods: k8s.V1Pod[] }> {
  const [nodes, pods] = await Promise.all([
    c.core.listNode({}),
    c.core.listPodForAllNamespaces({ fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' }),
  ]);
  return { nodes: nodes.items, pods: pods.items.filter((p) => p.spec?.nodeName) };
}

export { batched } from '../core/batched.js';

export type PatchResult = 'ok' | 'conflict-retried' | 'skipped' | 'error';

/**
 * Patches one node's slot labels with its resourceVersion (the apiserver answers 409 if the node changed since we read
 * it). On 409 it re-reads the node and asks `recompute` for the patch against the fresh object (which recounts the pods
 * there, so a pod bound meanwhile keeps its label), up to `tries` times.
 */
export async function patchNodeLabels(
  c: KubeClients, patch: LabelPatch, resourceVersion: string | undefined,
  recompute: (fresh: k8s.V1Node) => Promise<LabelPatch | undefined>, tries = 5,
): Promise<{ result: PatchResult; conflicts: number; error?: string }> {
  let p: LabelPatch | undefined = patch;
  let rv = resourceVersion;
  let conflicts = 0;
  for (let i = 0; i < tries; i++) {
    if (!p) return { result: 'skipped', conflicts };
    try {
      await c.core.patchNode({ name: p.node, body: { metadata: { labels: p.labels, ...(rv ? { resourceVersion: rv } : {}) } }, fieldManager: FIELD_MANAGER }, MERGE);
      return { result: conflicts ? 'conflict-retried' : 'ok', conflicts };
    } catch (err) {
      if (statusOf(err) !== 409) return { result: 'error', conflicts, error: `node ${p.node}: ${(err as Error).message}` };
      conflicts++;
      const fresh = await c.core.readNode({ name: p.node });
      rv = fresh.metadata?.resourceVersion;
      p = await recompute(fresh);
    }
  }
  return { result: 'error', conflicts, error: `node ${patch.node}: still conflicting after ${tries} tries` };
}

export async function patchPodCost(c: KubeClients, patch: CostPatch, annotation: string): Promise<void> {
  const [namespace, name] = patch.pod.split('/') as [string, string];
  try {
    await c.core.patchNamespacedPod({ name, namespace, body: { metadata: { annotations: { [annotation]: patch.cost } } }, fieldManager: FIELD_MANAGER }, MERGE);
  } catch (err) {
    if (statusOf(err) !== 404) throw err; // gone already: nothing to drain
  }
}

export async function podsOnNode(c: KubeClients, node: string): Promise<k8s.V1Pod[]> {
  const l = await c.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node},status.phase!=Succeeded,status.phase!=Failed` });
  return l.items;
}

/** Creates or replaces the plan ConfigMap (small: per-service pools, groups and reasons; not the slot list). */
export async function publishConfigMap(c: KubeClients, namespace: string, name: string, data: Record<string, string>): Promise<void> {
  const body: k8s.V1ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': FIELD_MANAGER } }, data };
  try {
    await c.core.replaceNamespacedConfigMap({ name, namespace, body, fieldManager: FIELD_MANAGER });
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
    await c.core.createNamespacedConfigMap({ namespace, body, fieldManager: FIELD_MANAGER });
  }
}

export async function emitEvent(c: KubeClients, namespace: string, configMap: string, type: 'Normal' | 'Warning', reason: string, message: string, host: string): Promise<void> {
  const now = new Date();
  await c.core.createNamespacedEvent({
    namespace,
    body: {
      metadata: { generateName: 'baton-engine-', namespace },
      involvedObject: { apiVersion: 'v1', kind: 'ConfigMap', name: configMap, namespace },
      reason, message: message.slice(0, 1024), type,
      firstTimestamp: now, lastTimestamp: now, count: 1,
      source: { component: 'baton-engine', host },
      reportingComponent: 'baton.io/engine', reportingInstance: host,
    },
  });
}
