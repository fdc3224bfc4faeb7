import assert from 'node:assert/strict';
import { decide, noteSignalMissing } from '../../engine/core/decide.js';
import { GUARD_ERROR, type PolicyState, type ServiceObservation, type ServicePolicyConfig } from '../../engine/core/types.js';

function service(over: Partial<ServicePolicyConfig> = {}): ServicePolicyConfig {
  return {
    service: 'chat',
    ratio: { prefill: 9, decode: 7 },
    decodeTpsPerUnit: 1000,
    pools: [
      { name: 'prefill-h100', role: 'prefill', gpuType: 'H100', unitsPerReplica: 1, preference: 0, minReplicas: 1, maxReplicas: 100 },
      { name: 'decode-h200', role: 'decode', gpuType: 'H200', unitsPerReplica: 1, preference: 0, minReplicas: 1, maxReplicas: 100 },
    ],
    guards: [{ name: 'tbt_p99', slo: 0.04, tiers: [{ above: 0.9, scaleOut: 0.1 }, { above: 1.0, scaleOut: 0.2 }] }],
    stability: { scaleUpCooldownS: 30, scaleDownCooldownS: 300, scaleInHysteresis: 0.1, scaleInDamping: 0.5 },
    ...over,
  };
}

function obs(decodeTps: number | undefined, replicas: Record<string, number>, now = 1000, tbt: number | undefined = 0.02): ServiceObservation {
  return { now, decodeTps, guards: { tbt_p99: tbt }, replicas };
}

const R = (p: number, d: number) => ({ 'prefill-h100': p, 'decode-h200': d });
const codes = (d: { reasons: { code: string }[] }) => d.reasons.map((r) => r.code);

