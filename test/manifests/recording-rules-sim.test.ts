// The recording rules on real data: the simulator's exporter (vLLM + DCGM series with service/role/pool labels, as the
// PodMonitor relabels them in a cluster) scraped by a real Prometheus that evaluates rules/prometheus/baton.rules.yaml.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RULES_FILE } from '../../rules/prometheus/manifest.js';
import { startExporterScenario, type ExporterScenario } from '../../sim/exporter/index.js';
import { StaticPolicy } from '../../sim/policies/static.js';
import { homogeneousPools } from '../../sim/scenario.js';
import { ensureInstalled, freePort } from '../support/prometheus.js';

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

describe('recording rules on the simulator through a real Prometheus', function () {
  this.timeout(180_000);
  let sim: ExporterScenario | undefined;
  let prom: ChildProcess | undefined;
  let dir: string | undefined;
  let url = '';

  before(async () => {
    ensureInstalled('prometheus');
    sim = await startExporterScenario({
      rps: 4, speed: 10, ratesPerSimSecond: true, stepMs: 100, namespace: 'llm', lengths: 'trace', mix: [{ input: 3000, output: 350 }],
      pools: homogeneousPools('H100', 20), policy: new StaticPolicy({ 'prefill-h100': 3, 'decode-h100': 2 }),
    });
    dir = mkdtempSync(join(tmpdir(), 'baton-rules-sim-'));
    copyFileSync(RULES_FILE, join(dir, 'baton.rules.yaml'));
    writeFileSync(join(dir, 'prometheus.yml'), [
      'global: {scrape_interval: 1s, evaluation_interval: 1s}',
      'rule_files: [baton.rules.yaml]',
      'scrape_configs:',
      '  - job_name: engines',
      `    static_configs: [{targets: ["${new URL(sim.url).host}"]}]`,
      '',
    ].join('\n'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    prom = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  });
  after(async () => {
    if (prom?.pid) prom.kill('SIGTERM');
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const query = async (expr: string): Promise<Sample[]> => {
    try {
      const r = (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as { data: { result: Sample[] } };
      return r.data.result;
    } catch {
      return []; // not up yet
    }
  };
  const waitFor = async (expr: string, ok: (s: Sample[]) => boolean): Promise<Sample[]> => {
    const deadline = Date.now() + 90_000;
    let last: Sample[] = [];
    while (Date.now() < deadline) {
      last = await query(expr);
      if (ok(last)) return last;
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.fail(`${expr}: got ${JSON.stringify(last)}`);
  };
  const byPool = (s: Sample[]): Record<string, number> => Object.fromEntries(s.map((x) => [x.metric.pool ?? '', Number(x.value[1])]));

  it('decode TPS, KV-miss prefill TPS (no prefix-cache series: every prompt token), serving pods, GPU utilization per pool', async () => {
    const decode = await waitFor('service_role_pool:vllm_decode_tokens:rate1m', (s) => s.length === 1 && Number(s[0]!.value[1]) > 0);
    assert.deepEqual({ ...decode[0]!.metric, __name__: undefined }, { __name__: undefined, namespace: 'llm', service: 'service-a', role: 'decode', pool: 'decode-h100' });
    const miss = byPool(await waitFor('service_role_pool:vllm_prefill_kv_miss_tokens:rate1m', (s) => s.length === 1));
    const all = byPool(await query('service_role_pool:vllm_prefill_tokens:rate1m'));
    assert.ok(miss['prefill-h100']! > 0);
    assert.ok(Math.abs(miss['prefill-h100']! - all['prefill-h100']!) <= 1e-9 * all['prefill-h100']!, `${miss['prefill-h100']} vs ${all['prefill-h100']}`);
    assert.deepEqual(byPool(await waitFor('service_role_pool:vllm_serving_pods:count', (s) => s.length === 2)), { 'prefill-h100': 3, 'decode-h100': 2 });
    const gpu = byPool(await waitFor('service_role_pool:dcgm_gpu_utilization:avg', (s) => s.length === 2));
    for (const v of Object.values(gpu)) assert.ok(v >= 0 && v <= 100);
  });

  it('TBT p99 on decode and TTFT p99 on prefill are finite seconds', async () => {
    const tbt = await waitFor('service_role:vllm_inter_token_latency_seconds:histogram_quantile{role="decode",quantile="0.99"}', (s) => s.length === 1 && Number.isFinite(Number(s[0]!.value[1])));
    const ttft = await waitFor('service_role:vllm_time_to_first_token_seconds:histogram_quantile{role="prefill",quantile="0.99"}', (s) => s.length === 1 && Number.isFinite(Number(s[0]!.value[1])));
    assert.ok(Number(tbt[0]!.value[1]) > 0 && Number(tbt[0]!.value[1]) < 1);
    assert.ok(Number(ttft[0]!.value[1]) > 0);
  });
});
