// A loopback HTTP proxy in front of Prometheus that the fault tests switch between behaviours: pass requests through,
// answer them too late (beyond the client timeout), or answer with garbage (invalid JSON, NaN, wrong result types,
// HTML 500s). When the upstream is down (a SIGKILLed Prometheus) the client's connection is reset, as it would be.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * pass; slow: every answer after `slowMs`; garbage; partial: the real answer marked `isPartial` with every value
 * halved (a VictoriaMetrics storage node or a Thanos store down); slow-guard: only latency (guard) queries are slow.
 */
export type FaultMode = 'pass' | 'slow' | 'garbage' | 'partial' | 'slow-guard';

const isGuardQuery = (body: Buffer) => /histogram_quantile/.test(new URLSearchParams(body.toString()).get('query') ?? '');

interface Garbage {
  what: string;
  status: number;
  contentType: string;
  body: (nowS: number) => string;
}

const vector = (value: string, extra: object = {}) => (nowS: number) =>
  JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: { pool: 'decode-h200', ...extra }, value: [nowS, value] }] } });

/** Answers a broken or lying Prometheus-compatible server might give; the proxy cycles through them. */
export const GARBAGE: readonly Garbage[] = [
  { what: 'invalid JSON', status: 200, contentType: 'application/json', body: () => '{"status":"success","data":{"resultType":"vec' },
  { what: 'NaN sample', status: 200, contentType: 'application/json', body: vector('NaN') },
  { what: '+Inf sample', status: 200, contentType: 'application/json', body: vector('+Inf') },
  { what: 'negative sample', status: 200, contentType: 'application/json', body: vector('-250') },
  { what: 'matrix instead of vector', status: 200, contentType: 'application/json', body: (t) => JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [[t, '1']] }] } }) },
  { what: 'string result', status: 200, contentType: 'application/json', body: (t) => JSON.stringify({ status: 'success', data: { resultType: 'string', result: [t, 'hello'] } }) },
  { what: 'null series', status: 200, contentType: 'application/json', body: () => JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [null] } }) },
  { what: 'labels that are not strings', status: 200, contentType: 'application/json', body: () => JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: { pool: 7 }, value: [0, '1'] }] } }) },
  { what: 'empty vector', status: 200, contentType: 'application/json', body: () => JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } }) },
  { what: 'HTML 500', status: 500, contentType: 'text/html', body: () => '<html><body>Internal Server Error</body></html>' },
  { what: 'API error 422', status: 422, contentType: 'application/json', body: () => JSON.stringify({ status: 'error', errorType: 'execution', error: 'query processing would load too many samples' }) },
];

export interface FaultProxy {
  url: string;
  mode: FaultMode;
  /** Where 'pass' forwards to (changeable: a restarted Prometheus may listen elsewhere). */
  upstream: string;
  /** How long 'slow' holds each request before forwarding it. */
  slowMs: number;
  /** Requests answered per mode, and per garbage kind. */
  counts: Record<string, number>;
  close(): Promise<void>;
}

export async function startFaultProxy(upstream: string, slowMs = 8000): Promise<FaultProxy> {
  let next = 0;
  const counts: Record<string, number> = {};
  const count = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  const state: FaultProxy = { url: '', mode: 'pass', upstream, slowMs, counts, close: async () => undefined };
  const timers = new Set<NodeJS.Timeout>();

  const forward = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse, partial = false): void => {
    const u = new URL(req.url ?? '/', state.upstream);
    const up = http.request(u, { method: req.method, headers: { ...req.headers, host: u.host } }, (ur) => {
      if (!partial) {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      ur.on('data', (c: Buffer) => chunks.push(c));
      ur.on('end', () => {
        const doc = JSON.parse(Buffer.concat(chunks).toString()) as { isPartial?: boolean; data?: { result?: { value?: [number, string] }[] } };
        for (const r of doc.data?.result ?? []) if (r.value) r.value[1] = String(Number(r.value[1]) / 2);
        doc.isPartial = true;
        res.writeHead(ur.statusCode ?? 200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
      });
    });
    // Upstream gone (killed): reset the client's connection, as a dead Prometheus would.
    up.on('error', () => res.socket?.destroy());
    up.end(body);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      count(state.mode);
      if (state.mode === 'pass' || (state.mode === 'slow-guard' && !isGuardQuery(body))) return forward(req, body, res);
      if (state.mode === 'partial') return forward(req, body, res, true);
      if (state.mode === 'slow' || state.mode === 'slow-guard') {
        const t = setTimeout(() => {
          timers.delete(t);
          if (!res.destroyed) forward(req, body, res);
        }, state.slowMs);
        timers.add(t);
        return;
      }
      const g = GARBAGE[next++ % GARBAGE.length]!;
      count(`garbage:${g.what}`);
      res.writeHead(g.status, { 'content-type': g.contentType }).end(g.body(Date.now() / 1000));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((r) => {
      for (const t of timers) clearTimeout(t);
      server.close(() => r());
      server.closeAllConnections();
    });
  return state;
}
