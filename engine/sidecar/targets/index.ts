// The seam for workload kinds: a kind with its own reader is listed here (one file each); every other kind is read
// through its scale subresource.
import type * as k8s from '@kubernetes/client-node';
import { DisaggregatedSetTarget, DS_GROUP } from './disaggregatedset.js';
import { ScaleSubresource } from './scale.js';
import type { TargetKind, TargetReading, TargetRef } from './types.js';

export type { TargetKind, TargetReading, TargetRef } from './types.js';
export { refText } from './types.js';

/** Kinds read some other way than `/scale`, keyed by `group/Kind`. */
const SPECIAL: Record<string, (kc: k8s.KubeConfig) => TargetKind> = {
  [`${DS_GROUP}/DisaggregatedSet`]: (kc) => new DisaggregatedSetTarget(kc),
};

/** `group/Kind`, the key of SPECIAL. */
const kindKey = (ref: TargetRef): string => `${ref.apiVersion.split('/')[0]}/${ref.kind}`;

/** Whether a kind can be scaled by the engine itself, several roles in one write. */
export function scalesRoles(ref: TargetRef): boolean {
  return kindKey(ref) === `${DS_GROUP}/DisaggregatedSet`;
}

export class TargetReaders {
  private readonly byKind = new Map<string, TargetKind>();
  private scale: ScaleSubresource | undefined;

  constructor(private readonly kc: k8s.KubeConfig) {}

  private kind(ref: TargetRef): TargetKind {
    const key = kindKey(ref);
    const make = SPECIAL[key];
    if (!make) return (this.scale ??= new ScaleSubresource(this.kc));
    let k = this.byKind.get(key);
    if (!k) this.byKind.set(key, (k = make(this.kc)));
    return k;
  }

  read(ref: TargetRef): Promise<TargetReading> {
    return this.kind(ref).read(ref);
  }

  scaleRoles(ref: TargetRef, replicas: Readonly<Record<string, number>>): Promise<'written' | 'unchanged'> {
    const k = this.kind(ref);
    if (!k.scaleRoles) throw new Error(`${ref.kind}: the engine does not scale this kind (its HPA does)`);
    return k.scaleRoles(ref, replicas);
  }
}
