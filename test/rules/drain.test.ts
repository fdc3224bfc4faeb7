// Drain-aware scale-in: a lower count is published only once the replicas it removes (StatefulSet ordinals and
// LeaderWorkerSet groups at index ≥ the new count) run no requests, or after the rule's longest wait; the pair's roles
// wait together; an unreadable drain query holds (a monitoring fault never lowers capacity), an empty one is idle.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DELETION_COST_ANNOTATION, IDENTITY_PRESETS, REPLICA_INDEX_SOURCES, relabelingsFor, sdAnnotation, sdLabel } from '../../engine/placement/identity.js';
import { drainGate, readDrain } from '../../rules/drain.js';
import { loadRuleText } from '../../rules/load.js';
import { PrometheusClient } from '../../rules/prometheus.js';
import { promRelabel, startTsdb, type RunningTsdb } from '../support/prometheus.js';
import { all, chatRules, DECODE_Q, harness, ruleSetOf, TBT_Q, vector } from './fixtures.js';

const DRAIN_Q = 'sum by (pool, replica_index) (vllm:num_requests_running{service="chat"})';
const drainRules = (maxWait = 60) => chatRules(`    drain: {promql: '${DRAIN_Q}', maxWaitSeconds: ${maxWait}}\n`);

/** A preset rule with pools p (prefill) and d (decode), more pool lines, and a drain setting. */
const presetRules = (engine: string, drain: string, morePools = '') => `services:
  - name: chat
    engine: ${engine}
    match: {service: chat}
    ratio: {prefill: 1, decode: 1}
    decodeTpsPerUnit: 1000
    pools:
      - {name: p, role: prefill, maxReplicas: 4}
      - {name: d, role: decode, maxReplicas: 4}
${morePools}    drain: ${drain}
`;

const published = (h: ReturnType<typeof harness>) =>
  Object.fromEntries(h.provider.getExternalMetric('llm', 'baton_desired_replicas', all, '').map((s) => [s.labels.pool, s.value]));
const load = (h: ReturnType<typeof harness>, tps: number) => {
  h.prom.answers.set(DECODE_Q, vector([{ pool: 'decode-h100' }, tps]));
  h.prom.answers.set(TBT_Q, vector([{}, 0.02]));
};
const running = (...perIndex: [string, number, number][]) => vector(...perIndex.map(([pool, index, n]): [Record<string, string>, number] => [{ pool, replica_index: String(index) }, n]));
const codes = (h: ReturnType<typeof harness>) => (h.evaluator.state('chat')!.lastGood!.extraReasons ?? []).map((r) => r.code);