describe('policy core: coordinated decision', () => {
  it('one config decided again after its pools were edited in place follows the edit (pool arithmetic is derived once per pools array, and again when they change)', () => {
    const cfg = service({ stability: { scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1 } });
    assert.equal(decide(cfg, obs(14_000, R(1, 1)), {}).decode.replicas, 14);
    cfg.pools[1]!.maxReplicas = 10;
    const capped = decide(cfg, obs(14_000, R(1, 1)), {});
    assert.equal(capped.decode.replicas, 10);
    assert.ok(codes(capped).includes('clamp-max'));
    cfg.pools[1]!.unitsPerReplica = 2;
    assert.equal(decide(cfg, obs(14_000, R(1, 1)), {}).decode.replicas, 7);
  });

  it('sizes decode from decode TPS and prefill at the fixed ratio, together', () => {
    const d = decide(service(), obs(14_000, R(1, 1)), {});
    assert.equal(d.decode.replicas, 14);
    assert.equal(d.prefill.replicas, 18); // 14 × 9/7
    assert.equal(d.direction, 'up');
    assert.ok(codes(d).includes('signal'));
    assert.equal(d.state.lastScaleUpAt, 1000);
  });

  it('counts capacity in per-pool units: an H200 decode replica is worth more than an H100 one', () => {
    const cfg = service({
      pools: [
        { name: 'prefill-h100', role: 'prefill', gpuType: 'H100', unitsPerReplica: 1, preference: 0, minReplicas: 0, maxReplicas: 100 },
        { name: 'decode-h200', role: 'decode', gpuType: 'H200', unitsPerReplica: 1.4, preference: 0, minReplicas: 0, maxReplicas: 5 },
        { name: 'decode-h100', role: 'decode', gpuType: 'H100', unitsPerReplica: 1, preference: 1, minReplicas: 0, maxReplicas: 100 },
      ],
    });
    const d = decide(cfg, { now: 0, decodeTps: 10_000, guards: { tbt_p99: 0.01 }, replicas: {} }, {});
    // 10 units: 5 H200 replicas give 7 units (pool full), 3 more on H100.
    assert.equal(d.decode.pools['decode-h200'], 5);
    assert.equal(d.decode.pools['decode-h100'], 3);
    assert.equal(d.decode.units, 10);
    assert.ok(codes(d).includes('pool-fallback'));
    assert.equal(d.prefill.replicas, Math.ceil((10 * 9) / 7));
  });

  it('guard tiers scale out by a fixed step over current capacity', () => {
    const cfg = service();
    const state: PolicyState = { decodeUnits: 10 };
    const t1 = decide(cfg, obs(9_000, R(13, 10), 1000, 0.037), state); // 0.925 × SLO → tier 1, +10 %
    assert.equal(t1.decode.replicas, 11);
    const t2 = decide(cfg, obs(9_000, R(13, 10), 1000, 0.05), state); // above SLO → tier 2, +20 %
    assert.equal(t2.decode.replicas, 12);
    const g = t2.reasons.find((r) => r.code === 'guard');
    assert.equal(g?.detail['tier'], 2);
  });

  it('caps guard scale-out at a multiple of the signal so an unreachable SLO cannot ratchet to max', () => {
    const cfg = service({ stability: { scaleUpCooldownS: 0, scaleDownCooldownS: 300, scaleInHysteresis: 0.1, scaleInDamping: 0.5, guardCeiling: 1.5 } });
    let state: PolicyState = {};
    let replicas: Record<string, number> = R(13, 10);
    for (let t = 0; t < 20; t++) {
      const d = decide(cfg, { now: t * 60, decodeTps: 10_000, guards: { tbt_p99: 0.08 }, replicas, ready: replicas }, state);
      state = d.state;
      replicas = { ...d.prefill.pools, ...d.decode.pools };
    }
    assert.equal(replicas['decode-h200'], 15); // 1.5 × 10 units, not 100
    const last = decide(cfg, { now: 9999, decodeTps: 10_000, guards: { tbt_p99: 0.08 }, replicas, ready: replicas }, state);
    assert.ok(codes(last).includes('guard-ceiling'));
  });

  it('does not scale in while a guard is above its first tier', () => {
    // Signal says 2 units, the guard fires but its scale-out is in cooldown: the result must not go down.
    const d = decide(service(), obs(2_000, R(13, 10), 5000, 0.038), { decodeUnits: 10, lastScaleUpAt: 4990 });
    assert.equal(d.decode.replicas, 10);
    assert.notEqual(d.direction, 'down');
    assert.ok(codes(d).includes('guard'));
  });

  it('never scales down when the signal or a guard is missing', () => {
    for (const v of [undefined, Number.NaN, Number.POSITIVE_INFINITY, -1]) {
      const d = decide(service(), obs(v, R(13, 10), 5000), { decodeUnits: 10 });
      assert.equal(d.decode.replicas, 10, `decodeTps=${v}`);
      assert.ok(codes(d).includes('signal-missing'));
    }
    const g = decide(service(), { now: 5000, decodeTps: undefined, guards: {}, replicas: R(13, 10) }, { decodeUnits: 10 });
    assert.equal(g.decode.replicas, 10);
    assert.ok(codes(g).includes('guard-missing'));
  });

  it('an idle service (no latency samples, healthy decode signal) still scales in', () => {
    const g = decide(service(), { now: 5000, decodeTps: 1_000, guards: {}, replicas: R(13, 10) }, { decodeUnits: 10 });
    assert.ok(g.decode.replicas < 10);
    assert.ok(codes(g).includes('guard-missing'));
  });

  it('holds the last decision, not the replicas, when nothing changed (the HPA may lag)', () => {
    const d = decide(service(), obs(14_000, R(1, 1), 1010), { decodeUnits: 14, lastScaleUpAt: 1000 });
    assert.equal(d.decode.replicas, 14);
    assert.equal(d.direction, 'hold');
  });

  it('applies the scale-out cooldown', () => {
    const d = decide(service(), obs(20_000, R(18, 14), 1010), { decodeUnits: 14, lastScaleUpAt: 1000 });
    assert.equal(d.decode.replicas, 14);
    assert.ok(codes(d).includes('cooldown'));
    const later = decide(service(), obs(20_000, R(18, 14), 1031), { decodeUnits: 14, lastScaleUpAt: 1000 });
    assert.equal(later.decode.replicas, 20);
  });

  it('scale-in waits for the hysteresis band, the cooldown, and is damped', () => {
    const cfg = service();
    const inBand = decide(cfg, obs(9_500, R(13, 10), 10_000), { decodeUnits: 10 });
    assert.equal(inBand.decode.replicas, 10);
    assert.ok(codes(inBand).includes('hysteresis'));
    const cooling = decide(cfg, obs(4_000, R(13, 10), 10_000), { decodeUnits: 10, lastScaleUpAt: 9_900 });
    assert.equal(cooling.decode.replicas, 10);
    assert.ok(codes(cooling).includes('cooldown'));
    const damped = decide(cfg, obs(4_000, R(13, 10), 10_000), { decodeUnits: 10, lastScaleUpAt: 9_000 });
    // The goal is the need plus half the band (4 × 1.05 = 4.2); damping closes half the gap: 10 − 2.9 = 7.1 units.
    assert.equal(damped.decode.replicas, 8);
    assert.equal(damped.direction, 'down');
    assert.equal(damped.prefill.replicas, 10); // ⌈7.1 × 9/7⌉
    assert.equal(damped.state.decodeUnits, 7.1);
    assert.ok(codes(damped).includes('damping'));
    assert.equal(damped.state.lastScaleDownAt, 10_000);
  });

  it('damping always moves at least one replica', () => {
    // Need 0.9, goal 0.945: half of the 1.055 gap is less than one replica, so the step is one replica.
    const d = decide(service(), obs(900, R(3, 2), 10_000), { decodeUnits: 2 });
    assert.equal(d.decode.replicas, 1);
  });

  it('scale-in lands with the need in the middle of the band, so a small rise does not undo it', () => {
    // Few replicas, P:D 10:6: prefill rounds up at every 0.6 decode units, so rounding boundaries sit ~15 % apart.
    // Landing at the bare need (2.35 → prefill ⌈3.92⌉ = 4, 98 % full) flaps back to 5 on a 3 % rise past 2.4.
    const cfg = service({ ratio: { prefill: 10, decode: 6 }, stability: { scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0.1, scaleInDamping: 1 } });
    const start: PolicyState = { decodeUnits: 2.7 }; // prefill ⌈4.5⌉ = 5, decode 3
    const fall = decide(cfg, obs(2_350, R(5, 3), 10_000), start); // 2.35 < 2.7 × 0.9: past the band
    assert.ok(Math.abs(fall.state.decodeUnits! - 2.4675) < 1e-9, String(fall.state.decodeUnits)); // 2.35 × 1.05
    assert.deepEqual([fall.direction, fall.prefill.replicas, fall.decode.replicas], ['hold', 5, 3]); // ⌈4.11⌉ = 5
    const rise = decide(cfg, obs(2_410, R(5, 3), 10_010), fall.state);
    assert.deepEqual([rise.direction, rise.prefill.replicas], ['hold', 5]);
    // A real fall (2.2 → level 2.31, prefill ⌈3.85⌉ = 4) does scale in.
    const lower = decide(cfg, obs(2_200, R(5, 3), 10_020), fall.state);
    assert.deepEqual([lower.direction, lower.prefill.replicas, lower.decode.replicas], ['down', 4, 3]);
  });

  it('scaleInWindowS: scale-in goes only to the highest need of the window', () => {
    const cfg = service({ stability: { scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1, scaleInWindowS: 60 } });
    // Need 9 at t = 0 (level 10 → 9), then a dip to 6 at t = 30: the window still holds the 9.
    const first = decide(cfg, obs(9_000, R(13, 10), 0), { decodeUnits: 10 });
    assert.equal(first.state.decodeUnits, 9);
    const dip = decide(cfg, obs(6_000, R(12, 9), 30), first.state);
    assert.equal(dip.state.decodeUnits, 9);
    assert.ok(codes(dip).includes('scale-in-window'));
    // At t = 61 the 9 has left the window: the level goes to 6, and old needs are dropped from the state.
    const later = decide(cfg, obs(6_000, R(12, 9), 61), dip.state);
    assert.equal(later.state.decodeUnits, 6);
    assert.deepEqual(later.state.recentNeeds, [[30, 6], [61, 6]]);
    // Without a window the dip goes straight to 6.
    const none = decide(service({ stability: { ...cfg.stability, scaleInWindowS: 0 } }), obs(6_000, R(13, 10), 40), { decodeUnits: 10 });
    assert.equal(none.state.decodeUnits, 6);
  });

  it('a hold and a change give the same replicas for the same level (prefill is always rounded from the held level)', () => {
    const cfg = service({ ratio: { prefill: 10, decode: 6 }, stability: { scaleUpCooldownS: 30, scaleDownCooldownS: 60, scaleInHysteresis: 0.1, scaleInDamping: 1 } });
    // Need 1.14 decode units, level 1.197 (plus half the band): decode ⌈1.197⌉ = 2, prefill ⌈1.995⌉ = 2. Later holds
    // must give the same; rounding the held decode level up first (2 units) would ask for ⌈3.33⌉ = 4 prefill.
    const first = decide(cfg, obs(1_140, R(4, 2), 10_000), { decodeUnits: 2 });
    assert.deepEqual([first.direction, first.prefill.replicas, first.decode.replicas], ['down', 2, 2]);
    const hold = decide(cfg, obs(1_150, R(2, 2), 10_005), first.state);
    assert.deepEqual([hold.direction, hold.prefill.replicas, hold.decode.replicas], ['hold', 2, 2]);
  });

  it('a guard grows the held level, not the rounded-up replicas, and waits for its own scale-out to be Ready', () => {
    const cfg = service({ ratio: { prefill: 10, decode: 6 }, stability: { scaleUpCooldownS: 0, scaleDownCooldownS: 60, scaleInHysteresis: 0.1, scaleInDamping: 0.5 } });
    const ttftHot = (now: number, ready: Record<string, number>, replicas: Record<string, number>): ServiceObservation =>
      ({ now, decodeTps: 1_200, guards: { tbt_p99: 0.038 }, replicas, ready }); // 0.95 × SLO: tier 1, +10 %
    // Level 1.2: decode 2 replicas (2 units), prefill 2. +10 % of the level is 1.32: prefill 3, decode still 2. The
    // old rule (+10 % of the 2 Ready decode units = 2.2) would have asked for 3 decode and 4 prefill.
    const g = decide(cfg, ttftHot(10_000, R(2, 2), R(2, 2)), { decodeUnits: 1.2 });
    assert.equal(g.direction, 'up');
    assert.equal(g.state.decodeUnits, 1.32);
    assert.deepEqual([g.prefill.replicas, g.decode.replicas], [3, 2]);
    // Still hot 30 s later but the third prefill pod is not Ready: Ready serves min(2, 2 × 6/10) = 1.2 units, and
    // +10 % of that is below what is held — no compounding while the scale-out comes up.
    const wait = decide(cfg, ttftHot(10_030, R(2, 2), R(3, 2)), g.state);
    assert.equal(wait.direction, 'hold');
    assert.equal(wait.state.decodeUnits, 1.32);
    // Once Ready and still hot, the guard steps again from the held level.
    const again = decide(cfg, ttftHot(10_060, R(3, 2), R(3, 2)), wait.state);
    assert.ok(Math.abs(again.state.decodeUnits! - 1.452) < 1e-9);
  });

  it('the scale-out cooldown spaces out replica changes, not level changes that add no replica', () => {
    const cfg = service({ ratio: { prefill: 1, decode: 1 } });
    // Level 1.5 → 1.8 adds no replica (both roles stay at 2): taken inside the cooldown.
    const small = decide(cfg, obs(1_800, R(2, 2), 1010), { decodeUnits: 1.5, lastScaleUpAt: 1000 });
    assert.equal(small.state.decodeUnits, 1.8);
    assert.equal(small.direction, 'hold');
    assert.ok(!codes(small).includes('cooldown'));
    // 1.5 → 2.5 adds a replica per role: held by the cooldown.
    const big = decide(cfg, obs(2_500, R(2, 2), 1010), { decodeUnits: 1.5, lastScaleUpAt: 1000 });
    assert.equal(big.state.decodeUnits, 1.5);
    assert.ok(codes(big).includes('cooldown'));
  });

  it('clamps to min and max per role and keeps the ratio when prefill hits its maximum', () => {
    const cfg = service({
      pools: [
        { name: 'prefill-h100', role: 'prefill', gpuType: 'H100', unitsPerReplica: 1, preference: 0, minReplicas: 2, maxReplicas: 18 },
        { name: 'decode-h200', role: 'decode', gpuType: 'H200', unitsPerReplica: 1, preference: 0, minReplicas: 2, maxReplicas: 100 },
      ],
    });
    const low = decide(cfg, obs(100, {}, 0), {});
    assert.equal(low.decode.replicas, 2);
    assert.equal(low.prefill.replicas, 3); // 2 × 9/7 rounds up
    assert.ok(codes(low).includes('clamp-min'));
    const high = decide(cfg, obs(50_000, {}, 0), {});
    assert.equal(high.prefill.replicas, 18);
    assert.equal(high.decode.replicas, 14); // 18 × 7/9
    assert.ok(codes(high).includes('ratio'));
  });

  it('periodic table works as a floor and alone', () => {
    const periodic = { mode: 'floor' as const, entries: [{ from: '00:00', prefill: 2, decode: 2 }, { from: '09:00', prefill: 18, decode: 14 }] };
    const floor = decide(service({ periodic }), obs(3_000, R(4, 3), 10 * 3600), { decodeUnits: 3 });
    assert.equal(floor.decode.replicas, 14);
    assert.equal(floor.prefill.replicas, 18);
    assert.ok(codes(floor).includes('periodic-floor'));
    const night = decide(service({ periodic }), obs(3_000, R(4, 3), 3 * 3600), {});
    assert.equal(night.decode.replicas, 3);
    const only = decide(service({ periodic: { ...periodic, mode: 'only' } }), obs(90_000, R(4, 3), 86_400 + 3600), {});
    assert.equal(only.decode.replicas, 2); // wraps to the next day's 00:00 entry; the signal is ignored
    assert.equal(only.prefill.replicas, 2);
    assert.ok(codes(only).includes('periodic'));
  });

  it('is pure: the same inputs give the same decision and the input state is not mutated', () => {
    const state: PolicyState = { decodeUnits: 10, lastScaleUpAt: 1 };
    const frozen = JSON.stringify(state);
    const a = decide(service(), obs(14_000, R(13, 10), 5000), state);
    const b = decide(service(), obs(14_000, R(13, 10), 5000), state);
    assert.deepEqual(a, b);
    assert.equal(JSON.stringify(state), frozen);
  });
});

