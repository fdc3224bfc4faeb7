// Defaults filled in when a rule leaves a field out. Documented in rules/README.md.
import type { StabilityConfig } from '../engine/core/types.js';

export const DEFAULT_METRIC_NAME = 'baton_desired_replicas';
export const DEFAULT_QUERY_INTERVAL_S = 5;
export const DEFAULT_MAX_STALENESS_S = 60;
export const DEFAULT_POOL_LABEL = 'pool';
export const DEFAULT_WINDOW = '1m';
/** Idle time before a scale-to-zero service goes to zero (KEDA's ScaledObject cooldownPeriod default is 300 s too). */
export const DEFAULT_IDLE_S = 300;
/** Drain-aware scale-in: the longest a lower count waits for the replicas it removes to finish their requests. */
export const DEFAULT_DRAIN_WAIT_S = 120;
export const DEFAULT_STABILITY: Readonly<StabilityConfig> = Object.freeze({
  scaleUpCooldownS: 30,
  scaleDownCooldownS: 300,
  scaleInHysteresis: 0.1,
  scaleInDamping: 0.5,
});
/** Labels Baton sets itself on every published value; a rule may not override them. */
export const RESERVED_LABELS = ['service', 'role', 'pool'] as const;
