import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import forge from 'node-forge';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCa, issueCert } from '../../adapter/certs.js';
import { PrometheusClient, PrometheusError, parseHeaderFlag } from '../../rules/prometheus.js';

type Handler = (req: IncomingMessage, body: string) => { status?: number; json?: unknown; delayMs?: number };

async function serve(handler: Handler, tls?: { key: string; cert: string; ca?: string; requestCert?: boolean; rejectUnauthorized?: boolean }): Promise<{ url: string; server: Server }> {
  const listener = (req: IncomingMessage, res: import('node:http').ServerResponse) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const out = handler(req, body);
      setTimeout(() => {
        if (res.destroyed) return;
        res.writeHead(out.status ?? 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(out.json ?? {}));
      }, out.delayMs ?? 0);
    });
  };
  const server = tls ? createHttpsServer(tls, listener) : createServer(listener);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return { url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, server: server as Server };
}

const ok = (result: unknown[]) => ({ status: 'success', data: { resultType: 'vector', result } });

function selfSigned(): { key: string; cert: string } {
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3_600_000);
  const attrs = [{ name: 'commonName', value: 'test-prometheus' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([{ name: 'basicConstraints', cA: true }, { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { key: forge.pki.privateKeyToPem(keys.privateKey), cert: forge.pki.certificateToPem(cert) };
}

describe('rules: Prometheus HTTP API client', () => {
  const servers: Server[] = [];
  after(() => servers.forEach((s) => s.close()));

  it('POSTs the query to <base>/api/v1/query with a bearer token and parses NaN/Inf', async () => {
    let seen: { url?: string; auth?: string; body?: string } = {};
    const { url, server } = await serve((req, body) => {
      seen = { url: req.url, auth: req.headers.authorization, body };
      return { json: ok([{ metric: { pool: 'a' }, value: [1, 'NaN'] }, { metric: { pool: 'b' }, value: [1, '+Inf'] }]) };
    });
    servers.push(server);
    const c = new PrometheusClient({ url: url + '/select/0/prometheus', bearerToken: 'tok' });
    const r = await c.query('up');
    assert.equal(seen.url, '/select/0/prometheus/api/v1/query');
    assert.equal(seen.auth, 'Bearer tok');
    assert.equal(new URLSearchParams(seen.body).get('query'), 'up');
    assert.ok(r.kind === 'vector' && Number.isNaN(r.series[0]!.value) && r.series[1]!.value === Infinity);
    c.close();
  });

  it('sends basic auth', async () => {
    let auth: string | undefined;
    const { url, server } = await serve((req) => ((auth = req.headers.authorization), { json: ok([]) }));
    servers.push(server);
    const c = new PrometheusClient({ url, basicAuth: { username: 'u', password: 'p:w' } });
    await c.query('up');
    assert.equal(auth, `Basic ${Buffer.from('u:p:w').toString('base64')}`);
    c.close();
  });

  it('reports API errors, HTTP errors and timeouts as PrometheusError with a kind', async () => {
    const { url, server } = await serve((_req, body) => {
      const q = new URLSearchParams(body).get('query');
      if (q === 'bad') return { status: 400, json: { status: 'error', errorType: 'bad_data', error: 'parse error at char 3' } };
      if (q === 'slow') return { delayMs: 500, json: ok([]) };
      return { status: 503, json: 'unavailable' };
    });
    servers.push(server);
    const c = new PrometheusClient({ url, timeoutMs: 100 });
    await assert.rejects(c.query('bad'), (e: PrometheusError) => e.kind === 'http' && e.status === 400 && /bad_data: parse error/.test(e.message));
    await assert.rejects(c.query('slow'), (e: PrometheusError) => e.kind === 'timeout');
    await assert.rejects(c.query('other'), (e: PrometheusError) => e.kind === 'http' && e.status === 503);
    c.close();
    const dead = new PrometheusClient({ url: 'http://127.0.0.1:1', timeoutMs: 500 });
    await assert.rejects(dead.query('up'), (e: PrometheusError) => e.kind === 'network');
    dead.close();
  });

  it('trusts a custom CA for HTTPS and refuses an unknown one', async function () {
    this.timeout(30_000);
    const tls = selfSigned();
    const { url, server } = await serve(() => ({ json: ok([{ metric: {}, value: [1, '3'] }]) }), tls);
    servers.push(server);
    const trusted = new PrometheusClient({ url, ca: tls.cert });
    const r = await trusted.query('up');
    assert.ok(r.kind === 'vector' && r.series[0]!.value === 3);
    trusted.close();
    const untrusted = new PrometheusClient({ url });
    await assert.rejects(untrusted.query('up'), (e: PrometheusError) => e.kind === 'network' && /self.signed|certificate/i.test(e.message));
    untrusted.close();
  });

  it('sends tenant headers (fixed, and read from a file on every request); refuses headers Baton sets itself', async () => {
    const seen: Record<string, string | undefined>[] = [];
    const { url, server } = await serve((req) => (seen.push({ org: req.headers['x-scope-orgid'] as string, tenant: req.headers['thanos-tenant'] as string, ct: req.headers['content-type'] }), { json: ok([]) }));
    servers.push(server);
    const dir = mkdtempSync(join(tmpdir(), 'baton-hdr-'));
    try {
      writeFileSync(join(dir, 'tenant'), 'team-a\n');
      const c = new PrometheusClient({ url, headers: { 'X-Scope-OrgID': 'org-1', 'content-type': 'text/evil' }, headerFiles: { 'THANOS-TENANT': join(dir, 'tenant') } });
      await c.query('up');
      writeFileSync(join(dir, 'tenant'), 'team-b');
      await c.query('up');
      c.close();
      assert.deepEqual(seen, [
        { org: 'org-1', tenant: 'team-a', ct: 'application/x-www-form-urlencoded' },
        { org: 'org-1', tenant: 'team-b', ct: 'application/x-www-form-urlencoded' },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(parseHeaderFlag('X-Scope-OrgID=a=b', '--prometheus-header'), ['X-Scope-OrgID', 'a=b']);
    assert.throws(() => parseHeaderFlag('Authorization=Bearer x', '--prometheus-header'), /Authorization is set by Baton/);
    assert.throws(() => parseHeaderFlag('bad header=1', '--prometheus-header'), /expected NAME=VALUE/);
  });

  it('presents a client certificate to a Prometheus that requires mutual TLS', async function () {
    this.timeout(30_000);
    const ca = generateCa({ cn: 'prom-ca' });
    const serving = issueCert(ca, { cn: 'prometheus', ips: ['127.0.0.1'] });
    const client = issueCert(ca, { cn: 'baton', client: true });
    const { url, server } = await serve((req) => ({ json: ok([{ metric: { cn: String((req.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN) }, value: [1, '1'] }]) }),
      { key: serving.keyPem, cert: serving.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true } as never);
    servers.push(server);
    const dir = mkdtempSync(join(tmpdir(), 'baton-mtls-'));
    try {
      writeFileSync(join(dir, 'c.crt'), client.certPem);
      writeFileSync(join(dir, 'c.key'), client.keyPem);
      const withCert = new PrometheusClient({ url, ca: ca.certPem, certFile: join(dir, 'c.crt'), keyFile: join(dir, 'c.key') });
      const r = await withCert.query('up');
      assert.ok(r.kind === 'vector' && r.series[0]!.labels.cn === 'baton');
      withCert.close();
      const without = new PrometheusClient({ url, ca: ca.certPem });
      await assert.rejects(without.query('up'), (e: PrometheusError) => e.kind === 'network');
      without.close();
      assert.throws(() => new PrometheusClient({ url, certFile: join(dir, 'c.crt') }), /certificate file and the key file together/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a deadline, not a socket-idle timeout: a server trickling bytes is cut off at the deadline', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const body = JSON.stringify(ok([]));
      let i = 0;
      const t = setInterval(() => {
        if (res.destroyed || i >= body.length) return clearInterval(t), res.end();
        res.write(body[i++]!);
      }, 50);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    servers.push(server);
    const c = new PrometheusClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, timeoutMs: 300 });
    const started = Date.now();
    await assert.rejects(c.query('up'), (e: PrometheusError) => e.kind === 'timeout');
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
    c.close();
  });

  it('refuses a body over the size limit without buffering it whole', async () => {
    const big = ok(Array.from({ length: 20_000 }, (_, i) => ({ metric: { pod: `pod-${i}` }, value: [1, '1'] })));
    const { url, server } = await serve(() => ({ json: big }));
    servers.push(server);
    const c = new PrometheusClient({ url, maxResponseBytes: 64 * 1024 });
    await assert.rejects(c.query('up'), (e: PrometheusError) => e.kind === 'size' && /larger than 65536 bytes/.test(e.message));
    c.close();
  });

  it('asks for all-or-error answers and refuses a partial one; PromQL warnings do not make an answer unusable', async () => {
    let form = new URLSearchParams();
    const { url, server } = await serve((_req, body) => {
      form = new URLSearchParams(body);
      const q = form.get('query');
      if (q === 'partial') return { json: { ...ok([{ metric: {}, value: [1, '5'] }]), isPartial: true } };
      return { json: { ...ok([{ metric: {}, value: [1, '7'] }]), warnings: ['PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "foo"'], infos: ['x'] } };
    });
    servers.push(server);
    const c = new PrometheusClient({ url });
    const r = await c.query('warned');
    assert.ok(r.kind === 'vector' && r.series[0]!.value === 7);
    assert.equal(form.get('partial_response'), 'false');
    assert.equal(form.get('deny_partial_response'), '1');
    await assert.rejects(c.query('partial'), (e: PrometheusError) => e.kind === 'partial');
    await assert.rejects(c.queryRange('partial', 0, 60, 15), (e: PrometheusError) => e.kind === 'partial');
    c.close();
  });
});
