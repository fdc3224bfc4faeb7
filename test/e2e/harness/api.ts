// A small JSON client for the test's own reads (admin client certificate over HTTPS, no kubectl process per poll),
// plus kubectl for applying manifests and for the `get --raw` a person would type.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';

export interface ApiCredentials {
  server: string;
  caPem: string;
  certPem: string;
  keyPem: string;
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly path: string, readonly body: string) {
    super(`${path}: HTTP ${status}: ${body.slice(0, 500)}`);
  }
}

export class KubeApi {
  private readonly agent: https.Agent;

  constructor(readonly creds: ApiCredentials) {
    this.agent = new https.Agent({ ca: creds.caPem, cert: creds.certPem, key: creds.keyPem, keepAlive: true, maxSockets: 4 });
  }

  static fromFiles(server: string, caFile: string, certFile: string, keyFile: string): KubeApi {
    return new KubeApi({ server, caPem: readFileSync(caFile, 'utf8'), certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') });
  }

  request(method: string, path: string, body?: unknown, contentType = 'application/json', timeoutMs = 10_000): Promise<{ status: number; text: string }> {
    const url = new URL(path, this.creds.server);
    const data = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(url, { method, agent: this.agent, timeout: timeoutMs, headers: data ? { 'content-type': contentType, 'content-length': Buffer.byteLength(data) } : {} }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      if (data) req.write(data);
      req.end();
    });
  }

  async get<T>(path: string): Promise<T> {
    const r = await this.request('GET', path);
    if (r.status !== 200) throw new ApiError(r.status, path, r.text);
    return JSON.parse(r.text) as T;
  }

  async getText(path: string): Promise<string> {
    const r = await this.request('GET', path);
    if (r.status !== 200) throw new ApiError(r.status, path, r.text);
    return r.text;
  }

  async delete(path: string): Promise<void> {
    const r = await this.request('DELETE', path);
    if (r.status !== 200 && r.status !== 202 && r.status !== 404) throw new ApiError(r.status, path, r.text);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Runs kubectl with the run's kubeconfig; rejects with its stderr. */
export function kubectl(bin: string, kubeconfig: string, args: string[], stdin?: string, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(bin, ['--kubeconfig', kubeconfig, '--request-timeout=10s', ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`kubectl ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}

/** Polls `check` until it returns a value (not undefined) or the deadline passes; the error names what was awaited. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined> | T | undefined, intervalMs = 250, onPoll?: () => void): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    onPoll?.();
    try {
      const v = await check();
      if (v !== undefined) return v;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
