// API defaulting (pkg/apis/autoscaling/v2/defaults.go) and the controller's own fill-in of the scale-down window
// (horizontal.go maybeInitScaleDownStabilizationWindow). A nil `behavior` stays nil: defaulting only fills the
// fields of a behavior the user set, so an HPA without `behavior` takes the legacy normalizeDesiredReplicas path.

import type {
  HpaControllerConfig,
  HpaScalingPolicy,
  HpaScalingRules,
  HpaSpec,
  ResolvedHpaSpec,
  ResolvedScalingRules,
} from './types.js';
import { validateHpaSpec } from './validate.js';

export const DEFAULT_HPA_CONTROLLER_CONFIG: Readonly<HpaControllerConfig> = Object.freeze({
  syncPeriodS: 15,
  tolerance: 0.1,
  downscaleStabilizationS: 300,
  configurableTolerance: true,
});

/** defaultHPAScaleUpRules: no window, Max of +4 pods and +100 % per 15 s. */
function defaultScaleUpPolicies(): HpaScalingPolicy[] {
  return [
    { type: 'Pods', value: 4, periodSeconds: 15 },
    { type: 'Percent', value: 100, periodSeconds: 15 },
  ];
}

/** defaultHPAScaleDownRules: window left nil for the KCM flag, Max of −100 % per 15 s. */
function defaultScaleDownPolicies(): HpaScalingPolicy[] {
  return [{ type: 'Percent', value: 100, periodSeconds: 15 }];
}

/** copyHPAScalingRules: every field the user set wins; the rest comes from the defaults. */
function resolveRules(
  from: HpaScalingRules | undefined,
  defaultWindow: number,
  defaultPolicies: () => HpaScalingPolicy[],
): ResolvedScalingRules {
  const rules: ResolvedScalingRules = {
    stabilizationWindowSeconds: from?.stabilizationWindowSeconds ?? defaultWindow,
    selectPolicy: from?.selectPolicy ?? 'Max',
    policies: from?.policies !== undefined ? from.policies.map((p) => ({ ...p })) : defaultPolicies(),
  };
  if (from?.tolerance !== undefined) rules.tolerance = from.tolerance;
  return rules;
}

/** The spec as the controller reads it: validated, API-defaulted, scale-down window filled from the KCM flag. */
export function defaultHpaSpec(spec: HpaSpec, config: HpaControllerConfig = DEFAULT_HPA_CONTROLLER_CONFIG): ResolvedHpaSpec {
  validateHpaSpec(spec);
  const resolved: ResolvedHpaSpec = {
    minReplicas: spec.minReplicas ?? 1,
    maxReplicas: spec.maxReplicas,
    metrics: spec.metrics.map((m) => ({ ...m, target: { ...m.target } }) as typeof m),
  };
  if (spec.behavior !== undefined) {
    resolved.behavior = {
      scaleUp: resolveRules(spec.behavior.scaleUp, 0, defaultScaleUpPolicies),
      scaleDown: resolveRules(spec.behavior.scaleDown, config.downscaleStabilizationS, defaultScaleDownPolicies),
    };
  }
  return resolved;
}
