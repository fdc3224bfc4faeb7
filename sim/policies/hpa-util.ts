// Baseline: one stock HPA per role on GPU utilization (DCGM through a Pods metric), the default many teams start with.
// Decode utilization reads ~86 % at any load, so the decode HPA keeps adding pods until enough of them idle (paper Fig. 6d).
import type { HpaControllerConfig, HpaMetricSpec, MetricReading } from '../../engine/core/hpa/index.js';
import type { Role } from '../../engine/core/types.js';
import type { ControlInput, PoolView } from '../policy.js';
import { PerPoolHpaPolicy, type RoleHpaTarget } from './per-pool-hpa.js';

export type { RoleHpaTarget } from './per-pool-hpa.js';

export class HpaUtilizationPolicy extends PerPoolHpaPolicy {
  readonly name = 'hpa-util';

  constructor(targets: Record<Role, RoleHpaTarget>, targetUtilizationPct: number, controller: Partial<HpaControllerConfig> = {}) {
    const metric: HpaMetricSpec = { type: 'Pods', name: 'DCGM_FI_DEV_GPU_UTIL', target: { type: 'AverageValue', averageValue: targetUtilizationPct } };
    super(targets, () => metric, controller);
  }

  protected reading(v: PoolView, input: ControlInput): MetricReading {
    // Every ready pod reports the role's utilization in percent, as DCGM would.
    const util = (v.pool.role === 'prefill' ? input.signals.prefillGpuUtil : input.signals.decodeGpuUtil) * 100;
    return new Array<number>(Math.max(1, v.ready)).fill(util);
  }
}
