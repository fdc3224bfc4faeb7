// Explain's derivation: the level arithmetic of a decision, step by step, with the numbers decide() used.
import assert from 'node:assert/strict';
import { decide } from '../../engine/core/decide.js';
import { deriveDecision, formatDerivation } from '../../engine/core/derivation.js';
import type { ServicePolicyConfig } from '../../engine/core/types.js';

const cfg: ServicePolicyConfig = {
  service: 'chat',
  ratio: { prefill: 3, decode: 2 },
  decodeTpsPerUnit: 1000,
  pools: [
    { name: 'prefill-h100', role: 'prefill', gpuType: 'H100', unitsPerReplica: 1, preference: 0, minReplicas: 1, maxReplicas: 40 },
    { name: 'decode-h200', role: 'decode', gpuType: 'H200', unitsPerReplica: 1.4, preference: 0, minReplicas: 1, maxReplicas: 4 },
    { name: 'decode-h100', role: 'decode', gpuType: 'H100', unitsPerReplica: 1, preference: 1, minReplicas: 0, maxReplicas: 20 },
  ],
  guards: [{ name: 'tbt_p99', slo: 0.05, tiers: [{ above: 0.9, scaleOut: 0.1 }, { above: 1.0, scaleOut: 0.2 }] }],
  stability: { scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0.1, scaleInDamping: 0.5 },
};

describe('policy core: the derivation explain shows', () => {
  it('previous level → need → level → per-pool split → ⌈level × P/D⌉ for prefill', () => {
    const d = decide(cfg, { now: 100, decodeTps: 7000, guards: { tbt_p99: 0.02 }, replicas: {} }, { decodeUnits: 3 });
    const steps = deriveDecision(cfg, d);
    const text = formatDerivation(steps);
    assert.deepEqual(steps.map((s) => s.step), ['previous', 'need', 'need', 'level', 'split', 'decode', 'prefill', 'result'], text);
    assert.match(text, /previous +previous level 3 decode units/);
    assert.match(text, /need = decode TPS 7000 \/ 1000 tok\/s per unit = 7 units/);
    assert.match(text, /level 7 decode units \(was 3\)/);
    // 7 units: decode-h200 full at 4 × 1.4 = 5.6, decode-h100 takes ⌈1.4⌉ = 2.
    assert.match(text, /decode: decode-h200 4 × 1\.4 \(max\) \+ decode-h100 2 × 1 = 7\.6 units/);
    assert.match(text, /prefill: 7 × 3\/2 = 10\.5 units → prefill-h100 11 × 1 = 11 units/);
    assert.match(text, /up: prefill 11 \+ decode 6 replicas/);
  });

  it('shows the guard step on the held level, its ceiling, and the scale-in damping with their numbers', () => {
    const guarded = decide(cfg, { now: 100, decodeTps: 2000, guards: { tbt_p99: 0.06 }, replicas: {} }, { decodeUnits: 4 });
    const g = formatDerivation(deriveDecision(cfg, guarded));
    assert.match(g, /guard +tbt_p99 0\.06 > 1×SLO 0\.05 \(tier 2\): scale out \+20 %/);
    // 4 × 1.2 = 4.8, under the 1.5 × 2 = 3 ceiling? No: the ceiling (2 × the signal's 2 units = 4) caps it.
    assert.match(g, /guard step: 4 units \(held level, no more than Ready serves\) × \(1 \+ 20 %\) = 4\.8 units/);
    assert.match(g, /ceiling +guard scale-out capped at 2× the signal's 2 units/);

    const down = decide(cfg, { now: 1000, decodeTps: 2000, guards: { tbt_p99: 0.01 }, replicas: {} }, { decodeUnits: 8 });
    const t = formatDerivation(deriveDecision(cfg, down));
    assert.match(t, /scale-in +scale-in damped: [\d.]+ of the [\d.]+ unit gap to 2\.1 units/);
    assert.match(t, /level 5\.05 decode units \(was 8\)/);
  });
});
