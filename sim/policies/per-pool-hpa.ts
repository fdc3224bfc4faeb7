// Baselines that give each role one stock HPA on a metric of its own: the shape most teams start from. Subclasses say
// which metric and what each HPA reads from the signals; the HPA model does the rest, as in a cluster.
import { initialHpaState, stepHpa, type HpaControllerConfig, type HpaMetricSpec, type HpaSpec, type HpaState, type MetricReading } from '../../engine/core/hpa/index.js';
import type { Role } from '../../engine/core/types.js';
import type { SimPool } from '../fleet/fleet.js';
import type { ControlInput, ControlOutput, PoolView, SimPolicy } from '../policy.js';

export interface RoleHpaTarget {
  pool: string;
  min: number;
  max: number;
  initial: number;
}

export abstract class PerPoolHpaPolicy implements SimPolicy {
  abstract readonly name: string;
  private readonly states = new Map<string, HpaState>();
  private readonly specs = new Map<string, HpaSpec>();

  /** `metricOf`: the metric spec of each role's HPA, as an operator would write it. */
  constructor(private readonly targets: Record<Role, RoleHpaTarget>, metricOf: (role: Role) => HpaMetricSpec, private readonly controller: Partial<HpaControllerConfig> = {}) {
    for (const [role, t] of Object.entries(targets) as [Role, RoleHpaTarget][]) {
      this.specs.set(t.pool, { minReplicas: t.min, maxReplicas: t.max, metrics: [metricOf(role)] });
      this.states.set(t.pool, initialHpaState());
    }
  }

  /** What the metrics API answers for a pool's HPA now. */
  protected abstract reading(view: PoolView, input: ControlInput): MetricReading;

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
      const step = stepHpa(spec, this.controller, this.states.get(v.pool.name)!, {
        now: input.now, specReplicas: v.spec, statusReplicas: v.current, readyPods: v.ready, metrics: [this.reading(v, input)],
      });
      this.states.set(v.pool.name, step.state);
      out[v.pool.name] = step.desiredReplicas;
    }
    return { replicas: out };
  }
}
