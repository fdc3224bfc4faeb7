// Open-loop HTTPS load generator shared by bench:adapter and bench:load. It runs in a forked process so that its TLS
// client work does not share the adapter's event loop. Request i is due at t0 + i/rate whatever happened to the
// others, and its latency counts from that instant, so a stalled server cannot hide its queue (no coordinated omission).
import { fork, type ChildProcess } from 'node:child_process';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export interface LoadRequest {
  origin: string;
  /** More servers (replicas behind one Service): request i goes to [origin, ...alsoOrigins][i mod n]. */
  alsoOrigins?: string[];
  /** Request paths, used round-robin. */
  paths: string[];
  rate: number;
  /**
   * Closed loop: `connections` clients per server each send the next request as soon as the last one is answered, for
   * the measured seconds; `rate` is ignored and `achievedRps` is the peak the server sustains.
   */
  closed?: boolean;
  /** Measured seconds; requests due in the warm-up before them are sent but not counted. */
  seconds: number;
  warmupSeconds?: number;
  connections: number;
  /** A request not answered by then counts as an error. */
  timeoutMs?: number;
  ca: string;
  cert: string;
  key: string;
}

export interface LoadResult {
  offeredRps: number;
  seconds: number;
  /** All requests sent, warm-up included. */
  sent: number;
  /** Requests due after the warm-up: the ones the latencies and statuses describe. */
  measured: number;
  ok: number;
  errors: number;
  statuses: Record<string, number>;
  firstError?: string;
  achievedRps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The generator process's CPU over the run, 100 = one core. */
  loadgenCpuPct: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

function quantile(sorted: Float64Array, q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Runs one closed-loop load in this process (see LoadRequest.closed); latency counts from each request's send. */
export async function runClosedLoop(r: LoadRequest): Promise<LoadResult> {
  const origins = [r.origin, ...(r.alsoOrigins ?? [])];
  const timeoutMs = r.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let sent = 0;
  let firstError: string | undefined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const measureFrom = t0 + (r.warmupSeconds ?? 0) * 1000;
  const end = measureFrom + r.seconds * 1000;
  const client = async (origin: string, k: number): Promise<void> => {
    const url = new URL(origin);
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: r.ca, cert: r.cert, key: r.key });
    for (let i = k; performance.now() < end; i += r.connections) {
      const path = r.paths[i % r.paths.length]!;
      const start = performance.now();
      sent++;
      const { status, err } = await new Promise<{ status: number; err?: Error }>((res) => {
        const req = https.request({ agent, host: url.hostname, port: url.port, path, method: 'GET', timeout: timeoutMs }, (resp) => {
          resp.resume();
          resp.on('end', () => res({ status: resp.statusCode ?? 0 }));
        });
        req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
        req.on('error', (e) => res({ status: 0, err: e }));
        req.end();
      });
      const done = performance.now();
      if (start < measureFrom || done > end) continue;
      latencies.push(done - start);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status !== 200) {
        errors++;
        firstError ??= err ? err.message : `HTTP ${status} for ${path}`;
      }
    }
    agent.destroy();
  };
  await Promise.all(origins.flatMap((o) => Array.from({ length: r.connections }, (_, k) => client(o, k))));
  const cpu = process.cpuUsage(cpu0);
  const lat = Float64Array.from(latencies).sort();
  const out: LoadResult = {
    offeredRps: NaN, seconds: r.seconds, sent, measured: lat.length, ok: statuses['200'] ?? 0, errors, statuses,
    achievedRps: lat.length / r.seconds, p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99), maxMs: lat.length ? lat[lat.length - 1]! : NaN,
    loadgenCpuPct: ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100,
  };
  if (firstError !== undefined) out.firstError = firstError;
  return out;
}

