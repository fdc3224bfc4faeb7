// `baton explain <namespace> <metric>`: asks a running adapter why it serves what it serves — the PromQL it sent, the
// raw result, the computed values and the policy's reasons — from its /explain endpoint (same auth as the metrics API).
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { Command } from 'commander';
import type { BatchTrace } from '../../adapter/provider.js';
import { formatDerivation } from '../../engine/core/derivation.js';
import { integer } from '../options.js';

export interface ExplainRequest {
  /** https://host:port of the adapter. */
  server: string;
  namespace: string;
  metric: string;
  selector?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Do not verify the adapter's serving certificate. */
  insecure?: boolean;
  timeoutMs?: number;
}

/** The adapter's explain document (adapter/provider.ts Explanation, as JSON: NaN/Inf arrive as null). */
export interface ExplainDocument {
  namespace: string;
  metric: string;
  selector: string;
  queries: { name: string; promql: string; evaluatedAtMs?: number; raw?: unknown; error?: string; batch?: BatchTrace }[];
  values: { metricName: string; labels: Record<string, string>; value: number | null; timestampMs: number; windowSeconds?: number }[];
  reasons: { code?: string; service?: string; role?: string; pool?: string; message?: string }[];
  derivations?: { service: string; steps: { step: string; text: string; units?: number }[] }[];
  stale?: boolean;
}

function readFlagFile(path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${flag} ${path}: ${(err as Error).message}`);
  }
}

export function explainUrl(r: Pick<ExplainRequest, 'server' | 'namespace' | 'metric' | 'selector'>): URL {
  let base: URL;
  try {
    base = new URL(r.server);
  } catch {
    throw new Error(`--server must be a URL like https://127.0.0.1:6443, got '${r.server}'`);
  }
  if (base.protocol !== 'https:') throw new Error(`--server must be an https:// URL (the adapter only serves HTTPS), got '${r.server}'`);
  const prefix = base.pathname.replace(/\/+$/, '');
  const url = new URL(`${prefix}/explain/namespaces/${encodeURIComponent(r.namespace)}/${encodeURIComponent(r.metric)}`, base);
  if (r.selector) url.searchParams.set('labelSelector', r.selector);
  return url;
}

/** GET the explain document; a non-2xx answer throws with the adapter's Status message. */
export function fetchExplanation(r: ExplainRequest): Promise<ExplainDocument> {
  const url = explainUrl(r);
  if ((r.certFile === undefined) !== (r.keyFile === undefined)) throw new Error('--cert-file and --key-file go together');
  const tls: https.RequestOptions = { rejectUnauthorized: r.insecure !== true };
  if (r.caFile) tls.ca = readFlagFile(r.caFile, '--ca-file');
  if (r.certFile) tls.cert = readFlagFile(r.certFile, '--cert-file');
  if (r.keyFile) tls.key = readFlagFile(r.keyFile, '--key-file');
  const timeoutMs = r.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'GET', agent: false, headers: { accept: 'application/json' }, ...tls }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body);
        } catch {
          parsed = undefined;
        }
        const code = res.statusCode ?? 0;
        if (code < 200 || code >= 300) {
          const st = parsed as { reason?: string; message?: string } | undefined;
          const why = st?.message ? `${st.reason ?? 'Error'}: ${st.message}` : body.slice(0, 300);
          reject(new Error(`adapter ${url.origin} answered ${code} ${why}`));
          return;
        }
        if (!parsed || typeof parsed !== 'object' || !Array.isArray((parsed as ExplainDocument).queries)) {
          reject(new Error(`adapter ${url.origin} answered 200 with something that is not an explain document: ${body.slice(0, 200)}`));
          return;
        }
        resolve(parsed as ExplainDocument);
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from ${url.origin} within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(new Error(`cannot reach the adapter at ${url.origin}: ${err.message}`)));
    req.end();
  });
}

function labelText(labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  return `{${keys.map((k) => `${k}="${labels[k]}"`).join(',')}}`;
}

function numberText(v: unknown): string {
  return typeof v === 'number' ? String(v) : 'not finite (NaN or ±Inf)';
}

function ago(ms: number, nowMs: number): string {
  return `${new Date(ms).toISOString()} (${((nowMs - ms) / 1000).toFixed(1)} s ago)`;
}

