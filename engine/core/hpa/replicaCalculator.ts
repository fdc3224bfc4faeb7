// Port of the External and Pods paths of pkg/controller/podautoscaler/replica_calculator.go. All quantities are
// milli-units (int64 upstream), already converted with Quantity.MilliValue() semantics (quantity.ts).

import { isWithinTolerance, type Tolerances } from './tolerance.js';
import type { PodReading } from './types.js';

const MAX_INT32 = 2147483647;
const MAX_INT64 = 9223372036854775807;

/** A failure the controller turns into ScalingActive=False (it is an `error` return upstream, not a crash). */
export class MetricComputeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricComputeError';
  }
}

export interface ReplicaProposal {
  replicaCount: number;
  /** The usage upstream reports in status (milli): summed value, or per-pod average. Undefined where Go yields garbage. */
  usage: number | undefined;
}

function sumCapped(values: number[]): number {
  let usage = 0;
  for (const v of values) {
    // Cap at MaxInt64 for positive overflow, as both external paths do.
    if (v > 0 && usage > MAX_INT64 - v) return MAX_INT64;
    usage += v;
  }
  return usage;
}

/** int32(math.Ceil(x)) with the MaxInt32 cap upstream applies. */
function ceilToInt32(x: number): number {
  return x > MAX_INT32 ? MAX_INT32 : Math.ceil(x);
}

/**
 * getUsageRatioReplicaCount. With current replicas ≠ 0: tolerance gate, then ceil(ratio × Running+Ready pods).
 * With 0 (scale from zero, only reachable with minReplicas 0): ceil(ratio), no tolerance and no pod count.
 */
export function usageRatioReplicaCount(
  currentReplicas: number,
  usageRatio: number,
  tolerances: Tolerances,
  readyPods: number,
  podCount: number,
): number {
  if (currentReplicas !== 0) {
    if (isWithinTolerance(tolerances, usageRatio)) return currentReplicas;
    if (podCount === 0) {
      throw new MetricComputeError('unable to calculate ready pods: no pods returned by selector while calculating replica count');
    }
    return ceilToInt32(usageRatio * readyPods);
  }
  return ceilToInt32(usageRatio);
}

/** GetExternalMetricReplicas (target.type Value): ratio = Σ items ÷ target; replicas from ready pods. */
export function externalMetricReplicas(
  currentReplicas: number,
  targetUsage: number,
  itemsMilli: number[],
  tolerances: Tolerances,
  readyPods: number,
  podCount: number,
): ReplicaProposal {
  const usage = sumCapped(itemsMilli);
  const usageRatio = usage / targetUsage;
  const replicaCount = usageRatioReplicaCount(currentReplicas, usageRatio, tolerances, readyPods, podCount);
  return { replicaCount, usage };
}

/**
 * GetExternalPerPodMetricReplicas (target.type AverageValue): the tolerance gate divides by status.replicas, the
 * answer is ceil(Σ items ÷ target) whatever the readiness.
 */
export function externalPerPodMetricReplicas(
  statusReplicas: number,
  targetUsagePerPod: number,
  itemsMilli: number[],
  tolerances: Tolerances,
): ReplicaProposal {
  const usage = sumCapped(itemsMilli);
  let replicaCount = statusReplicas;
  // statusReplicas 0 gives +Inf (or NaN for 0/0), never within tolerance: the scale-from-zero path.
  const usageRatio = usage / (targetUsagePerPod * replicaCount);
  if (!isWithinTolerance(tolerances, usageRatio)) {
    replicaCount = ceilToInt32(usage / targetUsagePerPod);
  }
  // Upstream converts ceil(usage / 0) to int64 here, which is platform-defined; report nothing instead.
  const reported = usage >= MAX_INT64 ? MAX_INT64 : statusReplicas === 0 ? undefined : Math.ceil(usage / statusReplicas);
  return { replicaCount, usage: reported };
}

/** GetMetricUsageRatio: int64 average (truncating division) over the pods that have metrics, ÷ target. */
function metricUsageRatio(valuesMilli: number[], targetUsage: number): { usageRatio: number; usage: number } {
  const total = valuesMilli.reduce((a, b) => a + b, 0);
  const usage = Math.trunc(total / valuesMilli.length);
  return { usageRatio: usage / targetUsage, usage };
}

/**
 * calcPlainMetricReplicas for a Pods metric. groupPods without the CPU rules: deleted/Failed pods are ignored,
 * Pending pods are unready, pods without a value are missing, every other pod with a value counts as ready
 * (the Ready condition is only consulted for CPU). Missing pods count as the target on a scale-down and 0 on a
 * scale-up, unready pods as 0 on a scale-up; if that flips the direction or lands within tolerance, no change.
 */
export function podsMetricReplicas(
  currentReplicas: number,
  targetUsage: number,
  pods: Array<PodReading & { valueMilli?: number }>,
  tolerances: Tolerances,
): ReplicaProposal {
  if (pods.length === 0) throw new MetricComputeError('no pods returned by selector while calculating replica count');

  let readyPodCount = 0;
  let unreadyCount = 0;
  let missingCount = 0;
  const metrics: number[] = [];
  for (const pod of pods) {
    const phase = pod.phase ?? 'Running';
    if (pod.deleted === true || phase === 'Failed') continue; // ignored
    if (phase === 'Pending') {
      unreadyCount++;
      continue;
    }
    if (pod.valueMilli === undefined) {
      missingCount++;
      continue;
    }
    readyPodCount++;
    metrics.push(pod.valueMilli);
  }
  if (metrics.length === 0) throw new MetricComputeError('did not receive metrics for targeted pods (pods might be unready)');

  const { usageRatio, usage } = metricUsageRatio(metrics, targetUsage);
  const scaleUpWithUnready = unreadyCount > 0 && usageRatio > 1.0;

  if (!scaleUpWithUnready && missingCount === 0) {
    if (isWithinTolerance(tolerances, usageRatio)) return { replicaCount: currentReplicas, usage };
    return { replicaCount: Math.ceil(usageRatio * readyPodCount), usage };
  }

  const filled = [...metrics];
  if (missingCount > 0) {
    if (usageRatio < 1.0) for (let i = 0; i < missingCount; i++) filled.push(targetUsage);
    else if (usageRatio > 1.0) for (let i = 0; i < missingCount; i++) filled.push(0);
  }
  if (scaleUpWithUnready) for (let i = 0; i < unreadyCount; i++) filled.push(0);

  const { usageRatio: newUsageRatio } = metricUsageRatio(filled, targetUsage);
  if (
    isWithinTolerance(tolerances, newUsageRatio) ||
    (usageRatio < 1.0 && newUsageRatio > 1.0) ||
    (usageRatio > 1.0 && newUsageRatio < 1.0)
  ) {
    return { replicaCount: currentReplicas, usage };
  }
  const newReplicas = Math.ceil(newUsageRatio * filled.length);
  if ((newUsageRatio < 1.0 && newReplicas > currentReplicas) || (newUsageRatio > 1.0 && newReplicas < currentReplicas)) {
    return { replicaCount: currentReplicas, usage };
  }
  return { replicaCount: newReplicas, usage };
}
