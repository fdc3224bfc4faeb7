// Every engine preset against the simulator's flavour of it, scraped by a real Prometheus through http_sd (as pods are
// found in a cluster): vLLM, SGLang and TensorRT-LLM pods; Dynamo and llm-d as vLLM pods behind a router whose page
// carries the signals (and the wake signal). The same presets are checked against upstream-shaped pages in
// test/rules/upstream-samples.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRules, type QueryCheck } from '../../rules/check.js';
import { PrometheusClient } from '../../rules/prometheus.js';
import { FLAVOURS, startExporterScenario, type ExporterScenario, type Flavour } from '../../sim/exporter/index.js';
import { StaticPolicy } from '../../sim/policies/static.js';
import type { PoolPlan } from '../../sim/scenario.js';
import { startHttpSdPrometheus } from '../e2e/harness/prometheus.js';
import { ProcessSet } from '../e2e/harness/processes.js';

const RPS = 4;
const OUTPUT = 200;
const POOLS: PoolPlan[] = [
  { name: 'prefill-h100', role: 'prefill', gpuType: 'H100', gpusPerInstance: 1, maxInstances: 4, preference: 0, minReplicas: 1 },
  { name: 'decode-h200', role: 'decode', gpuType: 'H200', gpusPerInstance: 1, maxInstances: 4, preference: 0, minReplicas: 1 },
];

function rule(flavour: Flavour): string {
  const router = flavour === 'dynamo' || flavour === 'llm-d';
  const match = flavour === 'dynamo' ? `{model: model-${flavour}}` : flavour === 'llm-d' ? `{model_name: model-${flavour}}` : `{service: svc-${flavour}}`;
  return `services:
  - name: svc-${flavour}
    engine: ${flavour}
    match: ${match}
    window: 10s
    ratio: {prefill: 1, decode: 1}
    decodeTpsPerUnit: 1000
    pools:
      - {name: prefill-h100, role: prefill, minReplicas: ${router ? 0 : 1}, maxReplicas: 4}
      - {name: decode-h200, role: decode, minReplicas: ${router ? 0 : 1}, maxReplicas: 4}
    guards:
      - {name: tbt_p99, slo: 0.1, tiers: [{above: 1.0, scaleOut: 0.1}]}
      - {name: ttft_p99, slo: 5, tiers: [{above: 1.0, scaleOut: 0.1}]}
${router ? '    wake: {}\n' : ''}`;
}

describe('simulator flavours: each engine preset reads the simulated stack on a real Prometheus', function () {
  this.timeout(120_000);
  const sims: ExporterScenario[] = [];
  let sd: Server;
  let processes: ProcessSet;
  let promUrl = '';
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baton-flavours-'));
    for (const flavour of FLAVOURS) {
      sims.push(await startExporterScenario({
        rps: RPS, mix: [{ input: 1000, output: OUTPUT }], lengths: 'trace', pools: POOLS, policy: new StaticPolicy({ 'prefill-h100': 2, 'decode-h200': 2 }),
        coldStartS: 0, speed: 1, seed: 5, flavour, serviceLabel: `svc-${flavour}`, modelName: `model-${flavour}`,
      }));
    }
    // One http_sd list for the five simulated stacks.
    sd = createServer((_req, res) => {
      void Promise.all(sims.map((s) => fetch(`${s.url}/sd`).then((r) => r.json() as Promise<unknown[]>))).then(
        (lists) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(lists.flat())),
        () => res.writeHead(502).end());
    });
    await new Promise<void>((r) => sd.listen(0, '127.0.0.1', r));
    processes = new ProcessSet(dir);
    promUrl = (await startHttpSdPrometheus(processes, dir, `http://127.0.0.1:${(sd.address() as AddressInfo).port}/`, 1)).url;
    // A 10 s rate window over steady load, once every series covers it (a younger series reads low in rate()).
    const client = new PrometheusClient({ url: promUrl, timeoutMs: 3000 });
    try {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const r = await client.query('count(count_over_time(llm_d_epp_request_total[15s]) >= 13)');
        if (r.kind === 'vector' && r.series.length) break;
        if (Date.now() > deadline) throw new Error('Prometheus did not collect 20 s of the simulated stacks');
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      client.close();
    }
  });

  after(async () => {
    await processes?.stopAll();
    for (const s of sims) await s.close();
    await new Promise((r) => sd?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  for (const flavour of FLAVOURS) {
    it(`--flavour ${flavour}: the ${flavour} preset's decode TPS, guards${flavour === 'dynamo' || flavour === 'llm-d' ? ' and wake signal' : ''} are live and read the simulated load`, async () => {
      const file = join(dir, `${flavour}.yaml`);
      writeFileSync(file, rule(flavour));
      const report = await checkRules([file], { prometheus: { url: promUrl }, scrapeIntervalS: 1 });
      assert.deepEqual(report.errors, []);
      for (const q of report.queries) assert.equal(q.status, 'ok', `${q.name}: ${q.status} ${q.verdict ?? q.error ?? ''} ${q.diagnosis ?? ''}\n${q.promql}`);
      const value = (q: QueryCheck) => (q.shape?.kind === 'vector' ? q.shape.values.reduce((a, b) => a + b, 0) : q.shape?.kind === 'scalar' ? q.shape.value : NaN);
      const tps = value(report.queries.find((q) => q.name === 'decodeTps')!);
      // RPS × OUTPUT tokens per second, with Poisson arrivals over a 10 s window.
      assert.ok(tps > 0.5 * RPS * OUTPUT && tps < 1.5 * RPS * OUTPUT, `decode TPS ${tps}, expected about ${RPS * OUTPUT}`);
      const wake = report.queries.find((q) => q.name === 'wake');
      if (wake) assert.ok(value(wake) >= 0.5 * RPS, `wake ${value(wake)}: arrivals alone are ${RPS}/s`);
    });
  }
});
