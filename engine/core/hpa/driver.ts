// A stateless driver for simulators: call `stepHpa` on every tick; it runs a reconcile only when a sync is due
// (every syncPeriodS, like the KCM work queue re-adding each HPA after each sync) and otherwise hands the state back.

import { reconcileHpa, resolveControllerConfig } from './reconcile.js';
import type { HpaControllerConfig, HpaReconcileResult, HpaSpec, HpaState, HpaSyncInputs } from './types.js';

export interface HpaStep extends HpaReconcileResult {
  /** False when no sync was due: nothing changed and `desiredReplicas` is the current spec.replicas. */
  synced: boolean;
}

/** When the next sync runs; −∞ for an HPA never synced (the first tick syncs). */
export function nextHpaSyncAt(state: HpaState, controllerConfig: Partial<HpaControllerConfig> = {}): number {
  if (state.lastSyncAt === undefined) return Number.NEGATIVE_INFINITY;
  return state.lastSyncAt + resolveControllerConfig(controllerConfig).syncPeriodS;
}

export function isHpaSyncDue(state: HpaState, now: number, controllerConfig: Partial<HpaControllerConfig> = {}): boolean {
  return now >= nextHpaSyncAt(state, controllerConfig);
}

export function stepHpa(
  spec: HpaSpec,
  controllerConfig: Partial<HpaControllerConfig>,
  state: HpaState,
  inputs: HpaSyncInputs,
): HpaStep {
  if (!isHpaSyncDue(state, inputs.now, controllerConfig)) {
    return {
      synced: false,
      desiredReplicas: inputs.specReplicas,
      rescaled: false,
      conditions: state.conditions,
      currentMetrics: state.currentMetrics ?? [],
      state,
    };
  }
  return { synced: true, ...reconcileHpa(spec, controllerConfig, state, inputs) };
}
