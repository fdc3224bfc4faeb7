// Tolerances (replica_calculator.go) and how the controller picks them for one HPA (KEP-4951: a behavior's
// scaleUp/scaleDown.tolerance overrides the KCM --horizontal-pod-autoscaler-tolerance for that direction).

import type { HpaControllerConfig, ResolvedHpaSpec } from './types.js';

export interface Tolerances {
  scaleDown: number;
  scaleUp: number;
}

/** (1 − scaleDown) ≤ ratio ≤ (1 + scaleUp): no change. NaN is never within. */
export function isWithinTolerance(t: Tolerances, usageRatio: number): boolean {
  return 1.0 - t.scaleDown <= usageRatio && usageRatio <= 1.0 + t.scaleUp;
}

/**
 * tolerancesForHpa: KCM tolerance in both directions, overridden per direction by behavior tolerances when the
 * HPAConfigurableTolerance gate is on. Shape taken from KEP-4951's design; the exact upstream function body was not
 * available to read (see README).
 */
export function tolerancesForHpa(spec: ResolvedHpaSpec, config: HpaControllerConfig): Tolerances {
  const t: Tolerances = { scaleDown: config.tolerance, scaleUp: config.tolerance };
  if (spec.behavior === undefined || !config.configurableTolerance) return t;
  if (spec.behavior.scaleDown.tolerance !== undefined) t.scaleDown = spec.behavior.scaleDown.tolerance;
  if (spec.behavior.scaleUp.tolerance !== undefined) t.scaleUp = spec.behavior.scaleUp.tolerance;
  return t;
}
