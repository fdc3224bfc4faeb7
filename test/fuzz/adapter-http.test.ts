// Fuzzing the adapter's HTTP API (a real startAdapter, client-certificate auth): random paths, selectors, methods and
// query strings. Every answer is either 2xx or a metav1.Status JSON whose code is the HTTP status; nothing hangs or 500s
// on input alone, and the server keeps serving.
import assert from 'node:assert/strict';
import https from 'node:https';
import fc from '../support/fast-check.js';
import { startAdapterHarness, startScriptedPrometheus, type AdapterHarness, type ScriptedPrometheusServer } from '../adapter/harness.js';
import { testPki } from '../adapter/fixtures.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const DECODE_Q = 'sum by (pool) (rate(vllm:generation_tokens_total{service="chat"}[1m]))';
const RULES = `services:
  - name: chat
    namespaces: [llm]
    ratio: {prefill: 3, decode: 2}
    decodeTpsPerUnit: 1000
    decodeTps: {promql: '${DECODE_Q}', by: pool}
    maxStalenessSeconds: 30
    queryIntervalSeconds: 1
    pools:
      - {name: prefill-h100, role: prefill, minReplicas: 1, maxReplicas: 40}
      - {name: decode-h100, role: decode, minReplicas: 1, maxReplicas: 40}
`;

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

function request(h: AdapterHarness, method: string, path: string, withCert = true): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const pki = testPki();
    const req = https.request(h.url + path, {
      method,
      ca: pki.servingCa.certPem,
      ...(withCert ? { cert: pki.alice.certPem, key: pki.alice.keyPem } : {}),
      agent: false,
      timeout: 5000,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

function assertStatusOrSuccess(a: Answer, what: string): void {
  if (a.status >= 200 && a.status < 300) return;
  assert.match(a.contentType, /^application\/json/, `${what}: HTTP ${a.status} with content-type ${a.contentType}: ${a.body.slice(0, 200)}`);
  let s: { kind?: string; apiVersion?: string; status?: string; code?: number; reason?: string; message?: string };
  try {
    s = JSON.parse(a.body) as typeof s;
  } catch {
    assert.fail(`${what}: HTTP ${a.status} body is not JSON: ${a.body.slice(0, 200)}`);
  }
  assert.equal(s.kind, 'Status', what);
  assert.equal(s.apiVersion, 'v1', what);
  assert.equal(s.status, 'Failure', what);
  assert.equal(s.code, a.status, what);
  assert.ok(typeof s.reason === 'string' && s.reason.length > 0, what);
  assert.ok(typeof s.message === 'string' && s.message.length > 0, what);
  assert.notEqual(a.status, 500, `${what}: input alone caused an internal error: ${s.message}`);
}

/** Path segments: API words, percent-encoded random text, and raw characters that are legal on the wire (incl. bad %). */
const segment = fc.oneof(
  fc.constantFrom('apis', 'external.metrics.k8s.io', 'v1beta1', 'namespaces', 'llm', 'default', 'baton_desired_replicas', 'explain', 'openapi', 'v2', 'v3', '', '.', '..', '%', '%zz', '%2F', '%00', '~', ':', '*'),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
  fc.stringMatching(/^[-a-zA-Z0-9._~!$&'()*+,;=:@%]{0,10}$/),
);
const API_PREFIXES = ['/apis/external.metrics.k8s.io/v1beta1/namespaces/llm/', '/apis/external.metrics.k8s.io/v1beta1/namespaces/', '/explain/namespaces/llm/', '/apis/', '/'];
const selector = fc.oneof(
  fc.string({ maxLength: 30, unit: 'binary' }),
  fc.constantFrom('service=chat', 'service=chat,pool=decode-h100', 'pool in (decode-h100,prefill-h100)', 'a!=', '!', 'x notin ()', '((', 'service==chat,role'),
);
const query = fc.oneof(
  fc.constant(''),
  selector.map((s) => `?labelSelector=${encodeURIComponent(s)}`),
  selector.map((s) => `?labelSelector=${encodeURIComponent(s)}&labelSelector=x%3D1`),
  fc.stringMatching(/^[-a-zA-Z0-9._~!$&'()*+,;=:@%/?]{0,20}$/).map((s) => `?${s}`),
);
const path = fc.tuple(fc.constantFrom(...API_PREFIXES), fc.array(segment, { maxLength: 4 }), query).map(([p, segs, q]) => p + segs.join('/') + q);

describe('fuzz: the adapter HTTP API (random paths/selectors → 2xx or metav1.Status)', function () {
  this.timeout(120_000);
  let prom: ScriptedPrometheusServer;
  let h: AdapterHarness;

  before(async () => {
    prom = await startScriptedPrometheus();
    prom.answers.set(DECODE_Q, [[{ pool: 'decode-h100' }, 2500]]);
    h = await startAdapterHarness({ rules: { 'chat.yaml': RULES }, prometheusUrl: prom.url });
  });
  after(async () => {
    await h?.close();
    await prom?.close();
  });

  it('a valid request is served (the fuzz reaches a working server)', async () => {
    const deadline = Date.now() + 10_000;
    let a: Answer;
    do {
      a = await request(h, 'GET', '/apis/external.metrics.k8s.io/v1beta1/namespaces/llm/baton_desired_replicas?labelSelector=service%3Dchat');
      if (a.status === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    } while (Date.now() < deadline);
    assert.equal(a.status, 200, a.body);
  });

  it('random GET paths and selectors', async () => {
    await fc.assert(fc.asyncProperty(path, async (p) => assertStatusOrSuccess(await request(h, 'GET', p), `GET ${p}`)), { numRuns: RUNS });
  });

  it('random methods on API paths', async () => {
    const method = fc.constantFrom('POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD');
    await fc.assert(fc.asyncProperty(method, path, async (m, p) => {
      const a = await request(h, m, p);
      if (m === 'HEAD') assert.ok(a.status < 500, `HEAD ${p}: ${a.status}`); // no body to check
      else assertStatusOrSuccess(a, `${m} ${p}`);
    }), { numRuns: RUNS / 4 });
  });

  it('without a client certificate: every API path is a 401 Status', async () => {
    await fc.assert(fc.asyncProperty(path.filter((p) => p.startsWith('/apis') || p.startsWith('/explain')), async (p) => {
      const a = await request(h, 'GET', p, false);
      assertStatusOrSuccess(a, `GET ${p} (no cert)`);
      if (!p.startsWith('/apis/external.metrics.k8s.io/v1beta1/namespaces/llm/') || a.status !== 404) assert.notEqual(a.status, 200, `GET ${p} without a certificate was served`);
    }), { numRuns: RUNS / 4 });
  });
});
