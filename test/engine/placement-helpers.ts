// Small hand-built topologies for the placement tests.
import type { ClusterSnapshot, NodeInfo, PlacementPool, PodInfo, ServicePlacementSpec } from '../../engine/placement/index.js';

export function node(name: string, gpuType: string, s1: string, s2: string, gpus = 8, labels: Record<string, string> = {}): NodeInfo {
  return { name, labels: { 'baton.io/gpu-type': gpuType, 'baton.io/s1': s1, 'baton.io/s2': s2, ...labels }, allocatableGpus: gpus };
}

/** `count` nodes per S1, names `<s1>-<i>`, one GPU type per S1 unless `types` cycles. */
export function rack(s2: string, s1: string, types: string[], count: number, gpus = 8): NodeInfo[] {
  return Array.from({ length: count }, (_, i) => node(`${s1}-${i}`, types[i % types.length]!, s1, s2, gpus));
}

export function pool(name: string, role: 'prefill' | 'decode', gpuType: string, o: Partial<PlacementPool> = {}): PlacementPool {
  return { name, role, gpuType, unitsPerReplica: 1, gpusPerReplica: 8, preference: 0, minReplicas: 0, maxReplicas: 1000, ...o };
}

export function service(name: string, o: Partial<ServicePlacementSpec> & { pools: PlacementPool[] }): ServicePlacementSpec {
  return { service: name, priority: 0, affinity: 'none', ratio: { prefill: 1, decode: 1 }, ...o };
}

export function snapshot(nodes: NodeInfo[], pods: PodInfo[] = []): ClusterSnapshot {
  return { nodes, pods };
}

export function batonPod(name: string, nodeName: string, service: string, poolName: string, gpus = 8, ready = true): PodInfo {
  return { name, node: nodeName, gpus, service, pool: poolName, ready };
}
