// The cached, indexed HPA path must answer exactly what RulesProvider answers — values, errors, order — while reusing
// one samples array (and so one rendered body) until a new evaluation, a rules change or staleness. Also the evaluator
// pacing used by startAdapter: waiters released one per event-loop turn.
import assert from 'node:assert/strict';
import { CachedRulesProvider } from '../../adapter/cached-provider.js';
import { oneAtATime } from '../../adapter/main.js';
import { MetricError } from '../../adapter/provider.js';
import { parseSelector } from '../../adapter/selector.js';
import { lastDecisionReplicas } from '../../rules/evaluator.js';
import { chatRules, DECODE_Q, harness, ruleSetOf, vector } from '../rules/fixtures.js';

const TWO = chatRules().replace(/\n$/, '') + `
  - name: code
    namespaces: [llm, dev]
    ratio: {prefill: 1, decode: 1}
    decodeTpsPerUnit: 1000
    decodeTps: {promql: 'sum by (pool) (rate(vllm:generation_tokens_total{service="code"}[1m]))', by: pool}
    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1}
    maxStalenessSeconds: 30
    pools:
      - {name: prefill-h100, role: prefill, minReplicas: 1, maxReplicas: 40, labels: {tier: gold}}
      - {name: decode-h100, role: decode, minReplicas: 1, maxReplicas: 40}
`;
const CODE_Q = 'sum by (pool) (rate(vllm:generation_tokens_total{service="code"}[1m]))';

const SELECTORS = ['', 'service=chat', 'service==code,pool=decode-h100', 'pool in (prefill-h100)', 'pool in (decode-h100,prefill-h100),service!=chat',
  'service in (code,chat)', 'role=decode', '!tier', 'tier', 'service=nope', 'pool notin (decode-h100)', 'service=chat,service=code'];

/** What a provider answers: the samples, or the MetricError's code and message. */
function outcome(f: () => unknown): unknown {
  try {
    return { ok: f() };
  } catch (e) {
    if (e instanceof MetricError) return { code: e.code, message: e.message };
    throw e;
  }
}

describe('CachedRulesProvider', () => {
  function setup() {
    const h = harness(TWO);
    const cached = new CachedRulesProvider(h.evaluator, h.now);
    const same = (namespaces = ['llm', 'dev', 'other']) => {
      for (const ns of namespaces) {
        for (const metric of ['baton_desired_replicas', 'unknown']) {
          for (const text of SELECTORS) {
            const m = parseSelector(text).matches;
            assert.deepEqual(outcome(() => cached.getExternalMetric(ns, metric, m, text)), outcome(() => h.provider.getExternalMetric(ns, metric, m, text)), `${ns} ${metric} "${text}"`);
          }
        }
      }
    };
    return { ...h, cached, same };
  }

  it('answers exactly as RulesProvider before, during and after good evaluations, staleness and rule changes', async () => {
    const t = setup();
    t.same(); // nothing evaluated: 503s and 404s
    t.prom.answers.set(DECODE_Q, vector([{ pool: 'decode-h100' }, 1500]));
    t.prom.answers.set(CODE_Q, vector([{ pool: 'decode-h100' }, 2500]));
    await t.evaluator.evaluateAll();
    t.same();
    t.prom.answers.set(DECODE_Q, vector([{ pool: 'decode-h100' }, 4500]));
    t.advance(5);
    await t.evaluator.evaluate('chat'); // chat moves on, code keeps its older value
    t.same();
    t.advance(26); // code is now 31 s old: over its 30 s staleness; chat is 26 s old
    t.same();
    t.advance(10);
    t.same(); // both stale
    t.evaluator.setRules(ruleSetOf(chatRules()));
    await t.evaluator.evaluateAll();
    t.same(); // code is gone from the rules
  });

  it('returns the same samples array while nothing changed, and a new one after an evaluation or staleness', async () => {
    const t = setup();
    t.prom.answers.set(DECODE_Q, vector([{ pool: 'decode-h100' }, 1500]));
    t.prom.answers.set(CODE_Q, vector([{ pool: 'decode-h100' }, 2500]));
    await t.evaluator.evaluateAll();
    const m = parseSelector('service=chat').matches;
    const a = t.cached.getExternalMetric('llm', 'baton_desired_replicas', m, 'service=chat');
    assert.equal(t.cached.getExternalMetric('llm', 'baton_desired_replicas', m, 'service=chat'), a, 'reused');
    t.advance(1);
    await t.evaluator.evaluate('code'); // another service: still the same answer
    assert.equal(t.cached.getExternalMetric('llm', 'baton_desired_replicas', m, 'service=chat'), a);
    t.prom.answers.set(DECODE_Q, vector([{ pool: 'decode-h100' }, 4500]));
    await t.evaluator.evaluate('chat');
    const b = t.cached.getExternalMetric('llm', 'baton_desired_replicas', m, 'service=chat');
    assert.notEqual(b, a);
    assert.deepEqual(b, t.provider.getExternalMetric('llm', 'baton_desired_replicas', m, 'service=chat'));
    assert.notDeepEqual(b.map((s) => s.value), a.map((s) => s.value));
    t.advance(31);
    assert.throws(() => t.cached.getExternalMetric('llm', 'baton_desired_replicas', m, 'service=chat'), (e: unknown) => e instanceof MetricError && e.code === 503);
  });

  it('metricNames and explain follow RulesProvider', async () => {
    const t = setup();
    assert.deepEqual(t.cached.metricNames(), t.provider.metricNames());
    const m = parseSelector('').matches;
    assert.deepEqual(t.cached.explain('llm', 'baton_desired_replicas', m, ''), t.provider.explain('llm', 'baton_desired_replicas', m, ''));
  });
});

describe('oneAtATime (evaluation pacing)', () => {
  it('releases one waiter per event-loop turn, in order, each reading the source when released', async () => {
    let reads = 0;
    const paced = oneAtATime(() => ({ n: ++reads }));
    const h = harness();
    const rule = h.evaluator.rules().services[0]!;
    const st = h.evaluator.state('chat')!;
    const order: number[] = [];
    // Between two releases the event loop turns: a self-renewing immediate counts the turns.
    let turns = 0;
    let stop = false;
    const tick = (): void => {
      turns++;
      if (!stop) setImmediate(tick);
    };
    setImmediate(tick);
    const seen: number[] = [];
    const waits = [0, 1, 2, 3].map((i) => Promise.resolve(paced(rule, st)).then((r) => {
      order.push(i);
      seen.push(turns);
      return r;
    }));
    const results = await Promise.all(waits);
    stop = true;
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, `released in separate turns: ${seen.join(',')}`);
    assert.deepEqual(order, [0, 1, 2, 3]);
    assert.deepEqual(results, [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    assert.equal(reads, 4);
    // Still works after the queue drained, and with the real default source.
    assert.deepEqual(await oneAtATime(lastDecisionReplicas)(rule, st), { 'prefill-h100': 1, 'decode-h100': 1 });
  });
});
