// Normalisation (horizontal.go): stabilisation windows, scale-rate policies and min/max clamps.
// Time comparisons keep Go's strictness on purpose (see README "Boundaries"):
//   legacy stabilizeRecommendation counts a sample unless timestamp <  now − window;
//   behavior stabilisation counts a sample only if    timestamp >  now − window;
//   policy periods count a scale event only if        timestamp >  now − period.

import { setCondition } from './conditions.js';
import type {
  HpaCondition,
  ResolvedBehavior,
  ResolvedScalingRules,
  TimestampedRecommendation,
  TimestampedScaleEvent,
} from './types.js';

const MAX_INT32 = 2147483647;
const MIN_INT32 = -2147483648;
export const SCALE_UP_LIMIT_FACTOR = 2.0;
export const SCALE_UP_LIMIT_MINIMUM = 4.0;

export interface Limited {
  replicas: number;
  reason: string;
  message: string;
}

// ---- legacy path (spec.behavior == nil) ----------------------------------------------------------------------

/** Replace the (last) stale sample or append; return the max over samples inside the window. */
export function stabilizeRecommendation(
  recommendations: readonly TimestampedRecommendation[],
  now: number,
  windowS: number,
  prenormalizedDesiredReplicas: number,
): { recommendation: number; recommendations: TimestampedRecommendation[] } {
  let maxRecommendation = prenormalizedDesiredReplicas;
  let oldSampleIndex = -1;
  const cutoff = now - windowS;
  recommendations.forEach((rec, i) => {
    if (rec.timestamp < cutoff) oldSampleIndex = i;
    else if (rec.recommendation > maxRecommendation) maxRecommendation = rec.recommendation;
  });
  const next = recommendations.map((r) => ({ ...r }));
  const fresh = { recommendation: prenormalizedDesiredReplicas, timestamp: now };
  if (oldSampleIndex >= 0) next[oldSampleIndex] = fresh;
  else next.push(fresh);
  return { recommendation: maxRecommendation, recommendations: next };
}

export function calculateScaleUpLimit(currentReplicas: number): number {
  return Math.trunc(Math.max(SCALE_UP_LIMIT_FACTOR * currentReplicas, SCALE_UP_LIMIT_MINIMUM));
}

