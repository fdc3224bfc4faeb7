// Batched queries on a real Prometheus: a merged query's slices are exactly what each service's own query answers
// (fuzzed over query templates, at one fixed evaluation time), and the presets' scrape-outage clause, once batched, holds
// only the service whose target is down.
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { planBatches } from '../../rules/batch/plan.js';
import { sliceKey } from '../../rules/batch/template.js';
import { Evaluator } from '../../rules/evaluator.js';
import { loadRuleText } from '../../rules/load.js';
import { PrometheusClient, type QueryResult, type Series } from '../../rules/prometheus.js';
import fc from '../support/fast-check.js';
import { startTsdb, type RunningTsdb } from '../support/prometheus.js';
import { FakeVllmExporter } from '../support/vllm-exporter.js';
import { generated } from '../support/promql-templates.js';

const SERVICES = ['svc-a', 'svc-b', 'svc-c'];

function rules(): string {
  const lines = ['services:'];
  for (const s of SERVICES) {
    lines.push(
      `  - name: ${s}`, '    namespaces: [llm]', '    engine: vllm', `    match: {service: ${s}}`, '    window: 10s',
      '    ratio: {prefill: 1, decode: 1}', '    decodeTpsPerUnit: 1000', '    queryIntervalSeconds: 1', '    maxStalenessSeconds: 30',
      '    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1}',
      '    pools:',
      '      - {name: prefill, role: prefill, minReplicas: 1, maxReplicas: 40}',
      '      - {name: decode-a, role: decode, preference: 0, minReplicas: 1, maxReplicas: 40}',
      '      - {name: decode-b, role: decode, preference: 1, minReplicas: 0, maxReplicas: 40}',
      '    guards:',
      '      - {name: tbt_p99, slo: 0.05, tiers: [{above: 1.0, scaleOut: 0.2}]}',
    );
  }
  return lines.join('\n') + '\n';
}

/** Series without the grouping label, sorted, as comparable text (NaN as text). */
function canonical(series: readonly Series[]): string[] {
  return series.map((s) => {
    const { service: _s, ...rest } = s.labels;
    const labels = Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join(',');
    return `{${labels}} ${Number.isNaN(s.value) ? 'NaN' : s.value.toPrecision(12)}`;
  }).sort();
}

