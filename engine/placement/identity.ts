// Which pod labels say a pod's service, role, pool and multi-node group. Baton's own `baton.io/*` labels are one
// convention; the P/D stacks our users run label roles their own way. One mapping serves the engine (counting pods per
// pool and node, readiness) and the scrape side (the PodMonitor whose relabelings give metrics the service/role/pool
// labels the rule presets select on), so the two cannot disagree.
import type { Role } from '../core/types.js';
import { POD_POOL_LABEL, POD_ROLE_LABEL, POD_SERVICE_LABEL } from './labels.js';

export interface IdentityLabels {
  /** Pod label whose value names the service. */
  service: string;
  /** Pod label whose value names the role. */
  role: string;
  /** Pod label whose value names the pool; without one, a pod's pool is its service's only pool of that role. */
  pool?: string;
  /** Pod label shared by every pod of one multi-node instance (a LeaderWorkerSet group, a serving group). */
  group?: string;
  /** Role label values that mean prefill and decode (default: `prefill`, `decode`). */
  roleValues?: Record<Role, string[]>;
  /**
   * A pod with a service and a pool label but no role label is still the pool's (Baton's own recipe labelled service
   * and pool before it labelled roles). Off for other stacks, whose routers and planners carry the same keys.
   */
  roleOptional?: boolean;
  /** Where the keys were looked up (presets only). */
  source?: string;
}

const DEFAULT_ROLE_VALUES: Record<Role, string[]> = { prefill: ['prefill'], decode: ['decode'] };

/** The role label values that mean prefill and decode under a mapping. */
export function roleValues(id: IdentityLabels): Record<Role, string[]> {
  return id.roleValues ?? DEFAULT_ROLE_VALUES;
}

/**
 * The pod annotation that holds a multi-node group's size: LeaderWorkerSet sets it on every pod of a group, and Kthena
 * sets the same key for compatibility. A group counts as ready only when that many of its pods are Ready.
 */
export const GROUP_SIZE_ANNOTATION = 'leaderworkerset.sigs.k8s.io/size';

/** The pod label whose value `0` marks a group's leader (LeaderWorkerSet's worker index). */
export const GROUP_LEADER_LABEL = 'leaderworkerset.sigs.k8s.io/worker-index';

/** Label conventions of the stacks Baton drives; each names where its keys were found. */
export const IDENTITY_PRESETS = {
  baton: {
    service: POD_SERVICE_LABEL, role: POD_ROLE_LABEL, pool: POD_POOL_LABEL, group: 'leaderworkerset.sigs.k8s.io/group-key', roleOptional: true,
    source: 'Baton (engine/placement/labels.ts, manifests/examples/chat); a LeaderWorkerSet pool\'s group from LWS\'s group-key label',
  },
  'llm-d': {
    service: 'llm-d.ai/model', role: 'llm-d.ai/role',
    source: 'llm-d guides: pods labelled llm-d.ai/role=prefill|decode beside llm-d.ai/model (llm-d/llm-d guides, pd-disaggregation)',
  },
  'lws-disaggregatedset': {
    service: 'disaggregatedset.x-k8s.io/name', role: 'disaggregatedset.x-k8s.io/role', group: 'leaderworkerset.sigs.k8s.io/group-key',
    source: 'sigs.k8s.io/lws v0.9 DisaggregatedSet (disaggregatedset.x-k8s.io/{name,role}); LeaderWorkerSet group-key label',
  },
  dynamo: {
    service: 'nvidia.com/dynamo-graph-deployment-name', role: 'nvidia.com/dynamo-sub-component-type', pool: 'nvidia.com/dynamo-component',
    source: 'ai-dynamo/dynamo deploy/operator/internal/consts/consts.go: dynamo-sub-component-type prefill|decode, set by the operator',
  },
  rbg: {
    service: 'rolebasedgroup.workloads.x-k8s.io/name', role: 'rolebasedgroup.workloads.x-k8s.io/role', group: 'rolebasedgroup.workloads.x-k8s.io/group-unique-key',
    source: 'sgl-project/rbg doc/reference/variables.md (RoleBasedGroup labels); role values are the roles\' own names',
  },
  'aibrix-stormservice': {
    service: 'storm-service-name', role: 'role-name', group: 'roleset-name',
    source: 'vllm-project/aibrix pkg/plugins/gateway/algorithms (the P/D router reads role-name=prefill|decode and roleset-name)',
  },
  kthena: {
    service: 'modelserving.volcano.sh/name', role: 'modelserving.volcano.sh/role', group: 'modelserving.volcano.sh/group-name',
    source: 'volcano-sh/kthena pkg/apis/workload/v1alpha1/labels.go (ModelServing pod labels); role values are the roles\' own names',
  },
} as const satisfies Record<string, IdentityLabels>;

