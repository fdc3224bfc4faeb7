// `rules check --prometheus` on a real Prometheus: an empty signal or guard fails the check with the reason found by
// asking Prometheus about each selector and matcher; a pool at 0 replicas without series counts as 0, as the evaluator
// counts it; a query Prometheus refuses names the file:line of the rule.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRules, formatCheckReport } from '../../rules/check.js';
import { diagnoseEmpty, formatEmptyCause, selectorsOf } from '../../rules/diagnose.js';
import { PrometheusClient } from '../../rules/prometheus.js';
import { until } from '../adapter/harness.js';
import { startTsdb, type RunningTsdb } from '../support/prometheus.js';
import { FakeVllmExporter } from '../support/vllm-exporter.js';

const rule = (service: string, guards: string) => `services:
  - name: ${service}
    engine: vllm
    match: {service: ${service}}
    window: 5s
    ratio: {prefill: 2, decode: 1}
    decodeTpsPerUnit: 1000
    pools:
      - {name: prefill-h100, role: prefill, gpuType: H100, minReplicas: 1, maxReplicas: 8}
      - {name: decode-h200, role: decode, gpuType: H200, minReplicas: 1, maxReplicas: 4}
      - {name: decode-h100, role: decode, gpuType: H100, minReplicas: 0, maxReplicas: 4}
    guards:
${guards}`;

