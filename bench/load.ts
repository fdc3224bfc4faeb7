// Load test: 10× nominal against a real `startAdapter` (client-certificate auth, 1,000 HPA-style metric/selector pairs
// over a scripted loopback Prometheus). Nominal is 2,000 req/s (bench:adapter's top rate); the bursts offer 20,000 req/s
// for a few seconds each from a forked open-loop load generator over keep-alive HTTPS. Every request must be a 200, and
// the adapter process's memory must stay bounded: RSS before, peak (sampled every 50 ms) and after the bursts.
// Bounded: the generator sends exactly rate × seconds requests per phase and gives up on any request after 10 s.
//
//   npm run bench:load -- [--json FILE] [--burst-rate 20000] [--burst-seconds 3] [--bursts 3] [--hpas 1000] [--connections 32]
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { testPki } from '../test/adapter/fixtures.js';
import { startAdapterHarness, startScriptedPrometheus } from '../test/adapter/harness.js';
import { benchRules, BENCH_DECODE_Q, BENCH_METRIC, BENCH_NAMESPACE } from './adapter.js';
import { startLoadGenerator, type LoadResult } from './loadgen.js';
import { numberAtLeast } from './args.js';

export const NOMINAL_RPS = 2000;
const REQUEST_TIMEOUT_MS = 10_000;

export type PhaseResult = LoadResult;

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

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

export async function runLoadBench(o: LoadOptions = DEFAULT_LOAD): Promise<LoadReport> {
  const log = o.log ?? ((l: string) => console.log(l));
  const prom = await startScriptedPrometheus();
  prom.answers.set(BENCH_DECODE_Q, [[{ pool: 'decode' }, 2500]]);
  const { yaml, selectors } = benchRules(o.hpas);
  const paths = selectors.map((sel) => `/apis/external.metrics.k8s.io/v1beta1/namespaces/${BENCH_NAMESPACE}/${BENCH_METRIC}?labelSelector=${encodeURIComponent(sel)}`);
  const h = await startAdapterHarness({ rules: { 'bench.yaml': yaml }, prometheusUrl: prom.url });
  const loadgen = startLoadGenerator();
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
    const phase = async (name: string, rate: number, seconds: number): Promise<PhaseResult & { name: string; adapterCpuPct: number }> => {
      const cpu0 = process.cpuUsage();
      const wall0 = performance.now();
      const result = await loadgen.run({
        origin: h.url, paths, rate, seconds, connections: o.connections, timeoutMs: REQUEST_TIMEOUT_MS,
        ca: pki.servingCa.certPem, cert: pki.alice.certPem, key: pki.alice.keyPem,
      }).catch((err: Error) => Promise.reject(new Error(`${name}: ${err.message}`)));
      const cpu = process.cpuUsage(cpu0);
      const adapterCpuPct = Math.round(((cpu.user + cpu.system) / 1000 / (performance.now() - wall0)) * 100);
      return { name, ...result, adapterCpuPct };
    };
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
    loadgen.close();
    await h.close();
    await prom.close();
  }
}

function parseArgs(argv: string[]): LoadOptions & { json?: string } {
  const o: LoadOptions & { json?: string } = { ...DEFAULT_LOAD };
  const num = numberAtLeast;
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
if (isMain) {
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
