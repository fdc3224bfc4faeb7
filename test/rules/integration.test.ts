// End to end on a real TSDB: a vLLM-named exporter → Prometheus (and VictoriaMetrics) scraping every second → the
// evaluator's loop with the engine preset → decide() → the provider the External Metrics API serves from.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { MetricError } from '../../adapter/provider.js';
import { decide } from '../../engine/core/decide.js';
import { checkRules } from '../../rules/check.js';
import { Evaluator } from '../../rules/evaluator.js';
import { dryRunQuery } from '../../adapter/main.js';
import { loadRuleFiles } from '../../rules/load.js';
import { PrometheusClient } from '../../rules/prometheus.js';
import { RulesProvider } from '../../rules/provider.js';
import { RuleStore } from '../../rules/store.js';
import { policyConfigOf, type RuleSet } from '../../rules/types.js';
import { startTsdb, type RunningTsdb, type TsdbKind } from '../support/prometheus.js';
import { FakeVllmExporter } from '../support/vllm-exporter.js';

const RULES = `services:
  - name: chat
    namespaces: [llm]
    engine: vllm
    match: {service: chat}
    window: 5s
    ratio: {prefill: 3, decode: 2}
    decodeTpsPerUnit: 1000
    pools:
      - {name: prefill-h100, role: prefill, gpuType: H100, minReplicas: 1, maxReplicas: 40}
      - {name: decode-h200, role: decode, gpuType: H200, preference: 0, minReplicas: 1, maxReplicas: 4}
      - {name: decode-h100, role: decode, gpuType: H100, preference: 1, minReplicas: 0, maxReplicas: 20}
    guards:
      - {name: tbt_p99, slo: 0.5, tiers: [{above: 1.0, scaleOut: 0.1}]}
    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1}
    queryIntervalSeconds: 1
    maxStalenessSeconds: 4
`;

const all = () => true;

async function until<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : String(last)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

