// Peer benchmark: Baton's adapter and kubernetes-sigs/prometheus-adapter v0.12.0 (built from its Go module by
// scripts/build-peers.sh, cached under $HOME/.cache) side by side, on one real Prometheus scraping the same series, hit
// by the same load generator (a forked process), interleaved round by round with the idle system paused (SIGSTOP).
//
//   npm run bench:peers -- [--json FILE] [--hpas 1,100,1000,5000] [--rates 100,500,2000] [--seconds 10] [--warmup 2]
//                          [--rounds 3] [--connections 16]
//
// The layout real users write: one Baton rule per service (two HPAs each: prefill and decode), from the vLLM engine
// preset with its own `service` matcher, guards (tbt_p99, ttft_p99) and scrape-outage clause included. prometheus-adapter
// is configured idiomatically: one externalRules template per role with <<.LabelMatchers>>, computing the same desired
// replicas (decode = ⌈TPS / 1000⌉, prefill = ⌈decode × 3/2⌉) from the same series; both must answer the same values
// at steady state before anything is measured. prometheus-adapter needs an API server only for discovery at start: a
// minimal stand-in here answers that (and nothing else), and it authorises the client certificate's O=system:masters
// without a SubjectAccessReview.
//
// A third system, `floor`, is a bare TLS server answering one fixed body (same certificates, same load, same Prometheus
// running beside it): its p99 is what the host and the load generator cost before either system does any work.
//
// Rows: {system, hpas, load (open|closed), round, offeredRps, rps, p50Ms, p99Ms, errors, promQueriesPerS, cpuPct, rssMiB};
// `medians` holds the median over rounds of each cell. promQueriesPerS counts Prometheus' own HTTP API requests while
// the cell ran (the other system is paused). cpuPct: the system's process, 100 = one core.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCa, issueCert, type IssuedCert } from '../adapter/certs.js';
import { startAdapter } from '../adapter/main.js';
import { REPO_ROOT } from '../test/e2e/harness/binaries.js';
import { freePort, startTsdb } from '../test/support/prometheus.js';
import { startLoadGenerator, type LoadResult } from './loadgen.js';
import { loadFlag, type LoadFlags } from './args.js';
import { startScrapeTarget, type ScrapeTarget } from './scrape-target.js';

const QUERY_INTERVAL_S = 5;
const NAMESPACE = 'bench';
const DECODE_TPS = 1500;
/** ⌈1500 / 1000⌉ and ⌈2 × 3/2⌉: what both systems must serve at steady state. */
const EXPECTED = { decode: 2, prefill: 3 };

/** `floor`: a bare TLS server answering one fixed body, measured the same way: what the host and the load generator cost. */
type System = 'baton' | 'prometheus-adapter' | 'floor';

type Options = LoadFlags;

function parseArgs(argv: string[]): Options {
  const o: Options = { hpas: [1, 100, 1000, 5000], rates: [100, 500, 2000], seconds: 10, warmupSeconds: 2, rounds: 3, connections: 16 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!loadFlag(o, a, () => argv[++i])) throw new Error(`unknown argument '${a}' (see the header of bench/peers.ts)`);
  }
  return o;
}

// ---------------------------------------------------------------- the series and both systems' configuration

/** One Baton rule per service, as users write them: the vLLM preset with the service's own matcher. */
export function batonRules(services: number): string {
  const lines = ['services:'];
  for (let s = 0; s < services; s++) {
    lines.push(
      `  - name: svc-${s}`, `    namespaces: [${NAMESPACE}]`, '    engine: vllm', `    match: {service: svc-${s}}`, '    window: 1m',
      '    ratio: {prefill: 3, decode: 2}', '    decodeTpsPerUnit: 1000', `    queryIntervalSeconds: ${QUERY_INTERVAL_S}`,
      // Paused while the peer is measured: its values must not go stale meanwhile.
      '    maxStalenessSeconds: 3600',
      '    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1}',
      '    pools:',
      '      - {name: prefill, role: prefill, minReplicas: 1, maxReplicas: 100}',
      '      - {name: decode, role: decode, minReplicas: 1, maxReplicas: 100}',
      '    guards:',
      '      - {name: tbt_p99, slo: 0.05, tiers: [{above: 1.0, scaleOut: 0.2}]}',
      '      - {name: ttft_p99, slo: 2, tiers: [{above: 1.0, scaleOut: 0.2}]}',
    );
  }
  return lines.join('\n') + '\n';
}

