// A real Prometheus or VictoriaMetrics for tests: installed from Debian by scripts/prom/install.sh when missing, started
// on a free 127.0.0.1 port with a generated config (scrape interval 1 s) and a temp data dir, stopped by PID.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type TsdbKind = 'prometheus' | 'victoria-metrics';

export interface RunningTsdb {
  kind: TsdbKind;
  url: string;
  pid: number;
  /** The server's storage directory (a Thanos sidecar reads Prometheus' TSDB there). */
  dataDir: string;
  stop(): Promise<void>;
  /** Last lines of the server's output, for failure messages. */
  logTail(): string;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const live = new Set<ChildProcess>();
// Never leave a server behind, even when a test run dies.
process.once('exit', () => {
  for (const c of live) if (c.pid) try { process.kill(c.pid, 'SIGKILL'); } catch { /* already gone */ }
});

function hasBinary(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
}

/** Installs the package when its binary is missing; throws with the installer's output when that fails. */
export function ensureInstalled(kind: TsdbKind): void {
  if (hasBinary(kind)) return;
  const script = join(repoRoot, 'scripts/prom/install.sh');
  const r = spawnSync('bash', [script, kind], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0 || !hasBinary(kind)) throw new Error(`cannot install ${kind} with ${script}:\n${r.stdout}\n${r.stderr}`);
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

export interface StartOptions {
  /** host:port targets to scrape (loopback). */
  targets: string[];
  /** Target labels (on every series and on `up`), as service discovery would attach them. */
  labels?: Record<string, string>;
  /** More targets, each group with its own target labels (e.g. one `service` per group). */
  groups?: { targets: string[]; labels: Record<string, string> }[];
  scrapeIntervalS?: number;
  /** global.external_labels (Prometheus only): what a Thanos sidecar needs to tell this server's series apart. */
  externalLabels?: Record<string, string>;
  /** The job's relabel_configs (Prometheus' own field names), e.g. a PodMonitor's relabelings over SD meta labels. */
  relabelConfigs?: Record<string, unknown>[];
  startTimeoutMs?: number;
}

function scrapeConfig(targets: string[], intervalS: number, labels: Record<string, string> = {}, groups: StartOptions['groups'] = [], externalLabels: Record<string, string> = {}, relabelConfigs: Record<string, unknown>[] = []): string {
  const group = (ts: string[], ls: Record<string, string>): string[] => [
    `      - targets: [${ts.map((t) => JSON.stringify(t)).join(', ')}]`,
    ...(Object.keys(ls).length ? ['        labels:', ...Object.entries(ls).map(([k, v]) => `          ${k}: ${JSON.stringify(v)}`)] : []),
  ];
  // No evaluation_interval: VictoriaMetrics' strict parser refuses fields it does not know.
  return [
    'global:',
    `  scrape_interval: ${intervalS}s`,
    ...(Object.keys(externalLabels).length ? ['  external_labels:', ...Object.entries(externalLabels).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`)] : []),
    'scrape_configs:',
    '  - job_name: engines',
    `    scrape_interval: ${intervalS}s`,
    `    scrape_timeout: ${Math.max(500, Math.round(intervalS * 800))}ms`,
    ...(relabelConfigs.length ? [`    relabel_configs: ${JSON.stringify(relabelConfigs)}`] : []),
    '    static_configs:',
    ...group(targets, labels),
    ...groups.flatMap((g) => group(g.targets, g.labels)),
    '',
  ].join('\n');
}

export async function startTsdb(kind: TsdbKind, opts: StartOptions): Promise<RunningTsdb> {
  ensureInstalled(kind);
  const dir = mkdtempSync(join(tmpdir(), `baton-${kind}-`));
  const config = join(dir, 'scrape.yml');
  writeFileSync(config, scrapeConfig(opts.targets, opts.scrapeIntervalS ?? 1, opts.labels, opts.groups, opts.externalLabels, opts.relabelConfigs));
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const args = kind === 'prometheus'
    ? [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=${listen}`, '--log.level=warn', '--storage.tsdb.retention.time=1h']
    // latencyOffset 0: VictoriaMetrics otherwise hides the last 30 s of samples from instant queries.
    : [`-promscrape.config=${config}`, `-storageDataPath=${join(dir, 'data')}`, `-httpListenAddr=${listen}`, '-loggerLevel=ERROR', '-search.latencyOffset=0s', '-search.disableCache', '-retentionPeriod=1d'];
  const child = spawn(kind, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let log = '';
  const keep = (b: Buffer): void => {
    log = (log + b.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  child.once('exit', () => {
    exited = true;
    live.delete(child);
  });

  const stop = async (): Promise<void> => {
    if (!exited && child.pid) {
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      try { process.kill(child.pid, 'SIGTERM'); } catch { /* already gone */ }
      const timer = setTimeout(() => { try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 5000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const url = `http://${listen}`;
  const readyPath = kind === 'prometheus' ? '/-/ready' : '/health';
  const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`${kind} exited during start:\n${log}`);
    }
    try {
      const res = await fetch(url + readyPath);
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${kind} not ready on ${url} after ${opts.startTimeoutMs ?? 20_000} ms:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { kind, url, pid: child.pid!, dataDir: join(dir, 'data'), stop, logTail: () => log };
}

/** A PodMonitor relabeling (engine/placement/identity.ts) in Prometheus' own scrape-config spelling. */
export function promRelabel(r: { sourceLabels?: string[]; regex?: string; targetLabel?: string; replacement?: string; action?: string }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (r.sourceLabels) out.source_labels = r.sourceLabels;
  if (r.regex !== undefined) out.regex = r.regex;
  if (r.targetLabel) out.target_label = r.targetLabel;
  if (r.replacement !== undefined) out.replacement = r.replacement;
  if (r.action) out.action = r.action;
  return out;
}