/** Runs one open-loop load in this process. */
export async function runOpenLoop(r: LoadRequest): Promise<LoadResult> {
  const targets = [r.origin, ...(r.alsoOrigins ?? [])].map((o) => ({ url: new URL(o), agent: new https.Agent({ keepAlive: true, maxSockets: r.connections, ca: r.ca, cert: r.cert, key: r.key }) }));
  const timeoutMs = r.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let nextTarget = 0;
  const get = (path: string, onDone: (status: number, err?: Error) => void): void => {
    const { url, agent } = targets[nextTarget++ % targets.length]!;
    const req = https.request({ agent, host: url.hostname, port: url.port, path, method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => onDone(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', (e) => onDone(0, e));
    req.end();
  };
  // Open every connection (TLS handshakes) before the clock starts.
  await Promise.all(Array.from({ length: r.connections * targets.length }, (_, i) => new Promise<void>((res) => get(r.paths[i % r.paths.length]!, () => res()))));

  const warmupMs = (r.warmupSeconds ?? 0) * 1000;
  const total = Math.round((r.rate * (r.seconds * 1000 + warmupMs)) / 1000);
  const latencies = new Float64Array(total);
  const statuses: Record<string, number> = {};
  let measured = 0;
  let errors = 0;
  let done = 0;
  let sent = 0;
  let firstError: string | undefined;
  const interval = 1000 / r.rate;
  const t0 = performance.now();
  const measureFrom = t0 + warmupMs;
  const cpu0 = process.cpuUsage();
  let firstDue = Infinity;
  let lastEnd = t0;
  let finish!: () => void;
  const finished = new Promise<void>((res) => (finish = res));
  if (total === 0) finish();

  const send = (due: number, path: string): void => {
    get(path, (status, err) => {
      const end = performance.now();
      if (due >= measureFrom) {
        latencies[measured++] = end - due;
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status !== 200) {
          errors++;
          firstError ??= err ? err.message : `HTTP ${status} for ${path}`;
        }
        firstDue = Math.min(firstDue, due);
        lastEnd = Math.max(lastEnd, end);
      }
      if (++done === total) finish();
    });
  };
  const tick = (): void => {
    const now = performance.now();
    while (sent < total && t0 + sent * interval <= now) {
      send(t0 + sent * interval, r.paths[sent % r.paths.length]!);
      sent++;
    }
    if (sent < total) setTimeout(tick, Math.max(0, t0 + sent * interval - performance.now() - 0.5));
  };
  tick();
  await finished;
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  for (const t of targets) t.agent.destroy();
  const lat = latencies.subarray(0, measured).sort();
  const spanS = (lastEnd - Math.min(firstDue, lastEnd)) / 1000;
  const out: LoadResult = {
    offeredRps: r.rate,
    seconds: r.seconds,
    sent,
    measured,
    ok: statuses['200'] ?? 0,
    errors,
    statuses,
    // Measured requests over the span from the first one's due time to the last answer.
    achievedRps: spanS > 0 ? measured / spanS : NaN,
    p50Ms: quantile(lat, 0.5),
    p99Ms: quantile(lat, 0.99),
    maxMs: lat.length ? lat[lat.length - 1]! : NaN,
    loadgenCpuPct: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
  };
  if (firstError !== undefined) out.firstError = firstError;
  return out;
}

export interface LoadGenerator {
  /** Runs one load in the child; rejects if it fails or does not finish within seconds + warm-up + 60 s. */
  run(r: LoadRequest): Promise<LoadResult>;
  close(): void;
}

type ChildMessage = { type: 'result'; result: LoadResult } | { type: 'error'; message: string };

/** Forks the generator process (this file with --loadgen-child). */
export function startLoadGenerator(): LoadGenerator {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--loadgen-child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    run: (r) =>
      new Promise((resolve, reject) => {
        const limitS = r.seconds + (r.warmupSeconds ?? 0) + 60;
        const timer = setTimeout(() => {
          child.off('message', onMessage);
          reject(new Error(`the load generator did not finish ${r.rate} req/s × ${r.seconds} s within ${limitS} s`));
        }, limitS * 1000);
        const onMessage = (m: ChildMessage): void => {
          clearTimeout(timer);
          child.off('message', onMessage);
          if (m.type === 'result') resolve(m.result);
          else reject(new Error(`load generator failed: ${m.message}`));
        };
        child.on('message', onMessage);
        child.send(r);
      }),
    close: () => {
      if (child.connected) child.disconnect();
    },
  };
}

function childMain(): void {
  process.on('message', (r: LoadRequest) => {
    (r.closed ? runClosedLoop(r) : runOpenLoop(r)).then(
      (result) => process.send!({ type: 'result', result } satisfies ChildMessage),
      (err: Error) => process.send!({ type: 'error', message: err.stack ?? String(err) } satisfies ChildMessage),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1] && process.argv.includes('--loadgen-child')) childMain();
