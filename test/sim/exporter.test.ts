// Exporter mode: simulated pods served over HTTP with real engine metric names, scraped and parsed like Prometheus would.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_NETWORK, type SimPool } from '../../sim/fleet/fleet.js';
import { StaticPolicy } from '../../sim/policies/static.js';
import type { SimPolicy } from '../../sim/policy.js';
import { homogeneousPools } from '../../sim/scenario.js';
import { servicePreset } from '../../sim/service.js';
import { createSimulation, type SimulationConfig } from '../../sim/simulate.js';
import {
  BucketHistogram, FleetMetrics, formatLe, renderExposition, startExporter, startExporterScenario, steerableArrivals,
  serveMetricsCommandAction, type ExporterScenario, type RunningExporter,
} from '../../sim/exporter/index.js';
import { renderLabels } from '../../sim/exporter/render.js';
import { freePort } from '../support/prometheus.js';

// ---------- a small parser for the text exposition format ----------

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\.|[^"\\])*)"\s*(,|$)/y;

function parseLabels(text: string, line: string): Record<string, string> {
  const out: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const m = LABEL.exec(text);
    if (!m) throw new Error(`bad labels in: ${line}`);
    if (m[1]! in out) throw new Error(`duplicate label ${m[1]} in: ${line}`);
    out[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  }
  return out;
}

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix) && types.get(name.slice(0, -suffix.length)) === 'histogram') return name.slice(0, -suffix.length);
  }
  return undefined;
}

/** Parses and checks the page: one TYPE per family, declared before its samples, no duplicate series, numeric values. */
function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      assert.ok(name && type && ['counter', 'gauge', 'histogram'].includes(type), `bad TYPE line: ${line}`);
      assert.ok(!types.has(name!), `second TYPE line for ${name}`);
      types.set(name!, type!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    assert.ok(m, `unparsable line: ${line}`);
    const family = familyOf(m[1]!, types);
    assert.ok(family, `sample before/without its TYPE: ${line}`);
    assert.ok(!seen.has(m[1]! + '{' + (m[2] ?? '') + '}'), `duplicate series: ${line}`);
    seen.add(m[1]! + '{' + (m[2] ?? '') + '}');
    const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
    assert.ok(!Number.isNaN(value), `bad value: ${line}`);
    samples.push({ name: m[1]!, labels: m[2] ? parseLabels(m[2], line) : {}, value });
  }
  return { types, samples };
}

const select = (e: Exposition, name: string, where: Record<string, string> = {}): Sample[] =>
  e.samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v));
const total = (e: Exposition, name: string, where: Record<string, string> = {}): number =>
  select(e, name, where).reduce((a, s) => a + s.value, 0);

async function getText(url: string): Promise<string> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `${url} answered ${res.status}`);
  return res.text();
}

async function scrape(url: string): Promise<Exposition> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

