// Batched evaluation in the evaluator (scripted Prometheus): one query per template, each service decides from its slice,
// a service missing from the answer holds, explain shows the merged query, and the schedule's phases are stable.
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { batonRules } from '../../bench/peers.js';
import { Evaluator } from '../../rules/evaluator.js';
import { PrometheusError, type QueryResult } from '../../rules/prometheus.js';
import { RulesProvider } from '../../rules/provider.js';
import { delayToPhase, phaseOffsetMs } from '../../rules/batch/schedule.js';
import { ruleSetOf, sel, ScriptedPrometheus, vector } from './fixtures.js';

function setup(n: number) {
  const prom = new ScriptedPrometheus();
  let nowMs = 1_000_000_000;
  const logs: string[] = [];
  const registry = new Registry();
  const evaluator = new Evaluator({ query: prom.query, clock: () => nowMs, registry, log: (m) => logs.push(m), reuseMs: 0 });
  evaluator.setRules(ruleSetOf(batonRules(n)));
  const provider = new RulesProvider(evaluator, () => nowMs);
  const rule = (i: number) => evaluator.rules().services[i]!;
  /** The merged query that carries service i's decode TPS. */
  const decodeBatch = () => prom.calls.find((q) => q.startsWith('sum by (pool, service)'))!;
  return { prom, evaluator, provider, registry, logs, rule, decodeBatch, advance: (s: number) => (nowMs += s * 1000) };
}

const decodeOf = (p: RulesProvider, i: number): number => p.getExternalMetric('bench', 'baton_desired_replicas', sel({ service: `svc-${i}`, role: 'decode' }), '')[0]!.value;