/** What Prometheus answered, one line per series. */
function rawLines(raw: unknown): string[] {
  const r = raw as { kind?: string; series?: { labels: Record<string, string>; value: unknown }[]; value?: unknown; seriesCount?: number };
  if (!r || typeof r !== 'object') return ['(no result)'];
  if (r.kind === 'vector') {
    const series = r.series ?? [];
    if (series.length === 0) return ['vector, empty'];
    return [`vector, ${series.length} series`, ...series.map((s) => `  ${labelText(s.labels)}  ${numberText(s.value)}`)];
  }
  if (r.kind === 'scalar') return [`scalar ${numberText(r.value)}`];
  if (r.kind === 'matrix') return [`matrix (${r.seriesCount ?? '?'} series): not usable as an instant value`];
  if (r.kind === 'string') return [`string ${JSON.stringify(r.value)}`];
  return [JSON.stringify(raw)];
}

/** The explain document as text for a terminal. */
export function formatExplanation(doc: ExplainDocument, nowMs = Date.now()): string {
  const out: string[] = [];
  out.push(`${doc.namespace}/${doc.metric}  selector: ${doc.selector ? `"${doc.selector}"` : '(none: every series)'}${doc.stale ? '  [STALE: the HPA gets 503 and holds]' : ''}`);
  out.push('', 'Queries sent to Prometheus');
  if (doc.queries.length === 0) out.push('  (none)');
  for (const q of doc.queries) {
    out.push(`  ${q.name}${q.evaluatedAtMs !== undefined ? `  evaluated ${ago(q.evaluatedAtMs, nowMs)}` : ''}`);
    out.push(`    promql  ${q.promql}`);
    if (q.batch) {
      out.push(`    sent as ${q.batch.promql}`, `            (one query for ${q.batch.queries} queries of this template; this one's slice: ${labelText(q.batch.slice)})`);
    }
    if (q.raw !== undefined) {
      const [first, ...rest] = rawLines(q.raw);
      out.push(`    result  ${first}`, ...rest.map((l) => `          ${l}`));
    }
    if (q.error !== undefined) out.push(`    problem ${q.error}`);
  }
  out.push('', 'Values served');
  if (doc.values.length === 0) out.push('  (none)');
  for (const v of doc.values) {
    const window = v.windowSeconds !== undefined ? `, window ${v.windowSeconds} s` : '';
    out.push(`  ${v.metricName}${labelText(v.labels)} = ${numberText(v.value)}   (computed ${ago(v.timestampMs, nowMs)}${window})`);
  }
  for (const d of doc.derivations ?? []) {
    out.push('', `How ${d.service}'s level was computed`);
    out.push(formatDerivation(d.steps));
  }
  out.push('', 'Reasons');
  if (doc.reasons.length === 0) out.push('  (none)');
  for (const r of doc.reasons) {
    const where = [r.service, r.role, r.pool].filter(Boolean).join('/');
    out.push(`  ${(r.code ?? '?').padEnd(16)} ${where ? `${where}: ` : ''}${r.message ?? ''}`.trimEnd());
  }
  return out.join('\n') + '\n';
}

interface ExplainFlags {
  selector?: string;
  server: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  insecure?: boolean;
  json?: boolean;
  timeout: number;
}

/** `out` receives everything printed (tests capture it); the default is stdout. */
export function explainCommand(out: (text: string) => void = (t) => process.stdout.write(t)): Command {
  return new Command('explain')
    .description("ask a running adapter how it computes an external metric: the PromQL sent, Prometheus' raw answer, the values served and the policy's reasons")
    .argument('<namespace>', 'namespace of the HPA reading the metric')
    .argument('<metric>', 'external metric name, e.g. baton_desired_replicas')
    .option('--selector <labels>', 'label selector as an HPA would send it, e.g. "role=decode,pool in (decode-h200)"')
    .requiredOption('--server <url>', 'adapter URL, e.g. https://127.0.0.1:6443')
    .option('--ca-file <file>', "CA that signed the adapter's serving certificate")
    .option('--cert-file <file>', "client certificate signed by the adapter's --client-ca-file")
    .option('--key-file <file>', 'key of --cert-file')
    .option('--insecure', "do not verify the adapter's serving certificate (development)", false)
    .option('--json', 'print the explain document as JSON', false)
    .option('--timeout <ms>', 'request timeout in milliseconds', integer('--timeout', 1), 10_000)
    .action(async (namespace: string, metric: string, f: ExplainFlags) => {
      const req: ExplainRequest = { server: f.server, namespace, metric, insecure: f.insecure === true, timeoutMs: f.timeout };
      if (f.selector !== undefined) req.selector = f.selector;
      if (f.caFile !== undefined) req.caFile = f.caFile;
      if (f.certFile !== undefined) req.certFile = f.certFile;
      if (f.keyFile !== undefined) req.keyFile = f.keyFile;
      const doc = await fetchExplanation(req);
      out(f.json ? JSON.stringify(doc, null, 2) + '\n' : formatExplanation(doc));
    });
}
