// computeReplicasForMetrics / computeReplicasForMetric / computeStatusFor{External,Pods}Metric (horizontal.go).
// Max over the valid metrics; a hold (-1 upstream, `undefined` here) when every metric failed, or when some failed
// and the valid ones would scale below scale.spec.replicas.

import { setCondition } from './conditions.js';
import { milliValue } from './quantity.js';
import {
  externalMetricReplicas,
  externalPerPodMetricReplicas,
  MetricComputeError,
  podsMetricReplicas,
  type ReplicaProposal,
} from './replicaCalculator.js';
import type { Tolerances } from './tolerance.js';
import type {
  ExternalMetricSpec,
  HpaCondition,
  HpaMetricSpec,
  HpaSyncInputs,
  MetricReading,
  MetricStatus,
  PodReading,
  PodsMetricSpec,
} from './types.js';

export interface MetricsOutcome {
  /** Max proposal over valid metrics; undefined = hold (upstream returns -1). */
  replicas: number | undefined;
  metricName: string;
  statuses: MetricStatus[];
  error?: string;
  conditions: HpaCondition[];
}

interface MetricFailure {
  reason: string;
  /** Message of the ScalingActive=False condition. */
  conditionMessage: string;
  /** Error text the controller returns. */
  error: string;
}

function isErrorReading(r: MetricReading): r is { error: string } {
  return typeof r === 'object' && !Array.isArray(r) && 'error' in r;
}

/** External metric items as the metrics client returns them (B1): an error or an empty list both fail. */
function externalItemsMilli(reading: MetricReading): number[] {
  if (isErrorReading(reading)) throw new MetricComputeError(`unable to fetch metrics from external metrics API: ${reading.error}`);
  if (typeof reading === 'number') return [milliValue(reading)];
  if (Array.isArray(reading)) {
    if (reading.length === 0) throw new MetricComputeError('no metrics returned from external metrics API');
    return reading.map(milliValue);
  }
  // Per-pod readings make no sense for an External metric: treat as the items of the list.
  const values = reading.pods.flatMap((p) => (p.value === undefined ? [] : [p.value]));
  if (values.length === 0) throw new MetricComputeError('no metrics returned from external metrics API');
  return values.map(milliValue);
}

function podReadings(reading: MetricReading): Array<PodReading & { valueMilli?: number }> {
  if (isErrorReading(reading)) throw new MetricComputeError(reading.error);
  const pods: PodReading[] =
    typeof reading === 'number' ? [{ value: reading }] : Array.isArray(reading) ? reading.map((value) => ({ value })) : reading.pods;
  // The custom metrics client fails before pods are grouped when the API returned no item at all.
  if (!pods.some((p) => p.value !== undefined)) throw new MetricComputeError('no metrics returned from custom metrics API');
  return pods.map((p) => (p.value === undefined ? { ...p } : { ...p, valueMilli: milliValue(p.value) }));
}

function describeExternal(spec: ExternalMetricSpec): string {
  return `external metric ${spec.name}(${spec.selector ?? 'nil'})`;
}

function computeExternal(
  spec: ExternalMetricSpec,
  reading: MetricReading,
  inputs: HpaSyncInputs,
  tolerances: Tolerances,
): { proposal: ReplicaProposal; status: MetricStatus } {
  const items = externalItemsMilli(reading);
  if (spec.target.type === 'AverageValue') {
    const proposal = externalPerPodMetricReplicas(inputs.statusReplicas, milliValue(spec.target.averageValue), items, tolerances);
    const status: MetricStatus = { type: 'External', name: spec.name };
    if (proposal.usage !== undefined) status.currentAverageValue = proposal.usage / 1000;
    return { proposal, status };
  }
  const proposal = externalMetricReplicas(
    inputs.specReplicas,
    milliValue(spec.target.value),
    items,
    tolerances,
    inputs.readyPods,
    inputs.podCount ?? inputs.statusReplicas,
  );
  return { proposal, status: { type: 'External', name: spec.name, currentValue: (proposal.usage ?? 0) / 1000 } };
}

function computePods(
  spec: PodsMetricSpec,
  reading: MetricReading,
  inputs: HpaSyncInputs,
  tolerances: Tolerances,
): { proposal: ReplicaProposal; status: MetricStatus } {
  const pods = podReadings(reading);
  const proposal = podsMetricReplicas(inputs.specReplicas, milliValue(spec.target.averageValue), pods, tolerances);
  return { proposal, status: { type: 'Pods', name: spec.name, currentAverageValue: (proposal.usage ?? 0) / 1000 } };
}

function failureFor(spec: HpaMetricSpec, err: unknown): MetricFailure {
  if (!(err instanceof MetricComputeError)) throw err;
  if (spec.type === 'External') {
    const inner = `unable to get external metric ${spec.name}: ${err.message}`;
    return {
      reason: 'FailedGetExternalMetric',
      conditionMessage: `the HPA was unable to compute the replica count: ${inner}`,
      error: `failed to get ${spec.name} external metric value: ${inner}`,
    };
  }
  const inner = `unable to get metric ${spec.name}: ${err.message}`;
  return {
    reason: 'FailedGetPodsMetric',
    conditionMessage: `the HPA was unable to compute the replica count: ${inner}`,
    error: `failed to get pods metric value: ${inner}`,
  };
}

export function computeReplicasForMetrics(
  metricSpecs: HpaMetricSpec[],
  inputs: HpaSyncInputs,
  tolerances: Tolerances,
  conditionsIn: readonly HpaCondition[],
): MetricsOutcome {
  let replicas = 0;
  let metricName = '';
  let invalidMetricsCount = 0;
  let firstFailure: MetricFailure | undefined;
  const statuses: MetricStatus[] = [];

  metricSpecs.forEach((spec, i) => {
    const reading = inputs.metrics[i] as MetricReading;
    try {
      const { proposal, status } =
        spec.type === 'External' ? computeExternal(spec, reading, inputs, tolerances) : computePods(spec, reading, inputs, tolerances);
      statuses.push(status);
      if (replicas === 0 || proposal.replicaCount > replicas) {
        replicas = proposal.replicaCount;
        metricName = spec.type === 'External' ? describeExternal(spec) : `pods metric ${spec.name}`;
      }
    } catch (err) {
      const failure = failureFor(spec, err);
      statuses.push({ type: spec.type, name: spec.name, error: failure.error });
      if (invalidMetricsCount <= 0) firstFailure = failure;
      invalidMetricsCount++;
    }
  });

  const error =
    firstFailure === undefined
      ? undefined
      : `invalid metrics (${invalidMetricsCount} invalid out of ${metricSpecs.length}), first error is: ${firstFailure.error}`;

  // Safety rule since PR #99514: never scale down on partial data.
  if (invalidMetricsCount >= metricSpecs.length || (invalidMetricsCount > 0 && replicas < inputs.specReplicas)) {
    const f = firstFailure as MetricFailure;
    const conditions = setCondition(conditionsIn, 'ScalingActive', 'False', f.reason, f.conditionMessage, inputs.now);
    return { replicas: undefined, metricName: '', statuses, error: error as string, conditions };
  }
  const conditions = setCondition(
    conditionsIn,
    'ScalingActive',
    'True',
    'ValidMetricFound',
    `the HPA was able to successfully calculate a replica count from ${metricName}`,
    inputs.now,
  );
  const outcome: MetricsOutcome = { replicas, metricName, statuses, conditions };
  if (error !== undefined) outcome.error = error;
  return outcome;
}