describe('policy core: guard readings are value, empty (idle) or error (hold)', () => {
  const quiet = service({ stability: { scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0.1, scaleInDamping: 1 } });
  const at8 = { decodeUnits: 8 };
  const readingAfterDrop = (tbt: ServiceObservation['guards'][string]) =>
    decide(quiet, { now: 1000, decodeTps: 4000, guards: { tbt_p99: tbt }, replicas: R(11, 8) }, at8);

  it('an erroring guard blocks scale-in (a TBT query timing out let decode go 8 → 4 and prefill 11 → 6)', () => {
    const d = readingAfterDrop(GUARD_ERROR);
    assert.equal(d.decode.replicas, 8);
    assert.equal(d.prefill.replicas, 11);
    assert.ok(codes(d).includes('guard-error'));
    const blocked = d.reasons.find((r) => r.code === 'scale-in-blocked');
    assert.ok(blocked);
    assert.match(blocked.message, /cannot be read/);
  });

  it('an empty guard (no requests in its window) does not hold scale-in while the decode signal is healthy', () => {
    const d = readingAfterDrop(undefined);
    assert.ok(d.decode.replicas < 8, `decode ${d.decode.replicas}`);
    assert.ok(codes(d).includes('guard-missing'));
  });

  it('a value under the first tier lets scale-in happen; an erroring guard never adds capacity by itself', () => {
    assert.ok(readingAfterDrop(0.02).decode.replicas < 8);
    const steady = decide(quiet, { now: 1000, decodeTps: 8000, guards: { tbt_p99: GUARD_ERROR }, replicas: R(11, 8) }, at8);
    assert.equal(steady.decode.replicas, 8);
    assert.equal(steady.direction, 'hold');
  });

  it('an erroring guard does not stop a scale-out the signal asks for', () => {
    const d = decide(quiet, { now: 1000, decodeTps: 12_000, guards: { tbt_p99: GUARD_ERROR }, replicas: R(11, 8) }, at8);
    assert.equal(d.decode.replicas, 12);
  });
});

