// A small client for any Prometheus HTTP API (Prometheus, VictoriaMetrics, Thanos, Mimir): instant queries, and range
// queries for replaying history (`baton whatif`).
// node:http(s) rather than fetch so a custom CA, client timeouts and auth need no extra dependency.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { redactUrl } from './redact.js';

export interface PrometheusClientOptions {
  /** Base URL, e.g. http://127.0.0.1:9090 or https://vm.example/select/0/prometheus (api/v1/query is appended). */
  url: string;
  bearerToken?: string;
  /** Read on every request, so a rotated (projected) token is picked up. */
  bearerTokenFile?: string;
  basicAuth?: { username: string; password: string };
  /** `user:password` in a file, read on every request (a mounted Secret that rotates); never on the command line. */
  basicAuthFile?: string;
  /** PEM of the CA that signed the server certificate (or caFile). */
  ca?: string;
  caFile?: string;
  insecureSkipVerify?: boolean;
  /** Deadline of one request, connection to last byte (default 5 s). */
  timeoutMs?: number;
  /** Largest response body accepted (default 16 MiB); a larger one is an error, never buffered whole. */
  maxResponseBytes?: number;
  /** Extra request headers, e.g. a tenant: Mimir/Cortex `X-Scope-OrgID`, Thanos `THANOS-TENANT`. */
  headers?: Record<string, string>;
  /** Headers whose value is read from a file on every request (a mounted Secret that rotates). */
  headerFiles?: Record<string, string>;
  /** Client certificate and key (PEM files) for a Prometheus that requires mutual TLS. */
  certFile?: string;
  keyFile?: string;
}

/** Headers Baton sets itself; a --prometheus-header may not replace them. */
const RESERVED_HEADERS = new Set(['content-type', 'content-length', 'accept', 'authorization', 'host', 'connection', 'transfer-encoding']);

/** `NAME=VALUE` (a --prometheus-header): a valid HTTP header name that Baton does not set itself. */
export function parseHeaderFlag(text: string, flag: string): [string, string] {
  const i = text.indexOf('=');
  const name = i > 0 ? text.slice(0, i).trim() : '';
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new Error(`${flag} "${text}": expected NAME=VALUE with an HTTP header name`);
  if (RESERVED_HEADERS.has(name.toLowerCase())) throw new Error(`${flag} "${text}": ${name} is set by Baton (use the bearer-token or basic-auth options for credentials)`);
  const value = text.slice(i + 1);
  if (/[\r\n]/.test(value)) throw new Error(`${flag} "${name}": the value has a line break`);
  return [name, value];
}

export interface Series {
  labels: Record<string, string>;
  /** May be NaN or ±Infinity: Prometheus sends "NaN", "+Inf", "-Inf". */
  value: number;
  timestampS: number;
}

export type QueryResult =
  | { kind: 'vector'; series: Series[] }
  | { kind: 'scalar'; value: number; timestampS: number }
  | { kind: 'matrix'; seriesCount: number }
  | { kind: 'string'; value: string };

export class PrometheusError extends Error {
  constructor(
    message: string,
    /**
     * http: non-2xx; timeout: past the deadline; network; api: status "error" in the body; parse: unreadable body;
     * size: body over the limit; partial: the backend answered from part of its data (a store or storage node down).
     */
    readonly kind: 'http' | 'timeout' | 'network' | 'api' | 'parse' | 'size' | 'partial',
    readonly status?: number,
  ) {
    super(message);
    this.name = 'PrometheusError';
  }
}

/** One series of a range query: its samples in time order (values may be NaN or ±Infinity). */
export interface RangeSeries {
  labels: Record<string, string>;
  points: { timestampS: number; value: number }[];
}

export interface RangeQuery {
  (promql: string, startS: number, endS: number, stepS: number): Promise<RangeSeries[]>;
}

/** "errorType: error" from an API error body; fields that are not strings (a hostile or broken server) are shown as JSON. */
function apiErrorText(b: { errorType?: unknown; error?: unknown }): string {
  const text = (v: unknown, dflt: string): string => (v === undefined ? dflt : shown(v));
  return `${text(b.errorType, 'error')}: ${text(b.error, 'unknown')}`;
}

