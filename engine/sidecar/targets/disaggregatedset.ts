// LWS's DisaggregatedSet (disaggregatedset.x-k8s.io/v1): one object, one LeaderWorkerSet template per role, and (in
// v0.9) no scale subresource per role. A pool names its role (`target.role`). Reading: the role's `spec.replicas`, and
// its pods by the name and role labels the DisaggregatedSet controller injects into every pod template. Writing (when
// the service's `scaler` is `engine`): every role's replicas in one JSON Patch, so both roles move or neither does,
// guarded by the object's resourceVersion and each role's name at its index.
import * as k8s from '@kubernetes/client-node';
import { FIELD_MANAGER } from '../kube.js';
import { splitApiVersion } from './scale.js';
import { refText, type TargetKind, type TargetReading, type TargetRef } from './types.js';

export const DS_GROUP = 'disaggregatedset.x-k8s.io';
export const DS_NAME_LABEL = `${DS_GROUP}/name`;
export const DS_ROLE_LABEL = `${DS_GROUP}/role`;

interface DisaggregatedSet {
  metadata?: { resourceVersion?: string };
  spec?: { roles?: { name: string; spec?: { replicas?: number } }[] };
}

export type JsonPatchOp = { op: 'test' | 'add'; path: string; value: unknown };

/**
 * The one patch that sets `replicas` (role name → count) on `ds`. Refused, naming why, when a role is missing or the
 * result breaks the object's own rule (all roles zero or all non-zero, counting roles Baton does not scale).
 */
export function rolesPatch(ds: DisaggregatedSet, replicas: Readonly<Record<string, number>>, what: string): JsonPatchOp[] {
  const roles = ds.spec?.roles ?? [];
  for (const name of Object.keys(replicas)) if (!roles.some((r) => r.name === name)) throw new Error(`${what}: no role "${name}" (roles: ${roles.map((r) => r.name).join(', ') || 'none'})`);
  const after = roles.map((r) => replicas[r.name] ?? r.spec?.replicas ?? 0);
  if (after.some((n) => n === 0) && after.some((n) => n > 0)) {
    throw new Error(`${what}: ${roles.map((r, i) => `${r.name}=${after[i]}`).join(', ')} would mix zero and non-zero roles, which the DisaggregatedSet refuses; holding`);
  }
  const ops: JsonPatchOp[] = [{ op: 'test', path: '/metadata/resourceVersion', value: ds.metadata?.resourceVersion }];
  roles.forEach((r, i) => {
    const n = replicas[r.name];
    if (n === undefined || n === (r.spec?.replicas ?? 0)) return;
    ops.push({ op: 'test', path: `/spec/roles/${i}/name`, value: r.name }, { op: 'add', path: `/spec/roles/${i}/spec/replicas`, value: n });
  });
  return ops.length > 1 ? ops : [];
}

/** The object's coordinates for the custom-objects API. */
function objectOf(ref: TargetRef): { group: string; version: string; namespace: string; plural: string; name: string } {
  return { group: DS_GROUP, version: splitApiVersion(ref.apiVersion).version, namespace: ref.namespace, plural: 'disaggregatedsets', name: ref.name };
}

export class DisaggregatedSetTarget implements TargetKind {
  private readonly custom: k8s.CustomObjectsApi;

  constructor(kc: k8s.KubeConfig) {
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
  }

  private async get(ref: TargetRef): Promise<DisaggregatedSet> {
    return (await this.custom.getNamespacedCustomObject(objectOf(ref))) as DisaggregatedSet;
  }

  async read(ref: TargetRef): Promise<TargetReading> {
    if (!ref.role) throw new Error(`${refText(ref)}: a DisaggregatedSet target names its role`);
    const role = (await this.get(ref)).spec?.roles?.find((r) => r.name === ref.role);
    if (!role) throw new Error(`${refText(ref)}: no role "${ref.role}"`);
    return { replicas: role.spec?.replicas ?? 0, selector: `${DS_NAME_LABEL}=${ref.name},${DS_ROLE_LABEL}=${ref.role}` };
  }

  /** Writes every role's replicas in one request; 'unchanged' when they already are. */
  async scaleRoles(ref: TargetRef, replicas: Readonly<Record<string, number>>): Promise<'written' | 'unchanged'> {
    const ops = rolesPatch(await this.get(ref), replicas, refText(ref));
    if (!ops.length) return 'unchanged';
    await this.custom.patchNamespacedCustomObject(
      { ...objectOf(ref), body: ops, fieldManager: FIELD_MANAGER },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    return 'written';
  }
}
