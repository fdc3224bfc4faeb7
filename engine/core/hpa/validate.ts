// What the API server would refuse (pkg/apis/autoscaling/validation), plus shape checks a JS caller needs.
// Errors name the field path so a bad config is easy to find.

import type { HpaControllerConfig, HpaScalingRules, HpaSpec, HpaSyncInputs, MetricReading } from './types.js';

export class HpaInputError extends Error {
  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = 'HpaInputError';
  }
}

function requireInteger(path: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new HpaInputError(path, `must be an integer, got ${String(value)}`);
  if (value < min || value > max) throw new HpaInputError(path, `must be in [${min}, ${max}], got ${value}`);
}

function requirePositive(path: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new HpaInputError(path, `must be a positive number, got ${String(value)}`);
  }
}

function validateRules(path: string, rules: HpaScalingRules | undefined): void {
  if (rules === undefined) return;
  if (rules.stabilizationWindowSeconds !== undefined) {
    requireInteger(`${path}.stabilizationWindowSeconds`, rules.stabilizationWindowSeconds, 0, 3600);
  }
  if (rules.selectPolicy !== undefined && !['Max', 'Min', 'Disabled'].includes(rules.selectPolicy)) {
    throw new HpaInputError(`${path}.selectPolicy`, `must be Max, Min or Disabled, got ${String(rules.selectPolicy)}`);
  }
  if (rules.policies !== undefined) {
    if (!Array.isArray(rules.policies) || rules.policies.length === 0) {
      throw new HpaInputError(`${path}.policies`, 'must specify at least one Policy');
    }
    rules.policies.forEach((p, i) => {
      if (p.type !== 'Pods' && p.type !== 'Percent') throw new HpaInputError(`${path}.policies[${i}].type`, `must be Pods or Percent, got ${String(p.type)}`);
      requireInteger(`${path}.policies[${i}].value`, p.value, 1, 2 ** 31 - 1);
      requireInteger(`${path}.policies[${i}].periodSeconds`, p.periodSeconds, 1, 1800);
    });
  }
  if (rules.tolerance !== undefined && (typeof rules.tolerance !== 'number' || !Number.isFinite(rules.tolerance) || rules.tolerance < 0)) {
    throw new HpaInputError(`${path}.tolerance`, `must be a number >= 0, got ${String(rules.tolerance)}`);
  }
}

export function validateHpaSpec(spec: HpaSpec): void {
  if (spec === null || typeof spec !== 'object') throw new HpaInputError('spec', 'must be an object');
  if (!Array.isArray(spec.metrics) || spec.metrics.length === 0) {
    throw new HpaInputError('spec.metrics', 'must list at least one External or Pods metric (Resource metrics are not modelled)');
  }
  const hasExternal = spec.metrics.some((m) => m.type === 'External');
  const min = spec.minReplicas ?? 1;
  // minReplicas 0 is HPAScaleToZero (alpha upstream), allowed only with an Object or External metric.
  requireInteger('spec.minReplicas', min, hasExternal ? 0 : 1, 2 ** 31 - 1);
  requireInteger('spec.maxReplicas', spec.maxReplicas, Math.max(1, min), 2 ** 31 - 1);
  spec.metrics.forEach((m, i) => {
    const path = `spec.metrics[${i}]`;
    if (typeof m.name !== 'string' || m.name === '') throw new HpaInputError(`${path}.name`, 'must be a non-empty string');
    if (m.type === 'External') {
      if (m.target?.type === 'Value') requirePositive(`${path}.target.value`, m.target.value);
      else if (m.target?.type === 'AverageValue') requirePositive(`${path}.target.averageValue`, m.target.averageValue);
      else throw new HpaInputError(`${path}.target`, 'invalid external metric source: neither a value target nor an average value target was set');
    } else if (m.type === 'Pods') {
      if (m.target?.type !== 'AverageValue') throw new HpaInputError(`${path}.target.type`, 'a Pods metric target must be AverageValue');
      requirePositive(`${path}.target.averageValue`, m.target.averageValue);
    } else {
      throw new HpaInputError(`${path}.type`, `must be External or Pods, got ${String((m as { type?: unknown }).type)}`);
    }
  });
  if (spec.behavior !== undefined) {
    if (spec.behavior === null || typeof spec.behavior !== 'object') throw new HpaInputError('spec.behavior', 'must be an object when set');
    validateRules('spec.behavior.scaleUp', spec.behavior.scaleUp);
    validateRules('spec.behavior.scaleDown', spec.behavior.scaleDown);
  }
}

export function validateControllerConfig(config: HpaControllerConfig): void {
  requirePositive('config.syncPeriodS', config.syncPeriodS);
  if (!Number.isFinite(config.tolerance) || config.tolerance < 0) throw new HpaInputError('config.tolerance', `must be >= 0, got ${config.tolerance}`);
  if (!Number.isFinite(config.downscaleStabilizationS) || config.downscaleStabilizationS < 0) {
    throw new HpaInputError('config.downscaleStabilizationS', `must be >= 0, got ${config.downscaleStabilizationS}`);
  }
}

function validateReading(path: string, reading: MetricReading): void {
  const finite = (p: string, v: unknown): void => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new HpaInputError(p, `must be a finite number, got ${String(v)}`);
  };
  if (typeof reading === 'number') return finite(path, reading);
  if (Array.isArray(reading)) return reading.forEach((v, i) => finite(`${path}[${i}]`, v));
  if (reading !== null && typeof reading === 'object' && 'error' in reading) {
    if (typeof reading.error !== 'string') throw new HpaInputError(`${path}.error`, 'must be a string');
    return;
  }
  if (reading !== null && typeof reading === 'object' && 'pods' in reading && Array.isArray(reading.pods)) {
    reading.pods.forEach((p, i) => {
      if (p.value !== undefined) finite(`${path}.pods[${i}].value`, p.value);
      if (p.phase !== undefined && !['Running', 'Pending', 'Failed'].includes(p.phase)) {
        throw new HpaInputError(`${path}.pods[${i}].phase`, `must be Running, Pending or Failed, got ${String(p.phase)}`);
      }
    });
    return;
  }
  throw new HpaInputError(path, 'must be a number, number[], { pods } or { error }');
}

export function validateSyncInputs(inputs: HpaSyncInputs, metricCount: number): void {
  if (typeof inputs.now !== 'number' || !Number.isFinite(inputs.now)) throw new HpaInputError('inputs.now', `must be a finite number, got ${String(inputs.now)}`);
  requireInteger('inputs.specReplicas', inputs.specReplicas, 0, 2 ** 31 - 1);
  requireInteger('inputs.statusReplicas', inputs.statusReplicas, 0, 2 ** 31 - 1);
  requireInteger('inputs.readyPods', inputs.readyPods, 0, 2 ** 31 - 1);
  if (inputs.podCount !== undefined) requireInteger('inputs.podCount', inputs.podCount, 0, 2 ** 31 - 1);
  if (!Array.isArray(inputs.metrics) || inputs.metrics.length !== metricCount) {
    throw new HpaInputError('inputs.metrics', `must hold one reading per spec.metrics entry (${metricCount}), got ${Array.isArray(inputs.metrics) ? inputs.metrics.length : String(inputs.metrics)}`);
  }
  inputs.metrics.forEach((r, i) => validateReading(`inputs.metrics[${i}]`, r));
}