for (const kind of ['prometheus', 'victoria-metrics'] as TsdbKind[]) {
  describe(`rules on a real ${kind}`, function () {
    this.timeout(90_000);
    let exporter: FakeVllmExporter;
    let tsdb: RunningTsdb | undefined;
    let evaluator: Evaluator;
    let client: PrometheusClient;
    let provider: RulesProvider;
    let ruleSet: RuleSet;
    let dir: string;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'baton-int-'));
      writeFileSync(join(dir, 'chat.yaml'), RULES);
      ruleSet = (await loadRuleFiles([join(dir, 'chat.yaml')])).ruleSet!;
      exporter = new FakeVllmExporter('chat');
      exporter.setLoad('prefill-h100', { decodeTps: 300, interTokenS: 0.02 }); // prefill's one token per request: not decode
      exporter.setLoad('decode-h200', { decodeTps: 750, interTokenS: 0.03 });
      exporter.setLoad('decode-h100', { decodeTps: 750, interTokenS: 0.03 });
      const target = await exporter.start();
      tsdb = await startTsdb(kind, { targets: [target], scrapeIntervalS: 1 });
      client = new PrometheusClient({ url: tsdb.url, timeoutMs: 2000 });
      evaluator = new Evaluator({ query: client.query, registry: new Registry(), log: () => {} });
      evaluator.setRules(ruleSet);
      evaluator.start();
      provider = new RulesProvider(evaluator);
    });

    after(async () => {
      await evaluator?.stop();
      client?.close();
      await tsdb?.stop();
      await exporter?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    const served = (): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const s of provider.getExternalMetric('llm', 'baton_desired_replicas', all, '')) out[s.labels.pool!] = s.value;
      return out;
    };

    const expectFor = (decodeTps: number) => {
      const d = decide(policyConfigOf(ruleSet.services[0]!), { now: 0, decodeTps, guards: { tbt_p99: 0.05 }, replicas: {} }, {});
      return { ...d.prefill.pools, ...d.decode.pools };
    };

    const settle = (want: Record<string, number>) =>
      until(`desired ${JSON.stringify(want)}`, () => {
        const got = served();
        return Object.entries(want).every(([k, v]) => got[k] === v) ? got : (() => { throw new Error(`served ${JSON.stringify(got)}`); })();
      }, 45_000);

    it('a load change shows up as desired replicas for both roles at the ratio', async () => {
      // 1,500 decode TPS = 1.5 units: decode-h200 2 (preferred), decode-h100 0; prefill 1.5 × 3/2 = 2.25 → 3.
      const low = { 'prefill-h100': 3, 'decode-h200': 2, 'decode-h100': 0 };
      assert.deepEqual(expectFor(1500), low);
      await settle(low);

      exporter.setLoad('decode-h200', { decodeTps: 2750, interTokenS: 0.03 });
      exporter.setLoad('decode-h100', { decodeTps: 2750, interTokenS: 0.03 });
      // 5,500 TPS = 5.5 units: decode-h200 full at 4, decode-h100 takes 1.5 → 2; prefill 8.25 → 9.
      const high = { 'prefill-h100': 9, 'decode-h200': 4, 'decode-h100': 2 };
      assert.deepEqual(expectFor(5500), high);
      await settle(high);

      const decode = provider.getExternalMetric('llm', 'baton_desired_replicas', (l) => l.role === 'decode', 'role=decode');
      assert.equal(decode.length, 2);
      assert.ok(Date.now() - decode[0]!.timestampMs < 3000, 'fresh');
      assert.equal(decode[0]!.windowSeconds, 5);
      const ex = provider.explain('llm', 'baton_desired_replicas', all, '');
      assert.match(ex.queries[0]!.promql, /^sum by \(pool\) \(rate\(vllm:generation_tokens_total\{service="chat",pool=~"decode-h200\|decode-h100"\}\[5s\]\)\) unless on\(\) \(count\(up\{service="chat"\} == 0 and on\(instance\) rate\(/);
      assert.ok(evaluator.queriesSent > 0);
    });

    it('`rules check --prometheus` runs each query once and shows the result shape', async () => {
      const report = await checkRules([join(dir, 'chat.yaml')], { prometheus: { url: tsdb!.url } });
      assert.equal(report.ok, true, JSON.stringify(report.errors));
      const decodeQ = report.queries.find((q) => q.name === 'decodeTps')!;
      assert.equal(decodeQ.shape?.kind, 'vector');
      assert.equal(decodeQ.shape?.kind === 'vector' && decodeQ.shape.series, 2);
      assert.deepEqual(decodeQ.shape?.kind === 'vector' && decodeQ.shape.labelSets.map((l) => l.pool).sort(), ['decode-h100', 'decode-h200']);
      assert.match(decodeQ.verdict!, /^usable/);
      const guardQ = report.queries.find((q) => q.name === 'guard:tbt_p99')!;
      assert.equal(guardQ.shape?.kind === 'vector' && guardQ.shape.series, 1);
    });

    it('a hot reload dry-runs new queries: one the TSDB refuses (bad regex) refuses the set, the old keeps serving', async () => {
      const rdir = mkdtempSync(join(tmpdir(), 'baton-dry-'));
      try {
        writeFileSync(join(rdir, 'chat.yaml'), RULES);
        const store = new RuleStore({ dir: rdir, log: () => {}, dryRun: (q) => dryRunQuery(client, q) });
        const first = await store.load();
        // Parses and type-checks locally; only the server can say the regex does not compile.
        const bad = RULES.replace('{name: tbt_p99, slo: 0.5,', `{name: tbt_p99, promql: 'max(label_replace(up, "a", "$1", "job", "(("))', slo: 0.5,`);
        assert.notEqual(bad, RULES);
        writeFileSync(join(rdir, 'chat.yaml'), bad);
        const out = await store.reload();
        assert.equal(out.ok, false);
        assert.match(out.errors[0]!.message, /Prometheus refuses the query/);
        assert.match(out.errors[0]!.path, /guards\[tbt_p99\]/);
        assert.equal(store.rules, first, 'the old set keeps serving');
        store.close();
      } finally {
        rmSync(rdir, { recursive: true, force: true });
      }
    });

    it('when the TSDB goes away: the last good value is served until max staleness, then 503', async () => {
      const before = served();
      await tsdb!.stop();
      tsdb = undefined;
      const stoppedAt = Date.now();
      const problem = await until('a held evaluation', () => evaluator.state('chat')!.lastProblem, 10_000);
      assert.match(problem, /decode TPS unusable/);
      const age = Date.now() - evaluator.state('chat')!.lastGood!.atMs;
      assert.ok(age < 4000, `held after ${Date.now() - stoppedAt} ms; last good value ${age} ms old`);
      assert.deepEqual(served(), before, 'still the last good value, not 0 or min');
      const err = await until('a 503', () => {
        try {
          served();
          return undefined;
        } catch (e) {
          return e;
        }
      }, 10_000);
      assert.ok(err instanceof MetricError && err.code === 503, String(err));
    });
  });
}
