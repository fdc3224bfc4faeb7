// Load test: 10× nominal against a real `startAdapter` (client-certificate auth, 1,000 HPA-style metric/selector pairs
// over a scripted loopback Prometheus). Nominal is 2,000 req/s (bench:adapter's top rate); the bursts offer 20,000 req/s
// for a few seconds each from a forked open-loop load generator over keep-alive HTTPS. Every request must be a 200, and
// the adapter process's memory must stay bounded: RSS before, peak (sampled every 50 ms) and after the bursts.
// Bounded: the generator sends exactly rate × seconds requests per phase and gives up on any request after 10 s.
//
//   npm run bench:load -- [--json FILE] [--burst-rate 20000] [--burst-seconds 3] [--bursts 3] [--hpas 1000] [--connections 32]
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { testPki } from '../test/adapter/fixtures.js';
import { startAdapterHarness, startScriptedPrometheus } from '../test/adapter/harness.js';

const NAMESPACE = 'bench';
const METRIC = 'baton_desired_replicas';
const DECODE_Q = 'sum by (pool) (rate(bench_generation_tokens_total{pool="decode"}[30s]))';
export const NOMINAL_RPS = 2000;
const REQUEST_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------- load generator (child process)

interface PhaseRequest {
  type: 'run';
  origin: string;
  paths: string[];
  rate: number;
  seconds: number;
  connections: number;
  ca: string;
  cert: string;
  key: string;
}

export interface PhaseResult {
  offeredRps: number;
  seconds: number;
  sent: number;
  ok: number;
  errors: number;
  statuses: Record<string, number>;
  firstError?: string;
  achievedRps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Open loop: request i is due at t0 + i/rate whatever happened to the others; latency counts from that instant. */
async function runPhase(r: PhaseRequest): Promise<PhaseResult> {
  const url = new URL(r.origin);
  const agent = new https.Agent({ keepAlive: true, maxSockets: r.connections, ca: r.ca, cert: r.cert, key: r.key });
  const get = (path: string, done: (status: number, err?: Error) => void): void => {
    const req = https.request({ agent, host: url.hostname, port: url.port, path, method: 'GET', timeout: REQUEST_TIMEOUT_MS }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (e) => done(0, e));
    req.end();
  };
  // TLS handshakes before the clock starts.
  await Promise.all(Array.from({ length: r.connections }, (_, i) => new Promise<void>((res) => get(r.paths[i % r.paths.length]!, () => res()))));
  const total = Math.round(r.rate * r.seconds);
  const latencies = new Float64Array(total);
  const statuses: Record<string, number> = {};
  let done = 0;
  let errors = 0;
  let firstError: string | undefined;
  let sent = 0;
  const interval = 1000 / r.rate;
  const t0 = performance.now();
  let lastEnd = t0;
  let finish!: () => void;
  const finished = new Promise<void>((res) => (finish = res));
  const tick = (): void => {
    const now = performance.now();
    while (sent < total && t0 + sent * interval <= now) {
      const due = t0 + sent * interval;
      const path = r.paths[sent % r.paths.length]!;
      sent++;
      get(path, (status, err) => {
        const end = performance.now();
        latencies[done++] = end - due;
        lastEnd = end;
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status !== 200) {
          errors++;
          firstError ??= err ? err.message : `HTTP ${status} for ${path}`;
        }
        if (done === total) finish();
      });
    }
    if (sent < total) setTimeout(tick, Math.max(0, t0 + sent * interval - performance.now() - 0.5));
  };
  tick();
  await finished;
  agent.destroy();
  const lat = latencies.sort();
  const out: PhaseResult = {
    offeredRps: r.rate,
    seconds: r.seconds,
    sent,
    ok: statuses['200'] ?? 0,
    errors,
    statuses,
    achievedRps: total / ((lastEnd - t0) / 1000),
    p50Ms: quantile(lat, 0.5),
    p99Ms: quantile(lat, 0.99),
    maxMs: lat[lat.length - 1] ?? NaN,
  };
  if (firstError !== undefined) out.firstError = firstError;
  return out;
}

