// `baton whatif` against a real Prometheus: history is backfilled with promtool (`tsdb create-blocks-from
// openmetrics`), so Prometheus itself answers query_range with the rule's own PromQL (the vLLM preset's rate()).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRuleText } from '../../rules/load.js';
import { PrometheusClient } from '../../rules/prometheus.js';
import type { ServiceRule } from '../../rules/types.js';
import { fetchHistory, stepTimes } from '../../whatif/history.js';
import { actualSourceOf, gpuHours, runWhatIf, whatIfQueries, type WhatIfRun } from '../../whatif/replay.js';
import { buildReport, verdictLine } from '../../whatif/report.js';
import { parseDuration, parseTime } from '../../whatif/time.js';
import { ensureInstalled, freePort } from '../support/prometheus.js';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

const RULE = `services:
  - name: chat
    engine: vllm
    match: {service: chat}
    window: 1m
    ratio: {prefill: 3, decode: 2}
    decodeTpsPerUnit: 1000
    pools:
      - {name: prefill-h100, role: prefill, gpuType: H100, minReplicas: 1, maxReplicas: 20}
      - {name: decode-h100, role: decode, gpuType: H100, minReplicas: 1, maxReplicas: 20}
    guards:
      - {name: tbt_p99, promql: 'max(baton_test_tbt{service="chat"})', slo: 0.03, tiers: [{above: 100, scaleOut: 0.1}]}
    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1}
    replicas: {promql: 'sum by (pool) (baton_test_replicas{service="chat"})', by: pool}
    maxStalenessSeconds: 60
`;

function rule(text = RULE): ServiceRule {
  const r = loadRuleText(text, 'whatif-test.yaml');
  assert.deepEqual(r.errors, []);
  return r.services[0]!;
}

// The load: 2000 tok/s for 10 min, 5000 tok/s for 10 min, then 5 min with no samples at all (a scrape outage), then
// 1000 tok/s. What ran: a static 4 prefill + 3 decode the whole time.
const SCRAPE_S = 15;
const MIN = 60;
const phases = [
  { until: 10 * MIN, tps: 2000 },
  { until: 20 * MIN, tps: 5000 },
  { until: 25 * MIN, tps: 1000, gap: true },
  { until: 36 * MIN, tps: 1000 },
];

function openMetrics(t0: number): string {
  const counter: string[] = [];
  const tbt: string[] = [];
  const replicas: Record<string, string[]> = { 'prefill-h100': [], 'decode-h100': [] };
  let total = 0;
  for (let dt = 0; dt <= 36 * MIN; dt += SCRAPE_S) {
    const phase = phases.find((p) => dt <= p.until)!;
    if (dt > 0) total += phase.tps * SCRAPE_S;
    // The outage drops the engines' samples (the counter keeps counting underneath), not the Deployments'.
    const inGap = phases.some((p, i) => p.gap && dt > phases[i - 1]!.until && dt < p.until);
    if (!inGap) counter.push(`vllm:generation_tokens_total{service="chat",pool="decode-h100"} ${total} ${t0 + dt}`);
    // TBT: 20 ms, 50 ms while 5000 tok/s run on the 3 decode replicas that ran.
    if (!inGap) tbt.push(`baton_test_tbt{service="chat"} ${phase.tps === 5000 ? 0.05 : 0.02} ${t0 + dt}`);
    replicas['prefill-h100']!.push(`baton_test_replicas{service="chat",pool="prefill-h100"} 4 ${t0 + dt}`);
    replicas['decode-h100']!.push(`baton_test_replicas{service="chat",pool="decode-h100"} 3 ${t0 + dt}`);
  }
  return [
    '# TYPE vllm:generation_tokens counter', ...counter,
    '# TYPE baton_test_tbt gauge', ...tbt,
    '# TYPE baton_test_replicas gauge', ...replicas['prefill-h100']!, ...replicas['decode-h100']!,
    '# EOF', '',
  ].join('\n');
}

interface Backfilled {
  url: string;
  stop(): Promise<void>;
}

/** A real Prometheus serving backfilled blocks (no scraping); stopped by PID. */
async function startBackfilled(text: string): Promise<Backfilled> {
  ensureInstalled('prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'baton-whatif-'));
  writeFileSync(join(dir, 'history.om'), text);
  const made = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', join(dir, 'history.om'), join(dir, 'data')], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`promtool backfill failed:\n${made.stdout}\n${made.stderr}`);
  writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 15s\n');
  const port = await freePort();
  const child: ChildProcess = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (b: Buffer) => { log = (log + b.toString()).slice(-4000); });
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.pid) {
      const gone = new Promise((r) => child.once('exit', r));
      process.kill(child.pid, 'SIGTERM');
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch { /* not yet */ }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus did not start:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, stop };
}

