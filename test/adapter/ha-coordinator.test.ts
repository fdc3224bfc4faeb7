// The HA coordinator with an in-memory store and scripted leadership: only the leader evaluates; every replica serves
// the leader's decision from the same instant; a replica that starts or takes over serves and continues from the store.
import assert from 'node:assert/strict';
import { HaCoordinator } from '../../adapter/ha/coordinator.js';
import type { DecisionStore } from '../../adapter/ha/kube-store.js';
import { FixedElector, MemoryDecisionStore } from '../../adapter/ha/local.js';
import { parseRecord, shardOf } from '../../adapter/ha/record.js';
import { all, chatRules, DECODE_Q, harness, TBT_Q, vector } from '../rules/fixtures.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `n` services like chat (chat-0 … chat-n-1), sharing its queries. */
function manyServices(n: number): string {
  const one = chatRules().replace('services:\n', '');
  return 'services:\n' + Array.from({ length: n }, (_, i) => one.replace('name: chat', `name: chat-${i}`)).join('');
}

function replica(store: DecisionStore, lead: boolean, rules = chatRules()) {
  let ha!: HaCoordinator;
  const h = harness(rules, { deferPublish: (s, g) => ha.publish(s, g), clock: Date.now });
  h.prom.answers.set(DECODE_Q, vector([{ pool: 'decode-h100' }, 5500]));
  h.prom.answers.set(TBT_Q, vector([{}, 0.02]));
  const elector = new FixedElector(lead);
  ha = new HaCoordinator({ evaluator: h.evaluator, store, elector, identity: lead ? 'leader' : 'follower', syncIntervalMs: 20, publishDelayMs: 150, electionIntervalMs: 30, log: () => {} });
  const served = () => {
    try {
      return Object.fromEntries(h.provider.getExternalMetric('llm', 'baton_desired_replicas', all, '').map((s) => [s.labels.pool, s.value]));
    } catch {
      return undefined;
    }
  };
  return { h, ha, elector, served };
}

describe('adapter HA: one decision served by every replica', function () {
  this.timeout(20_000);

  it('the leader decides, writes, and both replicas switch to the decision at its effective instant', async () => {
    const store = new MemoryDecisionStore();
    const a = replica(store, true);
    const b = replica(store, false);
    await a.ha.start();
    await b.ha.start();
    try {
      assert.equal(a.h.evaluator.evaluating, true);
      assert.equal(b.h.evaluator.evaluating, false, 'a follower does not query Prometheus');
      await sleep(60);
      assert.equal(a.served(), undefined, 'the leader does not serve before the effective instant');
      await sleep(250);
      assert.deepEqual(a.served(), { 'prefill-h100': 9, 'decode-h100': 6 });
      assert.deepEqual(b.served(), a.served());
      assert.equal(b.h.prom.calls.length, 0);
    } finally {
      await a.ha.stop();
      await b.ha.stop();
    }
  });

  it('a replica started later (a rollout) serves the stored level at once; a take-over continues from the stored policy', async () => {
    const store = new MemoryDecisionStore();
    const a = replica(store, true);
    await a.ha.start();
    await sleep(300);
    const c = replica(store, false);
    await c.ha.start();
    try {
      assert.deepEqual(c.served(), { 'prefill-h100': 9, 'decode-h100': 6 }, 'served straight after its first read');
      const policy = a.h.evaluator.state('chat')!.policy;
      assert.deepEqual(c.h.evaluator.state('chat')!.policy, policy, 'the leader\'s policy state, ready for a take-over');
      await a.ha.stop();
      assert.equal(a.elector.released, true, 'a clean stop gives the lease up');
      c.elector.lead = true;
      await sleep(100);
      assert.equal(c.ha.isLeader, true);
      assert.equal(c.h.evaluator.evaluating, true);
    } finally {
      await c.ha.stop();
    }
  });

  it('a decision the store did not take is served by no replica, and is written when the store answers again', async () => {
    const store = new MemoryDecisionStore();
    const a = replica(store, true);
    store.fail = true;
    await a.ha.start();
    try {
      await sleep(300);
      assert.equal(a.served(), undefined);
      store.fail = false;
      await sleep(1500);
      assert.deepEqual(a.served(), { 'prefill-h100': 9, 'decode-h100': 6 });
    } finally {
      await a.ha.stop();
    }
  });

  it('a replica that starts while the newest decision waits for its instant serves the one in force, then switches with the others', async () => {
    const store = new MemoryDecisionStore();
    const a = replica(store, true);
    await a.ha.start();
    // Until the leader's first decision is in force (written, and its instant passed): on a loaded host it may come
    // later than a fixed sleep.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const text = store.data.get('chat');
      const r = text ? parseRecord(text).record : undefined;
      if (r && r.effectiveAtMs <= Date.now()) break;
      assert.ok(Date.now() < deadline, 'the leader\'s first decision never came into force');
      await sleep(20);
    }
    await a.ha.stop();
    const inForce = parseRecord(store.data.get('chat')!).record!;
    // The leader's next decision, written just now and served from 400 ms on; the record carries the one in force.
    const next = structuredClone(inForce.good);
    next.atMs += 1;
    for (const v of next.values) v.value += 1;
    store.data.set('chat', JSON.stringify({ ...inForce, good: next, effectiveAtMs: Date.now() + 400, earlier: [{ good: inForce.good, effectiveAtMs: inForce.effectiveAtMs }] }));
    const c = replica(store, false);
    await c.ha.start();
    try {
      assert.deepEqual(c.served(), { 'prefill-h100': 9, 'decode-h100': 6 }, 'what every other replica serves now (was: nothing, 503, until the instant)');
      await sleep(600);
      assert.deepEqual(c.served(), { 'prefill-h100': 10, 'decode-h100': 7 }, 'the next decision from its instant');
    } finally {
      await c.ha.stop();
    }
  });

  it('a round of 300 decisions goes out in a few writes; every replica serves all of them; a take-over adopts every policy', async () => {
    const store = new MemoryDecisionStore();
    const rules = manyServices(300);
    const a = replica(store, true, rules);
    const b = replica(store, false, rules);
    await a.ha.start();
    await b.ha.start();
    try {
      await sleep(400);
      assert.ok(store.writes <= 5, `one round, a few writes (saw ${store.writes})`);
      assert.equal(store.data.size, 300);
      for (const r of [a, b]) {
        const served = r.h.provider.getExternalMetric('llm', 'baton_desired_replicas', all, '');
        assert.equal(served.length, 600, 'both pools of all 300 services');
      }
      const c = replica(store, false, rules);
      await a.ha.stop();
      c.elector.lead = true;
      await c.ha.start();
      try {
        assert.equal(c.ha.isLeader, true);
        for (let i = 0; i < 300; i++) assert.deepEqual(c.h.evaluator.state(`chat-${i}`)!.policy, a.h.evaluator.state(`chat-${i}`)!.policy, `chat-${i}: the stored policy`);
      } finally {
        await c.ha.stop();
      }
    } finally {
      await b.ha.stop();
    }
  });

  it('records are schema-checked; shards are stable', () => {
    assert.match(parseRecord('{"v":1}').error!, /must have required property/);
    assert.match(parseRecord('nope').error!, /not JSON/);
    assert.equal(shardOf('service-a', 8), shardOf('service-a', 8));
    const spread = new Set(Array.from({ length: 100 }, (_, i) => shardOf(`svc-${i}`, 8)));
    assert.equal(spread.size, 8);
  });
});
