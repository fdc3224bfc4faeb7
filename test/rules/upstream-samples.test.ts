// Every engine preset against an exposition page in the shape its upstream serves at a pinned version
// (test/rules/upstream-samples/, each file names its source), scraped by a real Prometheus: the preset's queries must
// find the series and read the numbers the page implies, not only our own simulator's pages.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRules, type QueryCheck } from '../../rules/check.js';
import { PrometheusClient } from '../../rules/prometheus.js';
import { growingPage } from '../support/growing-page.js';
import { startTsdb, type RunningTsdb } from '../support/prometheus.js';

const SAMPLES = join(process.cwd(), 'test', 'rules', 'upstream-samples');

/** Serves each sample at /<file>; cumulative values (counters, _sum, _count, _bucket) grow by their value per second. */
async function serveSamples(files: string[]): Promise<{ server: Server; hostPort: string }> {
  const started = Date.now();
  const pages = new Map(files.map((f) => [`/${f}`, readFileSync(join(SAMPLES, f), 'utf8')]));
  const server = createServer((req, res) => {
    const page = pages.get(req.url ?? '');
    if (!page) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(growingPage(page, started));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, hostPort: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const pools = (min: number) => `    pools:
      - {name: prefill-h100, role: prefill, minReplicas: ${min}, maxReplicas: 8}
      - {name: decode-h100, role: decode, minReplicas: ${min}, maxReplicas: 8}`;
const guards = (queue: boolean) => `    guards:
      - {name: tbt_p99, slo: 0.05, tiers: [{above: 1.0, scaleOut: 0.1}]}
      - {name: ttft_p99, slo: 2, tiers: [{above: 1.0, scaleOut: 0.1}]}${queue ? '\n      - {name: queue, slo: 50, tiers: [{above: 1.0, scaleOut: 0.1}]}' : ''}`;

function rule(name: string, engine: string, match: Record<string, string>, router: boolean, queue: boolean): string {
  return `services:
  - name: ${name}
    engine: ${engine}
    match: {${Object.entries(match).map(([k, v]) => `${k}: "${v}"`).join(', ')}}
    window: 10s
    ratio: {prefill: 2, decode: 1}
    decodeTpsPerUnit: 1000
${pools(router ? 0 : 1)}
${guards(queue)}
${router ? '    wake: {}\n' : ''}`;
}

interface Case {
  preset: string;
  sample: string;
  match: Record<string, string>;
  router: boolean;
  /** Demand the wake signal should read: queued + in flight + arrivals per second. */
  wake?: number;
  /** Requests the `queue` guard should read (undefined: the page has no waiting gauge). */
  queue?: number;
}

const CASES: Case[] = [
  // vLLM: waiting for KV capacity only (3), not deferred (1), and only on the decode pod.
  { preset: 'vllm', sample: 'vllm-v1.prom', match: { service: 'svc-vllm' }, router: false, queue: 3 },
  { preset: 'sglang', sample: 'sglang.prom', match: { service: 'svc-sglang' }, router: false, queue: 3 },
  { preset: 'trtllm', sample: 'trtllm-serve.prom', match: { service: 'svc-trtllm' }, router: false, queue: 3 },
  { preset: 'dynamo', sample: 'dynamo-frontend.prom', match: { model: 'qwen/qwen3-32b' }, router: true, wake: 2 + 30 + 40, queue: 2 },
  { preset: 'llm-d', sample: 'llm-d-epp.prom', match: { model_name: 'qwen/qwen3-32b', stack: 'current' }, router: true, wake: 2 + 40, queue: 2 },
  { preset: 'llm-d', sample: 'llm-d-epp-older.prom', match: { model_name: 'qwen/qwen3-32b', stack: 'older' }, router: true, wake: 40 },
];

describe('rules: every engine preset reads an upstream-shaped exposition page on a real Prometheus', function () {
  this.timeout(90_000);
  let samples: Awaited<ReturnType<typeof serveSamples>>;
  let tsdb: RunningTsdb;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-samples-'));
    samples = await serveSamples([...new Set(CASES.map((c) => c.sample))]);
    // Engine pages are served by one decode and one prefill pod (the prefill pod's tokens must not count); a router
    // page by its one router. Target labels are what service discovery attaches.
    type Group = { targets: string[]; labels: Record<string, string> };
    const groups = CASES.flatMap((c): Group[] => {
      const path = { __metrics_path__: `/${c.sample}` };
      if (c.router) return [{ targets: [samples.hostPort], labels: { ...path, stack: c.match.stack ?? 'dynamo', job: `router-${c.sample}` } }];
      return ['decode-h100', 'prefill-h100'].map((pool) => ({ targets: [samples.hostPort], labels: { ...path, service: c.match.service!, pool, job: `${c.preset}-${pool}` } }));
    });
    tsdb = await startTsdb('prometheus', { targets: [], groups, scrapeIntervalS: 1 });
    const client = new PrometheusClient({ url: tsdb.url, timeoutMs: 3000 });
    try {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const r = await client.query('count(count_over_time(trtllm_generation_tokens_total[20s]) >= 13)');
        if (r.kind === 'vector' && r.series.length && r.series[0]!.value >= 2) break;
        if (Date.now() > deadline) throw new Error(`Prometheus did not scrape the samples:\n${tsdb.logTail()}`);
        await new Promise((r) => setTimeout(r, 300));
      }
    } finally {
      client.close();
    }
  });

  after(async () => {
    await tsdb?.stop();
    await new Promise((r) => samples?.server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  for (const c of CASES) {
    it(`${c.preset} (${c.sample}): decode TPS, TBT and TTFT p99${c.router ? ' and the wake signal' : ''} read what the page says`, async () => {
      const file = join(dir, `${c.sample}.yaml`);
      writeFileSync(file, rule(`svc-${c.sample.replace(/\W/g, '-')}`.replace(/-prom$/, ''), c.preset, c.match, c.router, c.queue !== undefined));
      const report = await checkRules([file], { prometheus: { url: tsdb.url }, scrapeIntervalS: 1 });
      assert.deepEqual(report.errors, []);
      const q = (name: string): QueryCheck => report.queries.find((x) => x.name === name)!;
      for (const x of report.queries) assert.equal(x.status, 'ok', `${x.name}: ${x.status} ${x.verdict ?? x.error ?? ''} ${x.diagnosis ?? ''}\n${x.promql}`);
      const values = (x: QueryCheck) => (x.shape?.kind === 'vector' ? x.shape.values : x.shape?.kind === 'scalar' ? [x.shape.value] : []);
      // 1200 generated tokens per second on the one decode pod (or at the router); the prefill pod's count is not decode
      // (2400 would be). rate() extrapolates to the window's edges, hence the tolerance.
      const tps = values(q('decodeTps'));
      assert.equal(tps.length, 1);
      assert.ok(Math.abs(tps[0]! - 1200) / 1200 < 0.15, `decode TPS ${tps[0]}`);
      const tbt = values(q('guard:tbt_p99'))[0]!;
      assert.ok(tbt > 0.04 && tbt <= 0.1, `tbt_p99 ${tbt}`);
      const ttft = values(q('guard:ttft_p99'))[0]!;
      assert.ok(ttft > 0.7 && ttft <= 2.5, `ttft_p99 ${ttft}`);
      if (c.queue !== undefined) assert.equal(values(q('guard:queue'))[0], c.queue);
      if (c.wake !== undefined) {
        const wake = values(q('wake'))[0]!;
        assert.ok(Math.abs(wake - c.wake) / c.wake < 0.15, `wake ${wake}, expected ${c.wake}`);
      }
    });
  }
});