const at = (run: WhatIfRun, t: number) => run.steps.find((s) => Math.abs(s.t - t) < 1e-6)!;

describe('baton whatif on a real Prometheus (promtool backfill)', function () {
  this.timeout(90_000);
  // Aligned to the step so evaluation times fall on samples; an hour ago, well inside retention.
  const t0 = Math.floor((Date.now() / 1000 - 3600) / SCRAPE_S) * SCRAPE_S;
  let prom: Backfilled;
  let client: PrometheusClient;
  let run: WhatIfRun;
  const from = t0 + 2 * MIN;
  const to = t0 + 34 * MIN;

  before(async () => {
    prom = await startBackfilled(openMetrics(t0));
    client = new PrometheusClient({ url: prom.url, timeoutMs: 10_000 });
    const r = rule();
    const actual = actualSourceOf(r);
    const history = await fetchHistory(client.queryRange, whatIfQueries(r, actual), from, to, 15);
    assert.deepEqual(history.errors, {});
    run = runWhatIf({ rule: r, history, ...(actual ? { actual } : {}) });
  });
  after(async () => {
    client?.close();
    await prom?.stop();
  });

  it("queries the rule's own PromQL and gets one point per step", () => {
    assert.equal(run.steps.length, stepTimes(from, to, 15).length);
    assert.equal(run.steps.length, 32 * 4 + 1);
    assert.equal(at(run, t0 + 5 * MIN).decodeTps, 2000);
    assert.equal(at(run, t0 + 15 * MIN).decodeTps, 5000);
  });

  it('produces the expected replicas for a load step (decode = TPS / 1000, prefill = ceil(decode × 3/2))', () => {
    for (const s of run.steps) {
      const dt = s.t - t0;
      // 2000 tok/s: 2 decode units, 3 prefill; the static 4+3 that ran is scaled in at the first evaluation.
      if (dt <= 10 * MIN) assert.deepEqual(s.replicas, { 'prefill-h100': 3, 'decode-h100': 2 }, `at +${dt}s`);
      // 5000 tok/s once rate()'s 1 m window has passed the step (and the HPA's +4 pods / +100 % per 15 s allows).
      if (dt >= 12 * MIN && dt <= 20 * MIN) assert.deepEqual(s.replicas, { 'prefill-h100': 8, 'decode-h100': 5 }, `at +${dt}s`);
    }
    // Between the two, the fleet only grows.
    const mid = run.steps.filter((s) => s.t > t0 + 10 * MIN && s.t < t0 + 12 * MIN);
    for (let i = 1; i < mid.length; i++) assert.ok(mid[i]!.replicas['decode-h100']! >= mid[i - 1]!.replicas['decode-h100']!);
  });

  it('holds across the gap (no scale-down, also once the value is stale), then follows the signal again', () => {
    // Where the engines' samples stop, rate() has no value: the evaluation holds. (Just before that, rate()'s
    // extrapolation already reads low at the edge of the outage; that dip is what production would see too.)
    const firstHeld = run.steps.findIndex((s) => s.held);
    assert.ok(firstHeld > 0);
    const before = run.steps[firstHeld - 1]!.replicas;
    const gap = run.steps.slice(firstHeld, run.steps.findIndex((s, i) => i > firstHeld && !s.held));
    assert.ok(gap.length >= 14, `a held stretch of ${gap.length} steps`);
    assert.ok(gap.at(-1)!.t - gap[0]!.t > 60, 'longer than maxStalenessSeconds: the adapter answers 503 and the HPA keeps its size');
    for (const s of gap) {
      assert.ok(s.t > t0 + 20 * MIN && s.t < t0 + 26 * MIN, `held at +${s.t - t0}s, inside the outage`);
      assert.equal(s.decodeTps, null);
      assert.deepEqual(s.replicas, before, `no scaling in the gap at +${s.t - t0}s`);
    }
    // No step outside the outage holds.
    assert.equal(run.steps.filter((s) => s.held).length, gap.length);
    // 1000 tok/s after the gap: 1 decode, ceil(1.5) = 2 prefill.
    for (const s of run.steps.filter((x) => x.t >= t0 + 27 * MIN)) assert.deepEqual(s.replicas, { 'prefill-h100': 2, 'decode-h100': 1 });
    assert.equal(buildReport(run, 15, () => 1, 'x').heldSteps, gap.length);
  });

  it('reads what ran from the rule replicas query and does the GPU-hours arithmetic', () => {
    for (const s of run.steps) assert.deepEqual(s.actual, { 'prefill-h100': 4, 'decode-h100': 3 });
    const report = buildReport(run, 15, (p) => (p === 'prefill-h100' ? 2 : 1), 'rule');
    const spanH = 32 / 60;
    const prefill = report.pools.find((p) => p.pool === 'prefill-h100')!;
    const decode = report.pools.find((p) => p.pool === 'decode-h100')!;
    // What ran: 4 replicas × 2 GPUs and 3 × 1 over 32 minutes.
    assert.ok(Math.abs(prefill.actual!.gpuHours - 4 * 2 * spanH) < 1e-9);
    assert.ok(Math.abs(decode.actual!.gpuHours - 3 * spanH) < 1e-9);
    assert.ok(Math.abs(report.total.actual! - 11 * spanH) < 1e-9);
    // What-if: each step's replicas held for 15 s; the decode pool's mean is its GPU-hours over the span.
    let want = 0;
    for (let i = 0; i + 1 < run.steps.length; i++) want += run.steps[i]!.replicas['decode-h100']! * 15 / 3600;
    assert.ok(Math.abs(decode.whatIf.gpuHours - want) < 1e-9);
    assert.deepEqual([decode.whatIf.min, decode.whatIf.max], [1, 5]);
    assert.ok(Math.abs(report.roles.decode.whatIf + report.roles.prefill.whatIf - report.total.whatIf) < 1e-9);
    let wantPrefill = 0;
    for (let i = 0; i + 1 < run.steps.length; i++) wantPrefill += run.steps[i]!.replicas['prefill-h100']! * 2 * 15 / 3600;
    assert.ok(Math.abs(prefill.whatIf.gpuHours - wantPrefill) < 1e-9);
  });
});

