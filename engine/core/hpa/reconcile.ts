// reconcileAutoscaler (horizontal.go) as a pure function: one HPA sync, from the scale subresource and metric
// readings to the new scale.spec.replicas, HPA status conditions and the controller state for the next sync.
// The scale update itself always succeeds here (no FailedUpdateScale / FailedGetScale modelling).

import { setCondition } from './conditions.js';
import { DEFAULT_HPA_CONTROLLER_CONFIG, defaultHpaSpec } from './defaults.js';
import { computeReplicasForMetrics } from './metrics.js';
import { normalizeDesiredReplicas, normalizeDesiredReplicasWithBehaviors, storeScaleEvent } from './normalize.js';
import { tolerancesForHpa } from './tolerance.js';
import type {
  HpaControllerConfig,
  HpaReconcileResult,
  HpaSpec,
  HpaState,
  HpaSyncInputs,
  MetricStatus,
} from './types.js';
import { validateControllerConfig, validateSyncInputs } from './validate.js';

/** State of an HPA the controller has never synced. */
export function initialHpaState(): HpaState {
  return { scaleUpEvents: [], scaleDownEvents: [], conditions: [], desiredReplicas: 0, currentReplicas: 0 };
}

export function resolveControllerConfig(config: Partial<HpaControllerConfig> = {}): HpaControllerConfig {
  const resolved = { ...DEFAULT_HPA_CONTROLLER_CONFIG, ...config };
  validateControllerConfig(resolved);
  return resolved;
}

export function reconcileHpa(
  spec: HpaSpec,
  controllerConfig: Partial<HpaControllerConfig>,
  state: HpaState,
  inputs: HpaSyncInputs,
): HpaReconcileResult {
  const config = resolveControllerConfig(controllerConfig);
  const hpa = defaultHpaSpec(spec, config);
  validateSyncInputs(inputs, hpa.metrics.length);
  const { now } = inputs;

  let conditions = setCondition(state.conditions, 'AbleToScale', 'True', 'SucceededGetScale', 'the HPA controller was able to get the target\'s current scale', now);
  const currentReplicas = inputs.specReplicas;
  // recordInitialRecommendation: the first sync seeds the window with the current size, so it never scales down.
  let recommendations = state.recommendations ?? [{ recommendation: currentReplicas, timestamp: now }];
  let scaleUpEvents = state.scaleUpEvents;
  let scaleDownEvents = state.scaleDownEvents;

  let desiredReplicas = 0;
  let rescaleReason = '';
  let rescale = true;
  let metricStatuses: MetricStatus[] = [];
  let metricDesiredReplicas: number | undefined;
  let error: string | undefined;

  if (currentReplicas === 0 && hpa.minReplicas !== 0) {
    desiredReplicas = 0;
    rescale = false;
    conditions = setCondition(conditions, 'ScalingActive', 'False', 'ScalingDisabled', 'scaling is disabled since the replica count of the target is zero', now);
  } else if (currentReplicas > hpa.maxReplicas) {
    rescaleReason = 'Current number of replicas above Spec.MaxReplicas';
    desiredReplicas = hpa.maxReplicas;
  } else if (currentReplicas < hpa.minReplicas) {
    rescaleReason = 'Current number of replicas below Spec.MinReplicas';
    desiredReplicas = hpa.minReplicas;
  } else {
    const outcome = computeReplicasForMetrics(hpa.metrics, inputs, tolerancesForHpa(hpa, config), conditions);
    conditions = outcome.conditions;
    metricStatuses = outcome.statuses;
    error = outcome.error;
    if (outcome.replicas === undefined) {
      // Hold: status gets current replicas and metrics, desiredReplicas keeps its previous value; nothing recorded.
      const held: HpaState = {
        ...state,
        recommendations,
        conditions,
        currentReplicas,
        currentMetrics: metricStatuses,
        lastSyncAt: now,
      };
      return { desiredReplicas: currentReplicas, rescaled: false, error: error as string, conditions, currentMetrics: metricStatuses, state: held };
    }
    metricDesiredReplicas = outcome.replicas;

    let rescaleMetric = '';
    if (metricDesiredReplicas > desiredReplicas) {
      desiredReplicas = metricDesiredReplicas;
      rescaleMetric = outcome.metricName;
    }
    if (desiredReplicas > currentReplicas) rescaleReason = `${rescaleMetric} above target`;
    if (desiredReplicas < currentReplicas) rescaleReason = 'All metrics below target';

    const normalized =
      hpa.behavior === undefined
        ? normalizeDesiredReplicas({
            recommendations,
            now,
            downscaleStabilizationS: config.downscaleStabilizationS,
            currentReplicas,
            prenormalizedDesiredReplicas: desiredReplicas,
            minReplicas: hpa.minReplicas,
            maxReplicas: hpa.maxReplicas,
            conditions,
          })
        : normalizeDesiredReplicasWithBehaviors({
            behavior: hpa.behavior,
            recommendations,
            scaleUpEvents,
            scaleDownEvents,
            now,
            currentReplicas,
            prenormalizedDesiredReplicas: desiredReplicas,
            minReplicas: hpa.minReplicas,
            maxReplicas: hpa.maxReplicas,
            conditions,
          });
    desiredReplicas = normalized.desiredReplicas;
    recommendations = normalized.recommendations;
    conditions = normalized.conditions;
    rescale = desiredReplicas !== currentReplicas;
  }

  let lastScaleTime = state.lastScaleTime;
  if (rescale) {
    conditions = setCondition(conditions, 'AbleToScale', 'True', 'SucceededRescale', `the HPA controller was able to update the target scale to ${desiredReplicas}`, now);
    ({ scaleUpEvents, scaleDownEvents } = storeScaleEvent({
      behavior: hpa.behavior,
      scaleUpEvents,
      scaleDownEvents,
      prevReplicas: currentReplicas,
      newReplicas: desiredReplicas,
      now,
    }));
    lastScaleTime = now;
  } else {
    desiredReplicas = currentReplicas;
  }

  const next: HpaState = {
    recommendations,
    scaleUpEvents,
    scaleDownEvents,
    conditions,
    desiredReplicas,
    currentReplicas,
    currentMetrics: metricStatuses,
    lastSyncAt: now,
  };
  if (lastScaleTime !== undefined) next.lastScaleTime = lastScaleTime;

  const result: HpaReconcileResult = { desiredReplicas, rescaled: rescale, conditions, currentMetrics: metricStatuses, state: next };
  if (rescale) result.rescaleReason = rescaleReason;
  if (metricDesiredReplicas !== undefined) result.metricDesiredReplicas = metricDesiredReplicas;
  if (error !== undefined) result.error = error;
  return result;
}