describe('rules: drain-aware scale-in', () => {
  it('holds the pair\'s scale-in while a replica it removes runs requests, and publishes it once they finish', async () => {
    const h = harness(drainRules());
    load(h, 5500);
    h.prom.answers.set(DRAIN_Q, running(['decode-h100', 0, 3], ['decode-h100', 5, 2]));
    await h.evaluator.evaluateAll();
    assert.deepEqual(published(h), { 'prefill-h100': 9, 'decode-h100': 6 }, 'growth is never held');

    load(h, 1500); // → decode 2, prefill 3: removes decode replicas 2..5 and prefill 3..8
    h.advance(5);
    await h.evaluator.evaluateAll();
    assert.deepEqual(published(h), { 'prefill-h100': 9, 'decode-h100': 6 }, 'decode replica 5 still runs 2 requests: both roles wait');
    const why = h.evaluator.state('chat')!.lastGood!.extraReasons!.find((r) => r.code === 'draining')!;
    assert.match(why.message, /scale-in held \(prefill-h100 9 → 3, decode-h100 6 → 2\): 2 requests still running on the replicas it removes \(decode-h100\[5\]\); waited 0 s of at most 60 s/);

    h.advance(10);
    h.prom.answers.set(DRAIN_Q, running(['decode-h100', 0, 3], ['decode-h100', 1, 1], ['decode-h100', 5, 0]));
    await h.evaluator.evaluateAll();
    assert.deepEqual(published(h), { 'prefill-h100': 3, 'decode-h100': 2 }, 'only replicas that stay are busy: scale in');
    assert.deepEqual(codes(h), ['drained']);
    assert.match(h.evaluator.state('chat')!.lastGood!.extraReasons![0]!.message, /after 10 s/);
  });

  it('publishes the scale-in after the longest wait even while requests still run, and says so', async () => {
    const h = harness(drainRules(30));
    load(h, 5500);
    h.prom.answers.set(DRAIN_Q, running(['decode-h100', 4, 1]));
    await h.evaluator.evaluateAll();
    load(h, 1500);
    for (let t = 0; t < 30; t += 10) {
      h.advance(10);
      await h.evaluator.evaluateAll();
      assert.equal(published(h)['decode-h100'], 6, `held at ${t + 10} s`);
    }
    h.advance(10);
    await h.evaluator.evaluateAll();
    assert.equal(published(h)['decode-h100'], 2);
    assert.deepEqual(codes(h), ['drain-timeout']);
  });

  it('an unreadable drain query holds the scale-in; an empty answer means nothing runs', async () => {
    const h = harness(drainRules());
    load(h, 5500);
    h.prom.answers.set(DRAIN_Q, vector());
    await h.evaluator.evaluateAll();
    load(h, 1500);
    h.prom.answers.set(DRAIN_Q, new Error('connect ECONNREFUSED'));
    h.advance(5);
    await h.evaluator.evaluateAll();
    assert.equal(published(h)['decode-h100'], 6);
    assert.deepEqual(codes(h), ['drain-unknown']);
    h.prom.answers.set(DRAIN_Q, vector());
    h.advance(5);
    await h.evaluator.evaluateAll();
    assert.equal(published(h)['decode-h100'], 2, 'no series: idle');
  });

  it('a held scale-in leaves the policy state where it was (no cooldown starts from a scale-in that did not happen)', async () => {
    const h = harness(drainRules().replace('scaleDownCooldownS: 0', 'scaleDownCooldownS: 300'));
    load(h, 5500);
    h.prom.answers.set(DRAIN_Q, running(['decode-h100', 5, 1]));
    await h.evaluator.evaluateAll();
    h.advance(301); // past the cooldown that follows the first scale-out
    await h.evaluator.evaluateAll();
    const before = h.evaluator.state('chat')!.policy;
    load(h, 1500);
    h.advance(5);
    await h.evaluator.evaluateAll();
    assert.equal(published(h)['decode-h100'], 6, 'held');
    assert.deepEqual(h.evaluator.state('chat')!.policy, before, 'the held decision left no trace in the policy state');
    h.prom.answers.set(DRAIN_Q, running(['decode-h100', 5, 0]));
    h.advance(5);
    await h.evaluator.evaluateAll();
    assert.equal(published(h)['decode-h100'], 2, 'drained: scales in at once, not after a cooldown');
  });

  it('readDrain sums a group\'s pods per replica index and skips series without one', () => {
    const rule = ruleSetOf(drainRules()).services[0]!;
    const r = readDrain(rule, vector([{ pool: 'decode-h100', replica_index: '2' }, 1], [{ pool: 'decode-h100', replica_index: '2' }, 2], [{ pool: 'decode-h100' }, 7], [{ pool: 'other', replica_index: '0' }, 1]), undefined);
    assert.deepEqual(r, { ok: true, replicas: [{ pool: 'decode-h100', index: 2, running: 3 }] });
    assert.deepEqual(readDrain(rule, undefined, 'timeout'), { ok: false, problem: 'timeout' });
    const gate = drainGate(rule, { 'prefill-h100': 3, 'decode-h100': 2 }, [{ metric: 'm', labels: {}, role: 'decode', pool: 'decode-h100', value: 4 }], r, undefined, 0);
    assert.equal(gate.held, false, 'growth passes');
  });

  it('Deployment pools (no replica index): the pods of lowest deletion cost go, and every pod tied with the last of them waits', () => {
    const rule = ruleSetOf(drainRules()).services[0]!;
    const pods = (...xs: [string, number | undefined, number][]) => vector(...xs.map(([pod, cost, n]): [Record<string, string>, number] => [{ pool: 'decode-h100', pod, ...(cost === undefined ? {} : { deletion_cost: String(cost) }) }, n]));
    const next = [{ metric: 'm', labels: {}, role: 'decode' as const, pool: 'decode-h100', value: 2 }];
    // The engine marked pod a (-1000): it is the one that goes, and it is idle.
    const marked = readDrain(rule, pods(['a', -1000, 0], ['b', undefined, 2], ['c', undefined, 1]), undefined);
    assert.deepEqual(marked, { ok: true, replicas: [{ pool: 'decode-h100', pod: 'a', cost: -1000, running: 0 }, { pool: 'decode-h100', pod: 'b', cost: 0, running: 2 }, { pool: 'decode-h100', pod: 'c', cost: 0, running: 1 }] });
    assert.equal(drainGate(rule, { 'decode-h100': 3 }, next, marked, undefined, 0).held, false);
    // Nobody marked: any of the three may go, so all must be idle.
    const tied = drainGate(rule, { 'decode-h100': 3 }, next, readDrain(rule, pods(['a', undefined, 0], ['b', undefined, 2], ['c', undefined, 0]), undefined), undefined, 0);
    assert.equal(tied.held, true);
    assert.match(tied.reasons[0]!.message, /2 requests still running on the replicas it removes \(decode-h100 pod b\)/);
  });

  it('presets build the drain query from the engine\'s running gauge; a router preset or no preset needs promql', () => {
    const vllm = loadRuleText(presetRules('vllm', '{maxWaitSeconds: 90}'), 'a.yaml');
    assert.deepEqual(vllm.errors, []);
    assert.deepEqual(vllm.services[0]!.drain, { query: { promql: 'sum by (pool, pod, replica_index, deletion_cost) (vllm:num_requests_running{service="chat"})', by: 'pool' }, indexLabel: 'replica_index', maxWaitS: 90 });
    assert.match(loadRuleText(presetRules('sglang', '{}'), 'a.yaml').services[0]!.drain!.query.promql, /sum by \(pool, pod, replica_index, deletion_cost\) \(\{__name__=~"sglang\[:_\]num_running_reqs",service="chat"\}\)/);
    const router = loadRuleText(presetRules('dynamo', '{}'), 'b.yaml');
    assert.match(router.errors.map((e) => `${e.path}: ${e.message}`).join('\n'), /services\[0\]\.drain: "drain" needs "promql": the dynamo preset reads a router/);
    const none = loadRuleText(chatRules('    drain: {maxWaitSeconds: 10}\n'), 'c.yaml');
    assert.match(none.errors.map((e) => e.message).join('\n'), /"drain" needs "promql": requests running per pod, by the pool label \(pool\) and the replica index \(replica_index\)/);
  });
});