describe('rules/batch on a real Prometheus', function () {
  this.timeout(120_000);
  const exporters = new Map<string, FakeVllmExporter[]>();
  let tsdb: RunningTsdb | undefined;
  let client: PrometheusClient;

  before(async () => {
    // svc-b has two decode targets; the others one each. Target labels name the service, as service discovery would.
    for (const [i, s] of SERVICES.entries()) {
      const list = s === 'svc-b' ? [new FakeVllmExporter(s), new FakeVllmExporter(s)] : [new FakeVllmExporter(s)];
      list[0]!.setLoad('decode-a', { decodeTps: 1000 * (i + 2), interTokenS: 0.02 });
      list[1]?.setLoad('decode-b', { decodeTps: 2000, interTokenS: 0.03 });
      exporters.set(s, list);
    }
    const groups = await Promise.all(SERVICES.map(async (s) => ({ targets: await Promise.all(exporters.get(s)!.map((e) => e.start())), labels: { service: s } })));
    tsdb = await startTsdb('prometheus', { targets: [], groups, scrapeIntervalS: 1 });
    client = new PrometheusClient({ url: tsdb.url, timeoutMs: 3000 });
    // Enough samples for a 5 s rate on every target.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await client.query('count(count_over_time(up[5s]) >= 4)');
      if (r.kind === 'vector' && r.series[0]?.value === 4) break;
      if (Date.now() > deadline) throw new Error(`targets never scraped: ${tsdb.logTail()}`);
      await new Promise((res) => setTimeout(res, 250));
    }
  });

  after(async () => {
    client?.close();
    await tsdb?.stop();
    for (const list of exporters.values()) for (const e of list) await e.stop().catch(() => {});
  });

  it('a merged query answers, service by service, exactly what each service\'s own query answers (fuzzed templates)', async () => {
    const atS = Date.now() / 1000 - 1;
    let compared = 0;
    let nonEmpty = 0;
    await fc.assert(
      fc.asyncProperty(generated.filter((g) => g.safe), async (g) => {
        const own = SERVICES.map((s) => g.text(s));
        const singles: QueryResult[] = [];
        for (const q of own) {
          try {
            singles.push(await client.query(q, atS));
          } catch {
            return; // a query Prometheus refuses alone (e.g. many-to-many matching) proves nothing here
          }
        }
        const batch = planBatches(own).batches[0]!;
        const merged = await client.query(batch.promql, atS);
        assert.equal(merged.kind, 'vector', batch.promql);
        const series = merged.kind === 'vector' ? merged.series : [];
        for (const [i, s] of SERVICES.entries()) {
          const single = singles[i]!;
          assert.equal(single.kind, 'vector');
          const slice = series.filter((x) => sliceKey(x.labels, batch.by) === batch.members.get(own[i]!));
          assert.deepEqual(canonical(slice), canonical(single.kind === 'vector' ? single.series : []), `${s}: ${own[i]}\nmerged: ${batch.promql}`);
        }
        assert.ok(series.every((x) => sliceKey(x.labels, batch.by) !== undefined), 'every merged series belongs to a member');
        compared++;
        if (singles.every((r) => r.kind === 'vector' && r.series.length > 0)) nonEmpty++;
      }),
      { numRuns: 60 },
    );
    assert.ok(compared >= 30 && nonEmpty >= 15, `only ${compared} templates compared, ${nonEmpty} with series for every service`);
  });

  it('one service\'s dead target holds only that service; the others keep deciding, from one query per template', async () => {
    const loaded = loadRuleText(rules(), 'batch.yaml');
    assert.deepEqual(loaded.errors, []);
    const evaluator = new Evaluator({ query: client.query, registry: new Registry(), log: () => {} });
    evaluator.setRules({ services: loaded.services, files: ['batch.yaml'], loadedAtMs: 0 });
    evaluator.start();
    try {
      const decode = (s: string): number => evaluator.state(s)?.lastGood?.values.filter((v) => v.role === 'decode').reduce((a, v) => a + v.value, 0) ?? 0;
      const deadline = Date.now() + 30_000;
      while (!(decode('svc-a') === 2 && decode('svc-b') === 5 && decode('svc-c') === 4)) {
        if (Date.now() > deadline) throw new Error(`never settled: ${SERVICES.map(decode).join(',')}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const sentBefore = evaluator.queriesSent;
      const startedMs = Date.now();
      await exporters.get('svc-b')![1]!.stop(); // svc-b's decode-b target fails its scrapes from now on
      const seenB: number[] = [];
      const aTimes = new Set<number>();
      while (Date.now() - startedMs < 6000) {
        seenB.push(decode('svc-b'));
        aTimes.add(evaluator.state('svc-a')!.lastGood!.atMs);
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(Math.min(...seenB) >= 5, `svc-b scaled in during its scrape outage: ${seenB.join(',')}`);
      assert.match(evaluator.state('svc-b')!.lastProblem ?? '', /decode TPS unusable/);
      assert.equal(evaluator.state('svc-a')!.lastProblem, undefined);
      assert.equal(evaluator.state('svc-c')!.lastProblem, undefined);
      assert.ok(aTimes.size >= 3, `svc-a stopped deciding: ${aTimes.size} decisions in 6 s`);
      const rounds = (Date.now() - startedMs) / 1000; // one round per second (queryIntervalSeconds: 1)
      const sent = evaluator.queriesSent - sentBefore;
      assert.ok(sent <= 2 * 2 * (rounds + 1), `${sent} queries in ${rounds.toFixed(1)} rounds for 2 templates`);
    } finally {
      await evaluator.stop();
    }
  });
});
