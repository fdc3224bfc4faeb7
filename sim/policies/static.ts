// Static peak: the fleet sized once for the day's peak and never changed (what most teams run without autoscaling).
import type { SimPool } from '../fleet/fleet.js';
import type { ControlInput, ControlOutput, SimPolicy } from '../policy.js';

export class StaticPolicy implements SimPolicy {
  readonly name = 'static';
  constructor(private readonly replicas: Record<string, number>) {}

  initial(_pools: readonly SimPool[]): Record<string, number> {
    return { ...this.replicas };
  }

  control(_input: ControlInput): ControlOutput {
    return { replicas: { ...this.replicas } };
  }
}