/** prometheus-adapter's config: one template per role, the HPA's selector substituted as <<.LabelMatchers>>. */
export function peerConfig(): string {
  const tps = 'sum(rate(<<.Series>>{<<.LabelMatchers>>,pool="decode"}[1m]))';
  const rule = (as: string, query: string): string[] => [
    '  - seriesQuery: \'vllm:generation_tokens_total{service!=""}\'',
    '    resources: {namespaced: false}',
    `    name: {matches: "^vllm:generation_tokens_total$", as: "${as}"}`,
    `    metricsQuery: '${query}'`,
  ];
  return ['externalRules:', ...rule('decode_desired_replicas', `ceil(${tps} / 1000)`), ...rule('prefill_desired_replicas', `ceil(ceil(${tps} / 1000) * 3 / 2)`), ''].join('\n');
}

/** Each service's decode tokens (1,500/s) and its latency histograms, on one scrape target. */
export async function startSeriesTarget(services: number): Promise<ScrapeTarget> {
  const buckets = ['0.025', '0.05', '0.1', '+Inf'];
  return startScrapeTarget((t) => {
    const out: string[] = ['# TYPE vllm:generation_tokens_total counter'];
    for (let s = 0; s < services; s++) {
      out.push(`vllm:generation_tokens_total{service="svc-${s}",pool="decode"} ${(DECODE_TPS * t).toFixed(3)}`, `vllm:generation_tokens_total{service="svc-${s}",pool="prefill"} ${(10 * t).toFixed(3)}`);
    }
    for (const [name, pool, rate] of [['vllm:inter_token_latency_seconds', 'decode', 150], ['vllm:time_to_first_token_seconds', 'prefill', 2]] as const) {
      out.push(`# TYPE ${name} histogram`);
      for (let s = 0; s < services; s++) {
        // 90 % under 25 ms, all under 50 ms: far inside both SLOs.
        for (const [i, le] of buckets.entries()) out.push(`${name}_bucket{service="svc-${s}",pool="${pool}",le="${le}"} ${Math.floor(rate * t * (i === 0 ? 0.9 : 1))}`);
        out.push(`${name}_sum{service="svc-${s}",pool="${pool}"} ${(rate * t * 0.02).toFixed(3)}`, `${name}_count{service="svc-${s}",pool="${pool}"} ${Math.floor(rate * t)}`);
      }
    }
    return out.join('\n') + '\n';
  });
}

