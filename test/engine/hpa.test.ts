// Rules of the HPA port, with expected numbers worked by hand from the upstream formulas (horizontal.go,
// replica_calculator.go). Each case states the arithmetic so a reader can check it without running anything.

import assert from 'node:assert/strict';
import fc from '../support/fast-check.js';
import {
  defaultHpaSpec,
  HpaInputError,
  initialHpaState,
  milliValue,
  nextHpaSyncAt,
  stepHpa,
  type HpaSpec,
} from '../../engine/core/hpa/index.js';
import { condition, desiredReplicaSpec, replay, syncOnce, withBehavior } from './hpa/helpers.js';

const fresh = initialHpaState;

describe('HPA core: tolerance gate', () => {
  it('the 10 % trap: 10 replicas asked for 11 via AverageValue 1 stay at 10 (11000 / (1000 × 10) = 1.1 ≤ 1 + 0.1)', () => {
    const r = syncOnce(desiredReplicaSpec(), fresh(), { now: 0, replicas: 10, metrics: [11] });
    assert.equal(r.metricDesiredReplicas, 10);
    assert.equal(r.desiredReplicas, 10);
    assert.equal(r.rescaled, false);
  });

  it('the trap also swallows 9 at 10 replicas (0.9 ≥ 1 − 0.1)', () => {
    const spec = withBehavior({ scaleDown: { stabilizationWindowSeconds: 0 } });
    const r = syncOnce(spec, fresh(), { now: 0, replicas: 10, metrics: [9] });
    assert.equal(r.desiredReplicas, 10);
  });

  it('12 at 10 replicas leaves the band: ceil(12000 / 1000) = 12', () => {
    const r = syncOnce(desiredReplicaSpec(), fresh(), { now: 0, replicas: 10, metrics: [12] });
    assert.equal(r.desiredReplicas, 12);
    assert.equal(r.rescaled, true);
    assert.equal(r.rescaleReason, 'external metric baton_desired_replicas(nil) above target');
  });

  it('behavior.scaleUp.tolerance: 0 lets 11 through (1.1 > 1 + 0)', () => {
    const spec = withBehavior({ scaleUp: { tolerance: 0 } });
    const r = syncOnce(spec, fresh(), { now: 0, replicas: 10, metrics: [11] });
    assert.equal(r.desiredReplicas, 11);
  });

  it('per-HPA tolerance is ignored when the HPAConfigurableTolerance gate is off', () => {
    const spec = withBehavior({ scaleUp: { tolerance: 0 } });
    const r = syncOnce(spec, fresh(), { now: 0, replicas: 10, metrics: [11] }, { configurableTolerance: false });
    assert.equal(r.desiredReplicas, 10);
  });

  it('tolerances are per direction: scaleDown.tolerance 0 lets 9 through but 11 still sits in the up band', () => {
    const spec = withBehavior({ scaleDown: { tolerance: 0, stabilizationWindowSeconds: 0 } });
    assert.equal(syncOnce(spec, fresh(), { now: 0, replicas: 10, metrics: [9] }).desiredReplicas, 9);
    assert.equal(syncOnce(spec, fresh(), { now: 0, replicas: 10, metrics: [11] }).desiredReplicas, 10);
  });

  it('the KCM tolerance flag moves the band for every HPA: 0.05 → 11 at 10 replicas (1.1 > 1.05)', () => {
    const r = syncOnce(desiredReplicaSpec(), fresh(), { now: 0, replicas: 10, metrics: [11] }, { tolerance: 0.05 });
    assert.equal(r.desiredReplicas, 11);
  });

  it('below 10 replicas every ±1 passes: 5 → 6 (6000 / 5000 = 1.2)', () => {
    assert.equal(syncOnce(desiredReplicaSpec(), fresh(), { now: 0, replicas: 5, metrics: [6] }).desiredReplicas, 6);
  });

  it('AverageValue gates on status.replicas, and inside the band it proposes status.replicas (surge leaks through)', () => {
    // spec 10, status 12 (maxSurge), metric 11: 11000 / (1000 × 12) = 0.917 is inside 0.9..1.1, so upstream returns
    // replicaCount = statusReplicas = 12, which is above spec 10: the HPA scales the Deployment to 12.
    const inBand = syncOnce(desiredReplicaSpec(), fresh(), { now: 0, replicas: 10, statusReplicas: 12, metrics: [11] });
    assert.equal(inBand.metricDesiredReplicas, 12);
    assert.equal(inBand.desiredReplicas, 12);
    // spec 10, status 8, metric 11: 11000 / 8000 = 1.375 → ceil(11000 / 1000) = 11.
    const outOfBand = syncOnce(desiredReplicaSpec(), fresh(), { now: 0, replicas: 10, statusReplicas: 8, metrics: [11] });
    assert.equal(outOfBand.metricDesiredReplicas, 11);
  });
});

