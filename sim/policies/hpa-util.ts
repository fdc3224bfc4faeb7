// Baseline: one stock HPA per role on GPU utilization (DCGM through a Pods metric), the default many teams start with.
// Decode utilization reads ~86 % at any load, so the decode HPA scales out and never back in (paper Fig. 6d).
import { initialHpaState, stepHpa, type HpaControllerConfig, type HpaSpec, type HpaState } from '../../engine/core/hpa/index.js';
import type { Role } from '../../engine/core/types.js';
import type { SimPool } from '../fleet/fleet.js';
import type { ControlInput, ControlOutput, SimPolicy } from '../policy.js';

export interface RoleHpaTarget {
  pool: string;
  min: number;
  max: number;
  initial: number;
}

export class HpaUtilizationPolicy implements SimPolicy {
  readonly name = 'hpa-util';
  private readonly states = new Map<string, HpaState>();
  private readonly specs = new Map<string, HpaSpec>();

  constructor(private readonly targets: Record<Role, RoleHpaTarget>, targetUtilizationPct: number, private readonly controller: Partial<HpaControllerConfig> = {}) {
    for (const t of Object.values(targets)) {
      this.specs.set(t.pool, { minReplicas: t.min, maxReplicas: t.max, metrics: [{ type: 'Pods', name: 'DCGM_FI_DEV_GPU_UTIL', target: { type: 'AverageValue', averageValue: targetUtilizationPct } }] });
      this.states.set(t.pool, initialHpaState());
    }
  }

  initial(_pools: readonly SimPool[]): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of Object.values(this.targets)) out[t.pool] = t.initial;
    return out;
  }

  control(input: ControlInput): ControlOutput {
    const out: Record<string, number> = {};
    for (const v of input.pools) {
      const spec = this.specs.get(v.pool.name);
      if (!spec) {
        out[v.pool.name] = 0;
        continue;
      }
      const util = (v.pool.role === 'prefill' ? input.signals.prefillGpuUtil : input.signals.decodeGpuUtil) * 100;
      const perPod = new Array<number>(Math.max(1, v.ready)).fill(util);
      const step = stepHpa(spec, this.controller, this.states.get(v.pool.name)!, {
        now: input.now, specReplicas: v.spec, statusReplicas: v.current, readyPods: v.ready, metrics: [perPod],
      });
      this.states.set(v.pool.name, step.state);
      out[v.pool.name] = step.desiredReplicas;
    }
    return { replicas: out };
  }
}
