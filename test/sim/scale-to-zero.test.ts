import assert from 'node:assert/strict';
import type { ServicePolicyConfig } from '../../engine/core/types.js';
import { BATON_HPA_RECIPE, CoordinatedPolicy } from '../../sim/policies/coordinated.js';
import type { Signals } from '../../sim/signals.js';

describe('simulator: a scale-to-zero rule sleeps and wakes through the modelled HPAs, woken by arrivals', () => {
  it('idle → 0 after the window; arrivals at zero wake both roles; idle again → 0', () => {
    const cfg: ServicePolicyConfig = {
      service: 's', ratio: { prefill: 1, decode: 1 }, decodeTpsPerUnit: 100,
      pools: [
        { name: 'p', role: 'prefill', gpuType: 'H100', unitsPerReplica: 1, preference: 0, minReplicas: 0, maxReplicas: 5 },
        { name: 'd', role: 'decode', gpuType: 'H100', unitsPerReplica: 1, preference: 0, minReplicas: 0, maxReplicas: 5 },
      ],
      guards: [], stability: { scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1 },
      scaleToZero: { wakeAbove: 0, idleS: 30 },
    };
    const policy = new CoordinatedPolicy(cfg, { evalIntervalS: 5, hpa: { controller: { syncPeriodS: 5 }, behavior: BATON_HPA_RECIPE.behavior! } }).startFrom({ p: 1, d: 1 });
    let replicas: Record<string, number> = { p: 1, d: 1 };
    const seen: [number, number][] = [];
    for (let t = 0; t <= 200; t += 5) {
      const arrivalsPerS = t >= 100 && t < 130 ? 2 : 0;
      const signals: Signals = {
        decodeTps: arrivalsPerS * 75, prefillTps: 0, prefillGpuUtil: 0, decodeGpuUtil: 0, prefillSmActivity: 0, decodeSmActivity: 0,
        ttftP99: undefined, tbtP99: undefined, arrivalsPerS,
      };
      replicas = policy.control({
        now: t, signals,
        pools: cfg.pools.map((p) => ({ pool: { ...p, gpusPerInstance: 1, maxInstances: 5, units: 1 }, spec: replicas[p.name]!, current: replicas[p.name]!, ready: replicas[p.name]! })),
      }).replicas;
      assert.equal(replicas.p, replicas.d, `t=${t}: both roles together`);
      seen.push([t, replicas.d!]);
    }
    const at = (t: number) => seen.find(([x]) => x === t)![1];
    assert.equal(at(25), 1, 'not before the idle window');
    assert.equal(at(30), 0);
    assert.equal(at(95), 0, 'asleep without arrivals');
    assert.ok(at(100) >= 1, 'arrivals wake it at once');
    assert.equal(at(155), 1, 'awake through the idle window');
    assert.equal(at(160), 0);
  });
});