/** A value from the wire in a message: strings as they are, anything else as (bounded) JSON; never throws. */
function shown(v: unknown): string {
  return typeof v === 'string' ? v : safeJson(v);
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v)?.slice(0, 200) ?? typeof v;
  } catch {
    return typeof v;
  }
}

/** A query_range answer: always a matrix; anything else is a parse error. */
export function parseRangeResponse(body: unknown): RangeSeries[] {
  const b = body as { status?: string; error?: string; errorType?: string; isPartial?: unknown; data?: { resultType?: string; result?: unknown } };
  if (b?.status === 'error') throw new PrometheusError(apiErrorText(b), 'api');
  if (b?.status !== 'success' || !b.data) throw new PrometheusError('response is not a Prometheus API success object', 'parse');
  refusePartial(b);
  if (b.data.resultType !== 'matrix') throw new PrometheusError(`query_range answered a ${shown(b.data.resultType)}, expected a matrix`, 'parse');
  if (!Array.isArray(b.data.result)) throw new PrometheusError('matrix result is not an array', 'parse');
  return b.data.result.map((r: unknown, i: number) => {
    const s = seriesObject(r, 'matrix', i);
    return {
      labels: labelsOf(s.metric, 'matrix', i),
      points: (Array.isArray(s.values) ? s.values : []).map((p: unknown) => {
        const [t, v] = Array.isArray(p) ? p : [];
        return { timestampS: timestampOf(t), value: parseSampleValue(v) };
      }),
    };
  });
}

/** A series of a result array must be an object; a garbage answer is a parse error, never a TypeError. */
/** Where a series sits in an answer, for a parse error (the text is built only when there is one). */
type ResultKind = 'vector' | 'matrix';
const where = (kind: ResultKind, index: number): string => `${kind} result[${index}]`;

/** A series of a result array must be an object; a garbage answer is a parse error, never a TypeError. */
function seriesObject(r: unknown, kind: ResultKind, index: number): { metric?: unknown; value?: unknown; values?: unknown } {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new PrometheusError(`${where(kind, index)} is not an object`, 'parse');
  return r as { metric?: unknown; value?: unknown; values?: unknown };
}

/** A sample timestamp (a number, or a numeric string); anything else is NaN (Number() throws on some objects). */
function timestampOf(t: unknown): number {
  return typeof t === 'number' ? t : typeof t === 'string' ? Number(t) : NaN;
}

/** Series labels: an object of strings (absent means none). */
function labelsOf(metric: unknown, kind: ResultKind, index: number): Record<string, string> {
  if (metric === undefined || metric === null) return {};
  if (typeof metric !== 'object' || Array.isArray(metric)) throw new PrometheusError(`${where(kind, index)}.metric is not a label object`, 'parse');
  const out: Record<string, string> = {};
  const m = metric as Record<string, unknown>;
  for (const k of Object.keys(m)) {
    const v = m[k];
    if (typeof v !== 'string') throw new PrometheusError(`${where(kind, index)}.metric.${k} is not a string`, 'parse');
    out[k] = v;
  }
  return out;
}

export interface InstantQuery {
  (promql: string, timeS?: number): Promise<QueryResult>;
}

/** Prometheus sample values are strings; "+Inf"/"-Inf" are not what Number() understands. */
export function parseSampleValue(s: unknown): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (typeof s !== 'string' || s.trim() === '') return NaN;
  return Number(s);
}

/**
 * A partial answer (VictoriaMetrics' `isPartial`, when a vmstorage node is down) is a sum over part of the fleet: it looks
 * like a load drop, so it is an error, never a value. Prometheus `warnings`/`infos` are PromQL annotations ("metric
 * might not be a counter") and do not make an answer unusable; Thanos reports missing stores as warnings only when
 * partial responses are allowed, which the client never allows (`partial_response=false`).
 */
function refusePartial(b: { isPartial?: unknown }): void {
  if (b.isPartial === true) throw new PrometheusError('the answer is partial (isPartial: a storage node or store did not answer)', 'partial');
}

