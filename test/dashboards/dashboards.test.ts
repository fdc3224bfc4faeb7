// Dashboards as code: the committed JSON is what the TypeScript generates (no drift), every panel's PromQL parses
// (official lezer grammar) once variables are filled in, and the panels the issue asks for are there.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { promqlSyntaxError } from '../../rules/promql.js';
import { dashboardQueries, dashboards, interpolate, renderDashboardJson, variableDefaults } from '../../dashboards/index.js';
import { DASHBOARDS_DIR, driftedFiles, generatedFiles } from '../../dashboards/build.js';

describe('dashboards (grafana-foundation-sdk)', () => {
  it('committed JSON and PrometheusRule match what the sources generate (run `npm run dashboards:build` if not)', () => {
    assert.deepEqual(driftedFiles().map((p) => p.replace(/.*\/manifests\//, 'manifests/')), []);
  });

  it('the drift check notices a changed file', () => {
    const files = generatedFiles().map((f) => ({ ...f }));
    files[0]!.content = files[0]!.content.replace('"Baton / Service"', '"Baton / Edited"');
    assert.equal(driftedFiles(files).length, 1);
  });

  it('every panel query parses as PromQL once the variables are filled in', () => {
    const qs = dashboardQueries();
    assert.ok(qs.length >= 25, `only ${qs.length} queries`);
    const bad = qs.map((q) => ({ q, e: promqlSyntaxError(q.expr) })).filter((x) => x.e).map((x) => `${x.q.dashboard} / ${x.q.panel} / ${x.q.refId}: ${x.e!.message}: ${x.q.expr}`);
    assert.deepEqual(bad, []);
    for (const q of qs) assert.doesNotMatch(q.expr, /\$/, `${q.panel}: variable left in ${q.expr}`);
  });

  it('the PromQL check fails on a broken query (so the test above can fail)', () => {
    assert.ok(promqlSyntaxError('sum by (pool) (rate(vllm:generation_tokens_total[1m])'));
    assert.ok(promqlSyntaxError(interpolate('sum(x) * $decode_tps_per_unit', { decode_tps_per_unit: '' })));
  });

  it('fills variables from the dashboards\' defaults, overridable per call; unknown variables are errors', () => {
    const d = dashboards().find((x) => x.file === 'baton-service.json')!.dashboard;
    assert.deepEqual(variableDefaults(d), { service: 'chat', decode_tps_per_unit: '1800', ttft_slo: '2', tbt_slo: '0.05' });
    const target = dashboardQueries({ service: 'sim' }).find((q) => q.panel === 'Decode TPS vs target' && q.refId === 'C')!;
    assert.equal(target.expr, 'sum(baton_rules_desired_replicas{service="sim", role="decode"}) * 1800');
    assert.match(target.rawExpr, /\$service/);
    assert.throws(() => interpolate('up{job="$nope"}', {}, 'panel X'), /panel X: unknown dashboard variable '\$nope'/);
  });

  it('has the panels the runbook needs, on the recorded series and Baton\'s own metrics', () => {
    const qs = dashboardQueries();
    const panels = new Set(qs.map((q) => `${q.dashboard} / ${q.panel}`));
    for (const p of [
      'Baton / Service / Decode TPS vs target',
      'Baton / Service / Desired vs actual replicas per role and pool',
      'Baton / Service / P:D ratio (replicas)',
      'Baton / Service / TTFT vs SLO',
      'Baton / Service / TBT vs SLO',
      'Baton / Service / GPU utilization per pool',
      'Baton / Service / Decision reasons',
      'Baton / Service / Staleness',
      'Baton / Adapter / Adapter up',
      'Baton / Adapter / Staleness per service',
    ]) assert.ok(panels.has(p), `missing panel ${p}`);
    const exprs = qs.map((q) => q.expr).join('\n');
    // Every recorded series a panel reads is defined in rules/prometheus/baton.rules.yaml.
    const rules = readFileSync(new URL('../../../rules/prometheus/baton.rules.yaml', import.meta.url), 'utf8');
    for (const m of exprs.matchAll(/\b(service_role(?:_pool)?:[a-z_]+:[a-z_0-9]+)/g)) assert.ok(rules.includes(`record: ${m[1]}`), `${m[1]} is not recorded`);
    for (const name of ['baton_rules_desired_replicas', 'baton_rules_decision_reasons_total', 'baton_rules_staleness_seconds', 'baton_adapter_http_request_duration_seconds_count']) {
      assert.ok(exprs.includes(name), `no panel reads ${name}`);
    }
  });

  it('writes stable, self-describing JSON (uid, datasource variable, ids unique per dashboard)', () => {
    for (const { file, dashboard } of dashboards()) {
      const json = renderDashboardJson(dashboard);
      assert.equal(json, renderDashboardJson(dashboards().find((x) => x.file === file)!.dashboard), `${file} is not deterministic`);
      const parsed = JSON.parse(json) as { uid: string; panels: { id?: number; type: string; datasource?: { uid: string } }[] };
      assert.ok(parsed.uid.startsWith('baton-'));
      const ids = parsed.panels.filter((p) => p.type !== 'row').map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, `${file}: duplicate panel ids`);
      for (const p of parsed.panels.filter((x) => x.type !== 'row')) assert.equal(p.datasource?.uid, '${datasource}');
      assert.ok(DASHBOARDS_DIR.endsWith('manifests/dashboards'));
    }
  });
});
