// Placement vocabulary (the paper's pre-scheduling layer, sections 3.1–3.4): plain data in, a plan out. Nothing here
// touches I/O or reads a clock, so the sidecar engine, the simulator and the bench run the very same code.
import type { PoolConfig, Role } from '../core/types.js';

/** Pods one replica of the pool is (a multi-node group's size; 1 for a single pod). */
export function podsOf(p: PlacementPool): number {
  return p.podsPerReplica ?? 1;
}

/** GPUs each pod of one replica requests. */
export function gpusPerPod(p: PlacementPool): number {
  return p.gpusPerReplica / podsOf(p);
}

/** Node label keys that describe the fabric. Defaults in DEFAULT_TOPOLOGY_KEYS; every key is configurable. */
export interface TopologyKeys {
  /** GPU model of the node, e.g. `H100`. Matched against PlacementPool.gpuType. */
  gpuType: string;
  /** The S1 (leaf / minipod) RDMA switch the node hangs off. */
  s1: string;
  /** The S2 (spine / bigpod) RDMA switch above that S1. */
  s2: string;
  /** Extended resource that counts GPUs in node allocatable and pod requests. */
  gpuResource: string;
}

export const DEFAULT_TOPOLOGY_KEYS: TopologyKeys = {
  gpuType: 'baton.io/gpu-type',
  s1: 'baton.io/s1',
  s2: 'baton.io/s2',
  gpuResource: 'nvidia.com/gpu',
};

/** Which switch domain a service's Deployment Group must stay inside. `none` = anywhere in the cluster. */
export type Affinity = 'none' | 's2' | 's1';

/**
 * RDMA subgroup tiers (paper §3.2), ordered by how precious they are: 0 low = S2 homogeneous, 1 medium = S2
 * heterogeneous made of homogeneous S1s, 2 high = S1 heterogeneous. Placement spends the lowest tier that works.
 */
export type Tier = 0 | 1 | 2;
export const TIER_NAMES = ['low', 'medium', 'high'] as const;

export interface PlacementPool extends PoolConfig {
  /** GPUs one replica requests: its `nvidia.com/gpu` limit, summed over its pods when it is a multi-node group. */
  gpusPerReplica: number;
  /**
   * Pods one replica is (default 1): a LeaderWorkerSet group of `size` pods, each on its own node with
   * gpusPerReplica / podsPerReplica GPUs. Capacity units, maxReplicas and the published replicas count groups; slot
   * labels count pods; every pod of one group is placed under one switch (S1, else S2) and scale-in removes whole groups.
   */
  podsPerReplica?: number;
  /** Relative cost of one replica; informational in the plan (preference already orders pools). */
  cost?: number;
}

export interface ServicePlacementSpec {
  service: string;
  /** Higher places first and wins scarce resources. */
  priority: number;
  affinity: Affinity;
  /** P:D ratio in units (the policy core's ratio). */
  ratio: { prefill: number; decode: number };
  pools: PlacementPool[];
}

/** What the policy core asks for: desired capacity per role in units (Decision.prefill.units / decode.units). */
export interface ServiceDemand {
  service: string;
  units: Record<Role, number>;
  /** Ready replicas per pool, for the Ready-ratio guard (optional). */
  ready?: Record<string, number>;
}

export interface NodeInfo {
  name: string;
  labels: Record<string, string>;
  allocatableGpus: number;
  /** Cordoned or not Ready: keeps what it holds, takes nothing new. */
  unschedulable?: boolean;
}

export interface PodInfo {
  name: string;
  node: string;
  gpus: number;
  /** From the pod's `baton.io/service` and `baton.io/pool` labels; absent for pods that are not Baton's. */
  service?: string;
  pool?: string;
  ready?: boolean;
  /** The multi-node instance (LeaderWorkerSet group) the pod belongs to, and how many pods that group has. */
  group?: string;
  groupSize?: number;
  /** The group's leader (LWS worker-index 0): it takes a leader slot. */
  leader?: boolean;
}

/** One observation of the cluster; the view is rebuilt from it every cycle. */
export interface ClusterSnapshot {
  nodes: NodeInfo[];
  /** Pods bound to a node and not finished (Pending-but-bound, Running, Terminating). */
  pods: PodInfo[];
}

export interface PlacementOptions {
  keys?: Partial<TopologyKeys>;
  /** Prefix of slot label keys (default `baton.io/slot.`). */
  slotPrefix?: string;
}

export type PlacementReasonCode =
  | 'scale-out'
  | 'scale-in'
  | 'new-group'
  | 'pool-fallback'
  | 'unplaced'
  | 'capped'
  | 'ready-guard'
  | 'draining'
  | 'unknown-service';

export interface PlacementReason {
  code: PlacementReasonCode;
  service: string;
  role?: Role;
  pool?: string;
  group?: string;
  detail: Record<string, number | string | boolean>;
  message: string;
}

/** Slots of one service pool on one node (the label value the engine writes). */
export interface SlotAssignment {
  node: string;
  service: string;
  role: Role;
  pool: string;
  /** Deployment Group id: `cluster`, `s2:<switch>` or `s1:<switch>`. */
  group: string;
  /** Slots the plan wants here. */
  count: number;
  /** Pods of this pool on the node now (≥ count while a scale-in drains). */
  pods: number;
  /** Multi-node pools: groups whose leader the plan puts here (of `count`), and leader pods here now. */
  leaders?: number;
  leaderPods?: number;
}

export interface GroupPlan {
  id: string;
  tier: Tier;
  units: Record<Role, number>;
  replicas: Record<string, number>;
}

export interface ServicePlan {
  service: string;
  priority: number;
  /** Desired replicas per pool: what the adapter publishes to each pool's HPA. */
  pools: Record<string, number>;
  units: Record<Role, number>;
  /** Units asked for (after the pools' min/max and the engine's caps), per role. */
  requested: Record<Role, number>;
  /**
   * The demand this plan answers, per role, exactly as the demand file said it (before bounds and caps); absent
   * without demand. The adapter matches its decision against this, never against `requested`, which a cap lowers.
   */
  demanded?: Record<Role, number>;
  groups: GroupPlan[];
}

export interface SubgroupInfo {
  id: string;
  level: 's1' | 's2';
  tier: Tier;
  gpuTypes: string[];
  gpus: number;
  free: number;
}

export interface PlacementPlan {
  services: ServicePlan[];
  slots: SlotAssignment[];
  reasons: PlacementReason[];
  subgroups: SubgroupInfo[];
}
