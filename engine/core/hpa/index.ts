// Pure port of the Kubernetes HPA controller's replica maths (External + Pods metrics). See README.md.

export * from './types.js';
export { milliValue } from './quantity.js';
export { DEFAULT_HPA_CONTROLLER_CONFIG, defaultHpaSpec } from './defaults.js';
export { HpaInputError, validateHpaSpec } from './validate.js';
export { isWithinTolerance, tolerancesForHpa, type Tolerances } from './tolerance.js';
export {
  MetricComputeError,
  externalMetricReplicas,
  externalPerPodMetricReplicas,
  podsMetricReplicas,
  usageRatioReplicaCount,
} from './replicaCalculator.js';
export { findCondition, setCondition } from './conditions.js';
export {
  calculateScaleDownLimitWithBehaviors,
  calculateScaleUpLimit,
  calculateScaleUpLimitWithScalingRules,
  convertDesiredReplicasWithRules,
} from './normalize.js';
export { initialHpaState, reconcileHpa, resolveControllerConfig } from './reconcile.js';
export { isHpaSyncDue, nextHpaSyncAt, stepHpa, type HpaStep } from './driver.js';
