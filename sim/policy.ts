// How a scaling policy plugs into the simulator: every control tick it sees the service's signals and the fleet's
// counts, and answers the Deployments' replicas per pool. Policies that go through the stock HPA run the HPA model
// inside; the simulator only applies replica counts, as Kubernetes would.
import type { Reason } from '../engine/core/types.js';
import type { SimPool } from './fleet/fleet.js';
import type { Signals } from './signals.js';

export interface PoolView {
  pool: SimPool;
  /** spec.replicas as last set. */
  spec: number;
  /** Instances not draining (status.replicas). */
  current: number;
  ready: number;
}

export interface ControlInput {
  now: number;
  signals: Signals;
  pools: PoolView[];
}

export interface ControlOutput {
  replicas: Record<string, number>;
  reasons?: Reason[];
}

export interface SimPolicy {
  readonly name: string;
  /** Oracle only: new instances are ready at once. */
  readonly instantStart?: boolean;
  /** Replicas per pool at the start of the run. */
  initial(pools: readonly SimPool[], startS: number): Record<string, number>;
  /** Called every control tick (`tickS`); answers the replicas to apply now. */
  control(input: ControlInput): ControlOutput;
}
