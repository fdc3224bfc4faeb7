// `simulate --serve-metrics --rules`: the simulated fleet carries the rule's labels, pool label values and engine
// metric names; flags and engines it cannot honour are refused; the adapter follower applies published values as HPAs.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRuleText } from '../../rules/load.js';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generateCa, issueCert } from '../../adapter/certs.js';
import { parseQuantity } from '../../adapter/quantity.js';
import { AdapterFollower } from '../../sim/exporter/follow-adapter.js';
import { startExporterScenario } from '../../sim/exporter/index.js';
import { ruleExporterPlan } from '../../sim/exporter/rule.js';
import type { SimPool } from '../../sim/fleet/fleet.js';

const RULE = (engine: string, extra = '') => `services:
  - name: coder
    engine: ${engine}
    match: {service: coder-svc, team: ml}
    poolLabel: tier
    ratio: {prefill: 3, decode: 2}
    decodeTpsPerUnit: 2500
    pools:
      - {name: coder-prefill, role: prefill, gpuType: H100, minReplicas: 1, maxReplicas: 8, poolLabelValue: p1}
      - {name: coder-decode, role: decode, gpuType: H200, minReplicas: 1, maxReplicas: 6, poolLabelValue: d1}
    guards:
      - {name: tbt_p99, slo: 0.03, tiers: [{above: 1.0, scaleOut: 0.1}]}
${extra}`;

const ruleOf = (text: string) => {
  const r = loadRuleText(text, 'coder.yaml');
  assert.deepEqual(r.errors, []);
  return r.services[0]!;
};

const baton = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../..'), 'bin/baton.js');

