// Closed loop on one laptop: the simulated fleet follows what a running Baton adapter publishes. A poller reads the
// service's External Metrics API values (what an HPA with AverageValue 1 reads) every few seconds; each control tick
// applies them as the stock HPA would (desired = ⌈value⌉, within the pool's min/max). Until the adapter has answered,
// or while it does not (503 stale, down), the fleet keeps its replicas, as HPAs do.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { SimPool } from '../fleet/fleet.js';
import type { ControlInput, ControlOutput, SimPolicy } from '../policy.js';
import { parseQuantity } from '../../adapter/quantity.js';
import type { ServiceRule } from '../../rules/types.js';

export interface FollowAdapterOptions {
  /** https://host:port of the adapter. */
  url: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Skip verifying the adapter's serving certificate (a --self-signed development adapter). */
  insecure?: boolean;
  /** Namespace the HPAs would read from; default the rule's first namespace, else `default`. */
  namespace?: string;
  pollMs?: number;
  timeoutMs?: number;
  log?: (line: string) => void;
}

const MAX_BODY = 1024 * 1024;

export class AdapterFollower implements SimPolicy {
  readonly name = 'follow-adapter';
  /** The adapter's last answer per pool name. */
  private latest: Record<string, number> = {};
  private lastProblem: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly agent: https.Agent;
  private readonly path: string;
  private stopped = false;

  constructor(private readonly rule: ServiceRule, private readonly o: FollowAdapterOptions) {
    const u = new URL(o.url);
    if (u.protocol !== 'https:') throw new Error(`--follow-adapter must be an https:// URL (the adapter serves TLS), got ${o.url}`);
    if ((o.certFile === undefined) !== (o.keyFile === undefined)) throw new Error('--adapter-cert-file and --adapter-key-file go together');
    this.agent = new https.Agent({
      keepAlive: true,
      maxSockets: 1,
      rejectUnauthorized: !o.insecure,
      ...(o.caFile ? { ca: readFileSync(o.caFile) } : {}),
      ...(o.certFile ? { cert: readFileSync(o.certFile), key: readFileSync(o.keyFile!) } : {}),
    });
    const ns = o.namespace ?? rule.namespaces?.[0] ?? 'default';
    this.path = `/apis/external.metrics.k8s.io/v1beta1/namespaces/${encodeURIComponent(ns)}/${encodeURIComponent(rule.metric.name)}?labelSelector=${encodeURIComponent(`service=${rule.name}`)}`;
  }

  /** Starts polling; resolves after the first answer or the first failure. */
  async start(): Promise<void> {
    await this.poll();
    const loop = (): void => {
      if (this.stopped) return;
      this.timer = setTimeout(() => { void this.poll().finally(loop); }, this.o.pollMs ?? 2000);
    };
    loop();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.agent.destroy();
  }

  /** What the follower knows now: per-pool values, and why it has none when it has none. */
  status(): { values: Record<string, number>; problem?: string } {
    return this.lastProblem ? { values: { ...this.latest }, problem: this.lastProblem } : { values: { ...this.latest } };
  }

  initial(pools: readonly SimPool[]): Record<string, number> {
    return Object.fromEntries(pools.map((p) => [p.name, Math.max(1, this.rule.pools.find((r) => r.name === p.name)?.minReplicas ?? 1)]));
  }

  control(input: ControlInput): ControlOutput {
    const replicas: Record<string, number> = {};
    for (const v of input.pools) {
      const pool = this.rule.pools.find((r) => r.name === v.pool.name);
      const value = this.latest[v.pool.name];
      replicas[v.pool.name] = value === undefined || !pool ? v.spec : Math.min(pool.maxReplicas, Math.max(pool.minReplicas, Math.ceil(value - 1e-9)));
    }
    return { replicas };
  }

  private async poll(): Promise<void> {
    try {
      const body = await this.get();
      const doc = JSON.parse(body) as { items?: { metricLabels?: Record<string, string>; value?: string }[] };
      const next: Record<string, number> = {};
      for (const item of doc.items ?? []) {
        const pool = item.metricLabels?.pool;
        const v = typeof item.value === 'string' ? parseQuantity(item.value) : undefined;
        if (pool && v !== undefined && Number.isFinite(v)) next[pool] = v;
      }
      this.latest = next;
      this.lastProblem = undefined;
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== this.lastProblem) this.o.log?.(`follow-adapter: ${msg} (the fleet keeps its replicas)`);
      this.lastProblem = msg;
    }
  }

  private get(): Promise<string> {
    const u = new URL(this.o.url);
    const deadlineMs = this.o.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      // A deadline for the whole exchange, not only an idle socket: a trickling answer cannot hold the loop.
      const deadline = setTimeout(() => req.destroy(new Error(`no answer from ${this.o.url} within ${deadlineMs} ms`)), deadlineMs);
      const fail = (e: Error): void => { clearTimeout(deadline); reject(e); };
      const req = https.request({ host: u.hostname, port: u.port || 443, path: this.path, method: 'GET', agent: this.agent, headers: { accept: 'application/json' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
          if (body.length > MAX_BODY) req.destroy(new Error(`answer over ${MAX_BODY} bytes`));
        });
        res.on('end', () => {
          clearTimeout(deadline);
          if (res.statusCode === 200) resolve(body);
          else reject(new Error(`adapter answered ${res.statusCode}: ${body.slice(0, 200)}`));
        });
        res.on('error', fail);
      });
      req.on('error', fail);
      req.end();
    });
  }
}
