// Certificates and secrets (issue 11 defect 8): a renewed serving certificate is served without a restart, an unusable
// one is refused; Prometheus credentials come from files (re-read) or the environment; URLs are logged redacted.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { issueCert } from '../../adapter/certs.js';
import { PrometheusClient } from '../../rules/prometheus.js';
import { redactUrl } from '../../rules/redact.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { testPki } from './fixtures.js';
import { startAdapterHarness, startScriptedPrometheus, until } from './harness.js';

const RULES = `services:
  - name: chat
    decodeTpsPerUnit: 1000
    ratio: {prefill: 1, decode: 1}
    decodeTps: 'sum(rate(x[1m]))'
    pools:
      - {name: p, role: prefill, minReplicas: 1, maxReplicas: 4}
      - {name: d, role: decode, minReplicas: 1, maxReplicas: 4}
`;

function servedSerial(url: string): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: u.hostname, port: Number(u.port), ca: testPki().servingCa.certPem, servername: 'localhost' }, () => {
      const serial = s.getPeerX509Certificate()!.serialNumber;
      s.end();
      resolve(serial);
    });
    s.on('error', reject);
  });
}

describe('adapter: certificates and secrets', function () {
  this.timeout(60_000);

  it('a renewed serving certificate is served without a restart; an unusable pair keeps the old one, with a warning', async () => {
    const prom = await startScriptedPrometheus();
    const h = await startAdapterHarness({ rules: { 'r.yaml': RULES }, prometheusUrl: prom.url, extra: { certReloadMs: 100 } });
    try {
      const first = await servedSerial(h.url);
      assert.equal(first, new X509Certificate(testPki().serving.certPem).serialNumber);
      const renewed = issueCert(testPki().servingCa, { cn: 'baton-adapter', dnsNames: ['localhost'], ips: ['127.0.0.1'] });
      // A half-written renewal: the new certificate with the old key. Refused, the old pair keeps serving.
      writeFileSync(h.pki.servingCert, renewed.certPem);
      await until('a warning', async () => (h.logs.some((l) => /unusable, keeping the current one/.test(l.message)) ? true : undefined), 5000, 50);
      assert.equal(await servedSerial(h.url), first);
      writeFileSync(h.pki.servingKey, renewed.keyPem);
      const serial = await until('the renewed certificate', async () => {
        const s = await servedSerial(h.url);
        return s !== first ? s : undefined;
      }, 5000, 50);
      assert.equal(serial, new X509Certificate(renewed.certPem).serialNumber);
      assert.ok(h.logs.some((l) => l.message === 'serving certificate reloaded'));
    } finally {
      await h.close();
      await prom.close();
    }
  });

  it('the Prometheus URL is logged without its password or token parameters', async () => {
    assert.equal(redactUrl('https://user:s3cret@prom.example:9090/select/0?access_token=abc&x=1'), 'https://user:xxxxx@prom.example:9090/select/0?access_token=xxxxx&x=1');
    assert.equal(redactUrl('http://127.0.0.1:9090'), 'http://127.0.0.1:9090/');
    const prom = await startScriptedPrometheus();
    const withSecret = prom.url.replace('http://', 'http://baton:s3cret@');
    const h = await startAdapterHarness({ rules: { 'r.yaml': RULES }, prometheusUrl: withSecret });
    try {
      const text = JSON.stringify(h.logs);
      assert.doesNotMatch(text, /s3cret/);
      assert.match(text, /baton:xxxxx@127\.0\.0\.1/);
    } finally {
      await h.close();
      await prom.close();
    }
  });

  it('basic auth from a file is re-read on every query (a rotated Secret)', async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString());
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } })));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const dir = mkdtempSync(join(tmpdir(), 'baton-secret-'));
    try {
      const file = join(dir, 'auth');
      writeFileSync(file, 'baton:first:pass\n');
      const c = new PrometheusClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, basicAuthFile: file });
      await c.query('up');
      writeFileSync(file, 'baton:second');
      await c.query('up');
      c.close();
      assert.deepEqual(seen, ['baton:first:pass', 'baton:second']);
      writeFileSync(file, 'no-colon');
      const bad = new PrometheusClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, basicAuthFile: file });
      await assert.rejects(bad.query('up'), (e: Error) => /basic auth must be user:password/.test(e.message) && !/no-colon/.test(e.message));
      bad.close();
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