describe('HPA core: External Value vs AverageValue', () => {
  const valueSpec = (value: number, extra: Partial<HpaSpec> = {}): HpaSpec => ({
    minReplicas: 1,
    maxReplicas: 100,
    metrics: [{ type: 'External', name: 'decode_tps', target: { type: 'Value', value } }],
    ...extra,
  });

  it('Value multiplies the ratio by Ready pods: total 30 / target 10 = 3 × 2 ready = 6 (not 3 × 4)', () => {
    const r = syncOnce(valueSpec(10), fresh(), { now: 0, replicas: 4, readyPods: 2, metrics: [30] });
    assert.equal(r.metricDesiredReplicas, 6);
    assert.equal(r.desiredReplicas, 6);
    assert.deepEqual(r.currentMetrics, [{ type: 'External', name: 'decode_tps', currentValue: 30 }]);
  });

  it('Value sums every item of the list: [12, 18] counts as 30', () => {
    const r = syncOnce(valueSpec(10), fresh(), { now: 0, replicas: 4, readyPods: 2, metrics: [[12, 18]] });
    assert.equal(r.metricDesiredReplicas, 6);
  });

  it('Value can propose a scale-down in the middle of a scale-up: 1.2 × 4 ready of 10 = ceil(4.8) = 5', () => {
    const r = syncOnce(valueSpec(100), fresh(), { now: 0, replicas: 10, readyPods: 4, metrics: [120] });
    assert.equal(r.metricDesiredReplicas, 5);
  });

  it('Value fails when the selector matches no pod at all (outside tolerance)', () => {
    const r = syncOnce(valueSpec(100), fresh(), { now: 0, replicas: 3, statusReplicas: 3, readyPods: 0, podCount: 0, metrics: [500] });
    assert.equal(r.desiredReplicas, 3);
    assert.match(r.error ?? '', /no pods returned by selector/);
    assert.deepEqual(condition(r, 'ScalingActive'), { status: 'False', reason: 'FailedGetExternalMetric' });
  });

  it('AverageValue ignores readiness: ceil(total / target) = ceil(30 / 10) = 3, reported average ceil(30 / 4) = 7.5', () => {
    const spec: HpaSpec = { minReplicas: 1, maxReplicas: 100, metrics: [{ type: 'External', name: 'q', target: { type: 'AverageValue', averageValue: 10 } }] };
    const r = syncOnce(spec, fresh(), { now: 0, replicas: 4, readyPods: 1, metrics: [30] });
    assert.equal(r.metricDesiredReplicas, 3);
    assert.deepEqual(r.currentMetrics, [{ type: 'External', name: 'q', currentAverageValue: 7.5 }]);
  });

  it('targets and items are ceil-ed to milli first: 2.0001 → 2001m, ceil(2001 / 1000) = 3', () => {
    const r = syncOnce(desiredReplicaSpec(), fresh(), { now: 0, replicas: 1, metrics: [2.0001] });
    assert.equal(r.metricDesiredReplicas, 3);
  });
});

describe('HPA core: scale from zero, scale to zero, ScalingDisabled', () => {
  it('currentReplicas 0 with minReplicas ≥ 1 is ScalingDisabled and never scales', () => {
    const r = syncOnce(desiredReplicaSpec(), fresh(), { now: 0, replicas: 0, metrics: [50] });
    assert.equal(r.desiredReplicas, 0);
    assert.equal(r.rescaled, false);
    assert.deepEqual(condition(r, 'ScalingActive'), { status: 'False', reason: 'ScalingDisabled' });
  });

  it('Value from zero uses ceil(ratio) without tolerance or pods: ceil(250 / 100) = 3', () => {
    const spec: HpaSpec = { minReplicas: 0, maxReplicas: 10, metrics: [{ type: 'External', name: 'q', target: { type: 'Value', value: 100 } }] };
    const r = syncOnce(spec, fresh(), { now: 0, replicas: 0, readyPods: 0, podCount: 0, metrics: [250] });
    // legacy limit from 0 is max(2 × 0, 4) = 4, so 3 passes.
    assert.equal(r.desiredReplicas, 3);
  });

  it('AverageValue from zero: ratio is +∞ (÷ 0 replicas), so ceil(2500 / 1000) = 3', () => {
    const r = syncOnce(desiredReplicaSpec({ minReplicas: 0 }), fresh(), { now: 0, replicas: 0, metrics: [2.5] });
    assert.equal(r.desiredReplicas, 3);
    assert.deepEqual(r.currentMetrics, [{ type: 'External', name: 'baton_desired_replicas' }]);
  });

  it('with minReplicas 0 a Value metric of 0 goes to zero and comes back', () => {
    const spec: HpaSpec = {
      minReplicas: 0,
      maxReplicas: 10,
      metrics: [{ type: 'External', name: 'q', target: { type: 'Value', value: 100 } }],
      behavior: { scaleDown: { stabilizationWindowSeconds: 0 } },
    };
    const down = syncOnce(spec, fresh(), { now: 0, replicas: 2, metrics: [0] });
    assert.equal(down.desiredReplicas, 0); // ratio 0 → ceil(0 × 2) = 0; −100 % per 15 s allows 0
    const up = syncOnce(spec, down.state, { now: 15, replicas: 0, readyPods: 0, podCount: 0, metrics: [150] });
    assert.equal(up.desiredReplicas, 2); // ceil(150 / 100) = 2
  });
});

