// Plain-data model of one autoscaling/v2 HorizontalPodAutoscaler as the kube-controller-manager sees it.
// Mirrors the upstream Go types closely enough that a reader can hold this code against
// pkg/controller/podautoscaler/{horizontal.go,replica_calculator.go} line by line.
// Times are seconds (`now` is always passed in); replica counts are int32 in upstream and integers here.

export type ScalingPolicyType = 'Pods' | 'Percent';
export type SelectPolicy = 'Max' | 'Min' | 'Disabled';

export interface HpaScalingPolicy {
  type: ScalingPolicyType;
  /** > 0: pods, or percent of the replicas at the start of the period. */
  value: number;
  /** 1..1800: how far back scale events count against this policy. */
  periodSeconds: number;
}

/** autoscaling/v2 HPAScalingRules. Every field optional, as in the API; see `defaultHpaSpec`. */
export interface HpaScalingRules {
  stabilizationWindowSeconds?: number;
  selectPolicy?: SelectPolicy;
  policies?: HpaScalingPolicy[];
  /** KEP-4951 per-direction tolerance (a Quantity upstream, e.g. 0.05 or 0). */
  tolerance?: number;
}

export interface HpaBehavior {
  scaleUp?: HpaScalingRules;
  scaleDown?: HpaScalingRules;
}

/** External metric. `Value` divides the sum of all items by the target; `AverageValue` by target × replicas. */
export interface ExternalMetricSpec {
  type: 'External';
  name: string;
  /** Only used in messages (upstream prints the label selector there). */
  selector?: string;
  target: { type: 'Value'; value: number } | { type: 'AverageValue'; averageValue: number };
}

/** Pods metric (custom.metrics.k8s.io per-pod values, e.g. DCGM GPU utilisation). Target is always AverageValue. */
export interface PodsMetricSpec {
  type: 'Pods';
  name: string;
  target: { type: 'AverageValue'; averageValue: number };
}

export type HpaMetricSpec = ExternalMetricSpec | PodsMetricSpec;

export interface HpaSpec {
  /** Defaults to 1 like the API server. 0 is scale-to-zero (alpha gate HPAScaleToZero upstream). */
  minReplicas?: number;
  maxReplicas: number;
  metrics: HpaMetricSpec[];
  /** Absent (undefined) is NOT the same as `{}`: absent uses the legacy normalizeDesiredReplicas path. */
  behavior?: HpaBehavior;
}

/** Fully defaulted rules, what the controller reads after API defaulting and maybeInitScaleDownStabilizationWindow. */
export interface ResolvedScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: SelectPolicy;
  policies: HpaScalingPolicy[];
  tolerance?: number;
}

export interface ResolvedBehavior {
  scaleUp: ResolvedScalingRules;
  scaleDown: ResolvedScalingRules;
}

export interface ResolvedHpaSpec {
  minReplicas: number;
  maxReplicas: number;
  metrics: HpaMetricSpec[];
  behavior?: ResolvedBehavior;
}

/** kube-controller-manager flags that shape the HPA (defaults in `DEFAULT_HPA_CONTROLLER_CONFIG`). */
export interface HpaControllerConfig {
  /** --horizontal-pod-autoscaler-sync-period. */
  syncPeriodS: number;
  /** --horizontal-pod-autoscaler-tolerance. */
  tolerance: number;
  /** --horizontal-pod-autoscaler-downscale-stabilization. */
  downscaleStabilizationS: number;
  /** Feature gate HPAConfigurableTolerance (beta, on by default in v1.35). When false, behavior.*.tolerance is ignored. */
  configurableTolerance: boolean;
}

// ---- per-sync inputs ----------------------------------------------------------------------------------------

export type PodPhase = 'Running' | 'Pending' | 'Failed';

/** One pod selected by the target's selector, for a Pods metric. No `value` = the metrics API returned none for it. */
export interface PodReading {
  value?: number;
  phase?: PodPhase;
  /** deletionTimestamp set. */
  deleted?: boolean;
}

/**
 * What the metrics API answered for one metric, aligned by index with `spec.metrics`:
 * - a number: one item (External) / one running pod (Pods);
 * - number[]: every item of the ExternalMetricValueList (summed), or one value per running pod (Pods);
 * - `{ pods }`: Pods metric with per-pod phase / missing values (B5);
 * - `{ error }`: the API call failed (adapter down, 404, …).
 */
export type MetricReading = number | number[] | { pods: PodReading[] } | { error: string };

export interface HpaSyncInputs {
  now: number;
  /** scale.spec.replicas, the controller's `currentReplicas`. */
  specReplicas: number;
  /** scale.status.replicas (the AverageValue tolerance gate divides by this). */
  statusReplicas: number;
  /** Running and Ready pods of the target (External `Value` multiplies the ratio by this). */
  readyPods: number;
  /** Pods the target's selector matches; 0 makes the `Value` path fail like upstream. Defaults to statusReplicas. */
  podCount?: number;
  metrics: MetricReading[];
}

// ---- state carried between syncs (the controller's in-memory maps + HPA status) ---------------------------------

export interface TimestampedRecommendation {
  recommendation: number;
  timestamp: number;
}

export interface TimestampedScaleEvent {
  /** Absolute change, non-negative. */
  replicaChange: number;
  timestamp: number;
  outdated: boolean;
}

export type ConditionType = 'AbleToScale' | 'ScalingActive' | 'ScalingLimited';
export type ConditionStatus = 'True' | 'False';

export interface HpaCondition {
  type: ConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
  /** Seconds; changes only when `status` flips, as in setConditionInList. */
  lastTransitionTime: number;
}

export interface MetricStatus {
  type: HpaMetricSpec['type'];
  name: string;
  /** External Value: the summed value. */
  currentValue?: number;
  /** AverageValue / Pods: the average upstream reports (External AverageValue: ceil(total / status.replicas)). */
  currentAverageValue?: number;
  /** Set instead of a value when this metric failed (upstream leaves an empty MetricStatus). */
  error?: string;
}

export interface HpaState {
  /** `undefined` until the first sync (upstream: nil map entry, seeded by recordInitialRecommendation). */
  recommendations?: TimestampedRecommendation[];
  scaleUpEvents: TimestampedScaleEvent[];
  scaleDownEvents: TimestampedScaleEvent[];
  conditions: HpaCondition[];
  /** status.desiredReplicas. */
  desiredReplicas: number;
  /** status.currentReplicas. */
  currentReplicas: number;
  lastScaleTime?: number;
  /** status.currentMetrics of the last sync. */
  currentMetrics?: MetricStatus[];
  /** When the driver last ran a sync (not upstream state; lets `stepHpa` honour the sync period). */
  lastSyncAt?: number;
}

export interface HpaReconcileResult {
  /** scale.spec.replicas after this sync: the new size when `rescaled`, otherwise the unchanged current one. */
  desiredReplicas: number;
  rescaled: boolean;
  /** Why, when rescaled (upstream event text), e.g. "All metrics below target". */
  rescaleReason?: string;
  /** Max over the valid metrics before stabilisation and limits; undefined when not computed or on a hold. */
  metricDesiredReplicas?: number;
  /** The controller returned an error this sync (metric failures; a hold when `metricDesiredReplicas` is undefined). */
  error?: string;
  conditions: HpaCondition[];
  currentMetrics: MetricStatus[];
  state: HpaState;
}