export function parseQueryResponse(body: unknown): QueryResult {
  const b = body as { status?: string; error?: string; errorType?: string; isPartial?: unknown; data?: { resultType?: string; result?: unknown } };
  if (b?.status === 'error') throw new PrometheusError(apiErrorText(b), 'api');
  if (b?.status !== 'success' || !b.data) throw new PrometheusError('response is not a Prometheus API success object', 'parse');
  refusePartial(b);
  const { resultType, result } = b.data;
  switch (resultType) {
    case 'vector': {
      if (!Array.isArray(result)) throw new PrometheusError('vector result is not an array', 'parse');
      return {
        kind: 'vector',
        series: result.map((r: unknown, i: number) => {
          const s = seriesObject(r, 'vector', i);
          const value = Array.isArray(s.value) ? (s.value as unknown[]) : [];
          return { labels: labelsOf(s.metric, 'vector', i), value: parseSampleValue(value[1]), timestampS: timestampOf(value[0]) };
        }),
      };
    }
    case 'scalar': {
      if (!Array.isArray(result)) throw new PrometheusError('scalar result is not a [time, value] pair', 'parse');
      return { kind: 'scalar', value: parseSampleValue(result[1]), timestampS: timestampOf(result[0]) };
    }
    case 'matrix':
      return { kind: 'matrix', seriesCount: Array.isArray(result) ? result.length : 0 };
    case 'string':
      if (!Array.isArray(result) || typeof result[1] !== 'string') throw new PrometheusError('string result is not a [time, string] pair', 'parse');
      return { kind: 'string', value: result[1] };
    default:
      throw new PrometheusError(`unknown resultType ${shown(resultType)}`, 'parse');
  }
}

/** `user:password` (the password may contain ':'); the error names where it came from, never the secret. */
export function parseBasicAuth(text: string, where: string): { username: string; password: string } {
  const i = text.indexOf(':');
  if (i <= 0) throw new Error(`${where}: basic auth must be user:password`);
  return { username: text.slice(0, i), password: text.slice(i + 1) };
}

/** Connections to Prometheus at once (its default --query.max-concurrency is 20). */
const MAX_SOCKETS = 16;

export class PrometheusClient {
  private readonly base: URL;
  private readonly ca?: string;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly agent: http.Agent;

  constructor(private readonly opts: PrometheusClientOptions) {
    this.base = new URL(opts.url.endsWith('/') ? opts.url : opts.url + '/');
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') throw new Error(`Prometheus URL must be http(s): ${redactUrl(opts.url)}`);
    const ca = opts.ca ?? (opts.caFile ? readFileSync(opts.caFile, 'utf8') : undefined);
    if (ca !== undefined) this.ca = ca;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.maxBytes = opts.maxResponseBytes ?? 16 * 1024 * 1024;
    // Bounded connections: a burst of queries waits for a socket instead of opening hundreds of them (each idle
    // keep-alive socket costs the serving path GC time; Prometheus limits concurrent queries anyway).
    const pool = { keepAlive: true, maxSockets: MAX_SOCKETS, maxFreeSockets: MAX_SOCKETS };
    if ((opts.certFile === undefined) !== (opts.keyFile === undefined)) throw new Error('Prometheus client certificate: give the certificate file and the key file together');
    if (opts.certFile && this.base.protocol !== 'https:') throw new Error(`a Prometheus client certificate needs an https:// URL, got ${redactUrl(opts.url)}`);
    const identity = opts.certFile ? { cert: readFileSync(opts.certFile, 'utf8'), key: readFileSync(opts.keyFile!, 'utf8') } : {};
    this.agent = this.base.protocol === 'https:'
      ? new https.Agent({ ...pool, ...(this.ca ? { ca: this.ca } : {}), ...identity, rejectUnauthorized: !opts.insecureSkipVerify })
      : new http.Agent(pool);
  }

  /** The base URL with any credentials in it redacted (for logs). */
  get url(): string {
    return redactUrl(this.base.toString());
  }