describe('rules check --prometheus: diagnoses on a real Prometheus', function () {
  this.timeout(60_000);
  let exporter: FakeVllmExporter;
  let tsdb: RunningTsdb;
  let client: PrometheusClient;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-check-'));
    exporter = new FakeVllmExporter('service-a');
    exporter.setLoad('decode-h200', { decodeTps: 900, interTokenS: 0.03 });
    tsdb = await startTsdb('prometheus', { targets: [await exporter.start()], scrapeIntervalS: 1 });
    client = new PrometheusClient({ url: tsdb.url, timeoutMs: 3000 });
    // Enough samples for a 5 s rate window.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await client.query('sum(rate(vllm:generation_tokens_total[5s]))');
      if (r.kind === 'vector' && r.series.length && r.series[0]!.value > 0) break;
      if (Date.now() > deadline) throw new Error(`no rate yet:\n${tsdb.logTail()}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  });

  after(async () => {
    client?.close();
    await tsdb?.stop();
    await exporter?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the selectors a query reads, skipping the right of unless', () => {
    const s = selectorsOf('sum by (pool) (rate(a{service="x",pool=~"p|q"}[1m])) unless on() (count(up{service="x"} == 0) > 0)');
    assert.deepEqual(s.map((x) => x.metric), ['a']);
    assert.deepEqual(s[0]!.matchers.map((m) => [m.label, m.op, m.value]), [['service', '=', 'x'], ['pool', '=~', 'p|q']]);
  });

  it('an empty signal and a guard on a metric nobody exports fail the check, each with its cause; --allow-empty accepts them', async () => {
    const file = join(dir, 'coder.yaml');
    writeFileSync(file, rule('coder', [
      '      - {name: tbt_p99, slo: 0.03, tiers: [{above: 1.0, scaleOut: 0.1}]}',
      '      - {name: queue, promql: "max(vllm:num_requests_waiting_total{service=\\"coder\\"})", slo: 10, tiers: [{above: 1.0, scaleOut: 0.1}]}',
      '',
    ].join('\n')));
    const report = await checkRules([file], { prometheus: { url: tsdb.url } });
    assert.equal(report.ok, false);
    const q = (name: string) => report.queries.find((x) => x.name === name)!;
    assert.equal(q('decodeTps').status, 'empty');
    assert.match(q('decodeTps').diagnosis!, /vllm:generation_tokens_total exists, but no series matches service="coder": it exists with service="service-a"/);
    assert.equal(q('guard:queue').status, 'empty');
    assert.match(q('guard:queue').diagnosis!, /metric vllm:num_requests_waiting_total has no series/);
    assert.match(q('guard:tbt_p99').diagnosis!, /vllm:inter_token_latency_seconds_bucket exists, but no series matches service="coder"/);
    const text = formatCheckReport(report);
    assert.match(text, /FAILED: 3 empty signal\/guard queries/);
    assert.doesNotMatch(text, /0 error/);
    assert.match(text, /at .*coder\.yaml:14:31 \(services\[0\]\.guards\[1\]\.promql\)/);

    const allowed = await checkRules([file], { prometheus: { url: tsdb.url }, allowEmpty: true });
    assert.equal(allowed.ok, true);
    assert.match(formatCheckReport(allowed), /OK: .*\(3 empty, accepted with --allow-empty\)/);
  });

  it('a pool at 0 replicas without series counts as 0, as the evaluator counts it; a pool with replicas and none holds', async () => {
    const file = join(dir, 'service-a.yaml');
    writeFileSync(file, rule('service-a', '      - {name: tbt_p99, slo: 0.05, tiers: [{above: 1.0, scaleOut: 0.1}]}\n'));
    const report = await checkRules([file], { prometheus: { url: tsdb.url } });
    const decode = report.queries.find((x) => x.name === 'decodeTps')!;
    assert.equal(decode.status, 'ok', formatCheckReport(report));
    assert.match(decode.verdict!, /decode-h200=\d+.*decode-h100=0|decode-h100=0.*decode-h200=\d+/);
    assert.equal(report.ok, true, formatCheckReport(report));

    writeFileSync(file, rule('service-a', '      - {name: tbt_p99, slo: 0.05, tiers: [{above: 1.0, scaleOut: 0.1}]}\n').replace('minReplicas: 0, maxReplicas: 4', 'minReplicas: 1, maxReplicas: 4'));
    const held = await checkRules([file], { prometheus: { url: tsdb.url } });
    assert.equal(held.queries.find((x) => x.name === 'decodeTps')!.status, 'unusable');
    assert.equal(held.ok, false);
  });

  it('a query Prometheus refuses names the rule file:line:col and field', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, rule('service-a', '      - {name: g, promql: \'max(label_replace(up, "a", "$1", "job", "(("))\', slo: 1, tiers: [{above: 1.0, scaleOut: 0.1}]}\n'));
    const report = await checkRules([file], { prometheus: { url: tsdb.url } });
    const g = report.queries.find((x) => x.name === 'guard:g')!;
    assert.equal(g.status, 'error');
    assert.match(formatCheckReport(report), /error: .*bad\.yaml:13:27: services\[0\]\.guards\[0\]\.promql: /);
    assert.match(formatCheckReport(report), /FAILED: 1 query error\(s\)/);
  });

  it('blames an unless clause that removes a value, and names an underscore-escaped metric', async () => {
    const unless = await diagnoseEmpty(client.query, 'sum(rate(vllm:generation_tokens_total[5s])) unless on() vector(1)');
    assert.equal(unless.kind, 'unless-removes');
    assert.match(formatEmptyCause(unless), /the clause `unless on\(\) vector\(1\)` removes it/);
    const expr = await diagnoseEmpty(client.query, 'sum(rate(vllm:generation_tokens_total[5s])) > 1e12');
    assert.equal(expr.kind, 'expression');
  });

  it("suggests the engine preset whose series exist when the rule's preset finds none", async () => {
    const file = join(dir, 'wrong-engine.yaml');
    writeFileSync(file, rule('service-a', '      - {name: tbt_p99, slo: 0.05, tiers: [{above: 1.0, scaleOut: 0.1}]}\n').replace('engine: vllm', 'engine: sglang'));
    const report = await checkRules([file], { prometheus: { url: tsdb.url } });
    const d = report.queries.find((x) => x.name === 'decodeTps')!;
    assert.equal(d.status, 'empty');
    assert.match(d.diagnosis!, /metric sglang\[:_\]generation_tokens_total \(regex\) has no series/);
    assert.match(d.diagnosis!, /these labels have vllm:generation_tokens_total \(engine: vllm or vllm-v0\): the rule's engine preset may be the wrong one/);
    // Per service: which presets' series are live (and stale) for its labels, and the one to use.
    const text = formatCheckReport(report);
    assert.match(text, /presets with series for \{service="service-a"\}: vllm:generation_tokens_total \(engine: vllm or vllm-v0\): \d+ series/);
    assert.match(text, /suggestion: engine: vllm \(the rule says sglang\)/);
  });

  it('a hand-written rule is told which preset its series belong to; a rule on the right preset gets no suggestion', async () => {
    const file = join(dir, 'handwritten.yaml');
    const noGuards = (text: string) => text.replace('    guards:\n', '    guards: []\n');
    writeFileSync(file, noGuards(rule('service-a', '')).replace(/    engine: vllm\n    match: \{service: service-a\}\n/, "    decodeTps: 'sum(rate(vllm:generation_tokens_total{service=\"service-a\"}[5s]))'\n"));
    const hand = await checkRules([file], { prometheus: { url: tsdb.url } });
    assert.deepEqual(hand.errors, []);
    assert.equal(hand.services[0]!.presets!.suggestion, 'engine: vllm writes the signal and guards for you');
    writeFileSync(file, noGuards(rule('service-a', '')));
    const preset = await checkRules([file], { prometheus: { url: tsdb.url } });
    assert.equal(preset.services[0]!.presets!.live[0]!.metric, 'vllm:generation_tokens_total');
    assert.equal(preset.services[0]!.presets!.suggestion, undefined);
  });

  it('an SGLang preset reads the series under either spelling (sglang: or sglang_)', async () => {
    exporter.extraText = 'sglang_generation_tokens_total{service="sglang-svc",pool="decode-h200"} 42\n';
    const file = join(dir, 'sglang.yaml');
    writeFileSync(file, rule('sglang-svc', '      - {name: tbt_p99, slo: 0.05, tiers: [{above: 1.0, scaleOut: 0.1}]}\n').replace('engine: vllm', 'engine: sglang'));
    const report = await until('the underscore-spelled series in Prometheus', async () => {
      const r = await checkRules([file], { prometheus: { url: tsdb.url }, allowEmpty: true });
      return r.queries.find((x) => x.name === 'decodeTps')!.status === 'ok' ? r : undefined;
    }, 20_000);
    assert.match(report.queries.find((x) => x.name === 'decodeTps')!.verdict!, /usable: 0 \(decode-h200=0, decode-h100=0\)/);
    exporter.extraText = '';
  });

  it('flags series that Prometheus still returns but that have no new sample (stale): a sum() over them would not fall', async () => {
    // A series with an explicit, old timestamp: ingested once, never updated, no staleness marker.
    exporter.extraText = `vllm:generation_tokens_total{service="service-a",pool="decode-h100",model_name="llama-3-8b"} 12345 ${Date.now() - 30_000}\n`;
    const file = join(dir, 'stale.yaml');
    writeFileSync(file, rule('service-a', '      - {name: tbt_p99, slo: 0.05, tiers: [{above: 1.0, scaleOut: 0.1}]}\n'));
    const report = await until('the frozen series in Prometheus', async () => {
      const r = await checkRules([file], { prometheus: { url: tsdb.url }, scrapeIntervalS: 2 });
      return r.queries.find((x) => x.name === 'decodeTps')!.status === 'stale' ? r : undefined;
    }, 20_000);
    const d = report.queries.find((x) => x.name === 'decodeTps')!;
    assert.match(d.verdict!, /stale series: 1 of 2 series of vllm:generation_tokens_total\{service="service-a",pool=~"decode-h200\|decode-h100"\} have no sample newer than 4 s/);
    assert.equal(report.ok, false);
    assert.match(formatCheckReport(report), /FAILED: 1 query reading stale series/);
    // With a live series only, the same check passes.
    exporter.extraText = '';
  });
});

