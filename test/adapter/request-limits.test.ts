// A reader cannot exhaust the adapter's memory (issue 11 defect 6): names are validated before authorization and
// caching, and every cache on the request path is bounded in bytes, not only entries.
import assert from 'node:assert/strict';
import type { SubjectAccessReviewSpec } from '../../adapter/authz.js';
import { MetricAuthorizer } from '../../adapter/authz.js';
import { BoundedMap } from '../../adapter/bounded-map.js';
import { CachedRulesProvider } from '../../adapter/cached-provider.js';
import { requestNameProblem } from '../../adapter/request-limits.js';
import { parseSelector } from '../../adapter/selector.js';
import { createAdapterServer, type AdapterServer } from '../../adapter/server.js';
import { DECODE_Q, harness, vector } from '../rules/fixtures.js';
import { asUser, FakeProvider, get, testPki } from './fixtures.js';

const BASE = '/apis/external.metrics.k8s.io/v1beta1';

describe('adapter: request names and cache bounds', function () {
  this.timeout(60_000);

  it('namespaces are DNS-1123 labels; metric names and selectors have bounded lengths', () => {
    assert.equal(requestNameProblem('llm-prod', 'baton_desired_replicas', 'service=chat'), undefined);
    for (const ns of ['LLM', 'a_b', '-x', 'x-', 'a'.repeat(64), '', 'a.b']) assert.match(requestNameProblem(ns, 'm', '') ?? '', /DNS-1123 label/, ns);
    assert.match(requestNameProblem('ns', 'm'.repeat(254), '') ?? '', /metric name is 254 characters/);
    assert.match(requestNameProblem('ns', 'm', 'a=b,'.repeat(3000)) ?? '', /labelSelector is 12000 characters long/);
  });

  describe('over HTTPS: refused before the SubjectAccessReview', () => {
    let server: AdapterServer;
    const reviews: SubjectAccessReviewSpec[] = [];
    const p = testPki();
    before(async () => {
      server = await createAdapterServer({
        provider: new FakeProvider(),
        tls: { certPem: p.serving.certPem, keyPem: p.serving.keyPem },
        auth: {
          authentication: { requestHeader: { clientCaPem: p.frontProxyCa.certPem, allowedNames: ['front-proxy-client'] } },
          authorization: { reviewer: async (s) => (reviews.push(s), { allowed: true }) },
        },
        log: () => {},
      });
    });
    after(() => server.close());

    it('400 for an invalid namespace and for a 12 KB selector, with no SAR sent', async () => {
      const bad = await get(`${server.url}${BASE}/namespaces/Not_A_Label/decode_desired_replicas`, { cert: p.frontProxy, headers: asUser('hpa') });
      assert.equal(bad.status, 400, bad.body);
      assert.match(bad.json.message, /DNS-1123 label/);
      const long = await get(`${server.url}${BASE}/namespaces/llm/decode_desired_replicas?labelSelector=${'abcd'.repeat(3000)}`, { cert: p.frontProxy, headers: asUser('hpa') });
      assert.equal(long.status, 400);
      assert.match(long.json.message, /labelSelector is 12000 characters long/);
      assert.equal(long.json.code, 400);
      assert.equal(reviews.length, 0);
      assert.equal((await get(`${server.url}${BASE}/namespaces/llm/decode_desired_replicas`, { cert: p.frontProxy, headers: asUser('hpa') })).status, 200);
    });
  });

  it('BoundedMap drops the oldest entries past its byte budget', () => {
    const m = new BoundedMap<number>(1000, 10_000);
    for (let i = 0; i < 100; i++) m.set(`${i}:${'x'.repeat(500)}`, i);
    assert.ok(m.bytes <= 10_000, `bytes ${m.bytes}`);
    assert.ok(m.size < 100);
    assert.equal(m.get(`99:${'x'.repeat(500)}`), 99, 'the newest stays');
    assert.equal(m.get(`0:${'x'.repeat(500)}`), undefined, 'the oldest went');
    m.set('huge', 1);
    assert.equal(m.get('huge'), 1);
    new BoundedMap<number>(10, 100).set('k'.repeat(200), 1); // larger than the whole budget: not cached, no throw
  });

  it('20,000 distinct 4 KB selectors keep the provider selection cache within its byte bound', async () => {
    const h = harness();
    h.prom.answers.set(DECODE_Q, vector([{ pool: 'decode-h100' }, 3000]));
    await h.evaluator.evaluateAll();
    const cached = new CachedRulesProvider(h.evaluator, h.now);
    for (let i = 0; i < 20_000; i++) {
      const text = `service=chat,x notin (${i},${Array.from({ length: 64 }, (_, j) => `v${j}${'w'.repeat(58)}`).join(',')})`;
      try {
        cached.getExternalMetric('llm', 'baton_desired_replicas', parseSelector(text).matches, text);
      } catch {
        // no match is a 404 MetricError: only the cache matters here
      }
    }
    assert.ok(cached.cacheBytes <= 16 * 1024 * 1024, `${(cached.cacheBytes / 1048576).toFixed(1)} MiB`);
    assert.ok(cached.cacheBytes > 1024 * 1024, 'it does cache');
  });

  it('the SAR cache is bounded in bytes whatever the identities look like', async () => {
    const az = new MetricAuthorizer({ reviewer: async () => ({ allowed: true }), maxBytes: 1024 * 1024 });
    for (let i = 0; i < 3000; i++) await az.authorize({ user: `u${i}`, groups: [`g-${'x'.repeat(2000)}`], extra: {}, via: 'front-proxy' }, 'ns', 'm');
    assert.ok(az.bytes <= 1024 * 1024, `bytes ${az.bytes}`);
  });
});
