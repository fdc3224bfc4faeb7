// What a pool's workload is, and what the engine reads from it. One file per kind of workload implements `TargetKind`
// (like KEDA's scalers): `scale.ts` serves every object with a scale subresource (Deployment, StatefulSet,
// LeaderWorkerSet, any CRD that declares one). The engine never assumes a ReplicaSet.

/** The object a pool's HPA scales (its `scaleTargetRef`, plus the namespace). */
export interface TargetRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  /** For a workload of several roles (a DisaggregatedSet): the role this pool is. */
  role?: string;
}

/** What the engine needs from a target: how many replicas it is asked for, and which pods are its replicas. */
export interface TargetReading {
  /** `spec.replicas` as the target's scale subresource reports it. */
  replicas: number;
  /** The label selector (text form, as `/scale` `status.selector` gives it) of the target's pods. */
  selector: string;
}

/** How one kind of target is read, and, for a kind that holds several roles, scaled in one write. */
export interface TargetKind {
  read(ref: TargetRef): Promise<TargetReading>;
  /** Sets the replicas of several roles of one object together (role name → replicas). */
  scaleRoles?(ref: TargetRef, replicas: Readonly<Record<string, number>>): Promise<'written' | 'unchanged'>;
}

export function refText(ref: TargetRef): string {
  return `${ref.apiVersion} ${ref.kind} ${ref.namespace}/${ref.name}${ref.role ? ` role ${ref.role}` : ''}`;
}
