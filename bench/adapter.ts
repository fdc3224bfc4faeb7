// Adapter benchmark: a real `startAdapter` (client-certificate auth, rules for N HPA-style metric/selector pairs) over a
// real VictoriaMetrics or Prometheus scraping a tiny static target, hit by an open-loop load generator in a separate
// process over keep-alive HTTPS at fixed offered loads. Latency is measured from each request's *scheduled* send time,
// so a stalled server cannot hide its queue (no coordinated omission).
//
//   npm run bench:adapter -- [--json FILE] [--hpas 1,100,1000,5000] [--rates 500,1000,2000] [--seconds 6]
//                            [--connections 16] [--tsdb victoria-metrics|prometheus] [--replicas 1,2] [--rounds 1]
// --replicas N,M: each count in turn (side by side in one run); N > 1 runs N adapters with --ha in this process (one
// leader, the decision store in memory, one store client per replica), the load spread over them round-robin per
// request, as a Service spreads the aggregator's connections. The replicas share this process's event loop, so this
// is the harder case: in a cluster each replica has its own CPU. --rounds R repeats the replica counts R times,
// interleaved, so a slow spell of the host (stealPct: CPU time the hypervisor took from this VM) hits both.
//
// Rows: {hpas, replicas, round, offeredRps, rps (achieved), p50Ms, p99Ms, maxMs, errors, promQueriesPerInterval,
// adapterCpuPct, stealPct}.
// promQueriesPerInterval = instant queries the evaluator sent per query interval while the loads ran, over all cells of
// one HPA count (a single cell holds only one or two intervals): every service shares one PromQL, so it must stay flat
// however many HPAs read the metric.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { generateCa, issueCert } from '../adapter/certs.js';
import { FixedElector, MemoryDecisionStore } from '../adapter/ha/local.js';
import { startAdapter, type RunningAdapter } from '../adapter/main.js';
import { startTsdb, type TsdbKind } from '../test/support/prometheus.js';
import { startLoadGenerator } from './loadgen.js';
import { loadFlag, positiveIntList, type LoadFlags } from './args.js';
import { startScrapeTarget, type ScrapeTarget } from './scrape-target.js';

const QUERY_INTERVAL_S = 5;
export const BENCH_DECODE_Q = 'sum by (pool) (rate(bench_generation_tokens_total{pool="decode"}[30s]))';
export const BENCH_METRIC = 'baton_desired_replicas';
export const BENCH_NAMESPACE = 'bench';

// ---------------------------------------------------------------- orchestration (parent)

interface Options extends LoadFlags {
  tsdb: TsdbKind;
  replicas: number[];
}

function parseArgs(argv: string[]): Options {
  const o: Options = { hpas: [1, 100, 1000, 5000], rates: [500, 1000, 2000], seconds: 6, warmupSeconds: 1, connections: 16, tsdb: 'victoria-metrics', replicas: [1], rounds: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = (): string | undefined => argv[++i];
    if (loadFlag(o, a, v)) continue;
    if (a === '--replicas') o.replicas = positiveIntList(a, v());
    else if (a === '--tsdb') {
      const t = v();
      if (t !== 'victoria-metrics' && t !== 'prometheus') throw new Error(`--tsdb must be victoria-metrics or prometheus, got '${t}'`);
      o.tsdb = t;
    } else throw new Error(`unknown argument '${a}' (see the header of bench/adapter.ts)`);
  }
  return o;
}

/** One service per two HPAs (its prefill and decode pool), all sharing one PromQL; the HPAs' selectors and paths. */
export function benchRules(hpas: number): { yaml: string; services: number; selectors: string[] } {
  const services = Math.ceil(hpas / 2);
  const lines = ['services:'];
  for (let s = 0; s < services; s++) {
    lines.push(
      `  - name: svc-${s}`,
      `    namespaces: [${BENCH_NAMESPACE}]`,
      '    ratio: {prefill: 3, decode: 2}',
      '    decodeTpsPerUnit: 1000',
      `    decodeTps: {promql: '${BENCH_DECODE_Q}', by: pool}`,
      `    queryIntervalSeconds: ${QUERY_INTERVAL_S}`,
      '    pools:',
      `      - {name: prefill-${s}, role: prefill, poolLabelValue: prefill, minReplicas: 1, maxReplicas: 100}`,
      `      - {name: decode-${s}, role: decode, poolLabelValue: decode, minReplicas: 1, maxReplicas: 100}`,
    );
  }
  const selectors: string[] = [];
  for (let j = 0; j < hpas; j++) {
    const s = Math.floor(j / 2);
    selectors.push(j % 2 === 0 ? `service=svc-${s},pool=decode-${s}` : `service=svc-${s},pool in (prefill-${s})`);
  }
  return { yaml: lines.join('\n') + '\n', services, selectors };
}

