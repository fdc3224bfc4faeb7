import assert from 'node:assert/strict';
import { MetricError } from '../../adapter/provider.js';
import { decide } from '../../engine/core/decide.js';
import { policyConfigOf } from '../../rules/types.js';
import { all, chatRules, DECODE_Q, harness, ruleSetOf, sel, TBT_Q, vector } from './fixtures.js';

function metricError(fn: () => unknown): MetricError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof MetricError, `expected MetricError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a MetricError');
}

const good = (h: ReturnType<typeof harness>, tps = 5500, tbt = 0.02) => {
  h.prom.answers.set(DECODE_Q, vector([{ pool: 'decode-h100' }, tps]));
  h.prom.answers.set(TBT_Q, vector([{}, tbt]));
};

const desired = (h: ReturnType<typeof harness>) =>
  Object.fromEntries(h.provider.getExternalMetric('llm', 'baton_desired_replicas', all, '').map((s) => [s.labels.role, s.value]));

describe('rules: evaluation through the policy core', () => {
  it('turns decode TPS into desired replicas for both roles at the ratio, as decide() says', async () => {
    const h = harness();
    good(h);
    await h.evaluator.evaluateAll();
    const expected = decide(policyConfigOf(h.evaluator.rules().services[0]!), { now: h.now() / 1000, decodeTps: 5500, guards: { tbt_p99: 0.02 }, replicas: { 'prefill-h100': 1, 'decode-h100': 1 } }, {});
    assert.deepEqual(desired(h), { prefill: expected.prefill.replicas, decode: expected.decode.replicas });
    assert.deepEqual(desired(h), { prefill: 9, decode: 6 }); // 5.5 decode units → 6; × 3/2 = 8.25 → 9
    const [s] = h.provider.getExternalMetric('llm', 'baton_desired_replicas', sel({ role: 'decode' }), 'role=decode');
    assert.deepEqual(s!.labels, { service: 'chat', role: 'decode', pool: 'decode-h100' });
    assert.equal(s!.timestampMs, h.now());
    assert.equal(s!.windowSeconds, 60);
  });

  it('carries policy state across ticks (cooldown from the last scale-out)', async () => {
    const h = harness(chatRules().replace('scaleUpCooldownS: 0', 'scaleUpCooldownS: 60'));
    good(h, 2000);
    await h.evaluator.evaluateAll();
    assert.equal(desired(h).decode, 2);
    h.advance(5);
    good(h, 8000);
    await h.evaluator.evaluateAll();
    assert.equal(desired(h).decode, 2, 'scale-out within the cooldown is held');
    assert.ok(h.evaluator.state('chat')!.lastGood!.decision.reasons.some((r) => r.code === 'cooldown'));
    h.advance(60);
    await h.evaluator.evaluateAll();
    assert.equal(desired(h).decode, 8);
  });

  const outages: [string, (h: ReturnType<typeof harness>) => void][] = [
    ['Prometheus errors', (h) => h.prom.answers.set(DECODE_Q, new Error('connect ECONNREFUSED'))],
    ['an empty result', (h) => h.prom.answers.set(DECODE_Q, vector())],
    ['NaN', (h) => h.prom.answers.set(DECODE_Q, vector([{ pool: 'decode-h100' }, NaN]))],
    ['+Inf', (h) => h.prom.answers.set(DECODE_Q, vector([{ pool: 'decode-h100' }, Infinity]))],
    ['a negative rate', (h) => h.prom.answers.set(DECODE_Q, vector([{ pool: 'decode-h100' }, -3]))],
    ['two series where one was expected', (h) => h.prom.answers.set(DECODE_Q, vector([{ pool: 'decode-h100', pod: 'a' }, 10], [{ pool: 'decode-h100', pod: 'b' }, 10]))],
    ['a series for an unknown pool', (h) => h.prom.answers.set(DECODE_Q, vector([{ pool: 'decode-h100' }, 10], [{ pool: 'decode-typo' }, 10]))],
    ['series without the pool label', (h) => h.prom.answers.set(DECODE_Q, vector([{ instance: 'x' }, 10]))],
  ];

  for (const [name, breakIt] of outages) {
    it(`on ${name}: serves the last good value (not 0, not min) until max staleness, then 503`, async () => {
      const h = harness();
      good(h);
      await h.evaluator.evaluateAll();
      assert.deepEqual(desired(h), { prefill: 9, decode: 6 });
      const goodAt = h.now();
      breakIt(h);
      h.advance(20);
      await h.evaluator.evaluateAll();
      assert.deepEqual(desired(h), { prefill: 9, decode: 6 });
      assert.equal(h.provider.getExternalMetric('llm', 'baton_desired_replicas', all, '')[0]!.timestampMs, goodAt, 'the timestamp is the good one');
      assert.match(h.evaluator.state('chat')!.lastProblem!, /decode TPS unusable/);
      h.advance(11); // 31 s > maxStalenessSeconds 30
      await h.evaluator.evaluateAll();
      const e = metricError(() => h.provider.getExternalMetric('llm', 'baton_desired_replicas', all, ''));
      assert.equal(e.code, 503);
      assert.match(e.message, /31\.0 s old, over maxStalenessSeconds 30/);
      // Recovery: fresh data serves again, but a lower load does not scale in until the signal has been healthy for
      // the recovery window (the rate window refilling after an outage looks like a drop).
      good(h, 1500);
      await h.evaluator.evaluateAll();
      assert.deepEqual(desired(h), { prefill: 9, decode: 6 });
      assert.ok(h.evaluator.state('chat')!.lastGood!.decision.reasons.some((r) => r.code === 'signal-recovering'));
      h.advance(h.evaluator.rules().services[0]!.stability.signalRecoveryS!);
      await h.evaluator.evaluateAll();
      assert.deepEqual(desired(h), { prefill: 3, decode: 2 });
    });

    it(`on ${name} before any good evaluation: 503, never a made-up minimum`, async () => {
      const h = harness();
      good(h);
      breakIt(h);
      await h.evaluator.evaluateAll();
      const e = metricError(() => h.provider.getExternalMetric('llm', 'baton_desired_replicas', all, ''));
      assert.equal(e.code, 503);
      assert.match(e.message, /no good evaluation yet/);
    });
  }

  it('503 when never evaluated at all', () => {
    const h = harness();
    assert.equal(metricError(() => h.provider.getExternalMetric('llm', 'baton_desired_replicas', all, '')).code, 503);
  });

  it('a missing guard is not an outage: it decides, and an idle service may scale in (policy core)', async () => {
    const h = harness();
    good(h, 5500);
    await h.evaluator.evaluateAll();
    const before = desired(h);
    good(h, 1000, NaN); // histogram_quantile on no traffic is NaN
    h.advance(5);
    await h.evaluator.evaluateAll();
    const after = desired(h);
    assert.ok(after.decode < before.decode && after.prefill < before.prefill, `${JSON.stringify(before)} → ${JSON.stringify(after)}`);
    const codes = h.evaluator.state('chat')!.lastGood!.decision.reasons.map((r) => r.code);
    assert.ok(codes.includes('guard-missing') && !codes.includes('scale-in-blocked'), codes.join());
    assert.equal(h.evaluator.state('chat')!.lastGood!.atMs, h.now(), 'a fresh decision');
  });

  it('a pool that is scaled to zero exports no series: a real zero for that pool, not an outage', async () => {
    const h = harness(chatRules('      - {name: decode-h200, role: decode, minReplicas: 0, maxReplicas: 2, preference: -1, unitsPerReplica: 2}\n'));
    h.prom.answers.set(DECODE_Q, vector([{ pool: 'decode-h100' }, 3000]));
    h.prom.answers.set(TBT_Q, vector([{}, 0.01]));
    await h.evaluator.evaluateAll();
    assert.equal(h.evaluator.state('chat')!.lastProblem, undefined);
    const d = h.evaluator.state('chat')!.lastGood!.decision;
    assert.equal(d.decode.pools['decode-h200'], 1, 'the preferred pool fills first');
    // Now the h200 pool has a replica by the last decision; its series missing is a fault.
    h.advance(5);
    await h.evaluator.evaluateAll();
    assert.match(h.evaluator.state('chat')!.lastProblem!, /no series for pool="decode-h200"/);
  });

  it('`when` switches a guard on and off', async () => {
    const on = harness(chatRules().replace("tiers: [{above: 0.9, scaleOut: 0.1}, {above: 1.0, scaleOut: 0.2}]}", "tiers: [{above: 0.9, scaleOut: 0.1}, {above: 1.0, scaleOut: 0.2}], when: {'>': [{var: values.decodeTps}, 100]}}"));
    const off = harness(chatRules().replace("tiers: [{above: 0.9, scaleOut: 0.1}, {above: 1.0, scaleOut: 0.2}]}", "tiers: [{above: 0.9, scaleOut: 0.1}, {above: 1.0, scaleOut: 0.2}], when: {'>=': [{var: hour}, 25]}}"));
    for (const h of [on, off]) {
      good(h, 2000, 0.2); // TBT 4× the SLO
      await h.evaluator.evaluateAll();
    }
    assert.ok(on.evaluator.state('chat')!.lastGood!.decision.reasons.some((r) => r.code === 'guard'));
    assert.ok(!off.evaluator.state('chat')!.lastGood!.decision.reasons.some((r) => r.code === 'guard' || r.code === 'guard-missing'));
    assert.equal(off.evaluator.state('chat')!.queries.find((q) => q.name === 'guard:tbt_p99')!.active, false);
  });

  it('periodic `only` decides without the signal', async () => {
    const h = harness(chatRules('    periodic: {mode: only, entries: [{from: "00:00", prefill: 4, decode: 3}]}\n'));
    h.prom.answers.set(DECODE_Q, new Error('down'));
    await h.evaluator.evaluateAll();
    assert.deepEqual(desired(h), { prefill: 4, decode: 3 });
  });

  it('uses the rule\'s replicas query when given, and holds when it fails', async () => {
    const q = 'sum by (pool) (kube_deployment_spec_replicas{namespace="llm"})';
    const h = harness(chatRules().replace('    pools:', `    replicas: {promql: '${q}', by: pool}\n    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0.5, scaleInDamping: 1}\n    pools:`).replace('    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1}\n', ''));
    good(h, 5500);
    h.prom.answers.set(q, vector([{ pool: 'prefill-h100' }, 9], [{ pool: 'decode-h100' }, 8]));
    await h.evaluator.evaluateAll();
    // Current 8 decode units, need 5.5: within the 50 % band, so it holds at the observed 8.
    assert.equal(desired(h).decode, 8);
    h.prom.answers.set(q, new Error('down'));
    h.advance(5);
    await h.evaluator.evaluateAll();
    assert.match(h.evaluator.state('chat')!.lastProblem!, /current replicas are unknown: down/);
  });

  it('deduplicates: services sharing a query cost one Prometheus query per interval, however many HPAs read', async () => {
    const two = chatRules() + chatRules().replace('services:\n', '').replace('name: chat', 'name: chat2');
    const h = harness(two);
    const rs = ruleSetOf(two);
    assert.equal(rs.services.length, 2);
    good(h);
    await h.evaluator.evaluateAll();
    assert.equal(h.prom.calls.filter((c) => c === DECODE_Q).length, 1);
    const before = h.prom.calls.length;
    for (let i = 0; i < 1000; i++) h.provider.getExternalMetric('llm', 'baton_desired_replicas', sel({ service: i % 2 ? 'chat' : 'chat2' }), '');
    assert.equal(h.prom.calls.length, before, 'HPA reads never query Prometheus');
  });
});

describe('rules: provider errors, selectors and explain', () => {
  it('404 for an unknown metric, a namespace the rule does not serve, and a selector matching nothing', async () => {
    const h = harness();
    good(h);
    await h.evaluator.evaluateAll();
    assert.deepEqual(h.provider.metricNames(), ['baton_desired_replicas']);
    const unknown = metricError(() => h.provider.getExternalMetric('llm', 'nope', all, ''));
    assert.equal(unknown.code, 404);
    assert.match(unknown.message, /not defined by any rule/);
    assert.equal(metricError(() => h.provider.getExternalMetric('other', 'baton_desired_replicas', all, '')).code, 404);
    const none = metricError(() => h.provider.getExternalMetric('llm', 'baton_desired_replicas', sel({ pool: 'zzz' }), 'pool=zzz'));
    assert.equal(none.code, 404);
    assert.match(none.message, /matches selector "pool=zzz"/);
  });

  it('explain shows the PromQL sent, the raw result, the value and the reasons', async () => {
    const h = harness();
    good(h);
    await h.evaluator.evaluateAll();
    const ex = h.provider.explain('llm', 'baton_desired_replicas', sel({ role: 'decode' }), 'role=decode');
    assert.equal(ex.queries[0]!.promql, DECODE_Q);
    assert.deepEqual(ex.queries[0]!.raw, vector([{ pool: 'decode-h100' }, 5500]));
    assert.equal(ex.values.length, 1);
    assert.equal(ex.values[0]!.value, 6);
    assert.ok((ex.reasons as { code: string }[]).some((r) => r.code === 'signal'));
    assert.equal(ex.stale, undefined);
    h.prom.answers.set(DECODE_Q, vector());
    h.advance(40);
    await h.evaluator.evaluateAll();
    const stale = h.provider.explain('llm', 'baton_desired_replicas', all, '');
    assert.equal(stale.stale, true);
    assert.match(stale.queries[0]!.error!, /no series/);
  });

  it('exports desired replicas, staleness, query errors and decision reasons as metrics', async () => {
    const h = harness();
    good(h);
    await h.evaluator.evaluateAll();
    h.prom.answers.set(DECODE_Q, new Error('boom'));
    h.advance(12);
    await h.evaluator.evaluateAll();
    const text = await h.registry.metrics();
    assert.match(text, /baton_rules_desired_replicas\{service="chat",role="decode",pool="decode-h100"\} 6/);
    assert.match(text, /baton_rules_staleness_seconds\{rule="chat"\} 12/);
    assert.match(text, /baton_prometheus_query_errors_total\{rule="chat",query="decodeTps",kind="error"\} 1/);
    assert.match(text, /baton_rules_decision_reasons_total\{rule="chat",code="signal"\} 1/);
    assert.match(text, /baton_rules_evaluations_total\{rule="chat",result="held"\} 1/);
    // Timed per HTTP query sent, by family (a batch answering many services counts once).
    assert.match(text, /baton_prometheus_query_duration_seconds_count\{query="decodeTps"\} 2/);
    await h.evaluator.stop();
  });

  it('a reload that removes a service stops serving it and drops its gauges', async () => {
    const h = harness();
    good(h);
    await h.evaluator.evaluateAll();
    h.evaluator.setRules(ruleSetOf(chatRules().replace('name: chat', 'name: other')));
    assert.equal(metricError(() => h.provider.getExternalMetric('llm', 'baton_desired_replicas', sel({ service: 'chat' }), 'service=chat')).code, 404);
    assert.doesNotMatch(await h.registry.metrics(), /service="chat"/);
  });
});

describe('rules: one failing evaluation never stops the adapter', () => {
  const OTHER_Q = 'sum(rate(vllm:generation_tokens_total{service="code"}[1m]))';
  const twoServices = chatRules().replace('scaleInDamping: 1}', 'scaleInDamping: 1, scaleInWindowS: 60}') + `  - name: code
    namespaces: [llm]
    ratio: {prefill: 1, decode: 1}
    decodeTpsPerUnit: 1000
    decodeTps: {promql: '${OTHER_Q}'}
    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1}
    pools:
      - {name: prefill-c, role: prefill, minReplicas: 1, maxReplicas: 40}
      - {name: decode-c, role: decode, minReplicas: 1, maxReplicas: 40}