describe('HPA core: min/max clamps and their conditions', () => {
  it('current above maxReplicas goes straight to max, metrics unread', () => {
    const r = syncOnce(desiredReplicaSpec({ maxReplicas: 10 }), fresh(), { now: 0, replicas: 12, metrics: [{ error: 'down' }] });
    assert.equal(r.desiredReplicas, 10);
    assert.equal(r.rescaleReason, 'Current number of replicas above Spec.MaxReplicas');
    assert.equal(r.error, undefined);
  });

  it('current below minReplicas goes straight to min', () => {
    const r = syncOnce(desiredReplicaSpec({ minReplicas: 2 }), fresh(), { now: 0, replicas: 1, metrics: [1] });
    assert.equal(r.desiredReplicas, 2);
    assert.equal(r.rescaleReason, 'Current number of replicas below Spec.MinReplicas');
  });

  it('legacy path: TooManyReplicas when max ≤ 2 × current (8 → 30 wanted, limit 16, max 10)', () => {
    const r = syncOnce(desiredReplicaSpec({ maxReplicas: 10 }), fresh(), { now: 0, replicas: 8, metrics: [30] });
    assert.equal(r.desiredReplicas, 10);
    assert.deepEqual(condition(r, 'ScalingLimited'), { status: 'True', reason: 'TooManyReplicas' });
  });

  it('legacy path: ScaleUpLimit doubles at most (3 → 40 wanted: max(6, 4) = 6)', () => {
    const r = syncOnce(desiredReplicaSpec(), fresh(), { now: 0, replicas: 3, metrics: [40] });
    assert.equal(r.desiredReplicas, 6);
    assert.deepEqual(condition(r, 'ScalingLimited'), { status: 'True', reason: 'ScaleUpLimit' });
  });

  it('legacy path: the scale-up floor is 4 (1 → 10 wanted: max(2, 4) = 4)', () => {
    assert.equal(syncOnce(desiredReplicaSpec(), fresh(), { now: 0, replicas: 1, metrics: [10] }).desiredReplicas, 4);
  });

  it('legacy path: TooFewReplicas once the window no longer holds the old size', () => {
    const spec = desiredReplicaSpec({ minReplicas: 3 });
    const cfg = { downscaleStabilizationS: 0 };
    const first = syncOnce(spec, fresh(), { now: 0, replicas: 5, metrics: [5] }, cfg);
    const second = syncOnce(spec, first.state, { now: 15, replicas: 5, metrics: [1] }, cfg);
    assert.equal(second.metricDesiredReplicas, 1);
    assert.equal(second.desiredReplicas, 3);
    assert.deepEqual(condition(second, 'ScalingLimited'), { status: 'True', reason: 'TooFewReplicas' });
  });

  it('DesiredWithinRange when nothing limits', () => {
    const r = syncOnce(desiredReplicaSpec(), fresh(), { now: 0, replicas: 5, metrics: [7] });
    assert.equal(r.desiredReplicas, 7);
    assert.deepEqual(condition(r, 'ScalingLimited'), { status: 'False', reason: 'DesiredWithinRange' });
    assert.deepEqual(condition(r, 'AbleToScale'), { status: 'True', reason: 'SucceededRescale' });
    assert.deepEqual(condition(r, 'ScalingActive'), { status: 'True', reason: 'ValidMetricFound' });
  });

  it('behavior path: maxReplicas below the policy limit reports TooManyReplicas', () => {
    const r = syncOnce(withBehavior({}, { maxReplicas: 12 }), fresh(), { now: 0, replicas: 10, metrics: [50] });
    assert.equal(r.desiredReplicas, 12); // policy limit max(14, 20) = 20 > 12
    assert.deepEqual(condition(r, 'ScalingLimited'), { status: 'True', reason: 'TooManyReplicas' });
  });

  it('behavior path: minReplicas above the policy limit reports TooFewReplicas', () => {
    const spec = withBehavior({ scaleDown: { stabilizationWindowSeconds: 0 } }, { minReplicas: 4 });
    const r = syncOnce(spec, fresh(), { now: 0, replicas: 10, metrics: [1] });
    assert.equal(r.desiredReplicas, 4); // −100 % allows 0, min 4 wins
    assert.deepEqual(condition(r, 'ScalingLimited'), { status: 'True', reason: 'TooFewReplicas' });
  });
});

