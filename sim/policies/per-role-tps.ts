// Baseline: each role has its own stock HPA on its own TPS (prefill on prompt tokens/s, decode on generated tokens/s),
// with the HPA defaults. Each is reasonable alone; together nothing keeps P and D in step.
import type { HpaControllerConfig, HpaMetricSpec, MetricReading } from '../../engine/core/hpa/index.js';
import type { Role } from '../../engine/core/types.js';
import type { ControlInput, PoolView } from '../policy.js';
import { PerPoolHpaPolicy, type RoleHpaTarget } from './per-pool-hpa.js';

export class PerRoleTpsPolicy extends PerPoolHpaPolicy {
  readonly name = 'per-role-tps';

  constructor(targets: Record<Role, RoleHpaTarget & { tpsPerReplica: number }>, controller: Partial<HpaControllerConfig> = {}) {
    super(targets, (role): HpaMetricSpec => ({
      type: 'External',
      name: role === 'prefill' ? 'vllm_prompt_tokens_rate' : 'vllm_generation_tokens_rate',
      target: { type: 'AverageValue', averageValue: targets[role].tpsPerReplica },
    }), controller);
  }

  protected reading(v: PoolView, input: ControlInput): MetricReading {
    return v.pool.role === 'prefill' ? input.signals.prefillTps : input.signals.decodeTps;
  }
}
