// Every panel of Baton's Grafana dashboards against a real Prometheus: it evaluates rules/prometheus/baton.rules.yaml,
// scrapes the simulator's exporter (vLLM + DCGM series) and Baton's own /metrics (a real adapter evaluating a rule on
// that Prometheus and serving HPA-style requests). Each dashboardQueries() expression must parse and return data.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAdapter, type RunningAdapter } from '../../adapter/main.js';
import { dashboardQueries, type PanelQuery } from '../../dashboards/index.js';
import { RULES_FILE } from '../../rules/prometheus/manifest.js';
import { startExporterScenario, type ExporterScenario } from '../../sim/exporter/index.js';
import { StaticPolicy } from '../../sim/policies/static.js';
import { homogeneousPools } from '../../sim/scenario.js';
import { ensureInstalled, freePort } from '../support/prometheus.js';
import { waitFor } from './harness/api.js';
import { ProcessSet } from './harness/processes.js';
import { ruleYaml, type PoolSpec } from './harness/workload.js';

const SERVICE = 'service-a'; // the simulator's preset A
const NS = 'llm';
const POOLS: PoolSpec[] = [
  { name: 'prefill-h100', role: 'prefill', gpuType: 'H100', nodes: 1, gpusPerNode: 8, minReplicas: 1, maxReplicas: 20 },
  { name: 'decode-h100', role: 'decode', gpuType: 'H100', nodes: 1, gpusPerNode: 8, minReplicas: 1, maxReplicas: 20 },
];

interface ApiAnswer {
  status: string;
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: unknown[] | [number, string] };
}

describe('e2e: every dashboard panel query returns data from a real Prometheus (recording rules, simulator, Baton /metrics)', function () {
  this.timeout(240_000);
  let dir = '';
  let sim: ExporterScenario | undefined;
  let adapter: RunningAdapter | undefined;
  let procs: ProcessSet | undefined;
  let promUrl = '';
  let keep = false;
  const queries: PanelQuery[] = dashboardQueries({ service: SERVICE });

  const instant = async (expr: string): Promise<ApiAnswer> => {
    const r = await fetch(`${promUrl}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: expr }) });
    return (await r.json()) as ApiAnswer;
  };
  const hasData = (a: ApiAnswer) => a.status === 'success' && (a.data?.resultType === 'scalar' || a.data?.resultType === 'string' || (a.data?.result.length ?? 0) > 0);

  before(async function () {
    this.timeout(120_000);
    ensureInstalled('prometheus');
    dir = mkdtempSync(join(tmpdir(), 'baton-e2e-dashboards-'));
    procs = new ProcessSet(dir);
    sim = await startExporterScenario({
      rps: 4, speed: 1, namespace: NS, lengths: 'trace', mix: [{ input: 2000, output: 250 }],
      pools: homogeneousPools('H100', 20), policy: new StaticPolicy({ 'prefill-h100': 3, 'decode-h100': 2 }), seed: 11,
    });
    const [promPort, adapterPort] = [await freePort(), await freePort()];
    promUrl = `http://127.0.0.1:${promPort}`;
    copyFileSync(RULES_FILE, join(dir, 'baton.rules.yaml'));
    writeFileSync(join(dir, 'prometheus.yml'), [
      'global: {scrape_interval: 1s, evaluation_interval: 1s}',
      'rule_files: [baton.rules.yaml]',
      'scrape_configs:',
      '  - job_name: engines',
      `    http_sd_configs: [{url: ${JSON.stringify(`${sim.url}/sd`)}, refresh_interval: 2s}]`,
      // The adapter dashboard's $job default: the ServiceMonitor's Service name.
      '  - job_name: baton',
      '    scheme: https',
      '    tls_config: {insecure_skip_verify: true}',
      `    static_configs: [{targets: ["127.0.0.1:${adapterPort}"]}]`,
      '',
    ].join('\n'));
    procs.start('prometheus', 'prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn']);
    await waitFor('prometheus ready', 30_000, async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : undefined), 200, () => procs!.assertAlive());
    const rulesDir = join(dir, 'rules');
    mkdirSync(rulesDir);
    writeFileSync(join(rulesDir, `${SERVICE}.yaml`), ruleYaml({ service: SERVICE, namespace: NS, pools: POOLS, ratio: { prefill: 3, decode: 2 }, decodeTpsPerUnit: 500, window: '15s', queryIntervalS: 2 }));
    adapter = await startAdapter({
      rulesDir, prometheus: { url: promUrl }, host: '127.0.0.1', port: adapterPort, tls: { selfSigned: true }, security: { mode: 'insecure-dev' },
      log: () => undefined,
    });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') keep = true;
  });

  after(async () => {
    await adapter?.close();
    await procs?.stopAll();
    await sim?.close();
    if (keep) console.error(`(dashboards e2e: kept ${dir}; Prometheus log ${join(dir, 'prometheus.log')})`);
    else if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the dashboards have queries (both dashboards, every panel)', () => {
    assert.ok(queries.length >= 25, `only ${queries.length} queries`);
    assert.deepEqual([...new Set(queries.map((q) => q.dashboard))].sort(), ['Baton / Adapter', 'Baton / Service']);
  });

  it('every panel query parses and returns data', async () => {
    // HPA-style reads, so the adapter's request metrics have series.
    const hpaRead = () => new Promise<number>((resolve, reject) => {
      https.get(`${adapter!.server.url}/apis/external.metrics.k8s.io/v1beta1/namespaces/${NS}/baton_desired_replicas?labelSelector=service%3D${SERVICE}`, { rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    await waitFor('Baton serves a decision', 60_000, async () => ((await hpaRead()) === 200 ? true : undefined), 500);
    // First a parse check of every query (no waiting helps a parse error).
    for (const q of queries) {
      const a = await instant(q.expr);
      assert.ok(a.status === 'success' || a.errorType !== 'bad_data', `${q.dashboard} / ${q.panel} / ${q.refId}: ${a.errorType}: ${a.error}\n  ${q.expr}`);
    }
    // Then data: rates need two scrapes, recording rules an evaluation on top, increase(...[5m]) two samples.
    const t0 = Date.now();
    const pending = new Set(queries);
    while (pending.size > 0 && Date.now() - t0 < 120_000) {
      await hpaRead();
      for (const q of [...pending]) if (hasData(await instant(q.expr))) pending.delete(q);
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 2000));
    }
    const empty = [...pending].map((q) => `${q.dashboard} / ${q.panel} / ${q.refId}: ${q.expr}`);
    assert.deepEqual(empty, [], `panels without data after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    console.log(`      ${queries.length} panel queries returned data ${((Date.now() - t0) / 1000).toFixed(1)} s after Baton's first decision`);
  });

  it('a broken query is caught (the check can fail)', async () => {
    const a = await instant('sum(rate(vllm:generation_tokens_total[1m])');
    assert.equal(a.status, 'error');
    assert.equal(a.errorType, 'bad_data');
    assert.equal(hasData(await instant('service_role_pool:vllm_decode_tokens:rate1m{service="no-such-service"}')), false);
  });
});
