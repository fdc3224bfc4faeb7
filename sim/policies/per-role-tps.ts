// Baseline: each role has its own stock HPA on its own TPS (prefill on prompt tokens/s, decode on generated tokens/s),
// with the HPA defaults. Each is reasonable alone; together nothing keeps P and D in step.
import { initialHpaState, stepHpa, type HpaControllerConfig, type HpaSpec, type HpaState } from '../../engine/core/hpa/index.js';
import type { Role } from '../../engine/core/types.js';
import type { SimPool } from '../fleet/fleet.js';
import type { ControlInput, ControlOutput, SimPolicy } from '../policy.js';
import type { RoleHpaTarget } from './hpa-util.js';

export class PerRoleTpsPolicy implements SimPolicy {
  readonly name = 'per-role-tps';
  private readonly states = new Map<string, HpaState>();
  private readonly specs = new Map<string, HpaSpec>();

  constructor(private readonly targets: Record<Role, RoleHpaTarget & { tpsPerReplica: number }>, private readonly controller: Partial<HpaControllerConfig> = {}) {
    for (const [role, t] of Object.entries(targets)) {
      const metric = role === 'prefill' ? 'vllm_prompt_tokens_rate' : 'vllm_generation_tokens_rate';
      this.specs.set(t.pool, { minReplicas: t.min, maxReplicas: t.max, metrics: [{ type: 'External', name: metric, target: { type: 'AverageValue', averageValue: t.tpsPerReplica } }] });
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
      const tps = v.pool.role === 'prefill' ? input.signals.prefillTps : input.signals.decodeTps;
      const step = stepHpa(spec, this.controller, this.states.get(v.pool.name)!, {
        now: input.now, specReplicas: v.spec, statusReplicas: v.current, readyPods: v.ready, metrics: [tps],
      });
      this.states.set(v.pool.name, step.state);
      out[v.pool.name] = step.desiredReplicas;
    }
    return { replicas: out };
  }
}