describe('HPA core: stabilization windows', () => {
  it('first sync never scales down: the window is seeded with the current size', () => {
    const r = syncOnce(desiredReplicaSpec(), fresh(), { now: 0, replicas: 4, metrics: [3] });
    assert.equal(r.metricDesiredReplicas, 3);
    assert.equal(r.desiredReplicas, 4);
    assert.deepEqual(condition(r, 'AbleToScale'), { status: 'True', reason: 'ScaleDownStabilized' });
  });

  it('legacy 300 s window keeps the max: 10 holds through t = 300, drops to 6 at t = 315', () => {
    const { replicas } = replay(desiredReplicaSpec(), 10, (t) => (t === 0 ? 10 : 6), 23);
    // syncs at t = 0, 15, …, 330: samples from t = 0 count until a cutoff strictly after 0 (t − 300 > 0).
    assert.deepEqual(replicas.slice(0, 21), Array(21).fill(10)); // t = 0 … 300
    assert.equal(replicas[21], 6); // t = 315
  });

  it('with a cluster-like period (15 s + processing) both paths drop on the 20th sync after the high sample', () => {
    const legacy = replay(desiredReplicaSpec(), 10, (t) => (t === 0 ? 10 : 6), 21, {}, 15.001).replicas;
    const behavior = replay(withBehavior({}), 10, (t) => (t === 0 ? 10 : 6), 21, {}, 15.001).replicas;
    assert.equal(legacy[19], 10);
    assert.equal(legacy[20], 6);
    assert.deepEqual(behavior, legacy);
  });

  it('behavior window keeps the max of the window, and counts samples only strictly inside it', () => {
    const spec = withBehavior({ scaleDown: { stabilizationWindowSeconds: 60 } });
    const metric = (t: number): number => (t === 0 ? 10 : t === 15 ? 14 : t < 75 ? 8 : 9);
    const { replicas } = replay(spec, 10, metric, 7);
    // t=0: 10. t=15: up to 14. t=30..60: max over (t−60, t] still holds 14 from t=15.
    // t=75: the window (15, 75] excludes t=15, max(8, 8, 8, 9) = 9.
    assert.deepEqual(replicas, [10, 14, 14, 14, 14, 9, 9]);
  });

  it('scale-up window keeps the min: 5 → 10 waits until the 5 from t = 0 leaves a 60 s window', () => {
    const spec = withBehavior({ scaleUp: { stabilizationWindowSeconds: 60 }, scaleDown: { stabilizationWindowSeconds: 0 } });
    const { replicas, results } = replay(spec, 5, (t) => (t === 0 ? 5 : 10), 6);
    assert.deepEqual(replicas, [5, 5, 5, 5, 10, 10]); // t = 60: cutoff 0 excludes the samples at 0
    assert.deepEqual(condition(results[3]!, 'AbleToScale'), { status: 'True', reason: 'ScaleUpStabilized' });
  });
});

