// Small builders for HPA tests: a "desired replicas" External metric (AverageValue 1, Baton's production recipe)
// and a runner that replays a sequence of syncs, feeding each sync's replicas into the next as a Deployment would.

import {
  findCondition,
  initialHpaState,
  reconcileHpa,
  type ConditionType,
  type HpaBehavior,
  type HpaControllerConfig,
  type HpaReconcileResult,
  type HpaSpec,
  type HpaState,
  type MetricReading,
} from '../../../engine/core/hpa/index.js';

export function desiredReplicaSpec(extra: Partial<HpaSpec> = {}): HpaSpec {
  return {
    minReplicas: 1,
    maxReplicas: 100,
    metrics: [{ type: 'External', name: 'baton_desired_replicas', target: { type: 'AverageValue', averageValue: 1 } }],
    ...extra,
  };
}

export function withBehavior(behavior: HpaBehavior, extra: Partial<HpaSpec> = {}): HpaSpec {
  return desiredReplicaSpec({ behavior, ...extra });
}

export interface SyncArgs {
  now: number;
  replicas: number;
  metrics: MetricReading[];
  statusReplicas?: number;
  readyPods?: number;
  podCount?: number;
}

export function syncOnce(
  spec: HpaSpec,
  state: HpaState,
  args: SyncArgs,
  config: Partial<HpaControllerConfig> = {},
): HpaReconcileResult {
  const inputs = {
    now: args.now,
    specReplicas: args.replicas,
    statusReplicas: args.statusReplicas ?? args.replicas,
    readyPods: args.readyPods ?? args.statusReplicas ?? args.replicas,
    metrics: args.metrics,
    ...(args.podCount === undefined ? {} : { podCount: args.podCount }),
  };
  return reconcileHpa(spec, config, state, inputs);
}

/**
 * Replays syncs every `period` seconds from t = 0 with `metricAt(t)` as the only metric; the Deployment reaches the
 * HPA's size instantly (status = spec = ready). Returns the replicas after each sync.
 */
export function replay(
  spec: HpaSpec,
  startReplicas: number,
  metricAt: (t: number) => MetricReading,
  syncs: number,
  config: Partial<HpaControllerConfig> = {},
  period = 15,
): { replicas: number[]; results: HpaReconcileResult[] } {
  let state = initialHpaState();
  let replicas = startReplicas;
  const out: number[] = [];
  const results: HpaReconcileResult[] = [];
  for (let k = 0; k < syncs; k++) {
    const now = k * period;
    const r = syncOnce(spec, state, { now, replicas, metrics: [metricAt(now)] }, config);
    state = r.state;
    replicas = r.desiredReplicas;
    out.push(replicas);
    results.push(r);
  }
  return { replicas: out, results };
}

export function condition(result: HpaReconcileResult, type: ConditionType): { status: string; reason: string } {
  const c = findCondition(result.conditions, type);
  if (c === undefined) throw new Error(`condition ${type} missing`);
  return { status: c.status, reason: c.reason };
}