/** What prometheus-adapter asks the API server at start (discovery), answered and nothing else. */
async function startDiscoveryStandIn(tls: IssuedCert, log: (l: string) => void): Promise<{ url: string; close(): Promise<void> }> {
  const empty = (kind: string, extra: object) => JSON.stringify({ kind, apiVersion: 'v1', ...extra });
  const server = https.createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    let body: string | undefined;
    if (path === '/api') body = empty('APIVersions', { versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] });
    else if (path === '/apis') body = empty('APIGroupList', { groups: [] });
    else if (path === '/api/v1') body = empty('APIResourceList', { groupVersion: 'v1', resources: [{ name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: ['get', 'list'] }, { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'] }] });
    else if (path === '/version') body = JSON.stringify({ major: '1', minor: '36', gitVersion: 'v1.36.3' });
    if (body === undefined) log(`  [stand-in] unanswered ${req.method} ${req.url}`);
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' }).end(body ?? '{"kind":"Status","apiVersion":"v1","status":"Failure","code":404}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}

function buildPeer(log: (l: string) => void): string {
  const r = spawnSync('bash', [join(REPO_ROOT, 'scripts/build-peers.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 3_600_000 });
  for (const line of r.stderr.split('\n')) if (line) log(line);
  if (r.status !== 0) throw new Error(`scripts/build-peers.sh failed (exit ${r.status})`);
  return join(r.stdout.trim().split('\n').pop()!, 'prometheus-adapter');
}


// ---------------------------------------------------------------- processes

interface Proc {
  system: System;
  child: ChildProcess;
  url: string;
  pause(): void;
  resume(): void;
  /** CPU seconds (user + system) so far. */
  cpuS(): number;
  rssMiB(): number;
  stop(): Promise<void>;
}

function procOf(system: System, child: ChildProcess, url: string): Proc {
  const pid = child.pid!;
  const tick = 100; // USER_HZ on Linux
  return {
    system, child, url,
    pause: () => process.kill(pid, 'SIGSTOP'),
    resume: () => process.kill(pid, 'SIGCONT'),
    cpuS: () => {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12])) / tick;
    },
    rssMiB: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      try {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGTERM');
      } catch { /* gone */ }
      const t = setTimeout(() => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
      await gone;
      clearTimeout(t);
    },
  };
}

interface Files {
  servingCert: string;
  servingKey: string;
  clientCa: string;
  frontProxyCa: string;
}

async function startBaton(dir: string, files: Files, promUrl: string, services: number, log: (l: string) => void): Promise<Proc> {
  const rulesDir = join(dir, 'baton-rules');
  mkdirSync(rulesDir, { recursive: true });
  writeFileSync(join(rulesDir, 'bench.yaml'), batonRules(services));
  const config = { rulesDir, promUrl, files };
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--baton-child', JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Until Prometheus has two scrapes every service holds (no series yet): show the first few holds, and everything else.
  let holds = 0;
  child.stderr!.on('data', (b: Buffer) => {
    for (const l of b.toString().split('\n')) if (l.trim() && (!/keeping the last good value/.test(l) || holds++ < 2)) log(`  [baton] ${l}`);
  });
  child.once('exit', (code, signal) => log(`  [baton] exited (${signal ?? code})`));
  const url = await readyUrl(child, "Baton's adapter");
  return procOf('baton', child, url);
}

async function batonChild(configJson: string): Promise<void> {
  const c = JSON.parse(configJson) as { rulesDir: string; promUrl: string; files: Files };
  const adapter = await startAdapter({
    rulesDir: c.rulesDir,
    prometheus: { url: c.promUrl, timeoutMs: 5000 },
    port: 0,
    tls: { certFile: c.files.servingCert, keyFile: c.files.servingKey },
    security: { mode: 'files', requestheaderClientCaFile: c.files.frontProxyCa, clientCaFile: c.files.clientCa, authorizeAll: true },
    log: (level, message) => {
      if (level !== 'info') process.stderr.write(`${level}: ${message}\n`);
    },
  });
  process.stdout.write(`READY ${adapter.server.url}\n`);
  const stop = (): void => void adapter.close().finally(() => process.exit(0));
  process.once('SIGTERM', stop);
}

/**
 * The measurement floor: a bare Node HTTPS server in its own process (client certificates verified to the client CA, as
 * both systems do) that answers every request with one fixed ExternalMetricValueList. Whatever latency it shows comes
 * from the host, Prometheus beside it and the load generator; a system's p99 above it is what the system adds.
 */
/** The URL a child prints as `READY <url>` once it listens; rejects if it exits first. */
function readyUrl(child: ChildProcess, what: string): Promise<string> {
  return new Promise<string>((res, rej) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) res(m[1]!);
    });
    child.once('exit', (code) => rej(new Error(`${what} exited (${code}) before it was ready`)));
  });
}

async function startFloor(files: Files, log: (l: string) => void): Promise<Proc> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--floor-child', JSON.stringify(files)], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.once('exit', (code, signal) => log(`  [floor] exited (${signal ?? code})`));
  const url = await readyUrl(child, 'the floor server');
  return procOf('floor', child, url);
}

