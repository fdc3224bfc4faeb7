// The seam for workload kinds: a kind with its own reader is listed here (one file each); every other kind is read
// through its scale subresource.
import type * as k8s from '@kubernetes/client-node';
import { ScaleSubresource } from './scale.js';
import type { TargetKind, TargetReading, TargetRef } from './types.js';

export type { TargetKind, TargetReading, TargetRef } from './types.js';
export { refText } from './types.js';

/** Kinds read some other way than `/scale`, keyed by `group/Kind` (none yet). */
const SPECIAL: Record<string, (kc: k8s.KubeConfig) => TargetKind> = {};

export class TargetReaders {
  private readonly byKind = new Map<string, TargetKind>();
  private scale: ScaleSubresource | undefined;

  constructor(private readonly kc: k8s.KubeConfig) {}

  read(ref: TargetRef): Promise<TargetReading> {
    const key = `${ref.apiVersion.split('/')[0]}/${ref.kind}`;
    const make = SPECIAL[key];
    if (make) {
      let k = this.byKind.get(key);
      if (!k) this.byKind.set(key, (k = make(this.kc)));
      return k.read(ref);
    }
    return (this.scale ??= new ScaleSubresource(this.kc)).read(ref);
  }
}
