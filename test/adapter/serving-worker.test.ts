// The serving worker: HPA requests are answered while the main thread (rules, evaluation, decisions) is busy; what its
// mirror cannot answer (errors, /explain, the main registry's metrics) comes from the main thread, word for word.
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { testPki } from './fixtures.js';
import { startAdapterHarness, startScriptedPrometheus, until, type AdapterHarness, type ScriptedPrometheusServer } from './harness.js';

const DECODE_Q = 'sum by (pool) (rate(vllm:generation_tokens_total{service="chat"}[1m]))';
const RULES = `services:
  - name: chat
    ratio: {prefill: 3, decode: 2}
    decodeTpsPerUnit: 1000
    decodeTps: {promql: '${DECODE_Q}', by: pool}
    queryIntervalSeconds: 1
    pools:
      - {name: prefill-h100, role: prefill, maxReplicas: 40}
      - {name: decode-h100, role: decode, maxReplicas: 40}
`;
const METRIC = '/apis/external.metrics.k8s.io/v1beta1/namespaces/default/baton_desired_replicas';
const DECODE = `${METRIC}?labelSelector=${encodeURIComponent('service=chat,pool=decode-h100')}`;

/**
 * Sends one GET from another thread when told to, and reports how long the answer took by that thread's clock: the
 * main thread can then block while the request is in flight.
 */
function clientThread(url: string): Worker {
  const pki = testPki();
  const code = `
    const { parentPort, workerData: w } = require('node:worker_threads');
    const https = require('node:https');
    parentPort.on('message', () => {
      const t0 = performance.now();
      https.get(w.url, { ca: w.ca, cert: w.cert, key: w.key, agent: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => parentPort.postMessage({ status: res.statusCode, body, ms: performance.now() - t0 }));
      }).on('error', (e) => parentPort.postMessage({ status: 0, body: String(e), ms: performance.now() - t0 }));
    });`;
  return new Worker(code, { eval: true, workerData: { url, ca: pki.servingCa.certPem, cert: pki.alice.certPem, key: pki.alice.keyPem } });
}

/** The latency of one request sent while this thread is blocked for `blockMs`. */
async function latencyWhileBlocked(client: Worker, blockMs: number): Promise<{ status: number; ms: number }> {
  const answered = new Promise<{ status: number; ms: number }>((r) => client.once('message', r));
  client.postMessage('go');
  const end = Date.now() + blockMs;
  while (Date.now() < end) { /* the main thread is busy, as in an evaluation round */ }
  return answered;
}

describe('adapter: the serving worker', function () {
  this.timeout(30_000);
  let prom: ScriptedPrometheusServer;

  before(async () => {
    prom = await startScriptedPrometheus();
    prom.answers.set(DECODE_Q, [[{ pool: 'decode-h100' }, 2500]]);
  });
  after(async () => prom?.close());

  for (const serving of ['worker', 'inline'] as const) {
    it(`${serving}: ${serving === 'worker' ? 'answers an HPA while the main thread is blocked' : 'waits for a blocked main thread (what the worker removes)'}`, async () => {
      const h = await startAdapterHarness({ rules: { 'chat.yaml': RULES }, prometheusUrl: prom.url, extra: { serving } });
      const client = clientThread(h.url + DECODE);
      try {
        await until('decode served', async () => ((await h.get(DECODE)).status === 200 ? true : undefined), 10_000);
        await new Promise((r) => setTimeout(r, 400)); // the mirror's next sync
        const r = await latencyWhileBlocked(client, 1500);
        assert.equal(r.status, 200);
        if (serving === 'worker') assert.ok(r.ms < 750, `answered in ${r.ms.toFixed(0)} ms while the main thread was blocked for 1500 ms`);
        else assert.ok(r.ms >= 1000, `inline serving waited ${r.ms.toFixed(0)} ms`);
      } finally {
        await client.terminate();
        await h.close();
      }
    });
  }

  describe('answers what its mirror cannot from the main thread', () => {
    let worker: AdapterHarness;
    let inline: AdapterHarness;
    before(async () => {
      worker = await startAdapterHarness({ rules: { 'chat.yaml': RULES }, prometheusUrl: prom.url });
      inline = await startAdapterHarness({ rules: { 'chat.yaml': RULES }, prometheusUrl: prom.url, extra: { serving: 'inline' } });
      for (const h of [worker, inline]) await until('decode served', async () => ((await h.get(DECODE)).status === 200 ? true : undefined), 10_000);
    });
    after(async () => {
      await worker?.close();
      await inline?.close();
    });

    it('the values and the errors are the inline server\'s', async () => {
      const paths = [
        DECODE,
        `${METRIC}?labelSelector=${encodeURIComponent('service=nope')}`,
        `${METRIC}?labelSelector=${encodeURIComponent('service in (')}`,
        '/apis/external.metrics.k8s.io/v1beta1/namespaces/default/no_such_metric',
        '/apis/external.metrics.k8s.io/v1beta1',
      ];
      for (const p of paths) {
        const [a, b] = await Promise.all([worker.get(p), inline.get(p)]);
        assert.equal(a.status, b.status, p);
        if (a.status === 200 && a.json?.items) assert.deepEqual(a.json.items.map((i: { value: string }) => i.value), b.json.items.map((i: { value: string }) => i.value), p);
        else assert.deepEqual(a.json, b.json, p);
      }
    });

    it('/explain and /metrics: the main thread\'s explanation and registry beside the worker\'s HTTP metrics', async () => {
      const ex = await worker.get(`/explain/namespaces/default/baton_desired_replicas?labelSelector=${encodeURIComponent('service=chat')}`);
      assert.equal(ex.status, 200);
      assert.equal(ex.json.queries[0].promql, DECODE_Q);
      const m = await worker.get('/metrics');
      assert.equal(m.status, 200);
      assert.match(m.body, /^baton_rules_evaluations_total\{/m, 'the rules registry (main thread)');
      assert.match(m.body, /^baton_adapter_http_request_duration_seconds_count\{/m, 'the HTTP metrics (worker)');
    });
  });
});