describe('HPA core: rate policies', () => {
  it('default behavior from 3 to 40 takes max(+4, +100 %) per 15 s: 7, 14, 28, 40', () => {
    const { replicas } = replay(withBehavior({}), 3, () => 40, 4);
    assert.deepEqual(replicas, [7, 14, 28, 40]);
  });

  it('no behavior from 3 to 40 doubles (min 4) per sync: 6, 12, 24, 40', () => {
    const { replicas } = replay(desiredReplicaSpec(), 3, () => 40, 4);
    assert.deepEqual(replicas, [6, 12, 24, 40]);
  });

  it('Pods policy counts the changes made inside its period: +2 per 60 s from 5 → 7 until t = 60, then 9', () => {
    const spec = withBehavior({ scaleUp: { policies: [{ type: 'Pods', value: 2, periodSeconds: 60 }] } });
    const { replicas, results } = replay(spec, 5, () => 20, 5);
    assert.deepEqual(replicas, [7, 7, 7, 7, 9]);
    assert.deepEqual(condition(results[1]!, 'ScalingLimited'), { status: 'True', reason: 'ScaleUpLimit' });
  });

  it('Percent scale-up rounds up: +50 % per 15 s from 4 → 6, 9, 14, 20', () => {
    const spec = withBehavior({ scaleUp: { policies: [{ type: 'Percent', value: 50, periodSeconds: 15 }] } });
    // ceil(4 × 1.5) = 6, ceil(6 × 1.5) = 9, ceil(9 × 1.5) = 14, ceil(14 × 1.5) = 21 > 20 wanted.
    assert.deepEqual(replay(spec, 4, () => 20, 4).replicas, [6, 9, 14, 20]);
  });

  it('Percent scale-down truncates: −10 % per 60 s from 80 → 72 (held while the −8 is in the period) → 64', () => {
    const spec = withBehavior({ scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }] } });
    const { replicas } = replay(spec, 80, () => 10, 5);
    // t=0: trunc(80 × 0.9) = 72. t=15..45: period start 72 + 8 = 80 → 72. t=60: event at 0 is out → trunc(64.8) = 64.
    assert.deepEqual(replicas, [72, 72, 72, 72, 64]);
  });

  it('selectPolicy Max takes the largest change, Min the smallest (scale-up from 10: +4 pods vs +100 %)', () => {
    const policies = [
      { type: 'Pods' as const, value: 4, periodSeconds: 15 },
      { type: 'Percent' as const, value: 100, periodSeconds: 15 },
    ];
    const max = syncOnce(withBehavior({ scaleUp: { policies, selectPolicy: 'Max' } }), fresh(), { now: 0, replicas: 10, metrics: [50] });
    const min = syncOnce(withBehavior({ scaleUp: { policies, selectPolicy: 'Min' } }), fresh(), { now: 0, replicas: 10, metrics: [50] });
    assert.equal(max.desiredReplicas, 20); // max(14, 20)
    assert.equal(min.desiredReplicas, 14); // min(14, 20)
    // From 2 the Pods policy is the larger one: Max → max(6, 4) = 6, Min → 4.
    assert.equal(syncOnce(withBehavior({ scaleUp: { policies, selectPolicy: 'Max' } }), fresh(), { now: 0, replicas: 2, metrics: [50] }).desiredReplicas, 6);
    assert.equal(syncOnce(withBehavior({ scaleUp: { policies, selectPolicy: 'Min' } }), fresh(), { now: 0, replicas: 2, metrics: [50] }).desiredReplicas, 4);
  });

  it('selectPolicy on scale-down: −3 pods vs −50 % from 10 → Max 5, Min 7', () => {
    const policies = [
      { type: 'Pods' as const, value: 3, periodSeconds: 15 },
      { type: 'Percent' as const, value: 50, periodSeconds: 15 },
    ];
    const down = (selectPolicy: 'Max' | 'Min'): number =>
      syncOnce(withBehavior({ scaleDown: { stabilizationWindowSeconds: 0, policies, selectPolicy } }), fresh(), { now: 0, replicas: 10, metrics: [1] })
        .desiredReplicas;
    assert.equal(down('Max'), 5); // min(10 − 3, trunc(10 × 0.5)) = 5
    assert.equal(down('Min'), 7); // max(7, 5) = 7
  });

  it('selectPolicy Disabled forbids that direction only', () => {
    const spec = withBehavior({ scaleUp: { selectPolicy: 'Disabled' }, scaleDown: { stabilizationWindowSeconds: 0 } });
    const up = syncOnce(spec, fresh(), { now: 0, replicas: 5, metrics: [20] });
    assert.equal(up.desiredReplicas, 5);
    assert.equal(up.rescaled, false);
    assert.deepEqual(condition(up, 'ScalingLimited'), { status: 'True', reason: 'ScaleUpLimit' });
    assert.equal(syncOnce(spec, fresh(), { now: 0, replicas: 5, metrics: [2] }).desiredReplicas, 2);
    const noDown = withBehavior({ scaleDown: { selectPolicy: 'Disabled', stabilizationWindowSeconds: 0 } });
    assert.equal(syncOnce(noDown, fresh(), { now: 0, replicas: 5, metrics: [2] }).desiredReplicas, 5);
  });

  it('scale-up then scale-down within one period: the down limit starts from the pre-scale-up size', () => {
    // −1 pod per 60 s. t=0: 5 → 9 (+4). t=15: want 2; period start = 9 − 4 (added) = 5, limit 5 − 1 = 4.
    const spec = withBehavior({ scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } });
    const first = syncOnce(spec, fresh(), { now: 0, replicas: 5, metrics: [9] });
    assert.equal(first.desiredReplicas, 9);
    const second = syncOnce(spec, first.state, { now: 15, replicas: 9, metrics: [2] });
    assert.equal(second.desiredReplicas, 4);
  });
});

