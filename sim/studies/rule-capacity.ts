// What a rule's GPUs carry at the rule's SLO, measured by the simulated pressure test: the one capacity that
// `sweep --rules` prints and `simulate --rules` compares the rule against, so the two always agree on the same inputs.
import type { Role } from '../../engine/core/types.js';
import type { RulePool, ServiceRule } from '../../rules/types.js';
import { integerRatio } from '../scenario.js';
import type { ServicePreset } from '../service.js';
import type { SimRequest } from '../workload/index.js';
import { pressureTest, type PressureResult } from './pressure.js';

export interface RuleCapacity {
  /** The role's reference pool (1 unit per replica, else the first), whose GPU the pressure test runs. */
  prefillPool: string;
  decodePool: string;
  prefillGpu: string;
  decodeGpu: string;
  total: number;
  pressure: PressureResult;
  /** The best split in the rule's units (integers, at most 16 in all). */
  ratio: { prefill: number; decode: number };
  /** Decode tokens/s one decode unit carries at the best split, within the SLO. */
  decodeTpsPerUnit: number;
}

/** The pool a role's units are counted in: the one worth 1 unit per replica, else the first of the role. */
export function referencePool(rule: ServiceRule, role: Role): RulePool {
  const inRole = rule.pools.filter((p) => p.role === role);
  return inRole.find((p) => p.unitsPerReplica === 1) ?? inRole[0]!;
}

export interface RuleCapacityOptions {
  rule: ServiceRule;
  /** Lengths and SLOs (the rule's, see rules/slo.ts). */
  service: ServicePreset;
  lengths: readonly SimRequest[];
  /** Instances split between the roles (the paper's 16). */
  total?: number;
  seed?: number;
}

export function ruleCapacity(o: RuleCapacityOptions): RuleCapacity {
  const p = referencePool(o.rule, 'prefill');
  const d = referencePool(o.rule, 'decode');
  const total = o.total ?? 16;
  const pressure = pressureTest({ service: o.service, prefillGpu: p.gpuType.toUpperCase(), decodeGpu: d.gpuType.toUpperCase(), total, lengths: o.lengths, seed: o.seed ?? 7 });
  const best = pressure.best;
  const perDecodeInstance = best.decode > 0 ? best.decodeTps / best.decode : 0;
  // Instances → units: prefill units per decode unit at the best split.
  const ratio = integerRatio((best.prefill * p.unitsPerReplica) / (best.decode * d.unitsPerReplica));
  return {
    prefillPool: p.name,
    decodePool: d.name,
    prefillGpu: p.gpuType.toUpperCase(),
    decodeGpu: d.gpuType.toUpperCase(),
    total,
    pressure,
    ratio,
    decodeTpsPerUnit: Math.round(perDecodeInstance / d.unitsPerReplica),
  };
}