export type IdentityPreset = keyof typeof IDENTITY_PRESETS;

/** Kubernetes label keys: an optional DNS-subdomain prefix and a name of ≤ 63 characters. */
const LABEL_KEY = /^(([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/**
 * A configured identity: a preset's name, or `{preset?, service?, role?, pool?, group?, roleValues?}` (keys given
 * override the preset's; without a preset, Baton's). Throws naming `where` and the field.
 */
export function resolveIdentity(spec: unknown, where: string): IdentityLabels {
  if (spec === undefined) return IDENTITY_PRESETS.baton;
  if (typeof spec === 'string') return presetOf(spec, where);
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new Error(`${where}: expected a preset name (${presetNames()}) or a mapping of label keys`);
  const o = spec as Record<string, unknown>;
  const known = new Set(['preset', 'service', 'role', 'pool', 'group', 'roleValues']);
  for (const k of Object.keys(o)) if (!known.has(k)) throw new Error(`${where}.${k}: unknown field (expected one of ${[...known].join(', ')})`);
  const base: IdentityLabels = o.preset === undefined ? IDENTITY_PRESETS.baton : presetOf(o.preset, `${where}.preset`);
  const out: IdentityLabels = { service: base.service, role: base.role };
  if (base.pool) out.pool = base.pool;
  if (base.group) out.group = base.group;
  if (base.roleValues) out.roleValues = base.roleValues;
  for (const k of ['service', 'role', 'pool', 'group'] as const) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'string' || !LABEL_KEY.test(v)) throw new Error(`${where}.${k}: ${JSON.stringify(v)} is not a Kubernetes label key`);
    out[k] = v;
  }
  // The leniency belongs to Baton's own role label, not to whatever key replaces it.
  if (base.roleOptional && out.role === base.role) out.roleOptional = true;
  if (o.roleValues !== undefined) out.roleValues = roleValuesOf(o.roleValues, `${where}.roleValues`);
  return out;
}

function presetOf(name: unknown, where: string): IdentityLabels {
  if (typeof name !== 'string' || !Object.hasOwn(IDENTITY_PRESETS, name)) throw new Error(`${where}: unknown label preset ${JSON.stringify(name)} (expected one of ${presetNames()})`);
  return IDENTITY_PRESETS[name as IdentityPreset];
}

function presetNames(): string {
  return Object.keys(IDENTITY_PRESETS).join(', ');
}

function roleValuesOf(v: unknown, where: string): Record<Role, string[]> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${where}: expected {prefill: [values], decode: [values]}`);
  const o = v as Record<string, unknown>;
  const out = { ...DEFAULT_ROLE_VALUES };
  for (const k of Object.keys(o)) {
    if (k !== 'prefill' && k !== 'decode') throw new Error(`${where}.${k}: expected prefill or decode`);
    const list = o[k];
    if (!Array.isArray(list) || list.length === 0 || list.some((x) => typeof x !== 'string' || x === '')) throw new Error(`${where}.${k}: expected a non-empty list of label values`);
    out[k] = list as string[];
  }
  const both = out.prefill.filter((x) => out.decode.includes(x));
  if (both.length) throw new Error(`${where}: ${JSON.stringify(both[0])} cannot mean both prefill and decode`);
  return out;
}

export interface PodIdentity {
  service: string;
  /** Absent only where the mapping makes the role optional and the pod names its pool. */
  role?: Role;
  /** Undefined when the mapping has no pool label and the caller must derive it from the role. */
  pool?: string;
  group?: string;
}

/**
 * A pod's identity from its labels, or undefined when it is not a P/D engine of a service: no service label, a role
 * value that is neither prefill nor decode (a router, a planner), or no role where the mapping needs one.
 */
export function identityOf(labels: Readonly<Record<string, string>>, id: IdentityLabels): PodIdentity | undefined {
  const service = labels[id.service];
  if (!service) return undefined;
  const roleValue = labels[id.role];
  let role: Role | undefined;
  if (roleValue !== undefined) {
    const values = roleValues(id);
    role = values.prefill.includes(roleValue) ? 'prefill' : values.decode.includes(roleValue) ? 'decode' : undefined;
    if (!role) return undefined;
  }
  const pool = id.pool ? labels[id.pool] : undefined;
  if (!role && !(pool && id.roleOptional)) return undefined;
  const out: PodIdentity = { service };
  if (role) out.role = role;
  if (pool) out.pool = pool;
  const group = id.group ? labels[id.group] : undefined;
  if (group) out.group = group;
  return out;
}

/** Prometheus' name for a pod label in Kubernetes service discovery (non-alphanumerics become `_`). */
export function sdLabel(key: string): string {
  return sdMeta('label', key);
}

/** Kubernetes SD's meta label for a pod label or annotation: non-alphanumerics become `_`. */
function sdMeta(kind: 'label' | 'annotation', key: string): string {
  return `__meta_kubernetes_pod_${kind}_${key.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

export interface Relabeling {
  sourceLabels?: string[];
  regex?: string;
  targetLabel?: string;
  replacement?: string;
  action?: 'keep' | 'replace';
}

/**
 * The PodMonitor relabelings that give each engine's series the `service`, `role` and `pool` labels Baton's rule
 * presets select on, from the same mapping the engine reads pods with. Role values map to prefill/decode; pods of
 * neither role are dropped. Without a pool label, the pool is the role (one pool per role).
 */
export function relabelingsFor(id: IdentityLabels): Relabeling[] {
  const values = roleValues(id);
  const alt = (xs: string[]): string => xs.map(escapeRegex).join('|');
  return [
    { action: 'keep', sourceLabels: [sdLabel(id.role)], regex: `${alt(values.prefill)}|${alt(values.decode)}` },
    { sourceLabels: [sdLabel(id.service)], targetLabel: 'service' },
    { sourceLabels: [sdLabel(id.role)], regex: alt(values.prefill), targetLabel: 'role', replacement: 'prefill' },
    { sourceLabels: [sdLabel(id.role)], regex: alt(values.decode), targetLabel: 'role', replacement: 'decode' },
    id.pool ? { sourceLabels: [sdLabel(id.pool)], targetLabel: 'pool' } : { sourceLabels: ['role'], targetLabel: 'pool' },
    // Which replica a pod is, where its controller removes replicas by index (drain-aware scale-in): a StatefulSet's
    // ordinal, overridden by a LeaderWorkerSet's group index (its workers' own ordinals are the index within the group).
    ...REPLICA_INDEX_SOURCES.map((key) => ({ sourceLabels: [sdLabel(key)], regex: '(.+)', targetLabel: REPLICA_INDEX_LABEL })),
    // Where a ReplicaSet chooses by pod-deletion-cost (Deployments; Baton's engine marks the pods it wants gone), the
    // cost tells which pods a scale-in removes.
    { sourceLabels: [sdAnnotation(DELETION_COST_ANNOTATION)], regex: '(.+)', targetLabel: DELETION_COST_LABEL },
  ];
}

/** The pod annotation a ReplicaSet deletes the lowest of first on scale-in. */
export const DELETION_COST_ANNOTATION = 'controller.kubernetes.io/pod-deletion-cost';

/** The series label that carries a pod's deletion cost. */
export const DELETION_COST_LABEL = 'deletion_cost';

/** Prometheus' name for a pod annotation in Kubernetes service discovery. */
export function sdAnnotation(key: string): string {
  return sdMeta('annotation', key);
}

/** The series label that carries a pod's replica index (what drain-aware scale-in reads). */
export const REPLICA_INDEX_LABEL = 'replica_index';

/** Pod labels holding a replica's index, later ones winning: StatefulSet ordinal, LeaderWorkerSet group index. */
export const REPLICA_INDEX_SOURCES = ['apps.kubernetes.io/pod-index', 'leaderworkerset.sigs.k8s.io/group-index'] as const;

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