describe('HPA core: metric errors (B6)', () => {
  const twoMetrics = (extra: Partial<HpaSpec> = {}): HpaSpec =>
    desiredReplicaSpec({
      metrics: [
        { type: 'External', name: 'a', target: { type: 'AverageValue', averageValue: 1 } },
        { type: 'External', name: 'b', target: { type: 'AverageValue', averageValue: 1 } },
      ],
      behavior: { scaleDown: { stabilizationWindowSeconds: 0 } },
      ...extra,
    });

  it('all metrics failed → hold, ScalingActive=False FailedGetExternalMetric, status.desiredReplicas unchanged', () => {
    const before = syncOnce(desiredReplicaSpec(), fresh(), { now: 0, replicas: 5, metrics: [5] });
    const r = syncOnce(desiredReplicaSpec(), before.state, { now: 15, replicas: 5, metrics: [{ error: 'connection refused' }] });
    assert.equal(r.desiredReplicas, 5);
    assert.equal(r.rescaled, false);
    assert.equal(r.metricDesiredReplicas, undefined);
    assert.deepEqual(condition(r, 'ScalingActive'), { status: 'False', reason: 'FailedGetExternalMetric' });
    assert.match(r.conditions.find((c) => c.type === 'ScalingActive')!.message, /unable to compute the replica count.*connection refused/);
    assert.match(r.error ?? '', /^invalid metrics \(1 invalid out of 1\)/);
    assert.equal(r.state.desiredReplicas, before.state.desiredReplicas);
    assert.equal(r.state.recommendations?.length, before.state.recommendations?.length);
  });

  it('an empty item list is an error too', () => {
    const r = syncOnce(desiredReplicaSpec(), fresh(), { now: 0, replicas: 5, metrics: [[]] });
    assert.match(r.error ?? '', /no metrics returned from external metrics API/);
  });

  it('partial failure + the rest would scale down → hold', () => {
    const r = syncOnce(twoMetrics(), fresh(), { now: 0, replicas: 10, metrics: [{ error: 'timeout' }, 3] });
    assert.equal(r.desiredReplicas, 10);
    assert.deepEqual(condition(r, 'ScalingActive'), { status: 'False', reason: 'FailedGetExternalMetric' });
  });

  it('partial failure + the rest would scale up → scales up, error still reported', () => {
    const r = syncOnce(twoMetrics(), fresh(), { now: 0, replicas: 10, metrics: [{ error: 'timeout' }, 15] });
    assert.equal(r.desiredReplicas, 15);
    assert.match(r.error ?? '', /1 invalid out of 2/);
    assert.deepEqual(condition(r, 'ScalingActive'), { status: 'True', reason: 'ValidMetricFound' });
    assert.deepEqual(r.currentMetrics.map((m) => m.error === undefined), [false, true]);
  });

  it('partial failure + the rest stays level → no hold (replicas == spec.replicas)', () => {
    const r = syncOnce(twoMetrics(), fresh(), { now: 0, replicas: 10, metrics: [{ error: 'timeout' }, 10] });
    assert.equal(r.metricDesiredReplicas, 10);
    assert.deepEqual(condition(r, 'ScalingActive'), { status: 'True', reason: 'ValidMetricFound' });
  });

  it('several valid metrics: the max wins', () => {
    const r = syncOnce(twoMetrics(), fresh(), { now: 0, replicas: 10, metrics: [12, 15] });
    assert.equal(r.desiredReplicas, 15);
  });

  it('lastTransitionTime moves only when a condition flips', () => {
    const a = syncOnce(desiredReplicaSpec(), fresh(), { now: 0, replicas: 5, metrics: [5] });
    const b = syncOnce(desiredReplicaSpec(), a.state, { now: 15, replicas: 5, metrics: [5] });
    const c = syncOnce(desiredReplicaSpec(), b.state, { now: 30, replicas: 5, metrics: [{ error: 'x' }] });
    const at = (r: typeof a): number => r.conditions.find((x) => x.type === 'ScalingActive')!.lastTransitionTime;
    assert.deepEqual([at(a), at(b), at(c)], [0, 0, 30]);
  });
});

