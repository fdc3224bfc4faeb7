// The metric GET is routed before express (the hot path); unusual forms of the same request still go through express.
// Both must answer the same, be counted under the `metric` route, and a provider that returns the same samples array
// gets its body rendered once.
import assert from 'node:assert/strict';
import { createAdapterServer, type AdapterServer } from '../../adapter/server.js';
import type { ExternalMetricSample, LabelMatcher } from '../../adapter/provider.js';
import { asUser, FakeProvider, get, testPki } from './fixtures.js';

/** Returns one array per (metric, selector) until `bump()`: what CachedRulesProvider does between evaluations. */
class StableProvider extends FakeProvider {
  private memo = new Map<string, ExternalMetricSample[]>();
  bump(): void {
    this.memo.clear();
  }
  override getExternalMetric(namespace: string, metric: string, selector: LabelMatcher, selectorText: string): ExternalMetricSample[] {
    const key = `${metric} ${selectorText}`;
    let v = this.memo.get(key);
    if (!v) this.memo.set(key, (v = super.getExternalMetric(namespace, metric, selector, selectorText)));
    else this.calls.push({ namespace, metric, selectorText });
    return v;
  }
}

describe('adapter: metric route before express', function () {
  this.timeout(20_000);
  const p = testPki();
  let s: AdapterServer;
  const provider = new StableProvider();
  const base = '/apis/external.metrics.k8s.io/v1beta1/namespaces';
  const ask = (path: string) => get(s.url + path, { cert: p.frontProxy, headers: asUser('u') });

  before(async () => {
    s = await createAdapterServer({
      provider,
      tls: { certPem: p.serving.certPem, keyPem: p.serving.keyPem },
      auth: { authentication: { requestHeader: { clientCaPem: p.frontProxyCa.certPem, allowedNames: ['front-proxy-client'] } }, authorization: { allowAllAuthenticated: true } },
      log: () => {},
    });
  });
  after(() => s.close());

  it('answers the plain form and the forms express routes (trailing slash, percent-encoding) alike', async () => {
    const plain = await ask(`${base}/llm/decode_desired_replicas?labelSelector=service%3Dchat`);
    assert.equal(plain.status, 200, plain.body);
    assert.deepEqual(plain.json.items.map((i: { value: string }) => i.value), ['14']);
    for (const path of [
      `${base}/llm/decode_desired_replicas/?labelSelector=service%3Dchat`,
      `${base}/%6Clm/decode_desired_replicas?labelSelector=service%3Dchat`,
      `${base}/llm/decode_desired_replicas?labelSelector=service%3Dchat&labelSelector=service%3Dcode`,
    ]) {
      const r = await ask(path);
      assert.equal(r.status, 200, `${path}: ${r.body}`);
      assert.deepEqual(r.json, plain.json, path);
    }
    const last = provider.calls.at(-1)!;
    assert.deepEqual(last, { namespace: 'llm', metric: 'decode_desired_replicas', selectorText: 'service=chat' });
  });

  it('authenticates, answers Status errors and counts requests under the metric route', async () => {
    const anon = await get(`${s.url}${base}/llm/decode_desired_replicas`);
    assert.equal(anon.status, 401);
    assert.equal(anon.json.kind, 'Status');
    const bad = await ask(`${base}/llm/decode_desired_replicas?labelSelector=${encodeURIComponent('a in (')}`);
    assert.equal(bad.status, 400);
    const stale = await ask(`${base}/llm/stale_metric`);
    assert.equal(stale.status, 503);
    const text = await s.registry.metrics();
    const count = (code: string) => Number(new RegExp(`_count\\{[^}]*route="metric"[^}]*code="${code}"[^}]*\\} (\\d+)`).exec(text)?.[1] ?? 0);
    assert.ok(count('200') >= 4 && count('401') >= 1 && count('400') >= 1 && count('503') >= 1, text.split('\n').filter((l) => l.includes('route="metric"')).join('\n'));
  });

  it('renders a samples array once and re-renders after it changes', async () => {
    provider.bump();
    const first = await ask(`${base}/llm/decode_desired_replicas`);
    const samples = provider.series.decode_desired_replicas!;
    const original = samples[0]!.value;
    samples[0]!.value = 99; // the same array object mutated behind the server's back: the cached body must not change
    const again = await ask(`${base}/llm/decode_desired_replicas`);
    assert.equal(again.body, first.body);
    provider.bump(); // a new evaluation: a new array
    const after = await ask(`${base}/llm/decode_desired_replicas`);
    assert.match(after.body, /"value":"99"/);
    samples[0]!.value = original;
  });
});