describe('rules/batch: evaluation from merged queries', () => {
  it('500 services from the presets cost 3 Prometheus queries per round (one per template), not 1,500', async () => {
    const h = setup(500);
    await h.evaluator.evaluateAll();
    assert.equal(h.prom.calls.length, 3, h.prom.calls.map((q) => q.slice(0, 60)).join('\n'));
    assert.equal(h.evaluator.queriesSent, 3);
  });

  it('a round of 200 services whose queries cannot merge sends at most 16 queries at once (a deadline runs from the send, so none waits behind the others)', async () => {
    const rules = ['services:'];
    for (let i = 0; i < 200; i++) {
      // A metric name per service: not one template, so every query runs alone.
      rules.push(`  - name: s${i}`, '    ratio: {prefill: 1, decode: 1}', '    decodeTpsPerUnit: 1000', `    decodeTps: {promql: 'sum(rate(tokens_${i}_total[1m]))'}`,
        '    pools:', '      - {name: p, role: prefill, minReplicas: 1, maxReplicas: 10}', '      - {name: d, role: decode, minReplicas: 1, maxReplicas: 10}');
    }
    let inFlight = 0;
    let most = 0;
    const query = async (): Promise<QueryResult> => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      return vector([{}, 1500]);
    };
    const evaluator = new Evaluator({ query, registry: new Registry(), log: () => {}, reuseMs: 0 });
    evaluator.setRules(ruleSetOf(rules.join('\n') + '\n'));
    await evaluator.evaluateAll();
    assert.equal(evaluator.queriesSent, 200);
    assert.ok(most <= 16, `${most} queries in flight at once`);
    assert.equal(evaluator.state('s199')!.lastGood?.values.find((v) => v.role === 'decode')?.value, 2);
  });

  it('metrics of 500 batched services: query latency once per query sent (by family), evaluations and reasons per service', async () => {
    const h = setup(500);
    await h.evaluator.evaluateAll();
    h.prom.answers.set(h.decodeBatch(), vector(...Array.from({ length: 500 }, (_, i): [Record<string, string>, number] => [{ pool: 'decode', service: `svc-${i}` }, 1500])));
    h.advance(5);
    await h.evaluator.evaluateAll();
    const text = await h.registry.metrics();
    for (const family of ['decodeTps', 'guard:tbt_p99', 'guard:ttft_p99']) assert.match(text, new RegExp(`baton_prometheus_query_duration_seconds_count\\{query="${family}"\\} 2\n`));
    assert.match(text, /baton_rules_evaluations_total\{rule="svc-499",result="held"\} 1\n/);
    assert.match(text, /baton_rules_evaluations_total\{rule="svc-499",result="ok"\} 1\n/);
    assert.match(text, /baton_rules_decision_reasons_total\{rule="svc-7",code="signal"\} 1\n/);
    assert.match(text, /baton_rules_desired_replicas\{service="svc-7",role="decode",pool="decode"\} 2\n/);
    assert.match(text, /baton_rules_staleness_seconds\{rule="svc-7"\} 0\n/);
  });

  it('each service decides from its own slice of the answer; one missing from it holds its last value, exactly as an empty answer of its own', async () => {
    const h = setup(3);
    await h.evaluator.evaluateAll(); // learn the merged texts (empty answers: every service holds)
    const decodeQ = h.decodeBatch();
    const answer = (present: number[]): QueryResult => vector(...present.map((i): [Record<string, string>, number] => [{ pool: 'decode', service: `svc-${i}` }, 1000 * (i + 2)]));
    h.prom.answers.set(decodeQ, answer([0, 1, 2]));
    h.prom.calls = [];
    h.advance(5);
    await h.evaluator.evaluateAll();
    assert.deepEqual([0, 1, 2].map((i) => decodeOf(h.provider, i)), [2, 3, 4]);
    assert.equal(h.prom.calls.length, 3);

    h.prom.answers.set(decodeQ, answer([0, 2])); // svc-1's series are gone from the merged answer
    h.advance(5);
    await h.evaluator.evaluateAll();
    assert.equal(decodeOf(h.provider, 1), 3, 'svc-1 holds (never scales down on a missing slice)');
    assert.match(h.evaluator.state('svc-1')!.lastProblem!, /decode TPS unusable: the query returned no series/);
    assert.equal(h.evaluator.state('svc-0')!.lastProblem, undefined);
    assert.equal(decodeOf(h.provider, 2), 4);
  });

  it('an error of the merged query holds every member (a monitoring fault never lowers capacity)', async () => {
    const h = setup(2);
    await h.evaluator.evaluateAll();
    const decodeQ = h.decodeBatch();
    h.prom.answers.set(decodeQ, vector([{ pool: 'decode', service: 'svc-0' }, 5000], [{ pool: 'decode', service: 'svc-1' }, 5000]));
    h.advance(5);
    await h.evaluator.evaluateAll();
    h.prom.answers.set(decodeQ, new PrometheusError('timed out after 5000 ms', 'timeout'));
    h.advance(5);
    await h.evaluator.evaluateAll();
    for (const i of [0, 1]) {
      assert.equal(decodeOf(h.provider, i), 5);
      assert.match(h.evaluator.state(`svc-${i}`)!.lastProblem!, /timed out/);
    }
  });

  it('a merged query Prometheus refuses (bad_data) falls back to one query per service, which still decide', async () => {
    const h = setup(2);
    await h.evaluator.evaluateAll();
    const decodeQ = h.decodeBatch();
    h.prom.answers.set(decodeQ, new PrometheusError('HTTP 400: bad_data: regex too large', 'http', 400));
    for (const i of [0, 1]) h.prom.answers.set(h.rule(i).decodeTps.promql, vector([{ pool: 'decode' }, 3000]));
    h.advance(5);
    await h.evaluator.evaluateAll();
    assert.deepEqual([0, 1].map((i) => decodeOf(h.provider, i)), [3, 3]);
    assert.ok(h.logs.some((l) => /batched query for 2 queries was refused/.test(l)), h.logs.join('\n'));
  });

  it('explain shows the merged query sent and the service\'s slice of it', async () => {
    const h = setup(2);
    await h.evaluator.evaluateAll();
    h.prom.answers.set(h.decodeBatch(), vector([{ pool: 'decode', service: 'svc-0' }, 2000], [{ pool: 'decode', service: 'svc-1' }, 7000]));
    h.advance(5);
    await h.evaluator.evaluateAll();
    const ex = h.provider.explain('bench', 'baton_desired_replicas', sel({ service: 'svc-1' }), 'service=svc-1');
    const q = ex.queries.find((x) => x.name === 'svc-1/decodeTps')!;
    assert.equal(q.promql, h.rule(1).decodeTps.promql, 'the service\'s own PromQL');
    assert.equal(q.batch?.promql, h.decodeBatch());
    assert.deepEqual(q.batch?.slice, { service: 'svc-1' });
    assert.equal(q.batch?.queries, 2);
    assert.deepEqual(q.raw, vector([{ pool: 'decode', service: 'svc-1' }, 7000]), 'the raw result is its slice');
  });
});

describe('rules/batch: staggered schedule', () => {
  it('phases are stable across restarts, shared by a template\'s services, and spread across cohorts', () => {
    const a = setup(20);
    const b = setup(20);
    const pa = a.evaluator.phaseOf('svc-3')!;
    assert.deepEqual(b.evaluator.phaseOf('svc-3'), pa, 'a restarted evaluator (or another HA replica) runs the same phase');
    assert.equal(pa.cohortSize, 20, 'one template set: one cohort, one round');
    assert.ok(pa.offsetMs >= 0 && pa.offsetMs < 5000);
    // Services that cannot merge each run at their own phase: spread over the interval, not on one tick.
    const offsets = Array.from({ length: 200 }, (_, i) => phaseOffsetMs(`5s\u0000single query ${i}`, 5000));
    const buckets = new Array(10).fill(0) as number[];
    for (const o of offsets) buckets[Math.floor(o / 500)]!++;
    assert.ok(Math.max(...buckets) <= 40, `offsets bunch up: ${buckets.join(',')}`);
  });

  it('the next round waits for the phase, whatever the clock reads now', () => {
    assert.equal(delayToPhase(10_000, 5000, 1200), 1200);
    assert.equal(delayToPhase(11_000, 5000, 1200), 200);
    assert.equal(delayToPhase(11_200, 5000, 1200), 5000, 'on the phase: a full interval (the round just ran)');
    assert.equal(delayToPhase(14_999, 5000, 1200), 1201);
  });
});
