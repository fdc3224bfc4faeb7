// What every simulated instance (one pod on `gpusPerInstance` GPUs) shares, whatever its role.
import type { GpuModel } from '../gpu/index.js';
import type { Role } from '../../engine/core/types.js';

export type InstanceState = 'starting' | 'ready' | 'draining' | 'gone';

export abstract class Instance {
  state: InstanceState = 'starting';
  goneAt = Infinity;
  /** Busy seconds, for utilization (cumulative). */
  busyS = 0;
  constructor(
    readonly id: number,
    readonly pool: string,
    readonly role: Role,
    readonly gpu: GpuModel,
    readonly gpus: number,
    readonly switchId: number,
    readonly createdAt: number,
    public readyAt: number,
  ) {}

  get accepting(): boolean {
    return this.state === 'ready';
  }

  /** Work left in flight; a draining instance goes away when this is zero. */
  abstract get inFlight(): number;
}