function generatorChild(): void {
  process.on('message', (m: PhaseRequest) => {
    if (m.type !== 'run') return;
    runPhase(m).then(
      (res) => process.send!({ type: 'result', result: res }),
      (err: Error) => process.send!({ type: 'error', message: err.stack ?? String(err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

// ---------------------------------------------------------------- orchestration (adapter in this process)

export interface LoadOptions {
  burstRate: number;
  burstSeconds: number;
  bursts: number;
  /** Pause between bursts (the adapter idles; memory should fall back). */
  pauseSeconds: number;
  hpas: number;
  connections: number;
  log?: (line: string) => void;
}

export interface LoadReport {
  nominalRps: number;
  hpas: number;
  /** adapterCpuPct: this process's CPU (the adapter) over the phase, 100 = one core. */
  phases: (PhaseResult & { name: string; adapterCpuPct: number })[];
  rssMb: { before: number; peak: number; after: number };
  heapUsedMb: { before: number; after: number };
  totalRequests: number;
  totalErrors: number;
}

export const DEFAULT_LOAD: LoadOptions = { burstRate: 10 * NOMINAL_RPS, burstSeconds: 3, bursts: 3, pauseSeconds: 2, hpas: 1000, connections: 32 };

/** One service per two HPAs (its prefill and decode pool), all sharing one PromQL. */
function rulesFor(hpas: number): { yaml: string; paths: string[] } {
  const lines = ['services:'];
  const paths: string[] = [];
  for (let s = 0; s < Math.ceil(hpas / 2); s++) {
    lines.push(
      `  - name: svc-${s}`,
      `    namespaces: [${NAMESPACE}]`,
      '    ratio: {prefill: 3, decode: 2}',
      '    decodeTpsPerUnit: 1000',
      `    decodeTps: {promql: '${DECODE_Q}', by: pool}`,
      '    queryIntervalSeconds: 5',
      '    pools:',
      `      - {name: prefill-${s}, role: prefill, poolLabelValue: prefill, minReplicas: 1, maxReplicas: 100}`,
      `      - {name: decode-${s}, role: decode, poolLabelValue: decode, minReplicas: 1, maxReplicas: 100}`,
    );
    for (const pool of [`decode-${s}`, `prefill-${s}`]) {
      paths.push(`/apis/external.metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/${METRIC}?labelSelector=${encodeURIComponent(`service=svc-${s},pool=${pool}`)}`);
    }
  }
  return { yaml: lines.join('\n') + '\n', paths: paths.slice(0, hpas) };
}

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

export async function runLoadBench(o: LoadOptions = DEFAULT_LOAD): Promise<LoadReport> {
  const log = o.log ?? ((l: string) => console.log(l));
  const prom = await startScriptedPrometheus();
  prom.answers.set(DECODE_Q, [[{ pool: 'decode' }, 2500]]);
  const { yaml, paths } = rulesFor(o.hpas);
  const h = await startAdapterHarness({ rules: { 'bench.yaml': yaml }, prometheusUrl: prom.url });
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--generator'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
  try {
    // Every service evaluated once before the clock starts: from then on every request is a plain 200.
    const deadline = Date.now() + 30_000;
    while ((await h.get(paths[paths.length - 1]!)).status !== 200) {
      if (Date.now() > deadline) throw new Error('the adapter never served the last service');
      await new Promise((r) => setTimeout(r, 200));
    }
    const pki = testPki();
    const phase = (name: string, rate: number, seconds: number) =>
      new Promise<PhaseResult & { name: string; adapterCpuPct: number }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: the generator did not finish in ${seconds + 60} s`)), (seconds + 60) * 1000);
        const cpu0 = process.cpuUsage();
        const wall0 = performance.now();
        child.once('message', (m: { type: string; result?: PhaseResult; message?: string }) => {
          clearTimeout(timer);
          const cpu = process.cpuUsage(cpu0);
          const adapterCpuPct = Math.round(((cpu.user + cpu.system) / 1000 / (performance.now() - wall0)) * 100);
          if (m.type === 'result') resolve({ name, ...m.result!, adapterCpuPct });
          else reject(new Error(`${name}: generator failed: ${m.message}`));
        });
        const req: PhaseRequest = { type: 'run', origin: h.url, paths, rate, seconds, connections: o.connections, ca: pki.servingCa.certPem, cert: pki.alice.certPem, key: pki.alice.keyPem };
        child.send(req);
      });
    const phases: LoadReport['phases'] = [];
    const show = (p: PhaseResult & { name: string; adapterCpuPct: number }) =>
      log(`${p.name.padEnd(10)} offered ${p.offeredRps} req/s × ${p.seconds} s: ${p.sent} sent, achieved ${p.achievedRps.toFixed(0)} req/s, ` +
        `p50 ${p.p50Ms.toFixed(1)} ms, p99 ${p.p99Ms.toFixed(1)} ms, max ${p.maxMs.toFixed(1)} ms, errors ${p.errors}${p.firstError ? ` (${p.firstError})` : ''}; adapter CPU ${p.adapterCpuPct} %; RSS now ${mb(process.memoryUsage.rss())} MB`);
    // Warm-up at nominal (JIT, caches) before "before" is measured.
    const warm = await phase('warm-up', NOMINAL_RPS, 1);
    show(warm);
    phases.push(warm);
    global.gc?.();
    const before = process.memoryUsage();
    peak = before.rss;
    for (let b = 1; b <= o.bursts; b++) {
      const p = await phase(`burst ${b}`, o.burstRate, o.burstSeconds);
      show(p);
      phases.push(p);
      await new Promise((r) => setTimeout(r, o.pauseSeconds * 1000));
    }
    const nominal = await phase('nominal', NOMINAL_RPS, 2);
    show(nominal);
    phases.push(nominal);
    global.gc?.();
    const after = process.memoryUsage();
    const report: LoadReport = {
      nominalRps: NOMINAL_RPS,
      hpas: o.hpas,
      phases,
      rssMb: { before: mb(before.rss), peak: mb(peak), after: mb(after.rss) },
      heapUsedMb: { before: mb(before.heapUsed), after: mb(after.heapUsed) },
      totalRequests: phases.reduce((s, p) => s + p.sent, 0),
      totalErrors: phases.reduce((s, p) => s + p.errors, 0),
    };
    log(`RSS before ${report.rssMb.before} MB, peak ${report.rssMb.peak} MB, after ${report.rssMb.after} MB; heap used ${report.heapUsedMb.before} → ${report.heapUsedMb.after} MB; ` +
      `${report.totalRequests} requests, ${report.totalErrors} errors`);
    return report;
  } finally {
    clearInterval(sampler);
    child.disconnect();
    await h.close();
    await prom.close();
  }
}

function parseArgs(argv: string[]): LoadOptions & { json?: string } {
  const o: LoadOptions & { json?: string } = { ...DEFAULT_LOAD };
  const num = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`${flag} must be a number ≥ ${min}, got '${v}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[++i];
    if (a === '--json') o.json = v ?? '';
    else if (a === '--burst-rate') o.burstRate = num(a, v, 1);
    else if (a === '--burst-seconds') o.burstSeconds = num(a, v, 0.1);
    else if (a === '--bursts') o.bursts = num(a, v, 1);
    else if (a === '--hpas') o.hpas = num(a, v, 1);
    else if (a === '--connections') o.connections = num(a, v, 1);
    else throw new Error(`unknown argument '${a}' (see the header of bench/load.ts)`);
  }
  return o;
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain && process.argv.includes('--generator')) generatorChild();
else if (isMain) {
  try {
    const o = parseArgs(process.argv.slice(2));
    const report = await runLoadBench(o);
    if (o.json) writeFileSync(o.json, JSON.stringify(report, null, 2) + '\n');
    if (report.totalErrors > 0) process.exitCode = 1;
  } catch (err) {
    console.error((err as Error).message);
    process.exitCode = 2;
  }
}