describe('policy core: no scale-in while the signal recovers from an outage', () => {
  const cfg = service({ stability: { scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0.1, scaleInDamping: 1, signalRecoveryS: 20 } });
  it('a restarted Prometheus\'s partial sum (a "drop" just after the signal was missing) does not scale in until the window passed', () => {
    const missing = noteSignalMissing({ decodeUnits: 8 }, 1000);
    const partial = decide(cfg, { now: 1002, decodeTps: 2000, guards: { tbt_p99: 0.02 }, replicas: R(11, 8) }, missing);
    assert.equal(partial.decode.replicas, 8, 'held');
    assert.ok(codes(partial).includes('signal-recovering'));
    assert.equal(partial.state.signalMissingAt, 1000);
    const up = decide(cfg, { now: 1004, decodeTps: 12_000, guards: { tbt_p99: 0.02 }, replicas: R(11, 8) }, partial.state);
    assert.equal(up.decode.replicas, 12, 'scale-out is never held back');
    const later = decide(cfg, { now: 1021, decodeTps: 2000, guards: { tbt_p99: 0.02 }, replicas: R(16, 12) }, up.state);
    assert.ok(later.decode.replicas < 12, 'after the window, a real drop scales in');
    assert.equal(later.state.signalMissingAt, undefined);
  });

  it('without an outage, or with the window at 0, scale-in is as before', () => {
    assert.ok(decide(cfg, { now: 1002, decodeTps: 2000, guards: { tbt_p99: 0.02 }, replicas: R(11, 8) }, { decodeUnits: 8 }).decode.replicas < 8);
    const zero = service({ stability: { scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0.1, scaleInDamping: 1 } });
    assert.ok(decide(zero, { now: 1002, decodeTps: 2000, guards: { tbt_p99: 0.02 }, replicas: R(11, 8) }, noteSignalMissing({ decodeUnits: 8 }, 1000)).decode.replicas < 8);
  });
});