describe('HPA core: Pods metrics (plain metric path, B5)', () => {
  const gpuSpec = (extra: Partial<HpaSpec> = {}): HpaSpec => ({
    minReplicas: 1,
    maxReplicas: 50,
    metrics: [{ type: 'Pods', name: 'DCGM_FI_DEV_GPU_UTIL', target: { type: 'AverageValue', averageValue: 60 } }],
    behavior: { scaleDown: { stabilizationWindowSeconds: 0 } },
    ...extra,
  });

  it('avg 90 % over target 60 % on 3 pods: ceil(1.5 × 3) = 5', () => {
    const r = syncOnce(gpuSpec(), fresh(), { now: 0, replicas: 3, metrics: [[90, 90, 90]] });
    assert.equal(r.desiredReplicas, 5);
    assert.deepEqual(r.currentMetrics, [{ type: 'Pods', name: 'DCGM_FI_DEV_GPU_UTIL', currentAverageValue: 90 }]);
  });

  it('the average is an int64 division of milli-values: (61000 + 60000 + 60000) / 3 = 60333 → within tolerance', () => {
    const r = syncOnce(gpuSpec(), fresh(), { now: 0, replicas: 3, metrics: [[61, 60, 60]] });
    assert.equal(r.metricDesiredReplicas, 3);
    assert.equal(r.currentMetrics[0]!.currentAverageValue, 60.333);
  });

  it('a pod without metrics counts as the target on a scale-down: [30, missing] stays 2 instead of 1', () => {
    // ratio 30/60 = 0.5; fill missing with 60 → avg 45 → 0.75 → ceil(0.75 × 2) = 2, not below current → 2.
    const r = syncOnce(gpuSpec(), fresh(), { now: 0, replicas: 2, metrics: [{ pods: [{ value: 30 }, {}] }] });
    assert.equal(r.metricDesiredReplicas, 2);
    const all = syncOnce(gpuSpec(), fresh(), { now: 0, replicas: 2, metrics: [[30, 30]] });
    assert.equal(all.metricDesiredReplicas, 1); // ceil(0.5 × 2)
  });

  it('pending pods count as 0 on a scale-up; a direction flip means no change', () => {
    // ready-only: 120/60 = 2 → ceil(2 × 1) = 2 (a scale-down!). With 2 pending pods at 0: avg 40 → 0.667 < 1 → flip → 3.
    const r = syncOnce(gpuSpec(), fresh(), { now: 0, replicas: 3, metrics: [{ pods: [{ value: 120 }, { phase: 'Pending' }, { phase: 'Pending', value: 5 }] }] });
    assert.equal(r.metricDesiredReplicas, 3);
  });

  it('missing pods count as 0 on a scale-up: [120, 120, missing] → avg 80 → ceil(1.333 × 3) = 4', () => {
    const r = syncOnce(gpuSpec(), fresh(), { now: 0, replicas: 3, metrics: [{ pods: [{ value: 120 }, { value: 120 }, {}] }] });
    assert.equal(r.metricDesiredReplicas, 4);
  });

  it('failed and terminating pods are ignored', () => {
    const pods = [{ value: 90 }, { value: 90, phase: 'Failed' as const }, { value: 90, deleted: true }];
    const r = syncOnce(gpuSpec(), fresh(), { now: 0, replicas: 3, metrics: [{ pods }] });
    assert.equal(r.metricDesiredReplicas, 2); // only one pod counts: ceil(1.5 × 1)
  });

  it('no usable pod metrics → FailedGetPodsMetric hold', () => {
    const r = syncOnce(gpuSpec(), fresh(), { now: 0, replicas: 2, metrics: [{ pods: [{ phase: 'Pending', value: 10 }] }] });
    assert.equal(r.desiredReplicas, 2);
    assert.match(r.error ?? '', /did not receive metrics for targeted pods/);
    assert.deepEqual(condition(r, 'ScalingActive'), { status: 'False', reason: 'FailedGetPodsMetric' });
  });
});