`;

  it('a restored state decide() cannot use: that service holds what it published and reports the error; the others decide', async () => {
    // recentNeeds that is not a list made decide() throw; evaluate() rejected, and the unhandled rejection killed the process.
    const restore = { chat: { policy: { decodeUnits: 6, recentNeeds: 5 as unknown as [number, number][] }, published: { 'prefill-h100': 9, 'decode-h100': 6 }, atMs: 999_000_000 } };
    const h = harness(twoServices, { restore });
    good(h, 2000);
    h.prom.answers.set(OTHER_Q, vector([{}, 3000]));
    await h.evaluator.evaluate('chat'); // resolves: never rejects
    await h.evaluator.evaluate('code');
    const chat = h.evaluator.state('chat')!;
    assert.match(chat.lastProblem!, /evaluation failed: .*filter is not a function/);
    assert.equal(chat.lastGood, undefined);
    assert.deepEqual(h.evaluator.memories().chat!.published, { 'prefill-h100': 9, 'decode-h100': 6 }, 'what was published is kept');
    assert.equal(h.evaluator.state('code')!.lastGood!.decision.decode.replicas, 3, 'the other service decided');
    assert.match(await h.registry.metrics(), /baton_rules_evaluations_total\{rule="chat",result="error"\} 1/);
    // The unusable restored policy is dropped: the next evaluation decides from the published level.
    h.advance(5);
    await h.evaluator.evaluate('chat');
    assert.equal(h.evaluator.state('chat')!.lastProblem, undefined);
    assert.ok(h.evaluator.state('chat')!.lastGood);
  });
});

describe('rules: guard readings at the edge', () => {
  const drop = async (breakGuard: (h: ReturnType<typeof harness>) => void) => {
    const h = harness();
    good(h, 8000);
    await h.evaluator.evaluateAll();
    assert.deepEqual(desired(h), { prefill: 12, decode: 8 });
    h.advance(5);
    good(h, 4000);
    breakGuard(h);
    await h.evaluator.evaluateAll();
    return desired(h);
  };

  it('a guard query that errors (timeout) blocks scale-in: decode stays 8, prefill 12', async () => {
    assert.deepEqual(await drop((h) => h.prom.answers.set(TBT_Q, new Error('timed out after 5000 ms'))), { prefill: 12, decode: 8 });
  });

  it('a guard answering a broken shape (two series) blocks scale-in too', async () => {
    assert.deepEqual(await drop((h) => h.prom.answers.set(TBT_Q, vector([{ a: '1' }, 0.01], [{ a: '2' }, 0.01]))), { prefill: 12, decode: 8 });
  });

  it('an empty guard (no traffic finished in its window) or NaN (zero rates) still lets the fleet scale in', async () => {
    assert.deepEqual(await drop((h) => h.prom.answers.set(TBT_Q, vector())), { prefill: 6, decode: 4 });
    assert.deepEqual(await drop((h) => h.prom.answers.set(TBT_Q, vector([{}, NaN]))), { prefill: 6, decode: 4 });
  });
});

describe('rules: a reload during an evaluation', () => {
  /** Starts an evaluation that waits in the replica source, applies `change`, then lets it finish. */
  async function changeMidEvaluation(change: (h: ReturnType<typeof harness>) => void) {
    let release!: (r: Record<string, number>) => void;
    const h = harness(chatRules(), { replicaSource: () => new Promise((r) => (release = r)) });
    good(h);
    const running = h.evaluator.evaluate('chat');
    await new Promise((r) => setImmediate(r));
    change(h);
    release({ 'prefill-h100': 1, 'decode-h100': 1 });
    await running;
    return h;
  }

  it('an evaluation whose rule changed while it awaited the replica source stores nothing for the old pools', async () => {
    const h = await changeMidEvaluation((x) => x.evaluator.setRules(ruleSetOf(chatRules().replace(/decode-h100/g, 'decode-h200'))));
    assert.equal(h.evaluator.state('chat')!.lastGood, undefined, 'the old evaluation published nothing');
    assert.doesNotMatch(await h.registry.metrics(), /baton_rules_desired_replicas\{[^}]*pool="decode-h100"/);
  });

  it('a service removed while its evaluation awaited publishes nothing', async () => {
    const h = await changeMidEvaluation((x) => x.evaluator.setRules({ services: [], files: [], loadedAtMs: 0 }));
    assert.doesNotMatch(await h.registry.metrics(), /baton_rules_desired_replicas\{[^}]*service="chat"/);
  });
});