/** convertDesiredReplicasWithRules: clamp to [min, min(max, max(2 × current, 4))]. */
export function convertDesiredReplicasWithRules(
  currentReplicas: number,
  desiredReplicas: number,
  hpaMinReplicas: number,
  hpaMaxReplicas: number,
): Limited {
  const minimumAllowedReplicas = hpaMinReplicas;
  const scaleUpLimit = calculateScaleUpLimit(currentReplicas);
  let maximumAllowedReplicas: number;
  let reason: string;
  let message: string;
  if (hpaMaxReplicas > scaleUpLimit) {
    maximumAllowedReplicas = scaleUpLimit;
    reason = 'ScaleUpLimit';
    message = 'the desired replica count is increasing faster than the maximum scale rate';
  } else {
    maximumAllowedReplicas = hpaMaxReplicas;
    reason = 'TooManyReplicas';
    message = 'the desired replica count is more than the maximum replica count';
  }
  if (desiredReplicas < minimumAllowedReplicas) {
    return { replicas: minimumAllowedReplicas, reason: 'TooFewReplicas', message: 'the desired replica count is less than the minimum replica count' };
  } else if (desiredReplicas > maximumAllowedReplicas) {
    return { replicas: maximumAllowedReplicas, reason, message };
  }
  return { replicas: desiredReplicas, reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' };
}

export function normalizeDesiredReplicas(args: {
  recommendations: readonly TimestampedRecommendation[];
  now: number;
  downscaleStabilizationS: number;
  currentReplicas: number;
  prenormalizedDesiredReplicas: number;
  minReplicas: number;
  maxReplicas: number;
  conditions: readonly HpaCondition[];
}): { desiredReplicas: number; recommendations: TimestampedRecommendation[]; conditions: HpaCondition[] } {
  const { now } = args;
  const stabilized = stabilizeRecommendation(args.recommendations, now, args.downscaleStabilizationS, args.prenormalizedDesiredReplicas);
  let conditions =
    stabilized.recommendation !== args.prenormalizedDesiredReplicas
      ? setCondition(args.conditions, 'AbleToScale', 'True', 'ScaleDownStabilized', 'recent recommendations were higher than current one, applying the highest recent recommendation', now)
      : setCondition(args.conditions, 'AbleToScale', 'True', 'ReadyForNewScale', 'recommended size matches current size', now);
  const limited = convertDesiredReplicasWithRules(args.currentReplicas, stabilized.recommendation, args.minReplicas, args.maxReplicas);
  conditions = setCondition(conditions, 'ScalingLimited', limited.replicas === stabilized.recommendation ? 'False' : 'True', limited.reason, limited.message, now);
  return { desiredReplicas: limited.replicas, recommendations: stabilized.recommendations, conditions };
}

// ---- behavior path ----------------------------------------------------------------------------------------------

/** up = min over the scale-up window, down = max over the scale-down window; result = clamp(current, up, down). */
export function stabilizeRecommendationWithBehaviors(args: {
  recommendations: readonly TimestampedRecommendation[];
  now: number;
  behavior: ResolvedBehavior;
  currentReplicas: number;
  desiredReplicas: number;
}): { recommendation: number; reason: string; message: string; recommendations: TimestampedRecommendation[] } {
  const { now, desiredReplicas } = args;
  let upRecommendation = desiredReplicas;
  const upCutoff = now - args.behavior.scaleUp.stabilizationWindowSeconds;
  let downRecommendation = desiredReplicas;
  const downCutoff = now - args.behavior.scaleDown.stabilizationWindowSeconds;
  let oldSampleIndex = -1;

  args.recommendations.forEach((rec, i) => {
    if (rec.timestamp > upCutoff) upRecommendation = Math.min(rec.recommendation, upRecommendation);
    if (rec.timestamp > downCutoff) downRecommendation = Math.max(rec.recommendation, downRecommendation);
    if (rec.timestamp < upCutoff && rec.timestamp < downCutoff) oldSampleIndex = i;
  });

  let recommendation = args.currentReplicas;
  if (recommendation < upRecommendation) recommendation = upRecommendation;
  if (recommendation > downRecommendation) recommendation = downRecommendation;

  const next = args.recommendations.map((r) => ({ ...r }));
  const fresh = { recommendation: desiredReplicas, timestamp: now };
  if (oldSampleIndex >= 0) next[oldSampleIndex] = fresh;
  else next.push(fresh);

  const up = desiredReplicas >= args.currentReplicas;
  return {
    recommendation,
    reason: up ? 'ScaleUpStabilized' : 'ScaleDownStabilized',
    message: up
      ? 'recent recommendations were lower than current one, applying the lowest recent recommendation'
      : 'recent recommendations were higher than current one, applying the highest recent recommendation',
    recommendations: next,
  };
}

/** Sum of changes strictly newer than now − period. */
export function getReplicasChangePerPeriod(periodSeconds: number, scaleEvents: readonly TimestampedScaleEvent[], now: number): number {
  const cutoff = now - periodSeconds;
  let replicas = 0;
  for (const rec of scaleEvents) if (rec.timestamp > cutoff) replicas += rec.replicaChange;
  return replicas;
}

/** Highest replica count the scale-up policies allow now (periodStart + Pods, or ceil(periodStart × (1 + %))). */
export function calculateScaleUpLimitWithScalingRules(
  currentReplicas: number,
  scaleUpEvents: readonly TimestampedScaleEvent[],
  scaleDownEvents: readonly TimestampedScaleEvent[],
  rules: ResolvedScalingRules,
  now: number,
): number {
  if (rules.selectPolicy === 'Disabled') return currentReplicas;
  const useMin = rules.selectPolicy === 'Min';
  let result = useMin ? MAX_INT32 : MIN_INT32;
  for (const policy of rules.policies) {
    const added = getReplicasChangePerPeriod(policy.periodSeconds, scaleUpEvents, now);
    const deleted = getReplicasChangePerPeriod(policy.periodSeconds, scaleDownEvents, now);
    const periodStartReplicas = currentReplicas - added + deleted;
    // Rounded up so a small percentage of a small count still adds a pod.
    const proposed =
      policy.type === 'Pods' ? periodStartReplicas + policy.value : Math.ceil(periodStartReplicas * (1 + policy.value / 100));
    result = useMin ? Math.min(result, proposed) : Math.max(result, proposed);
  }
  return result;
}

/** Lowest replica count the scale-down policies allow now (periodStart − Pods, or trunc(periodStart × (1 − %))). */
export function calculateScaleDownLimitWithBehaviors(
  currentReplicas: number,
  scaleUpEvents: readonly TimestampedScaleEvent[],
  scaleDownEvents: readonly TimestampedScaleEvent[],
  rules: ResolvedScalingRules,
  now: number,
): number {
  if (rules.selectPolicy === 'Disabled') return currentReplicas;
  const useMin = rules.selectPolicy === 'Min';
  // For scale-down the smallest change is the highest count, hence the swapped functions.
  let result = useMin ? MIN_INT32 : MAX_INT32;
  for (const policy of rules.policies) {
    const added = getReplicasChangePerPeriod(policy.periodSeconds, scaleUpEvents, now);
    const deleted = getReplicasChangePerPeriod(policy.periodSeconds, scaleDownEvents, now);
    const periodStartReplicas = currentReplicas - added + deleted;
    const proposed =
      policy.type === 'Pods' ? periodStartReplicas - policy.value : Math.trunc(periodStartReplicas * (1 - policy.value / 100));
    result = useMin ? Math.max(result, proposed) : Math.min(result, proposed);
  }
  return result;
}

export function convertDesiredReplicasWithBehaviorRate(args: {
  behavior: ResolvedBehavior;
  scaleUpEvents: readonly TimestampedScaleEvent[];
  scaleDownEvents: readonly TimestampedScaleEvent[];
  minReplicas: number;
  maxReplicas: number;
  currentReplicas: number;
  desiredReplicas: number;
  now: number;
}): Limited {
  const { currentReplicas, desiredReplicas } = args;
  if (desiredReplicas > currentReplicas) {
    let scaleUpLimit = calculateScaleUpLimitWithScalingRules(currentReplicas, args.scaleUpEvents, args.scaleDownEvents, args.behavior.scaleUp, args.now);
    // No further scale-up until the events of this period age out.
    if (scaleUpLimit < currentReplicas) scaleUpLimit = currentReplicas;
    let maximumAllowedReplicas = args.maxReplicas;
    let reason: string;
    let message: string;
    if (maximumAllowedReplicas > scaleUpLimit) {
      maximumAllowedReplicas = scaleUpLimit;
      reason = 'ScaleUpLimit';
      message = 'the desired replica count is increasing faster than the maximum scale rate';
    } else {
      reason = 'TooManyReplicas';
      message = 'the desired replica count is more than the maximum replica count';
    }
    if (desiredReplicas > maximumAllowedReplicas) return { replicas: maximumAllowedReplicas, reason, message };
  } else if (desiredReplicas < currentReplicas) {
    let scaleDownLimit = calculateScaleDownLimitWithBehaviors(currentReplicas, args.scaleUpEvents, args.scaleDownEvents, args.behavior.scaleDown, args.now);
    if (scaleDownLimit > currentReplicas) scaleDownLimit = currentReplicas;
    let minimumAllowedReplicas = args.minReplicas;
    let reason: string;
    let message: string;
    if (minimumAllowedReplicas < scaleDownLimit) {
      minimumAllowedReplicas = scaleDownLimit;
      reason = 'ScaleDownLimit';
      message = 'the desired replica count is decreasing faster than the maximum scale rate';
    } else {
      reason = 'TooFewReplicas';
      message = 'the desired replica count is less than the minimum replica count';
    }
    if (desiredReplicas < minimumAllowedReplicas) return { replicas: minimumAllowedReplicas, reason, message };
  }
  return { replicas: desiredReplicas, reason: 'DesiredWithinRange', message: 'the desired count is within the acceptable range' };
}

export function normalizeDesiredReplicasWithBehaviors(args: {
  behavior: ResolvedBehavior;
  recommendations: readonly TimestampedRecommendation[];
  scaleUpEvents: readonly TimestampedScaleEvent[];
  scaleDownEvents: readonly TimestampedScaleEvent[];
  now: number;
  currentReplicas: number;
  prenormalizedDesiredReplicas: number;
  minReplicas: number;
  maxReplicas: number;
  conditions: readonly HpaCondition[];
}): { desiredReplicas: number; recommendations: TimestampedRecommendation[]; conditions: HpaCondition[] } {
  const { now } = args;
  const stabilized = stabilizeRecommendationWithBehaviors({
    recommendations: args.recommendations,
    now,
    behavior: args.behavior,
    currentReplicas: args.currentReplicas,
    desiredReplicas: args.prenormalizedDesiredReplicas,
  });
  let conditions =
    stabilized.recommendation !== args.prenormalizedDesiredReplicas
      ? setCondition(args.conditions, 'AbleToScale', 'True', stabilized.reason, stabilized.message, now)
      : setCondition(args.conditions, 'AbleToScale', 'True', 'ReadyForNewScale', 'recommended size matches current size', now);
  const limited = convertDesiredReplicasWithBehaviorRate({
    behavior: args.behavior,
    scaleUpEvents: args.scaleUpEvents,
    scaleDownEvents: args.scaleDownEvents,
    minReplicas: args.minReplicas,
    maxReplicas: args.maxReplicas,
    currentReplicas: args.currentReplicas,
    desiredReplicas: stabilized.recommendation,
    now,
  });
  conditions = setCondition(conditions, 'ScalingLimited', limited.replicas === stabilized.recommendation ? 'False' : 'True', limited.reason, limited.message, now);
  return { desiredReplicas: limited.replicas, recommendations: stabilized.recommendations, conditions };
}

// ---- scale events ---------------------------------------------------------------------------------------------

export function getLongestPolicyPeriod(rules: ResolvedScalingRules): number {
  let longest = 0;
  for (const p of rules.policies) if (p.periodSeconds > longest) longest = p.periodSeconds;
  return longest;
}

/** Flag events older than the longest policy period so storeScaleEvent can reuse their slot. */
export function markScaleEventsOutdated(events: readonly TimestampedScaleEvent[], longestPolicyPeriod: number, now: number): TimestampedScaleEvent[] {
  const cutoff = now - longestPolicyPeriod;
  return events.map((e) => (e.timestamp < cutoff ? { ...e, outdated: true } : { ...e }));
}

/** storeScaleEvent: only with a behavior; replaces the last outdated slot of its direction or appends. */
export function storeScaleEvent(args: {
  behavior: ResolvedBehavior | undefined;
  scaleUpEvents: readonly TimestampedScaleEvent[];
  scaleDownEvents: readonly TimestampedScaleEvent[];
  prevReplicas: number;
  newReplicas: number;
  now: number;
}): { scaleUpEvents: TimestampedScaleEvent[]; scaleDownEvents: TimestampedScaleEvent[] } {
  const up = args.scaleUpEvents.map((e) => ({ ...e }));
  const down = args.scaleDownEvents.map((e) => ({ ...e }));
  if (args.behavior === undefined) return { scaleUpEvents: up, scaleDownEvents: down };
  const scalingUp = args.newReplicas > args.prevReplicas;
  const rules = scalingUp ? args.behavior.scaleUp : args.behavior.scaleDown;
  const events = markScaleEventsOutdated(scalingUp ? up : down, getLongestPolicyPeriod(rules), args.now);
  const change = scalingUp ? args.newReplicas - args.prevReplicas : args.prevReplicas - args.newReplicas;
  let oldSampleIndex = -1;
  events.forEach((e, i) => {
    if (e.outdated) oldSampleIndex = i;
  });
  const fresh: TimestampedScaleEvent = { replicaChange: change, timestamp: args.now, outdated: false };
  if (oldSampleIndex >= 0) events[oldSampleIndex] = fresh;
  else events.push(fresh);
  return scalingUp ? { scaleUpEvents: events, scaleDownEvents: down } : { scaleUpEvents: up, scaleDownEvents: events };
}