function floorChild(filesJson: string): void {
  const f = JSON.parse(filesJson) as Files;
  const body = JSON.stringify({
    kind: 'ExternalMetricValueList', apiVersion: 'external.metrics.k8s.io/v1beta1', metadata: {},
    items: [{ metricName: 'baton_desired_replicas', metricLabels: { service: 'svc-0', role: 'decode', pool: 'decode' }, timestamp: new Date().toISOString(), value: String(EXPECTED.decode) }],
  });
  const server = https.createServer({ cert: readFileSync(f.servingCert), key: readFileSync(f.servingKey), ca: readFileSync(f.clientCa), requestCert: true, rejectUnauthorized: true }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  });
  server.keepAliveTimeout = 95_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`READY https://127.0.0.1:${(server.address() as AddressInfo).port}\n`));
  process.once('SIGTERM', () => process.exit(0));
}

async function startPeer(bin: string, dir: string, files: Files, promUrl: string, standIn: string, standInCa: string, log: (l: string) => void): Promise<Proc> {
  const kubeconfig = join(dir, 'stand-in.kubeconfig');
  writeFileSync(kubeconfig, [
    'apiVersion: v1', 'kind: Config',
    `clusters: [{name: s, cluster: {server: "${standIn}", certificate-authority: "${standInCa}"}}]`,
    'users: [{name: u, user: {token: unused}}]',
    'contexts: [{name: c, context: {cluster: s, user: u}}]', 'current-context: c', '',
  ].join('\n'));
  const config = join(dir, 'prometheus-adapter.yaml');
  writeFileSync(config, peerConfig());
  const port = await freePort();
  const child = spawn(bin, [
    `--secure-port=${port}`, '--bind-address=127.0.0.1', `--tls-cert-file=${files.servingCert}`, `--tls-private-key-file=${files.servingKey}`,
    `--client-ca-file=${files.clientCa}`, `--requestheader-client-ca-file=${files.frontProxyCa}`, '--authentication-skip-lookup',
    `--lister-kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`, `--prometheus-url=${promUrl}`, `--config=${config}`, '--metrics-relist-interval=30s', '--v=0',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  child.once('exit', (code, signal) => log(`  [prometheus-adapter] exited (${signal ?? code})${code ? `: ${tail.slice(-500)}` : ''}`));
  const keep = (b: Buffer): void => void (tail = (tail + b.toString()).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const url = `https://127.0.0.1:${port}`;
  const end = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus-adapter exited (${child.exitCode}):\n${tail}`);
    const up = await new Promise<boolean>((r) => {
      const req = https.get(`${url}/healthz`, { rejectUnauthorized: false, timeout: 1000 }, (res) => {
        res.resume();
        r(res.statusCode === 200);
      });
      req.on('error', () => r(false));
      req.on('timeout', () => req.destroy());
    });
    if (up) break;
    if (Date.now() > end) throw new Error(`prometheus-adapter not healthy after 60 s:\n${tail}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  log(`  prometheus-adapter up on ${url}`);
  return procOf('prometheus-adapter', child, url);
}

// ---------------------------------------------------------------- measuring

function pathsOf(system: System, hpas: number): string[] {
  const out: string[] = [];
  for (let j = 0; j < hpas; j++) {
    const s = `svc-${Math.floor(j / 2)}`;
    const role = j % 2 === 0 ? 'decode' : 'prefill';
    out.push(system !== 'prometheus-adapter'
      ? `/apis/external.metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/baton_desired_replicas?labelSelector=${encodeURIComponent(`service=${s},role=${role}`)}`
      : `/apis/external.metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/${role}_desired_replicas?labelSelector=${encodeURIComponent(`service=${s}`)}`);
  }
  return out;
}

async function getValue(url: string, path: string, user: IssuedCert, ca: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = https.get(url + path, { ca, cert: user.certPem, key: user.keyPem, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        try {
          const doc = JSON.parse(body) as { items?: { value: string }[] };
          const v = doc.items?.[0]?.value;
          resolve(res.statusCode === 200 && v !== undefined ? Number(v.replace(/m$/, '')) / (v.endsWith('m') ? 1000 : 1) : undefined);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
  });
}

/** Both systems serve the expected values for a sample of the HPAs (steady state), or this throws. */
async function checkSameValues(procs: Proc[], hpas: number, user: IssuedCert, ca: string, log: (l: string) => void): Promise<void> {
  const sample = [...new Set([0, 1, hpas - 2, hpas - 1, Math.floor(hpas / 2)].filter((j) => j >= 0 && j < hpas))];
  for (const p of procs) {
    const paths = pathsOf(p.system, hpas);
    const end = Date.now() + 120_000;
    for (;;) {
      const got = await Promise.all(sample.map((j) => getValue(p.url, paths[j]!, user, ca)));
      if (got.every((v, i) => v === (sample[i]! % 2 === 0 ? EXPECTED.decode : EXPECTED.prefill))) break;
      if (Date.now() > end) throw new Error(`${p.system} never served the expected values (decode ${EXPECTED.decode}, prefill ${EXPECTED.prefill}) at ${hpas} HPAs: got ${got.join(', ')}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    log(`  ${p.system}: serves decode ${EXPECTED.decode}, prefill ${EXPECTED.prefill} (HPAs ${sample.join(', ')} checked)`);
  }
}

/** Prometheus' HTTP API requests so far (its own counter, read from its /metrics: not itself a query). */
async function promApiRequests(promUrl: string): Promise<number> {
  const text = await (await fetch(`${promUrl}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^prometheus_http_requests_total\{[^}]*handler="\/api\/v1\/(query|query_range|series|labels|label\/:name\/values)"[^}]*\} (\S+)$/gm)) n += Number(m[2]);
  return n;
}

export interface PeerRow {
  system: System;
  hpas: number;
  load: 'open' | 'closed';
  round?: number;
  offeredRps: number | null;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  promQueriesPerS: number;
  cpuPct: number;
  rssMiB: number;
  firstError?: string;
}

const rnd = (x: number, d = 2): number => Number(x.toFixed(d));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function medians(rows: PeerRow[]): PeerRow[] {
  const cells = new Map<string, PeerRow[]>();
  for (const r of rows) {
    const k = `${r.system}|${r.hpas}|${r.load}|${r.offeredRps}`;
    cells.set(k, [...(cells.get(k) ?? []), r]);
  }
  return [...cells.values()].map((rs) => {
    const f = rs[0]!;
    const m = (g: (r: PeerRow) => number, d = 2): number => rnd(median(rs.map(g)), d);
    return { system: f.system, hpas: f.hpas, load: f.load, offeredRps: f.offeredRps, rps: m((r) => r.rps, 0), p50Ms: m((r) => r.p50Ms), p99Ms: m((r) => r.p99Ms), errors: m((r) => r.errors, 0), promQueriesPerS: m((r) => r.promQueriesPerS), cpuPct: m((r) => r.cpuPct, 0), rssMiB: m((r) => r.rssMiB, 0) };
  });
}

export function table(rows: PeerRow[]): string {
  const head = ['system', 'hpas', 'load', 'offered', 'rps', 'p50 ms', 'p99 ms', 'errors', 'prom q/s', 'cpu %', 'rss MiB'];
  const body = rows.map((r) => [r.system, r.hpas, r.load, r.offeredRps ?? '-', r.rps, r.p50Ms, r.p99Ms, r.errors, r.promQueriesPerS, r.cpuPct, r.rssMiB].map(String));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const log = (line: string): void => void process.stderr.write(line + '\n');
  const bin = buildPeer(log);
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-peers-'));
  const servingCa = generateCa({ cn: 'bench-serving-ca' });
  const serving = issueCert(servingCa, { cn: 'adapter', dnsNames: ['localhost'], ips: ['127.0.0.1'] });
  const clientCa = generateCa({ cn: 'bench-client-ca' });
  // The aggregator's identity as prometheus-adapter authorises it without a SubjectAccessReview; Baton authorises all.
  const user = issueCert(clientCa, { cn: 'bench-hpa', organizations: ['system:masters'], client: true });
  const frontProxyCa = generateCa({ cn: 'bench-front-proxy-ca' });
  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  const files: Files = { servingCert: file('serving.crt', serving.certPem), servingKey: file('serving.key', serving.keyPem), clientCa: file('client-ca.crt', clientCa.certPem), frontProxyCa: file('front-proxy-ca.crt', frontProxyCa.certPem) };
  const standInCa = file('stand-in-ca.crt', servingCa.certPem);
  const standIn = await startDiscoveryStandIn(serving, log);
  const loadgen = startLoadGenerator();
  const rows: PeerRow[] = [];
  log(`peer bench: Baton vs prometheus-adapter v0.12.0, ${cpus().length} CPUs, ${o.rounds} round(s), ${o.seconds} s per cell after ${o.warmupSeconds} s warm-up`);
  try {
    for (const hpas of o.hpas) {
      const services = Math.ceil(hpas / 2);
      const target = await startSeriesTarget(services);
      const tsdb = await startTsdb('prometheus', { targets: [target.target], scrapeIntervalS: 5 });
      const procs: Proc[] = [];
      try {
        procs.push(await startBaton(join(dir, `baton-${hpas}`), files, tsdb.url, services, log));
        procs.push(await startPeer(bin, dir, files, tsdb.url, standIn.url, standInCa, log));
        await checkSameValues(procs, hpas, user, servingCa.certPem, log);
        procs.push(await startFloor(files, log));
        const loads: { load: 'open' | 'closed'; rate?: number }[] = [...o.rates.map((rate) => ({ load: 'open' as const, rate })), { load: 'closed' }];
        for (let roundNo = 1; roundNo <= o.rounds; roundNo++) {
          for (const l of loads) {
            // Alternate who goes first, so a slow spell of the host hits both.
            const order = roundNo % 2 ? procs : [...procs].reverse();
            for (const p of order) {
              for (const q of procs) (q === p ? q.resume() : q.pause());
              const q0 = await promApiRequests(tsdb.url);
              const c0 = p.cpuS();
              const t0 = Date.now();
              const r: LoadResult = await loadgen.run({
                origin: p.url, paths: pathsOf(p.system, hpas), rate: l.rate ?? 1, closed: l.load === 'closed', seconds: o.seconds,
                warmupSeconds: o.warmupSeconds, connections: o.connections, ca: servingCa.certPem, cert: user.certPem, key: user.keyPem,
              });
              const wallS = (Date.now() - t0) / 1000;
              const row: PeerRow = {
                system: p.system, hpas, load: l.load, round: roundNo, offeredRps: l.rate ?? null, rps: rnd(r.achievedRps, 0),
                p50Ms: rnd(r.p50Ms), p99Ms: rnd(r.p99Ms), errors: r.errors, promQueriesPerS: rnd(((await promApiRequests(tsdb.url)) - q0) / wallS),
                cpuPct: rnd(((p.cpuS() - c0) / wallS) * 100, 0), rssMiB: rnd(p.rssMiB(), 0),
              };
              if (r.firstError) row.firstError = r.firstError;
              rows.push(row);
              log(`  ${p.system.padEnd(18)} hpas ${hpas}, round ${roundNo}, ${l.load}${l.rate ? ` @ ${l.rate} req/s` : ''}: ${row.rps} req/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, ${row.errors} errors${r.firstError ? ` (first: ${r.firstError})` : ''}, ${row.promQueriesPerS} prom q/s, cpu ${row.cpuPct} %, rss ${row.rssMiB} MiB`);
            }
          }
        }
        for (const p of procs) p.resume();
      } finally {
        for (const p of procs) await p.stop();
        await tsdb.stop();
        await target.close();
      }
    }
  } finally {
    loadgen.close();
    await standIn.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const med = medians(rows);
  console.log(table(med));
  if (o.json) {
    writeFileSync(o.json, JSON.stringify({ bench: 'peers', peer: 'kubernetes-sigs/prometheus-adapter v0.12.0', cpus: cpus().length, node: process.version, secondsPerCell: o.seconds, rounds: o.rounds, connections: o.connections, queryIntervalS: QUERY_INTERVAL_S, medians: med, rows }, null, 2) + '\n');
    log(`wrote ${o.json}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--baton-child');
  const floor = process.argv.indexOf('--floor-child');
  if (floor > 0) floorChild(process.argv[floor + 1]!);
  else (i > 0 ? batonChild(process.argv[i + 1]!) : main()).catch((err: unknown) => {
    console.error(err instanceof Error ? err.stack ?? err.message : err);
    process.exit(1);
  });
}