describe('simulate --serve-metrics --rules', function () {
  this.timeout(20_000);

  it('refuses flags of the other mode instead of ignoring them, and honours --fleet when serving', async () => {
    const refused = (args: string[]) => spawnSync('node', [baton, 'simulate', ...args], { encoding: 'utf8' });
    assert.match(refused(['--serve-metrics', '--diurnal']).stderr, /--diurnal does not apply to --serve-metrics/);
    assert.match(refused(['--serve-metrics', '--peak-rps', '9']).stderr, /--peak-rps does not apply to --serve-metrics/);
    assert.match(refused(['--port', '1']).stderr, /--port applies only with --serve-metrics/);
    assert.match(refused(['--serve-metrics', '--follow-adapter', 'https://127.0.0.1:1']).stderr, /--follow-adapter needs --rules/);
    const child = spawn('node', [baton, 'simulate', '--serve-metrics', '--fleet', 'homogeneous:H200', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      const url = await new Promise<string>((res, rej) => {
        child.stdout.on('data', (b: Buffer) => {
          out += b.toString();
          const m = /all pods +(http:\/\/\S+)\/metrics/.exec(out);
          if (m) res(m[1]!);
        });
        child.once('exit', () => rej(new Error(`exited: ${out}`)));
      });
      const state = await (await fetch(`${url}/state`)).json() as { pools: Record<string, { gpuType: string }> };
      assert.deepEqual([...new Set(Object.values(state.pools).map((p) => p.gpuType))], ['H200']);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it("serves the rule's match labels, pool label values and engine names, at the rule's SLO", async () => {
    const plan = ruleExporterPlan(ruleOf(RULE('sglang')));
    assert.equal(plan.slo.tbt.seconds, 0.03);
    assert.equal(plan.slo.tbt.from, 'rule guard tbt_p99');
    const run = await startExporterScenario({ ...plan.options, rps: 5, port: 0, coldStartS: 0 });
    try {
      const sd = await (await fetch(`${run.url}/sd`)).json() as { labels: Record<string, string> }[];
      const decode = sd.find((t) => t.labels.role === 'decode')!.labels;
      assert.equal(decode.service, 'coder-svc');
      assert.equal(decode.team, 'ml');
      assert.equal(decode.tier, 'd1');
      assert.equal(sd.find((t) => t.labels.role === 'prefill')!.labels.tier, 'p1');
      await new Promise((r) => setTimeout(r, 600));
      const page = await (await fetch(`${run.url}/metrics`)).text();
      const line = page.split('\n').find((l) => l.startsWith('sglang:generation_tokens_total{') && l.includes('role="decode"'))!;
      for (const l of ['service="coder-svc"', 'team="ml"', 'tier="d1"']) assert.ok(line.includes(l), `${l} in ${line}`);
    } finally {
      await run.close();
    }
  });

  it('a router preset (dynamo, llm-d) serves the rule\'s model as the router\'s own label, not as a target label', () => {
    const dynamo = ruleExporterPlan(ruleOf(RULE('dynamo').replace(/match: \{[^}]*\}/, 'match: {model: qwen/qwen3-32b, team: ml}')));
    assert.equal(dynamo.options.flavour, 'dynamo');
    assert.equal(dynamo.options.modelName, 'qwen/qwen3-32b');
    assert.deepEqual(dynamo.options.labels, { team: 'ml' });
    const llmd = ruleExporterPlan(ruleOf(RULE('llm-d').replace(/match: \{[^}]*\}/, 'match: {model_name: m1}')));
    assert.equal(llmd.options.modelName, 'm1');
    assert.deepEqual(llmd.options.labels, {});
  });

  it('refuses an engine the simulator does not serve, and a --flavour that contradicts the rule', () => {
    assert.throws(() => ruleExporterPlan(ruleOf(RULE('vllm-v0'))), /uses engine "vllm-v0"; the simulator serves vllm, sglang, trtllm, dynamo and llm-d metric names/);
    assert.throws(() => ruleExporterPlan(ruleOf(RULE('sglang')), { flavour: 'vllm' }), /--flavour vllm disagrees with the rule's engine "sglang"/);
  });

  it('the follower applies what the adapter published as HPAs would (⌈value⌉ within min/max) and holds without an answer', () => {
    assert.equal(parseQuantity('2500m'), 2.5);
    assert.equal(parseQuantity('3'), 3);
    assert.equal(parseQuantity('x'), undefined);
    const rule = ruleOf(RULE('sglang'));
    const f = new AdapterFollower(rule, { url: 'https://127.0.0.1:1', insecure: true });
    const pool = (name: string, role: 'prefill' | 'decode'): SimPool => ({ name, role, gpuType: 'H100', gpusPerInstance: 1, maxInstances: 8, units: 1 });
    const input = { now: 0, signals: {} as never, pools: [{ pool: pool('coder-prefill', 'prefill'), spec: 2, current: 2, ready: 2 }, { pool: pool('coder-decode', 'decode'), spec: 3, current: 3, ready: 3 }] };
    assert.deepEqual(f.control(input).replicas, { 'coder-prefill': 2, 'coder-decode': 3 }, 'no answer yet: keep');
    (f as unknown as { latest: Record<string, number> }).latest = { 'coder-prefill': 4.2, 'coder-decode': 9 };
    assert.deepEqual(f.control(input).replicas, { 'coder-prefill': 5, 'coder-decode': 6 });
    f.stop();
    assert.throws(() => new AdapterFollower(rule, { url: 'http://127.0.0.1:1' }), /must be an https:\/\/ URL/);
  });

  it('a broken adapter (huge answer, no answer, garbage) never moves the fleet: the follower keeps its replicas and says why', async () => {
    const ca = generateCa({ cn: 'follow-ca' });
    const serving = issueCert(ca, { cn: 'adapter', ips: ['127.0.0.1'] });
    let mode: 'huge' | 'hang' | 'garbage' = 'huge';
    const server = createHttpsServer({ key: serving.keyPem, cert: serving.certPem }, (_req, res) => {
      if (mode === 'hang') return; // never answers
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(mode === 'huge' ? `{"items":[${'{"metricLabels":{"pool":"coder-decode"},"value":"99"},'.repeat(30_000)}{}]}` : 'not json');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const rule = ruleOf(RULE('sglang'));
    const pool = (name: string, role: 'prefill' | 'decode'): SimPool => ({ name, role, gpuType: 'H100', gpusPerInstance: 1, maxInstances: 8, units: 1 });
    const input = { now: 0, signals: {} as never, pools: [{ pool: pool('coder-prefill', 'prefill'), spec: 2, current: 2, ready: 2 }, { pool: pool('coder-decode', 'decode'), spec: 3, current: 3, ready: 3 }] };
    try {
      for (const [m, why] of [['huge', /answer over \d+ bytes/], ['hang', /no answer from .* within 300 ms/], ['garbage', /JSON/]] as const) {
        mode = m;
        const f = new AdapterFollower(rule, { url, insecure: true, timeoutMs: 300, pollMs: 60_000 });
        await f.start();
        f.stop();
        assert.match(f.status().problem ?? '', why, m);
        assert.deepEqual(f.control(input).replicas, { 'coder-prefill': 2, 'coder-decode': 3 }, `${m}: the fleet keeps its replicas`);
      }
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