interface SdGroup {
  targets: string[];
  labels: Record<string, string>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// A fixed request shape makes the expected decode rate exact: rps × 350 tokens/s.
const MIX = [{ input: 3000, output: 350 }];

/** Simulated generation tokens/s over `wallMs` of wall time, from two scrapes of /metrics. */
async function generationRate(run: RunningExporter, wallMs: number): Promise<number> {
  const a = await scrape(run.url + '/metrics');
  const ta = run.elapsedSimS();
  await sleep(wallMs);
  const b = await scrape(run.url + '/metrics');
  const tb = run.elapsedSimS();
  // Pods that vanished between the scrapes would make this an underestimate; the fleets here only grow.
  return (total(b, 'vllm:generation_tokens_total') - total(a, 'vllm:generation_tokens_total')) / (tb - ta);
}

/** A policy that follows a replica script: the last entry whose `at` has passed wins. */
class ScriptedPolicy implements SimPolicy {
  readonly name = 'scripted';
  constructor(private readonly script: { at: number; replicas: Record<string, number> }[]) {}
  initial(): Record<string, number> {
    return this.script[0]!.replicas;
  }
  control(input: { now: number }): { replicas: Record<string, number> } {
    let r = this.script[0]!.replicas;
    for (const s of this.script) if (s.at <= input.now) r = s.replicas;
    return { replicas: r };
  }
}

function smallConfig(pools: SimPool[], coldStartS = 10): SimulationConfig {
  const svc = servicePreset('A');
  return {
    service: { name: svc.name, sloTtftS: svc.sloTtftS, sloTbtS: svc.sloTbtS, shape: svc.shape, ratio: { prefill: 1, decode: 1 } },
    pools, network: DEFAULT_NETWORK, coldStartS, tickS: 5, windowS: 30, startS: 0, durationS: Infinity, seed: 7, timelineStepS: 300,
  };
}

const H100_POOLS: SimPool[] = [
  { name: 'prefill-h100', role: 'prefill', gpuType: 'H100', gpusPerInstance: 1, maxInstances: 100, units: 1 },
  { name: 'decode-h100', role: 'decode', gpuType: 'H100', gpusPerInstance: 1, maxInstances: 100, units: 1 },
];

describe('sim exporter: building blocks', () => {
  it('histogram buckets are cumulative in the exposition and weighted observations count n times', () => {
    const h = new BucketHistogram([0.01, 0.05, 1]);
    h.observe(0.02, 10);
    h.observe(0.5);
    h.observe(5);
    assert.deepEqual([...h.counts], [0, 10, 1, 1]);
    assert.equal(h.count, 12);
    assert.ok(Math.abs(h.sum - (0.2 + 0.5 + 5)) < 1e-12);
    assert.throws(() => new BucketHistogram([1, 1]), /increase strictly/);
    assert.deepEqual([1, 0.025, 2560, Infinity].map(formatLe), ['1.0', '0.025', '2560.0', '+Inf']);
  });

  it('escapes label values and refuses bad label names', () => {
    assert.equal(renderLabels({ a: 'x"y\\z\nw' }), 'a="x\\"y\\\\z\\nw"');
    assert.throws(() => renderLabels({ 'bad-name': 'x' }), /invalid label name 'bad-name'/);
    assert.throws(() => new FleetMetrics({ labels: { pod: 'x' } }), /'pod' is set per pod/);
  });

  it('steerable arrivals follow the rate in force when each arrival is drawn', () => {
    const src = steerableArrivals({ rps: 10, mix: MIX, seed: 3 });
    const it = src[Symbol.iterator]();
    let last = 0;
    for (let k = 0; k < 2000; k++) last = it.next().value!.arrival;
    const slowSpan = last;
    src.setRate(40);
    const from = last;
    for (let k = 0; k < 2000; k++) last = it.next().value!.arrival;
    const fastSpan = last - from;
    assert.ok(Math.abs(slowSpan / 2000 - 0.1) < 0.01, `mean gap at 10 rps: ${slowSpan / 2000}`);
    assert.ok(Math.abs(fastSpan / 2000 - 0.025) < 0.003, `mean gap at 40 rps: ${fastSpan / 2000}`);
    // A snapshot keeps the rate it was taken at and ends at its duration.
    const snap = [...src.snapshot(10)];
    assert.ok(snap.length > 300 && snap.length < 500, `snapshot at 40 rps over 10 s: ${snap.length}`);
    assert.ok(snap.every((r) => r.arrival < 10 && r.input === 3000 && r.output === 350));
  });

  it('steerable arrivals refuse a zero rate and an empty mix with clear errors', () => {
    assert.throws(() => steerableArrivals({ rps: 0, mix: MIX }), /rps must be a finite number > 0, got 0/);
    assert.throws(() => steerableArrivals({ rps: 1, mix: [] }), /mix .* is empty/);
    assert.throws(() => steerableArrivals({ rps: 1, mix: [{ input: 0, output: 3 }] }), /mix\[0\] needs input >= 1/);
    assert.throws(() => steerableArrivals({ rps: 1, mix: MIX }).setRate(NaN), /setRate: rps must be/);
  });
});

describe('sim exporter: a served scenario (vLLM flavour)', function () {
  this.timeout(30_000);
  let run: ExporterScenario;

  before(async () => {
    run = await startExporterScenario({
      rps: 20, mix: MIX, lengths: 'trace', speed: 40, pools: homogeneousPools('H100', 40), coldStartS: 20, namespace: 'sim-ns', labels: { cluster: 'test' },
    });
    await sleep(1500); // 60 simulated seconds: every pod has served requests
  });
  after(async () => {
    await run?.close();
  });

  it('serves every family once with the real names, types and labels', async () => {
    const e = await scrape(run.url + '/metrics');
    const expected: Record<string, string> = {
      'vllm:prompt_tokens_total': 'counter', 'vllm:generation_tokens_total': 'counter', 'vllm:num_preemptions_total': 'counter',
      'vllm:request_success_total': 'counter', 'vllm:num_requests_running': 'gauge', 'vllm:num_requests_waiting': 'gauge',
      'vllm:kv_cache_usage_perc': 'gauge', 'vllm:time_to_first_token_seconds': 'histogram', 'vllm:inter_token_latency_seconds': 'histogram',
      'vllm:e2e_request_latency_seconds': 'histogram', DCGM_FI_DEV_GPU_UTIL: 'gauge', DCGM_FI_PROF_SM_ACTIVE: 'gauge',
    };
    for (const [name, type] of Object.entries(expected)) assert.equal(e.types.get(name), type, name);
    const pods = new Set(select(e, 'vllm:generation_tokens_total').map((s) => s.labels.pod));
    assert.ok(pods.size >= 4, `pods: ${[...pods].join(', ')}`);
    for (const s of e.samples) {
      if (s.name === 'DCGM_FI_DEV_GPU_UTIL' || s.name === 'DCGM_FI_PROF_SM_ACTIVE') {
        assert.equal(s.labels.gpu, '0');
        assert.equal(s.labels.modelName, 'H100');
      } else {
        assert.equal(s.labels.model_name, 'meta-llama/Llama-3.1-8B-Instruct');
        assert.equal(s.labels.engine, '0');
      }
      assert.match(s.labels.pod!, /^service-a-(prefill|decode)-h100-\d+$/);
      assert.equal(s.labels.service, 'service-a');
      assert.equal(s.labels.namespace, 'sim-ns');
      assert.equal(s.labels.cluster, 'test');
      assert.equal(s.labels.role, s.labels.pod!.includes('-prefill-') ? 'prefill' : 'decode');
      assert.equal(s.labels.pool, `${s.labels.role}-h100`);
    }
    for (const s of select(e, 'vllm:request_success_total')) assert.equal(s.labels.finished_reason, 'stop');
    for (const s of select(e, 'vllm:kv_cache_usage_perc')) assert.ok(s.value >= 0 && s.value <= 1);
    // vLLM's TTFT buckets, cumulative, ending in +Inf = _count.
    const pod = select(e, 'vllm:time_to_first_token_seconds_count', { role: 'prefill' })[0]!.labels.pod!;
    const buckets = select(e, 'vllm:time_to_first_token_seconds_bucket', { pod });
    assert.deepEqual(buckets.map((b) => b.labels.le), ['0.001', '0.005', '0.01', '0.02', '0.04', '0.06', '0.08', '0.1', '0.25', '0.5', '0.75', '1.0', '2.5', '5.0', '7.5', '10.0', '20.0', '40.0', '80.0', '160.0', '640.0', '2560.0', '+Inf']);
    for (let k = 1; k < buckets.length; k++) assert.ok(buckets[k]!.value >= buckets[k - 1]!.value);
    assert.equal(buckets.at(-1)!.value, total(e, 'vllm:time_to_first_token_seconds_count', { pod }));
  });

  it('prefill pods count prompt tokens and TTFT, decode pods generation tokens, ITL, running and KV', async () => {
    const e = await scrape(run.url + '/metrics');
    assert.ok(total(e, 'vllm:prompt_tokens_total', { role: 'prefill' }) > 0);
    assert.equal(total(e, 'vllm:prompt_tokens_total', { role: 'decode' }), 0);
    assert.equal(total(e, 'vllm:generation_tokens_total', { role: 'prefill' }), 0);
    assert.ok(total(e, 'vllm:time_to_first_token_seconds_count', { role: 'prefill' }) > 0);
    for (const s of select(e, 'vllm:generation_tokens_total', { role: 'decode' })) assert.ok(s.value > 0, `decode pod ${s.labels.pod} generated nothing`);
    assert.ok(total(e, 'vllm:inter_token_latency_seconds_count', { role: 'decode' }) > 0);
    assert.ok(total(e, 'vllm:e2e_request_latency_seconds_count', { role: 'decode' }) > 0);
    assert.ok(total(e, 'vllm:num_requests_running', { role: 'decode' }) > 0);
    assert.ok(total(e, 'vllm:kv_cache_usage_perc', { role: 'decode' }) > 0);
    // Mean ITL is a decode step: milliseconds, inside the 40 ms TBT SLO at this load.
    const itl = total(e, 'vllm:inter_token_latency_seconds_sum') / total(e, 'vllm:inter_token_latency_seconds_count');
    assert.ok(itl > 0.002 && itl < 0.04, `mean ITL ${itl}`);
    // DCGM: a decode GPU with a batch reads ~86 %.
    const busyDecode = select(e, 'vllm:num_requests_running', { role: 'decode' }).filter((s) => s.value > 5).map((s) => s.labels.pod!);
    assert.ok(busyDecode.length > 0);
    for (const pod of busyDecode) {
      const util = select(e, 'DCGM_FI_DEV_GPU_UTIL', { pod })[0]!.value;
      assert.ok(util >= 80 && util <= 90, `decode util of ${pod}: ${util}`);
      const sm = select(e, 'DCGM_FI_PROF_SM_ACTIVE', { pod })[0]!.value;
      assert.ok(sm > 0.25 && sm < 0.7, `decode SM activity of ${pod}: ${sm}`);
    }
  });

  it('counters only grow between scrapes', async () => {
    const a = await scrape(run.url + '/metrics');
    await sleep(500);
    const b = await scrape(run.url + '/metrics');
    let grew = 0;
    for (const s of a.samples) {
      if (a.types.get(s.name) !== 'counter' && !s.name.endsWith('_count') && !s.name.endsWith('_bucket')) continue;
      const later = b.samples.find((x) => x.name === s.name && JSON.stringify(x.labels) === JSON.stringify(s.labels));
      if (!later) continue; // the pod went away
      assert.ok(later.value >= s.value, `${s.name}{pod=${s.labels.pod}} went from ${s.value} to ${later.value}`);
      if (later.value > s.value) grew++;
    }
    assert.ok(grew > 10, `only ${grew} counters grew`);
    assert.ok(total(b, 'vllm:generation_tokens_total') > total(a, 'vllm:generation_tokens_total'));
  });

  it('generation tokens per simulated second match the simulator decode TPS and rps × output', async () => {
    const rate = await generationRate(run, 2000);
    const state = (await (await fetch(run.url + '/state')).json()) as { signals: { decodeTps: number } };
    const expected = 20 * 350;
    assert.ok(Math.abs(rate / expected - 1) < 0.2, `counter rate ${rate.toFixed(0)} vs rps×output ${expected}`);
    assert.ok(Math.abs(rate / state.signals.decodeTps - 1) < 0.25, `counter rate ${rate.toFixed(0)} vs sim signal ${state.signals.decodeTps.toFixed(0)}`);
  });

  it('serves service discovery whose per-pod paths give each engine page without target labels', async () => {
    const sd = (await (await fetch(run.url + '/sd')).json()) as SdGroup[];
    const e = await scrape(run.url + '/metrics');
    const pods = new Set(select(e, 'vllm:num_requests_running').map((s) => s.labels.pod!));
    assert.deepEqual(new Set(sd.map((g) => g.labels.pod!)), pods);
    const host = new URL(run.url).host;
    for (const g of sd) {
      assert.deepEqual(g.targets, [host]);
      assert.equal(g.labels.__metrics_path__, `/pods/${g.labels.pod}/metrics`);
      assert.equal(g.labels.service, 'service-a');
      assert.equal(g.labels.namespace, 'sim-ns');
      assert.equal(g.labels.cluster, 'test');
      assert.ok(g.labels.role === 'prefill' || g.labels.role === 'decode');
      assert.equal(g.labels.pool, `${g.labels.role}-h100`);
    }
    const decode = sd.find((g) => g.labels.role === 'decode')!;
    const page = parseExposition(await getText(run.url + decode.labels.__metrics_path__));
    for (const s of page.samples) assert.equal(s.labels.pod, undefined, 'a pod page must leave target labels to Prometheus');
    const own = total(page, 'vllm:generation_tokens_total');
    assert.ok(own > 0);
    assert.ok(own >= total(e, 'vllm:generation_tokens_total', { pod: decode.labels.pod! }));
    assert.equal((await fetch(run.url + '/pods/no-such-pod/metrics')).status, 404);
  });

  it('answers /healthz and /state with replicas per pool and the last signals', async () => {
    assert.equal(await getText(run.url + '/healthz'), 'ok\n');
    const s = (await (await fetch(run.url + '/state')).json()) as Record<string, unknown> & { pools: Record<string, { ready: number; role: string }> };
    assert.equal(s.service, 'service-a');
    assert.equal(s.policy, 'coordinated');
    assert.equal(s.rps, 20);
    assert.ok((s.simTimeS as number) > 60);
    assert.ok(s.pools['prefill-h100']!.ready >= 1 && s.pools['decode-h100']!.ready >= 1);
    assert.ok(typeof (s.signals as { decodeTps: number }).decodeTps === 'number');
    assert.equal((await fetch(run.url + '/nope')).status, 404);
  });
});

describe('sim exporter: steering the load', function () {
  this.timeout(30_000);
  let run: ExporterScenario | undefined;
  afterEach(async () => {
    await run?.close();
    run = undefined;
  });

  it('raising the rate with setLoadFactor raises the generation rate accordingly', async () => {
    run = await startExporterScenario({ rps: 8, mix: MIX, lengths: 'trace', speed: 40, pools: homogeneousPools('H100', 40), coldStartS: 10 });
    await sleep(800);
    const before = await generationRate(run, 1500);
    run.setLoadFactor(3);
    assert.equal(run.arrivals.rps, 24);
    await sleep(1000); // 40 simulated seconds: decode catches up with the new arrivals
    const after = await generationRate(run, 1500);
    assert.ok(Math.abs(before / (8 * 350) - 1) < 0.25, `before: ${before.toFixed(0)} tok/s`);
    assert.ok(after / before > 2.2, `after ×3 load: ${after.toFixed(0)} vs ${before.toFixed(0)} tok/s`);
  });

  it('POST /load sets the rate and refuses bad bodies', async () => {
    const fixed = new StaticPolicy({ 'prefill-h100': 2, 'decode-h100': 3 });
    run = await startExporterScenario({ rps: 5, mix: MIX, lengths: 'trace', speed: 20, pools: homogeneousPools('H100', 10), policy: fixed });
    const state = (await (await fetch(run.url + '/state')).json()) as { policy: string; pools: Record<string, { ready: number }> };
    assert.equal(state.policy, 'static');
    assert.deepEqual([state.pools['prefill-h100']!.ready, state.pools['decode-h100']!.ready], [2, 3]);
    const post = (body: string): Promise<Response> => fetch(run!.url + '/load', { method: 'POST', body });
    const ok = await post('{"rps": 12}');
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { rps: 12 });
    assert.equal(run.arrivals.rps, 12);
    assert.equal((await post('{"factor": 3}')).status, 200);
    assert.equal(run.arrivals.rps, 15);
    assert.equal((await post('{"rps": 0}')).status, 400);
    assert.equal((await post('not json')).status, 400);
    assert.equal(run.arrivals.rps, 15);
  });

  it('serveMetricsCommandAction prints where to scrape, serves, and stops on abort', async () => {
    const lines: string[] = [];
    const stop = new AbortController();
    const done = serveMetricsCommandAction({ rps: 5, mix: MIX, lengths: 'trace', speed: 20, pools: homogeneousPools('H100', 10), log: (l) => lines.push(l), signal: stop.signal });
    const deadline = Date.now() + 5000;
    while (!lines.some((l) => l.includes('/metrics')) && Date.now() < deadline) await sleep(20);
    const url = /(http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(lines.join('\n'))?.[1];
    assert.ok(url, `no URL in: ${lines.join('\n')}`);
    assert.ok(lines.some((l) => l.includes(`http_sd_configs: [{ url: "${url}/sd"`)));
    assert.equal(await getText(url + '/healthz'), 'ok\n');
    stop.abort();
    await done;
    assert.equal(lines.at(-1), 'exporter stopped');
    await assert.rejects(fetch(url + '/healthz'));
  });

  it('refuses the oracle, which needs foresight', async () => {
    await assert.rejects(startExporterScenario({ policy: 'oracle' }), /oracle' needs foresight/);
    await assert.rejects(startExporterScenario({ policy: 'nope' as 'static' }), /unknown policy 'nope'; known: static, hpa-util/);
  });
});

describe('sim exporter: pods come and go', function () {
  this.timeout(30_000);
  let run: RunningExporter | undefined;
  after(async () => {
    await run?.close();
  });

  it('a ready-made simulation without its metrics is refused', async () => {
    const sim = createSimulation(smallConfig(H100_POOLS), [], new ScriptedPolicy([{ at: 0, replicas: { 'prefill-h100': 1, 'decode-h100': 1 } }]));
    await assert.rejects(startExporter({ simulation: sim }), /needs `metrics`/);
  });

  it('new pods appear once ready; scaled-in pods vanish from /sd and /metrics', async () => {
    const policy = new ScriptedPolicy([
      { at: 0, replicas: { 'prefill-h100': 1, 'decode-h100': 3 } },
      { at: 20, replicas: { 'prefill-h100': 2, 'decode-h100': 1 } },
    ]);
    const load = steerableArrivals({ rps: 2, mix: MIX, seed: 5 });
    run = await startExporter({
      simulation: (observer) => createSimulation(smallConfig(H100_POOLS, 10), load, policy, observer),
      service: 'svc', speed: 40, stepMs: 50,
    });
    const sdPods = async (): Promise<string[]> => ((await (await fetch(run!.url + '/sd')).json()) as SdGroup[]).map((g) => g.labels.pod!).sort();
    const first = await sdPods();
    assert.deepEqual(first, ['svc-decode-h100-1', 'svc-decode-h100-2', 'svc-decode-h100-3', 'svc-prefill-h100-0']);
    // At 20 s two decode pods drain and go; a second prefill pod starts cold and is ready at 30 s.
    const deadline = Date.now() + 10_000;
    let now = first;
    let sawStarting = false;
    while (Date.now() < deadline) {
      now = await sdPods();
      // Read after /sd: if the new pod is still cold-starting now, it was then too, and must not have been listed.
      const state = (await (await fetch(run.url + '/state')).json()) as { pools: Record<string, { starting: number }> };
      if (state.pools['prefill-h100']!.starting === 1) {
        sawStarting = true;
        assert.ok(!now.includes('svc-prefill-h100-4'), 'a cold-starting pod must not be discovered yet');
      }
      if (now.length === 3 && now.filter((p) => p.includes('decode')).length === 1 && now.includes('svc-prefill-h100-4')) break;
      await sleep(50);
    }
    assert.ok(sawStarting, 'never saw the new prefill pod cold-starting');
    assert.equal(now.filter((p) => p.includes('decode')).length, 1, `pods now: ${now.join(', ')}`);
    assert.deepEqual(now.filter((p) => p.includes('prefill')), ['svc-prefill-h100-0', 'svc-prefill-h100-4']);
    const gone = first.filter((p) => !now.includes(p));
    assert.equal(gone.length, 2);
    const e = await scrape(run.url + '/metrics');
    const live = new Set(select(e, 'vllm:num_requests_running').map((s) => s.labels.pod));
    for (const p of gone) {
      assert.ok(!live.has(p), `${p} still in /metrics`);
      assert.equal((await fetch(`${run.url}/pods/${p}/metrics`)).status, 404);
    }
  });
});

describe('sim exporter: SGLang flavour', function () {
  this.timeout(20_000);
  it('exports the sglang: names with engine_type labels and no vllm: series', async () => {
    const run = await startExporterScenario({ rps: 10, mix: MIX, lengths: 'trace', speed: 40, pools: homogeneousPools('H100', 20), flavour: 'sglang' });
    try {
      await sleep(1000);
      const e = await scrape(run.url + '/metrics');
      for (const n of ['sglang:prompt_tokens_total', 'sglang:generation_tokens_total']) assert.equal(e.types.get(n), 'counter');
      for (const n of ['sglang:num_running_reqs', 'sglang:num_queue_reqs', 'sglang:token_usage']) assert.equal(e.types.get(n), 'gauge');
      for (const n of ['sglang:time_to_first_token_seconds', 'sglang:inter_token_latency_seconds']) assert.equal(e.types.get(n), 'histogram');
      assert.ok(e.samples.every((s) => !s.name.startsWith('vllm:')));
      for (const s of select(e, 'sglang:generation_tokens_total')) {
        assert.equal(s.labels.engine_type, s.labels.role);
        assert.equal(s.labels.tp_rank, '0');
      }
      assert.ok(total(e, 'sglang:generation_tokens_total', { role: 'decode' }) > 0);
      assert.ok(total(e, 'sglang:prompt_tokens_total', { role: 'prefill' }) > 0);
      assert.ok(select(e, 'sglang:inter_token_latency_seconds_bucket').some((s) => s.labels.le === '0.002'));
    } finally {
      await run.close();
    }
  });
});

describe('sim exporter: speed with ~100 pods', function () {
  this.timeout(60_000);
  it('renders and serves 100 pods in a few milliseconds per scrape', async () => {
    const metrics = new FleetMetrics({ service: 'svc' });
    const policy = new ScriptedPolicy([{ at: 0, replicas: { 'prefill-h100': 50, 'decode-h100': 50 } }]);
    const sim = createSimulation(smallConfig(H100_POOLS), steerableArrivals({ rps: 100, mix: MIX }), policy, metrics.observer);
    sim.runUntil(120);
    metrics.sync(sim.fleet, sim.now());
    assert.equal(metrics.servingPods().length, 100);
    const n = 50;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let bytes = 0;
    for (let k = 0; k < n; k++) bytes = renderExposition(metrics.spec, metrics.servingPods(), { withTargetLabels: true, countScale: 1 }).length;
    const renderMs = (performance.now() - t0) / n;
    const cpu = process.cpuUsage(cpu0);
    const renderCpuMs = (cpu.user + cpu.system) / 1000 / n;

    run100 = await startExporter({ simulation: sim, metrics, speed: 1 });
    // What a scrape costs the exporter process: one aggregated page, or one round of the 100 per-pod pages (http_sd).
    const timeIt = async (rounds: number, once: () => Promise<unknown>): Promise<{ wallMs: number; cpuMs: number }> => {
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      for (let k = 0; k < rounds; k++) await once();
      const c = process.cpuUsage(c0);
      return { wallMs: (performance.now() - w0) / rounds, cpuMs: (c.user + c.system) / 1000 / rounds };
    };
    const page = await timeIt(20, async () => (await fetch(run100!.url + '/metrics')).text());
    const sd = ((await (await fetch(run100.url + '/sd')).json()) as SdGroup[]).map((g) => run100!.url + g.labels.__metrics_path__);
    assert.equal(sd.length, 100);
    const perPod = await timeIt(5, () => Promise.all(sd.map(async (u) => (await fetch(u)).text())));
    parseExposition(await getText(run100.url + '/metrics'));
    console.log(`      100 pods: ${(bytes / 1024).toFixed(0)} KiB per page; render ${renderMs.toFixed(2)} ms wall, ${renderCpuMs.toFixed(2)} ms CPU; ` +
      `GET /metrics ${page.wallMs.toFixed(1)} ms wall, ${page.cpuMs.toFixed(1)} ms CPU (client included); ` +
      `100 × GET /pods/<pod>/metrics ${perPod.wallMs.toFixed(1)} ms wall, ${perPod.cpuMs.toFixed(1)} ms CPU per round`);
    // Generous bounds (2 shared cores): a 1 s scrape interval leaves orders of magnitude of headroom.
    assert.ok(renderMs < 60, `render took ${renderMs} ms`);
  });
  let run100: RunningExporter | undefined;
  after(async () => {
    await run100?.close();
  });
});

// ---------- a real Prometheus discovering pods over /sd ----------

const hasPrometheus = spawnSync('sh', ['-c', 'command -v prometheus']).status === 0;

describe('sim exporter: scraped by a real Prometheus via http_sd', function () {
  this.timeout(60_000);
  let run: ExporterScenario | undefined;
  let prom: ChildProcess | undefined;
  let dir: string | undefined;
  let log = '';

  before(function () {
    if (!hasPrometheus) this.skip();
  });
  after(async () => {
    if (prom?.pid && prom.exitCode === null) {
      const gone = new Promise((r) => prom!.once('exit', r));
      process.kill(prom.pid, 'SIGTERM');
      await Promise.race([gone, sleep(5000)]);
      if (prom.exitCode === null) process.kill(prom.pid, 'SIGKILL');
    }
    await run?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('finds every pod and reads a positive sum(rate(vllm:generation_tokens_total[10s]))', async () => {
    run = await startExporterScenario({ rps: 10, mix: MIX, lengths: 'trace', speed: 10, pools: homogeneousPools('H100', 20), ratesPerSimSecond: true });
    dir = mkdtempSync(join(tmpdir(), 'baton-exporter-prom-'));
    const config = join(dir, 'prometheus.yml');
    writeFileSync(config, [
      'global:',
      '  scrape_interval: 1s',
      'scrape_configs:',
      '  - job_name: baton-sim',
      '    scrape_interval: 1s',
      '    scrape_timeout: 800ms',
      '    http_sd_configs:',
      `      - url: "${run.url}/sd"`,
      '        refresh_interval: 1s',
      '',
    ].join('\n'));
    const port = await freePort();
    const promUrl = `http://127.0.0.1:${port}`;
    prom = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b: Buffer): void => {
      log = (log + b.toString()).slice(-4000);
    };
    prom.stdout?.on('data', keep);
    prom.stderr?.on('data', keep);

    const query = async (q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
      const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
      const body = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      assert.equal(body.status, 'success');
      return body.data.result;
    };
    // Rates are per simulated second here (ratesPerSimSecond): rps × output tokens once the window holds steady load.
    const expected = 10 * 350;
    const deadline = Date.now() + 45_000;
    let rate = 0;
    let firstPositiveAt: number | undefined;
    while (Date.now() < deadline) {
      assert.equal(prom.exitCode, null, `prometheus exited:\n${log}`);
      try {
        const r = await query('sum(rate(vllm:generation_tokens_total[10s]))');
        rate = r.length ? Number(r[0]!.value[1]) : 0;
        if (rate > 0) firstPositiveAt ??= Date.now();
        if (Math.abs(rate / expected - 1) < 0.25) break;
      } catch {
        /* not up yet */
      }
      await sleep(500);
    }
    assert.ok(firstPositiveAt !== undefined, `no generation rate from Prometheus; log:\n${log}`);
    assert.ok(Math.abs(rate / expected - 1) < 0.25, `Prometheus rate ${rate} vs ${expected} expected`);
    const up = await query('sum by (role) (up{job="baton-sim"})');
    const roles = Object.fromEntries(up.map((s) => [s.metric.role, Number(s.value[1])]));
    assert.ok(roles.prefill! >= 1 && roles.decode! >= 1, `up by role: ${JSON.stringify(roles)}`);
    const byPod = await query('vllm:generation_tokens_total{role="decode"}');
    assert.ok(byPod.every((s) => /^service-a-decode-h100-\d+$/.test(s.metric.pod!) && s.metric.pool === 'decode-h100' && s.metric.namespace === 'default'));
  });
});
