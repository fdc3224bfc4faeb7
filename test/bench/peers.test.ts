// bench:peers' configuration: Baton's side is the layout users write (one preset rule per service), which must batch
// into one query per template; prometheus-adapter's side is one idiomatic template per role; medians over rounds.
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { batonRules, medians, peerConfig, type PeerRow } from '../../bench/peers.js';
import { planBatches } from '../../rules/batch/plan.js';
import { loadRuleText } from '../../rules/load.js';

describe('bench:peers configuration', () => {
  it('Baton: 500 preset rules (1,000 HPAs) load and batch into 3 queries (decode TPS, tbt_p99, ttft_p99)', () => {
    const { services, errors } = loadRuleText(batonRules(500), 'bench.yaml');
    assert.deepEqual(errors, []);
    assert.equal(services.length, 500);
    const queries = services.flatMap((s) => [s.decodeTps.promql, ...s.guards.map((g) => g.query.promql)]);
    assert.equal(new Set(queries).size, 1500, 'each service has its own PromQL');
    const plan = planBatches(queries);
    assert.equal(plan.batches.length, 3);
    assert.ok(plan.batches.every((b) => b.members.size === 500));
  });

  it('prometheus-adapter: one externalRules template per role, the HPA selector as <<.LabelMatchers>>', () => {
    const cfg = parse(peerConfig()) as { externalRules: { metricsQuery: string; name: { as: string }; resources: { namespaced: boolean } }[] };
    assert.deepEqual(cfg.externalRules.map((r) => r.name.as), ['decode_desired_replicas', 'prefill_desired_replicas']);
    for (const r of cfg.externalRules) {
      assert.match(r.metricsQuery, /<<\.Series>>\{<<\.LabelMatchers>>,pool="decode"\}\[1m\]/);
      assert.equal(r.resources.namespaced, false);
    }
  });

  it('medians are per cell over the rounds', () => {
    const row = (round: number, p99Ms: number): PeerRow => ({ system: 'baton', hpas: 10, load: 'open', round, offeredRps: 100, rps: 100, p50Ms: 1, p99Ms, errors: 0, promQueriesPerS: 1, cpuPct: 5, rssMiB: 100 });
    const m = medians([row(1, 9), row(2, 1), row(3, 3), { ...row(1, 50), system: 'prometheus-adapter' }]);
    assert.equal(m.length, 2);
    assert.equal(m[0]!.p99Ms, 3);
    assert.equal(m[1]!.p99Ms, 50);
  });
});
