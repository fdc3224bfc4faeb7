// The 10 %-tolerance trap on the production path: policy core → desired-replica metric → stock HPA (AverageValue 1)
// → replicas. At 10 decode replicas Baton asks for 11; a default HPA (tolerance 0.1) ignores it, tolerance 0 follows.
import assert from 'node:assert/strict';
import type { ServicePolicyConfig } from '../../engine/core/types.js';
import { BATON_HPA_RECIPE, CoordinatedPolicy, type HpaRecipe } from '../../sim/policies/coordinated.js';
import type { ControlInput } from '../../sim/policy.js';

const cfg: ServicePolicyConfig = {
  service: 'chat',
  ratio: { prefill: 1, decode: 1 },
  decodeTpsPerUnit: 1000,
  pools: [
    { name: 'p', role: 'prefill', gpuType: 'H100', unitsPerReplica: 1, preference: 0, minReplicas: 1, maxReplicas: 100 },
    { name: 'd', role: 'decode', gpuType: 'H20', unitsPerReplica: 1, preference: 0, minReplicas: 1, maxReplicas: 100 },
  ],
  guards: [],
  stability: { scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0.1, scaleInDamping: 1 },
};

function run(recipe: HpaRecipe): number {
  const policy = new CoordinatedPolicy(cfg, { evalIntervalS: 5, hpa: recipe }).startFrom({ p: 10, d: 10 });
  const pool = (name: string, role: 'prefill' | 'decode') => ({ pool: { name, role, gpuType: 'H100', gpusPerInstance: 1, maxInstances: 100, units: 1 }, spec: 10, current: 10, ready: 10 });
  let out = { d: 10 } as Record<string, number>;
  for (let t = 0; t <= 60; t += 5) {
    const input: ControlInput = {
      now: t,
      signals: { prefillTps: 0, decodeTps: 10_500, prefillGpuUtil: 0, decodeGpuUtil: 0, prefillSmActivity: 0, decodeSmActivity: 0, ttftP99: undefined, tbtP99: undefined },
      pools: [pool('p', 'prefill'), pool('d', 'decode')],
    };
    out = policy.control(input).replicas;
  }
  return out['d']!;
}

describe('HPA tolerance trap on the production path (policy → metric → HPA → replicas)', () => {
  it('a default HPA (tolerance 0.1) ignores 10 → 11; per-HPA tolerance 0 follows', () => {
    const trap: HpaRecipe = { controller: { syncPeriodS: 15, tolerance: 0.1 } };
    assert.equal(run(trap), 10, 'with the default 10 % tolerance the request for 11 is ignored');
    assert.equal(run(BATON_HPA_RECIPE), 11, 'tolerance 0 follows Baton exactly');
  });
});