describe('HPA core: API defaulting and validation', () => {
  it('fills a partial behavior like the API server; the scale-down window comes from the KCM flag', () => {
    const resolved = defaultHpaSpec(withBehavior({ scaleUp: { tolerance: 0 } }), {
      syncPeriodS: 15,
      tolerance: 0.1,
      downscaleStabilizationS: 120,
      configurableTolerance: true,
    });
    assert.deepEqual(resolved.behavior, {
      scaleUp: {
        stabilizationWindowSeconds: 0,
        selectPolicy: 'Max',
        policies: [
          { type: 'Pods', value: 4, periodSeconds: 15 },
          { type: 'Percent', value: 100, periodSeconds: 15 },
        ],
        tolerance: 0,
      },
      scaleDown: { stabilizationWindowSeconds: 120, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] },
    });
  });

  it('leaves a missing behavior missing and defaults minReplicas to 1', () => {
    const resolved = defaultHpaSpec({ maxReplicas: 5, metrics: desiredReplicaSpec().metrics });
    assert.equal(resolved.behavior, undefined);
    assert.equal(resolved.minReplicas, 1);
  });

  it('rejects what the API server rejects, naming the field', () => {
    assert.throws(() => defaultHpaSpec(withBehavior({ scaleUp: { policies: [] } })), /spec\.behavior\.scaleUp\.policies: must specify at least one Policy/);
    assert.throws(() => defaultHpaSpec(withBehavior({ scaleDown: { stabilizationWindowSeconds: 3601 } })), HpaInputError);
    assert.throws(
      () => defaultHpaSpec({ minReplicas: 0, maxReplicas: 3, metrics: [{ type: 'Pods', name: 'u', target: { type: 'AverageValue', averageValue: 1 } }] }),
      /spec\.minReplicas/,
    );
    assert.throws(() => defaultHpaSpec(desiredReplicaSpec({ minReplicas: 5, maxReplicas: 3 })), /spec\.maxReplicas/);
    assert.throws(() => syncOnce(desiredReplicaSpec(), fresh(), { now: 0, replicas: 1, metrics: [] }), /inputs\.metrics: must hold one reading/);
  });
});

describe('HPA core: stateless driver', () => {
  it('syncs on the first tick, then once per sync period', () => {
    const spec = desiredReplicaSpec();
    let state = initialHpaState();
    const synced: number[] = [];
    let replicas = 2;
    for (let t = 0; t <= 45; t += 5) {
      const step = stepHpa(spec, {}, state, { now: t, specReplicas: replicas, statusReplicas: replicas, readyPods: replicas, metrics: [8] });
      if (step.synced) synced.push(t);
      state = step.state;
      replicas = step.desiredReplicas;
    }
    assert.deepEqual(synced, [0, 15, 30, 45]);
    assert.equal(replicas, 8); // 2 → 4 (limit max(4, 4)) → 8
    assert.equal(nextHpaSyncAt(state, {}), 60);
  });

  it('does not read the clock or keep state: same inputs, same outputs', () => {
    const spec = withBehavior({ scaleDown: { stabilizationWindowSeconds: 30 } });
    const args = { now: 100, replicas: 6, metrics: [3] };
    const s0 = syncOnce(spec, fresh(), { now: 85, replicas: 6, metrics: [6] }).state;
    const frozen = JSON.stringify(s0);
    const a = syncOnce(spec, s0, args);
    const b = syncOnce(spec, s0, args);
    assert.deepEqual(a, b);
    assert.equal(JSON.stringify(s0), frozen);
  });
});

describe('HPA core: properties', () => {
  it('with tolerance 0, no windows and wide policies, AverageValue 1 follows clamp(ceil(metric))', () => {
    const spec = withBehavior(
      {
        scaleUp: { tolerance: 0, stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 1000, periodSeconds: 15 }] },
        scaleDown: { tolerance: 0, stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 1000, periodSeconds: 15 }] },
      },
      { minReplicas: 2, maxReplicas: 60 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 60 }), fc.double({ min: 0, max: 200, noNaN: true }), (current, metric) => {
        const r = syncOnce(spec, fresh(), { now: 0, replicas: current, metrics: [metric] });
        const wanted = Math.min(60, Math.max(2, Math.ceil(milliValue(metric) / 1000)));
        return r.desiredReplicas === wanted;
      }),
      { numRuns: 300 },
    );
  });

  it('history stays bounded over a long run (stale samples are reused, not appended)', () => {
    const { results } = replay(withBehavior({ scaleDown: { stabilizationWindowSeconds: 120 } }), 5, (t) => 3 + ((t / 15) % 7), 400);
    const last = results[results.length - 1]!.state;
    assert.ok((last.recommendations?.length ?? 0) <= 12, `recommendations: ${last.recommendations?.length}`);
    assert.ok(last.scaleUpEvents.length <= 3 && last.scaleDownEvents.length <= 3);
  });
});