  /** An instant query (POST /api/v1/query), at `timeS` or now. */
  query: InstantQuery = async (promql: string, timeS?: number): Promise<QueryResult> => {
    const form = new URLSearchParams({ query: promql });
    if (timeS !== undefined) form.set('time', String(timeS));
    this.common(form);
    const body = await this.post(new URL('api/v1/query', this.base), form.toString());
    return parseQueryResponse(body);
  };

  /** A range query (POST /api/v1/query_range) from `startS` to `endS` every `stepS` seconds. */
  queryRange: RangeQuery = async (promql: string, startS: number, endS: number, stepS: number): Promise<RangeSeries[]> => {
    const form = new URLSearchParams({ query: promql, start: String(startS), end: String(endS), step: String(stepS) });
    this.common(form);
    const body = await this.post(new URL('api/v1/query_range', this.base), form.toString());
    return parseRangeResponse(body);
  };

  close(): void {
    this.agent.destroy();
  }

  /** The server-side timeout, and all-or-error answers: Thanos `partial_response=false`, VictoriaMetrics `deny_partial_response=1` (Prometheus ignores both). */
  private common(form: URLSearchParams): void {
    form.set('timeout', `${Math.max(1, Math.floor(this.timeoutMs / 1000))}s`);
    form.set('partial_response', 'false');
    form.set('deny_partial_response', '1');
  }

  private headers(): Record<string, string> {
    const h: Record<string, string> = { ...(this.opts.headers ?? {}), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    for (const [name, file] of Object.entries(this.opts.headerFiles ?? {})) h[name] = readFileSync(file, 'utf8').trim();
    const token = this.opts.bearerToken ?? (this.opts.bearerTokenFile ? readFileSync(this.opts.bearerTokenFile, 'utf8').trim() : undefined);
    if (token) h.authorization = `Bearer ${token}`;
    else {
      const basic = this.opts.basicAuthFile ? parseBasicAuth(readFileSync(this.opts.basicAuthFile, 'utf8').trim(), this.opts.basicAuthFile) : this.opts.basicAuth;
      if (basic) h.authorization = `Basic ${Buffer.from(`${basic.username}:${basic.password}`).toString('base64')}`;
    }
    return h;
  }

  private post(url: URL, payload: string): Promise<unknown> {
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method: 'POST', agent: this.agent, headers: { ...this.headers(), 'content-length': Buffer.byteLength(payload) } }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > this.maxBytes) {
            req.destroy(new PrometheusError(`response from ${url.host} is larger than ${this.maxBytes} bytes`, 'size'));
            return;
          }
          chunks.push(c);
        });
        res.on('error', (e) => reject(e instanceof PrometheusError ? e : new PrometheusError(e.message, 'network')));
        res.on('end', () => {
          clearTimeout(deadline);
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            const status = res.statusCode ?? 0;
            reject(new PrometheusError(`HTTP ${status} from ${url.host}: ${text.slice(0, 200)}`, status >= 200 && status < 300 ? 'parse' : 'http', status));
            return;
          }
          const status = res.statusCode ?? 0;
          // Prometheus puts the reason of 400/422/503 in a JSON error body: prefer it over the bare status.
          if (status < 200 || status >= 300) {
            const err = json as { error?: unknown } | null;
            reject(new PrometheusError(`HTTP ${status}${typeof err?.error === 'string' ? `: ${apiErrorText(err)}` : ''}`, 'http', status));
            return;
          }
          resolve(json);
        });
      });
      // A deadline for the whole exchange, not a socket-idle timeout: a server trickling bytes must not hold us.
      const deadline = setTimeout(() => req.destroy(new PrometheusError(`timed out after ${this.timeoutMs} ms`, 'timeout')), this.timeoutMs);
      deadline.unref();
      req.on('error', (e) => {
        clearTimeout(deadline);
        reject(e instanceof PrometheusError ? e : new PrometheusError(`${url.host}: ${e.message}`, 'network'));
      });
      req.on('close', () => clearTimeout(deadline));
      req.end(payload);
    });
  }
}