describe('baton whatif (the CLI) on a real Prometheus: verdict, cost, covered Δ, exit status', function () {
  this.timeout(90_000);
  const t0 = Math.floor((Date.now() / 1000 - 3600) / SCRAPE_S) * SCRAPE_S;
  let prom: Backfilled;
  let dir: string;
  before(async () => {
    prom = await startBackfilled(openMetrics(t0));
    dir = mkdtempSync(join(tmpdir(), 'baton-whatif-cli-'));
    writeFileSync(join(dir, 'chat.yaml'), RULE);
  });
  after(async () => {
    await prom?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const whatif = (from: number, to: number, ...extra: string[]) => spawnSync('node', [join(repoRoot, 'bin/baton.js'), 'whatif', '--prometheus', prom.url, '--rules', join(dir, 'chat.yaml'),
    '--from', String(from), '--to', String(to), '--step', '15s', ...extra], { encoding: 'utf8' });

  it("prints the verdict against the rule's SLO, cost beside GPU-hours and pool names on every line", () => {
    const r = whatif(t0 + 2 * MIN, t0 + 34 * MIN, '--gpu-cost', 'H100=2');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /verdict: would have met TBT 30 ms \(rule guard tbt_p99\) in \d+\.\d % of \d+ steps with a reading/);
    assert.match(r.stdout, /cost what-if +ran mean +GPU-h ran +cost ran +Δ GPU-h \(covered\)/);
    // What ran: 4 + 3 H100 for 32 min at $2: $7.47.
    assert.match(r.stdout, /\ntotal +[\d.]+ +\$[\d.]+ +[\d.]+ +\$7\.47 /);
    assert.match(r.stdout, /Δ compares the what-if with what ran over the 0\.53 h where what ran is known/);
    assert.match(r.stdout, /prefill-h100=\d+ decode-h100=\d+ +\(\d+ tok\/s; tbt_p99=0\.0[25] \((0\.67|1\.67)×SLO\)\) +ran prefill-h100=4 decode-h100=3 +\[signal/);
  });

  it('exits 1 when every point held (a range inside the scrape outage)', () => {
    const r = whatif(t0 + 22 * MIN, t0 + 24 * MIN);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /every one of the 9 points held/);
    assert.match(r.stderr, /every point held: the rule made no decision/);
  });
});

describe('whatif arithmetic and parsing', () => {
  it('integrates replicas × GPUs × time with the last point closing the range', () => {
    const r = rule();
    const run: WhatIfRun = {
      rule: r,
      actualPoints: 2,
      steps: [
        { t: 0, decodeTps: 1, held: false, direction: 'hold', replicas: { 'prefill-h100': 2, 'decode-h100': 1 }, actual: null, guards: {}, reasons: [] },
        { t: 1800, decodeTps: 1, held: false, direction: 'up', replicas: { 'prefill-h100': 4, 'decode-h100': 1 }, actual: { 'prefill-h100': 6, 'decode-h100': 1 }, guards: {}, reasons: [] },
        { t: 3600, decodeTps: 1, held: false, direction: 'up', replicas: { 'prefill-h100': 8, 'decode-h100': 1 }, actual: { 'prefill-h100': 6, 'decode-h100': 1 }, guards: {}, reasons: [] },
      ],
    };
    const h = gpuHours(run, (p) => (p === 'prefill-h100' ? 2 : 1));
    const p = h.find((x) => x.pool === 'prefill-h100')!;
    assert.equal(p.whatIf.gpuHours, (2 * 0.5 + 4 * 0.5) * 2);
    assert.equal(p.whatIf.mean, 3);
    assert.deepEqual([p.whatIf.min, p.whatIf.max], [2, 8]);
    // What ran is known only from t = 1800 on: half an hour of 6 × 2 GPUs.
    // …and the what-if beside it covers the same half hour: 4 × 2 GPUs.
    assert.deepEqual(p.actual, { gpuHours: 6, cost: null, mean: 6, coveredHours: 0.5, whatIfGpuHours: 4, whatIfCost: null });
    const priced = gpuHours(run, () => 1, () => 3);
    assert.equal(priced.find((x) => x.pool === 'prefill-h100')!.actual!.whatIfCost, 2 * 3);
  });

  it("verdicts: the guard's readings against its SLO; a step met on a bigger fleet than the what-if's is not counted", () => {
    const r = rule();
    const step = (t: number, tbt: number | null | 'error', whatIfDecode: number, ranDecode: number) => ({
      t, decodeTps: 1, held: false, direction: 'hold' as const, reasons: [],
      replicas: { 'prefill-h100': 3, 'decode-h100': whatIfDecode }, actual: { 'prefill-h100': 3, 'decode-h100': ranDecode }, guards: { tbt_p99: tbt },
    });
    const run: WhatIfRun = { rule: r, actualPoints: 5, steps: [step(0, 0.02, 3, 3), step(15, 0.02, 4, 3), step(30, 0.05, 3, 3), step(45, 0.02, 2, 3), step(60, null, 3, 3), step(75, 'error', 3, 3)] };
    const [v] = buildReport(run, 15, () => 1, 'x').verdicts;
    assert.deepEqual(v, {
      guard: 'tbt_p99', kind: 'tbt', slo: 0.03, sloFrom: 'rule guard tbt_p99', roles: ['decode'],
      steps: 6, withReading: 4, met: 3, atRisk: 1, errors: 1, wouldMeet: 0.75, certain: 0.5,
    });
    assert.equal(verdictLine(v!), 'verdict: would have met TBT 30 ms (rule guard tbt_p99) in 75.0 % of 4 steps with a reading (latency as observed on what ran; 50.0 % for certain: at 1 of the met steps the what-if ran fewer decode replicas than what ran; 1 steps could not be read)');
    const flagged = buildReport(run, 15, () => 1, 'x', { slo: { tbtS: 0.06 } }).verdicts[0]!;
    assert.deepEqual([flagged.slo, flagged.sloFrom, flagged.met], [0.06, '--slo-tbt', 4]);
  });

  it('parses times and durations, refusing nonsense with the flag named', () => {
    assert.equal(parseDuration('15s', '--step'), 15);
    assert.equal(parseDuration('1m30s', '--step'), 90);
    assert.equal(parseDuration('20', '--step'), 20);
    assert.throws(() => parseDuration('fast', '--step'), /--step: "fast" is not a duration/);
    assert.equal(parseTime('now-2h', '--from', 10_000), 10_000 - 7200);
    assert.equal(parseTime('2025-05-01T08:00:00Z', '--from'), Date.UTC(2025, 4, 1, 8) / 1000);
    assert.equal(parseTime('1700000000', '--to'), 1_700_000_000);
    assert.throws(() => parseTime('yesterday', '--from'), /--from: "yesterday" is not a time/);
    assert.throws(() => stepTimes(100, 50, 15), /--to \(50\) must be after --from \(100\)/);
  });

  it('the CLI report file has every step (smoke test of the JSON shape)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-whatif-json-'));
    try {
      const r = rule();
      const report = buildReport({ rule: r, actualPoints: 0, steps: [
        { t: 0, decodeTps: 2000, held: false, direction: 'hold', replicas: { 'prefill-h100': 3, 'decode-h100': 2 }, actual: null, guards: {}, reasons: ['signal', 'hold'] },
        { t: 15, decodeTps: null, held: true, direction: null, replicas: { 'prefill-h100': 3, 'decode-h100': 2 }, actual: null, guards: {}, reasons: [] },
      ] }, 15, () => 1, null);
      writeFileSync(join(dir, 'r.json'), JSON.stringify(report));
      const back = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as typeof report;
      assert.equal(back.format, 'baton-whatif/1');
      assert.equal(back.heldSteps, 1);
      assert.equal(back.total.actual, null);
      assert.ok(Math.abs(back.total.whatIf - 5 * 15 / 3600) < 1e-12);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