describe('rules: drain-aware scale-in on a real Prometheus (the PodMonitor\'s replica_index relabeling)', function () {
  this.timeout(60_000);
  let tsdb: RunningTsdb | undefined;
  const servers: http.Server[] = [];

  after(async () => {
    await tsdb?.stop();
    for (const s of servers) await new Promise((r) => s.close(r));
  });

  it('groups a LeaderWorkerSet\'s pods by group index, a StatefulSet\'s by ordinal, a Deployment\'s by pod with its deletion cost', async () => {
    // Pods as Kubernetes SD presents them: LWS decode leader and worker of group 1 (pod-index is the worker's own
    // ordinal, group-index the group), a StatefulSet prefill pod with ordinal 2, and a Deployment pod the engine marked
    // for removal (prometheus-operator adds the `pod` label itself; here it is a target label).
    const pods: { labels: Record<string, string>; target?: Record<string, string>; pool: string; role: string; running: number }[] = [
      { pool: 'd', role: 'decode', running: 2, labels: { [REPLICA_INDEX_SOURCES[0]]: '0', [REPLICA_INDEX_SOURCES[1]]: '1' } },
      { pool: 'd', role: 'decode', running: 1, labels: { [REPLICA_INDEX_SOURCES[0]]: '1', [REPLICA_INDEX_SOURCES[1]]: '1' } },
      { pool: 'p', role: 'prefill', running: 4, labels: { [REPLICA_INDEX_SOURCES[0]]: '2' } },
      { pool: 'dd', role: 'decode', running: 5, labels: {}, target: { pod: 'chat-dd-7f9c', [sdAnnotation(DELETION_COST_ANNOTATION)]: '-1000' } },
    ];
    const groups: { targets: string[]; labels: Record<string, string> }[] = [];
    for (const p of pods) {
      const s = http.createServer((_req, res) => res.end(`vllm:num_requests_running{model_name="m"} ${p.running}\n`));
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      servers.push(s);
      const sd = Object.fromEntries(Object.entries({ 'baton.io/service': 'chat', 'baton.io/role': p.role, 'baton.io/pool': p.pool, ...p.labels }).map(([k, v]) => [sdLabel(k), v]));
      groups.push({ targets: [`127.0.0.1:${(s.address() as AddressInfo).port}`], labels: { ...sd, ...p.target } });
    }
    tsdb = await startTsdb('prometheus', { targets: [], groups, relabelConfigs: relabelingsFor(IDENTITY_PRESETS.baton).map(promRelabel), scrapeIntervalS: 1 });
    const rule = loadRuleText(presetRules('vllm', '{}', '      - {name: dd, role: decode, preference: 1, maxReplicas: 4}\n'), 'r.yaml').services[0]!;
    const client = new PrometheusClient({ url: tsdb.url, timeoutMs: 2000 });
    try {
      const deadline = Date.now() + 30_000;
      let got: ReturnType<typeof readDrain> | undefined;
      while (Date.now() < deadline) {
        got = readDrain(rule, await client.query(rule.drain!.query.promql), undefined);
        if (got.ok && got.replicas.reduce((a, r) => a + r.running, 0) === 12) break;
        await new Promise((r) => setTimeout(r, 300));
      }
      assert.ok(got?.ok);
      assert.deepEqual(got.replicas.sort((a, b) => a.pool.localeCompare(b.pool)), [
        { pool: 'd', index: 1, running: 3 }, { pool: 'dd', pod: 'chat-dd-7f9c', cost: -1000, running: 5 }, { pool: 'p', index: 2, running: 4 },
      ]);
    } finally {
      client.close();
    }
  });
});
