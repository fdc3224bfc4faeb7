import assert from 'node:assert/strict';
import { loadRuleText } from '../../rules/load.js';
import { queryFamiliesOf } from '../../rules/types.js';
import { all, DECODE_Q, harness, TBT_Q, vector } from './fixtures.js';

const WAKE_Q = 'sum(gateway_queue_depth{service="chat"}) + sum(rate(gateway_requests_total{service="chat"}[1m]))';

function zeroRules(wake = `    wake: {promql: '${WAKE_Q}', idleSeconds: 60}\n`, min = 0): string {
  return `services:
  - name: chat
    ratio: {prefill: 3, decode: 2}
    decodeTpsPerUnit: 1000
    decodeTps: {promql: '${DECODE_Q}', by: pool}
    guards:
      - {name: tbt_p99, promql: '${TBT_Q}', slo: 0.05, tiers: [{above: 0.9, scaleOut: 0.1}]}
    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1}
    maxStalenessSeconds: 30
    pools:
      - {name: prefill-h100, role: prefill, minReplicas: ${min}, maxReplicas: 40}
      - {name: decode-h100, role: decode, minReplicas: 0, maxReplicas: 40}
${wake}`;
}

const desired = (h: ReturnType<typeof harness>) =>
  Object.fromEntries(h.provider.getExternalMetric('llm', 'baton_desired_replicas', all, '').map((s) => [s.labels.role, s.value]));

describe('rules: scale to and from zero', () => {
  it('at zero the decode signal has no series: with a wake signal the service still publishes zero (fresh), wakes on demand to the smallest pair, and sleeps again after the idle window', async () => {
    const h = harness(zeroRules());
    h.prom.answers.set(DECODE_Q, vector());
    h.prom.answers.set(TBT_Q, vector());
    h.prom.answers.set(WAKE_Q, vector([{}, 0]));
    await h.evaluator.evaluateAll();
    assert.deepEqual(desired(h), { prefill: 0, decode: 0 }, 'asleep: zero is published, not a 503');
    h.advance(40);
    await h.evaluator.evaluateAll();
    assert.deepEqual(desired(h), { prefill: 0, decode: 0 }, 'still fresh after maxStalenessSeconds');

    h.prom.answers.set(WAKE_Q, vector([{}, 2]));
    h.advance(5);
    await h.evaluator.evaluateAll();
    assert.deepEqual(desired(h), { prefill: 1, decode: 1 });

    // Pods starting: no decode series yet; the level holds (published fresh, never back to zero).
    h.advance(5);
    await h.evaluator.evaluateAll();
    assert.deepEqual(desired(h), { prefill: 1, decode: 1 });

    h.prom.answers.set(DECODE_Q, vector([{ pool: 'decode-h100' }, 3500]));
    h.prom.answers.set(TBT_Q, vector([{}, 0.02]));
    h.advance(60);
    await h.evaluator.evaluateAll();
    assert.deepEqual(desired(h), { prefill: 6, decode: 4 });

    // Traffic stops (after the signal-recovery window of the wake's missing signal): scale-in to the smallest pair,
    // then zero after 60 s of idleness.
    h.prom.answers.set(DECODE_Q, vector([{ pool: 'decode-h100' }, 0]));
    h.prom.answers.set(TBT_Q, vector());
    h.prom.answers.set(WAKE_Q, vector([{}, 0]));
    h.advance(20);
    await h.evaluator.evaluateAll();
    assert.deepEqual(desired(h), { prefill: 1, decode: 1 });
    h.advance(30);
    await h.evaluator.evaluateAll();
    assert.deepEqual(desired(h), { prefill: 1, decode: 1 });
    h.advance(30);
    await h.evaluator.evaluateAll();
    assert.deepEqual(desired(h), { prefill: 0, decode: 0 });
  });

  it('when the wake query fails too (Prometheus down) it is an outage: the last value is held, never lowered', async () => {
    const h = harness(zeroRules());
    h.prom.answers.set(DECODE_Q, vector([{ pool: 'decode-h100' }, 3500]));
    h.prom.answers.set(WAKE_Q, vector([{}, 1]));
    await h.evaluator.evaluateAll();
    assert.deepEqual(desired(h), { prefill: 6, decode: 4 });
    for (const q of [DECODE_Q, TBT_Q, WAKE_Q]) h.prom.answers.set(q, new Error('connect ECONNREFUSED'));
    h.advance(5);
    await h.evaluator.evaluateAll();
    assert.deepEqual(desired(h), { prefill: 6, decode: 4 });
    assert.match(h.evaluator.state('chat')!.lastProblem ?? '', /decode TPS unusable/);
  });

  it('without a wake signal a service at zero still cannot decide (the old behaviour): its value goes stale', async () => {
    const h = harness(zeroRules(''));
    h.prom.answers.set(DECODE_Q, vector());
    await h.evaluator.evaluateAll();
    assert.throws(() => desired(h));
  });

  it('the wake query is a query family of the rule (checked, batched, explained like the others)', () => {
    const { services, errors } = loadRuleText(zeroRules(), 'z.yaml');
    assert.deepEqual(errors, []);
    assert.deepEqual(queryFamiliesOf(services[0]!).map((f) => f.name), ['decodeTps', 'guard:tbt_p99', 'wake']);
    assert.deepEqual(services[0]!.wake, { query: { promql: WAKE_Q }, above: 0, idleS: 60 });
    assert.equal(services[0]!.querySources!.wake!.path, 'services[0].wake.promql');
  });

  it('refuses a wake on pools that cannot reach zero, a wake with no signal, and bad wake PromQL, naming where', () => {
    const min = loadRuleText(zeroRules(undefined, 1), 'z.yaml').errors;
    assert.equal(min.length, 1);
    assert.match(min[0]!.message, /every pool needs minReplicas 0; pool "prefill-h100" has 1/);
    assert.equal(min[0]!.path, 'services[0].pools[0].minReplicas');
    const none = loadRuleText(zeroRules('    wake: {idleSeconds: 60}\n'), 'z.yaml').errors;
    assert.match(none[0]!.message, /"wake" needs "promql": a signal that exists without pods/);
    const preset = loadRuleText(zeroRules('    wake: {}\n').replace(/    decodeTps: .*\n/, '    engine: vllm\n    match: {service: chat}\n'), 'z.yaml').errors;
    assert.match(preset[0]!.message, /the vllm preset's metrics come from the engine pods/);
    const bad = loadRuleText(zeroRules('    wake: {promql: "sum(rate(x[5x]))"}\n'), 'z.yaml').errors;
    assert.equal(bad[0]!.path, 'services[0].wake.promql');
  });
});