/** A scrape target whose counter grows at a steady 1,500 tokens/s for the decode pool. */
async function startStaticTarget(): Promise<ScrapeTarget> {
  return startScrapeTarget((elapsed) =>
    '# TYPE bench_generation_tokens_total counter\n' +
      `bench_generation_tokens_total{pool="decode"} ${(1500 * elapsed).toFixed(3)}\n` +
      `bench_generation_tokens_total{pool="prefill"} ${(10 * elapsed).toFixed(3)}\n`);
}

async function until<T>(what: () => string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface BenchRow {
  hpas: number;
  replicas: number;
  round: number;
  offeredRps: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  promQueriesPerInterval: number;
  adapterCpuPct: number;
  /** Share of the host's CPU time the hypervisor stole during the cell (Linux /proc/stat); a high value voids the cell. */
  stealPct?: number;
}

/** Total and stolen CPU jiffies of the host, where /proc/stat exists. */
function cpuJiffies(): { total: number; steal: number } | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { total: f.reduce((a, b) => a + b, 0), steal: f[7] ?? 0 };
  } catch {
    return undefined;
  }
}

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

function table(rows: BenchRow[]): string {
  const head = ['hpas', 'replicas', 'round', 'offered', 'rps', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'prom q/interval', 'adapter cpu %', 'steal %'];
  const body = rows.map((r) => [r.hpas, r.replicas, r.round, r.offeredRps, r.rps, r.p50Ms, r.p99Ms, r.maxMs, r.errors, r.promQueriesPerInterval, r.adapterCpuPct, r.stealPct ?? '-'].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-adapter-'));
  const servingCa = generateCa({ cn: 'bench-serving-ca' });
  const serving = issueCert(servingCa, { cn: 'baton-adapter', dnsNames: ['localhost'], ips: ['127.0.0.1'] });
  const clientCa = generateCa({ cn: 'bench-client-ca' });
  const user = issueCert(clientCa, { cn: 'system:serviceaccount:kube-system:horizontal-pod-autoscaler', client: true });
  const frontProxyCa = generateCa({ cn: 'bench-front-proxy-ca' });
  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  const files = {
    cert: file('serving.crt', serving.certPem),
    key: file('serving.key', serving.keyPem),
    clientCa: file('client-ca.crt', clientCa.certPem),
    frontProxyCa: file('front-proxy-ca.crt', frontProxyCa.certPem),
  };

  const target = await startStaticTarget();
  const tsdb = await startTsdb(o.tsdb, { targets: [target.target], scrapeIntervalS: 1 });
  const loadgen = startLoadGenerator();
  const log = (line: string): void => void process.stderr.write(line + '\n');
  log(`adapter bench: ${o.replicas.join(', ')} replica(s) × ${o.rounds} round(s), ${o.tsdb} at ${tsdb.url}, ${cpus().length} CPUs, ${o.seconds} s per cell after ${o.warmupSeconds} s warm-up, ${o.connections} keep-alive connections`);

  const rows: BenchRow[] = [];
  let adapter: RunningAdapter | undefined;
  let others: RunningAdapter[] = [];
  try {
    for (const hpas of o.hpas) for (let roundNo = 1; roundNo <= o.rounds; roundNo++) for (const replicaCount of o.replicas) {
      const rules = benchRules(hpas);
      const rulesDir = join(dir, `rules-${hpas}-${roundNo}-${replicaCount}`);
      mkdirSync(rulesDir);
      writeFileSync(join(rulesDir, 'bench.yaml'), rules.yaml);
      const warnings: string[] = [];
      const stored = new Map<string, string>(); // the ConfigMaps' contents; each replica has its own store client
      const replicas: RunningAdapter[] = [];
      for (let i = 0; i < replicaCount; i++) {
        replicas.push(await startAdapter({
          rulesDir,
          prometheus: { url: tsdb.url, timeoutMs: 5000 },
          port: 0,
          tls: { certFile: files.cert, keyFile: files.key },
          security: { mode: 'files', requestheaderClientCaFile: files.frontProxyCa, clientCaFile: files.clientCa, authorizeAll: true },
          log: (level, message) => {
            if (level !== 'info') warnings.push(message);
          },
          ...(replicaCount > 1 ? { ha: { identity: `bench-${i}`, syncIntervalMs: 500, publishDelayMs: 1500, local: { store: new MemoryDecisionStore(stored), elector: new FixedElector(i === 0) } } } : {}),
        }));
      }
      adapter = replicas[0]!;
      const running = adapter;
      for (const r of replicas) {
        await until(() => `a good evaluation of all ${rules.services} services (svc-0: ${r.evaluator.state('svc-0')?.lastProblem ?? 'no problem'}; warnings: ${warnings.slice(0, 3).join(' | ')})`, () => {
          for (let s = 0; s < rules.services; s++) if (!r.evaluator.state(`svc-${s}`)?.lastGood) return undefined;
          return true;
        }, 60_000);
      }
      others = replicas.slice(1);
      const paths = rules.selectors.map((sel) => `/apis/external.metrics.k8s.io/v1beta1/namespaces/${BENCH_NAMESPACE}/${BENCH_METRIC}?labelSelector=${encodeURIComponent(sel)}`);
      const first = rows.length;
      const sentAtStart = running.evaluator.queriesSent;
      const startedAt = performance.now();
      for (const rate of o.rates) {
        const sent0 = running.evaluator.queriesSent;
        const cpu0 = process.cpuUsage();
        const host0 = cpuJiffies();
        const t0 = performance.now();
        const r = await loadgen.run({
          origin: running.server.url, alsoOrigins: others.map((r) => r.server.url), paths, rate, seconds: o.seconds, warmupSeconds: o.warmupSeconds,
          connections: o.connections, ca: servingCa.certPem, cert: user.certPem, key: user.keyPem,
        });
        const wallS = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        const host1 = cpuJiffies();
        const row: BenchRow = {
          hpas,
          replicas: replicaCount,
          round: roundNo,
          offeredRps: rate,
          rps: round(r.achievedRps, 0),
          p50Ms: round(r.p50Ms),
          p99Ms: round(r.p99Ms),
          maxMs: round(r.maxMs),
          errors: r.errors,
          promQueriesPerInterval: round((running.evaluator.queriesSent - sent0) / (wallS / QUERY_INTERVAL_S)),
          adapterCpuPct: round(((cpu.user + cpu.system) / 1e6 / wallS) * 100, 0),
        };
        if (host0 && host1 && host1.total > host0.total) row.stealPct = round(((host1.steal - host0.steal) / (host1.total - host0.total)) * 100, 1);
        rows.push(row);
        log(`  hpas ${hpas}, ${replicaCount} replica(s), round ${roundNo} @ ${rate} req/s: p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, max ${row.maxMs} ms, ${row.rps} req/s, ${row.errors} errors${r.firstError ? ` (first: ${r.firstError})` : ''}, ${row.promQueriesPerInterval} queries/interval, adapter CPU ${row.adapterCpuPct} %, load generator CPU ${round(r.loadgenCpuPct, 0)} %, steal ${row.stealPct ?? '-'} %`);
      }
      const perInterval = round((running.evaluator.queriesSent - sentAtStart) / ((performance.now() - startedAt) / 1000 / QUERY_INTERVAL_S));
      for (const row of rows.slice(first)) row.promQueriesPerInterval = perInterval;
      log(`  hpas ${hpas}: ${perInterval} Prometheus queries per ${QUERY_INTERVAL_S} s interval over all loads`);
      if (warnings.length) log(`  adapter warnings (${warnings.length}), first: ${warnings[0]}; last: ${warnings[warnings.length - 1]}`);
      for (const r of others) await r.close();
      others = [];
      await adapter.close();
      adapter = undefined;
    }
  } finally {
    for (const r of others) await r.close();
    await adapter?.close();
    loadgen.close();
    await tsdb.stop();
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(table(rows));
  if (o.json) {
    const doc = {
      bench: 'adapter',
      tsdb: o.tsdb,
      cpus: cpus().length,
      node: process.version,
      secondsPerCell: o.seconds,
      connections: o.connections,
      queryIntervalS: QUERY_INTERVAL_S,
      replicas: o.replicas,
      rounds: o.rounds,
      target: { p99Ms: 10, atRps: 2000, withReplicas: { replicas: 2, p99Ms: 5, hpas: 1000 } },
      rows,
    };
    writeFileSync(o.json, JSON.stringify(doc, null, 2) + '\n');
    log(`wrote ${o.json}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
