// A real `startAdapter` for end-to-end tests: the PKI written to files as an operator would (serving cert for
// 127.0.0.1, the `--client-ca-file` CA with a user cert, a front-proxy CA), a rules directory, and an HTTPS client that
// presents the user's certificate. Also a tiny loopback Prometheus HTTP API with scripted answers, for tests whose
// subject is the adapter and its clients rather than the TSDB.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAdapter, type AdapterOptions, type RunningAdapter } from '../../adapter/main.js';
import type { LogLevel } from '../../adapter/server.js';
import { get, testPki, type Reply } from './fixtures.js';

export interface PkiFiles {
  /** CA that signed the adapter's serving certificate (the kubeconfig's certificate-authority). */
  servingCa: string;
  servingCert: string;
  servingKey: string;
  /** The adapter's --client-ca-file. */
  clientCa: string;
  /** The adapter's --requestheader-client-ca-file. */
  frontProxyCa: string;
  /** User "alice" (groups team-a, devs), signed by the client CA. */
  userCert: string;
  userKey: string;
}

/** Writes the shared test PKI into `dir` and returns the file names. */
export function writePkiFiles(dir: string): PkiFiles {
  const p = testPki();
  const files: PkiFiles = {
    servingCa: join(dir, 'serving-ca.crt'),
    servingCert: join(dir, 'serving.crt'),
    servingKey: join(dir, 'serving.key'),
    clientCa: join(dir, 'client-ca.crt'),
    frontProxyCa: join(dir, 'front-proxy-ca.crt'),
    userCert: join(dir, 'alice.crt'),
    userKey: join(dir, 'alice.key'),
  };
  writeFileSync(files.servingCa, p.servingCa.certPem);
  writeFileSync(files.servingCert, p.serving.certPem);
  writeFileSync(files.servingKey, p.serving.keyPem, { mode: 0o600 });
  writeFileSync(files.clientCa, p.clientCa.certPem);
  writeFileSync(files.frontProxyCa, p.frontProxyCa.certPem);
  writeFileSync(files.userCert, p.alice.certPem);
  writeFileSync(files.userKey, p.alice.keyPem, { mode: 0o600 });
  return files;
}

export interface AdapterHarness {
  dir: string;
  rulesDir: string;
  pki: PkiFiles;
  running: RunningAdapter;
  url: string;
  logs: { level: LogLevel; message: string; fields?: Record<string, unknown> }[];
  /** GET with alice's client certificate, verifying the serving cert against the serving CA. */
  get(path: string): Promise<Reply>;
  close(): Promise<void>;
}

/** startAdapter with files-mode security (client CA + front-proxy CA, every authenticated user allowed). */
export async function startAdapterHarness(o: { rules: Record<string, string>; prometheusUrl: string; extra?: Partial<AdapterOptions> }): Promise<AdapterHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-adapter-e2e-'));
  const rulesDir = join(dir, 'rules');
  mkdirSync(rulesDir);
  for (const [name, text] of Object.entries(o.rules)) writeFileSync(join(rulesDir, name), text);
  const pki = writePkiFiles(dir);
  const logs: AdapterHarness['logs'] = [];
  let running: RunningAdapter;
  try {
    running = await startAdapter({
      rulesDir,
      prometheus: { url: o.prometheusUrl, timeoutMs: 2000 },
      port: 0,
      tls: { certFile: pki.servingCert, keyFile: pki.servingKey },
      security: { mode: 'files', requestheaderClientCaFile: pki.frontProxyCa, clientCaFile: pki.clientCa, authorizeAll: true },
      log: (level, message, fields) => logs.push(fields ? { level, message, fields } : { level, message }),
      ...o.extra,
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const url = running.server.url;
  return {
    dir,
    rulesDir,
    pki,
    running,
    url,
    logs,
    get: (path) => get(url + path, { cert: testPki().alice }),
    async close() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One answer of the scripted Prometheus: a vector of (labels, value) pairs. */
export type ScriptedVector = [Record<string, string>, number][];

export interface ScriptedPrometheusServer {
  url: string;
  /** PromQL → the vector it answers; unknown queries get an empty vector. */
  answers: Map<string, ScriptedVector>;
  /** Every query received, in order. */
  queries: string[];
  close(): Promise<void>;
  /** Each query's request headers, in order. */
  headers: http.IncomingHttpHeaders[];
}

/** A loopback server speaking the Prometheus instant-query API (GET or POST /api/v1/query) from a script. */
export async function startScriptedPrometheus(): Promise<ScriptedPrometheusServer> {
  const answers = new Map<string, ScriptedVector>();
  const queries: string[] = [];
  const headers: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.pathname !== '/api/v1/query') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'error', errorType: 'not_found', error: u.pathname }));
        return;
      }
      const params = req.method === 'POST' ? new URLSearchParams(body) : u.searchParams;
      const q = params.get('query') ?? '';
      queries.push(q);
      headers.push(req.headers);
      const now = Date.now() / 1000;
      const result = (answers.get(q) ?? []).map(([metric, v]) => ({ metric, value: [now, String(v)] }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    answers,
    queries,
    headers,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : String(last)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
