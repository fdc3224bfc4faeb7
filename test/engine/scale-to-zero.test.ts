import assert from 'node:assert/strict';
import { decide } from '../../engine/core/decide.js';
import { deriveDecision } from '../../engine/core/derivation.js';
import { GUARD_ERROR, type GuardReading, type PolicyState, type ServiceObservation, type ServicePolicyConfig } from '../../engine/core/types.js';

function service(over: Partial<ServicePolicyConfig> = {}): ServicePolicyConfig {
  return {
    service: 'chat',
    ratio: { prefill: 9, decode: 5 },
    decodeTpsPerUnit: 1000,
    pools: [
      { name: 'prefill', role: 'prefill', gpuType: 'H100', unitsPerReplica: 1, preference: 0, minReplicas: 0, maxReplicas: 100 },
      { name: 'decode', role: 'decode', gpuType: 'H200', unitsPerReplica: 1, preference: 0, minReplicas: 0, maxReplicas: 100 },
    ],
    guards: [{ name: 'tbt_p99', slo: 0.04, tiers: [{ above: 0.9, scaleOut: 0.1 }] }],
    stability: { scaleUpCooldownS: 30, scaleDownCooldownS: 60, scaleInHysteresis: 0.1, scaleInDamping: 1 },
    scaleToZero: { wakeAbove: 0, idleS: 300 },
    ...over,
  };
}

const replicas = (p: number, d: number) => ({ prefill: p, decode: d });
function obs(now: number, decodeTps: number | undefined, wake: GuardReading, tbt: GuardReading = undefined, r = replicas(0, 0)): ServiceObservation {
  return { now, decodeTps, guards: { tbt_p99: tbt }, replicas: r, wake };
}
const codes = (d: { reasons: { code: string }[] }) => d.reasons.map((r) => r.code);

/** Runs decisions one after the other, carrying the state, and returns them all. */
function run(cfg: ServicePolicyConfig, observations: ServiceObservation[], state: PolicyState = {}) {
  const out = [];
  for (const o of observations) {
    const d = decide(cfg, o, state);
    state = d.state;
    out.push(d);
  }
  return out;
}

describe('policy core: scale to and from zero', () => {
  it('asleep, no decode TPS and a quiet wake signal hold zero; the wake signal alone raises it to the smallest pair, at once', () => {
    const cfg = service();
    const [asleep, stillAsleep, woken] = run(cfg, [obs(0, undefined, undefined), obs(10, undefined, 0), obs(20, undefined, 3)], { decodeUnits: 0, lastScaleUpAt: 15 });
    assert.equal(asleep!.decode.replicas, 0);
    assert.equal(asleep!.prefill.replicas, 0);
    assert.ok(codes(asleep!).includes('asleep'));
    assert.equal(stillAsleep!.decode.replicas, 0);
    // The last scale-out was 5 s ago (cooldown 30 s): waking is not a step to space out.
    assert.deepEqual([woken!.prefill.replicas, woken!.decode.replicas], [1, 1], '9:5 at its smallest is one replica per role, not 2:1');
    assert.equal(woken!.direction, 'up');
    assert.ok(codes(woken!).includes('wake'));
    // explain's derivation names the step.
    assert.ok(deriveDecision(cfg, woken!).some((s) => s.step === 'wake' && /waking from zero to the smallest pair/.test(s.text)));
    assert.ok(deriveDecision(cfg, asleep!).some((s) => s.step === 'wake' && /asleep at zero/.test(s.text)));
  });

  it('an unreadable wake signal neither wakes a sleeping service nor counts as idle for an awake one', () => {
    const cfg = service();
    const [asleep] = run(cfg, [obs(0, undefined, GUARD_ERROR)], { decodeUnits: 0 });
    assert.equal(asleep!.decode.replicas, 0);
    assert.match(asleep!.reasons.find((r) => r.code === 'asleep')!.message, /cannot be read/);
    // Awake and idle for 200 s, then the wake signal errors for 200 s: the idle clock starts again after it.
    const seq = [0, 100, 200].map((t) => obs(t, 0, 0, undefined, replicas(1, 1)));
    seq.push(...[300, 400].map((t) => obs(t, 0, GUARD_ERROR, undefined, replicas(1, 1))));
    seq.push(...[500, 600].map((t) => obs(t, 0, 0, undefined, replicas(1, 1))));
    const ds = run(cfg, seq, { decodeUnits: 0.5 });
    assert.ok(ds.every((d) => d.decode.replicas === 1), 'an error in between restarts the idle window');
    assert.equal(ds.at(-1)!.state.idleSince, 500);
  });

  it('goes to zero only after the whole idle window: no demand, zero decode TPS, no guard firing; any of them resets it', () => {
    const cfg = service();
    const r = replicas(1, 1);
    const ds = run(cfg, [
      obs(0, 0, 0, undefined, r),
      obs(200, 0, undefined, undefined, r), // empty wake: nothing arrives, still idle
      obs(250, 5, 0, undefined, r), // a straggler still decoding: not idle
      obs(300, 0, 0, undefined, r),
      obs(500, 0, 0, 0.05, r), // a guard firing: not idle
      obs(550, 0, 0, undefined, r),
      obs(849, 0, 0, undefined, r),
      obs(850, 0, 0, undefined, r),
    ], { decodeUnits: 0.5 });
    assert.deepEqual(ds.map((d) => d.decode.replicas), [1, 1, 1, 1, 1, 1, 1, 0]);
    assert.equal(ds.at(-1)!.prefill.replicas, 0, 'both roles go to zero together');
    assert.ok(codes(ds.at(-1)!).includes('idle-to-zero'));
    assert.equal(ds.at(-1)!.state.idleSince, undefined);
    assert.ok(codes(ds[6]!).includes('idle'));
  });

  it('awake, ordinary scale-in stops at the smallest pair; without scale to zero the same pools would go to zero', () => {
    const high = { decodeUnits: 10, lastScaleDownAt: -1000, lastScaleUpAt: -1000 };
    const withZero = decide(service(), obs(0, 0, 2, undefined, replicas(18, 10)), high);
    assert.equal(withZero.decode.replicas, 1);
    assert.equal(withZero.prefill.replicas, 1);
    const { scaleToZero: _, ...plain } = service();
    assert.equal(decide(plain, obs(0, 0, 2, undefined, replicas(18, 10)), high).decode.replicas, 0);
  });

  it('a missing decode signal while awake holds the level (pods still starting after a wake never read as idle)', () => {
    const ds = run(service(), [obs(0, undefined, 0), obs(400, undefined, 0), obs(800, undefined, undefined)], { decodeUnits: 5 / 9 });
    assert.ok(ds.every((d) => d.decode.replicas === 1 && d.prefill.replicas === 1));
    assert.ok(ds.every((d) => d.state.idleSince === undefined));
  });

  it('demand after waking sizes from decode TPS as usual, and the wake threshold is the rule’s', () => {
    const cfg = service({ scaleToZero: { wakeAbove: 2, idleS: 60 } });
    const [quiet, woken, sized] = run(cfg, [obs(0, undefined, 2), obs(10, undefined, 2.5), obs(100, 9000, 10, 0.01, replicas(1, 1))], { decodeUnits: 0 });
    assert.equal(quiet!.decode.replicas, 0, '2 is not above 2');
    assert.equal(woken!.decode.replicas, 1);
    assert.deepEqual([sized!.prefill.replicas, sized!.decode.replicas], [17, 9]);
  });
});
