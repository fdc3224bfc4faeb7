import assert from 'node:assert/strict';
import http from 'node:http';
import { Registry } from 'prom-client';
import type { AccessDecision, SubjectAccessReviewSpec } from '../../adapter/authz.js';
import { createAdapterServer, INSECURE_DEV_WARNING, type AdapterServer, type LogLevel } from '../../adapter/server.js';
import { asUser, FakeProvider, get, testPki } from './fixtures.js';

const BASE = '/apis/external.metrics.k8s.io/v1beta1';
const GV = { groupVersion: 'external.metrics.k8s.io/v1beta1', version: 'v1beta1' };

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

describe('adapter: External Metrics API server over HTTPS', function () {
  this.timeout(20_000);
  let server: AdapterServer;
  let provider: FakeProvider;
  let reviews: SubjectAccessReviewSpec[];
  let logs: { level: LogLevel; message: string; fields?: Record<string, unknown> }[];
  let reviewerFails = false;
  const p = testPki();
  const proxy = (user = 'system:serviceaccount:kube-system:horizontal-pod-autoscaler', groups = ['system:serviceaccounts']) => ({
    cert: p.frontProxy,
    headers: asUser(user, groups),
  });

  before(async () => {
    provider = new FakeProvider();
    reviews = [];
    logs = [];
    server = await createAdapterServer({
      provider,
      tls: { certPem: p.serving.certPem, keyPem: p.serving.keyPem },
      auth: {
        authentication: {
          requestHeader: { clientCaPem: p.frontProxyCa.certPem, allowedNames: ['front-proxy-client'] },
          clientCaPem: p.clientCa.certPem,
        },
        authorization: {
          reviewer: async (spec): Promise<AccessDecision> => {
            reviews.push(spec);
            if (reviewerFails) throw new Error('kube-apiserver unreachable');
            const denied = spec.user === 'mallory' || spec.resourceAttributes?.resource === 'secret_metric';
            return denied ? { allowed: false, reason: 'no RBAC policy matched' } : { allowed: true };
          },
        },
      },
      log: (level, message, fields) => logs.push({ level, message, ...(fields ? { fields } : {}) }),
    });
  });
  after(() => server.close());
  beforeEach(() => {
    reviewerFails = false;
  });

  describe('discovery', () => {
    it('GET /apis is an APIGroupList with the one group', async () => {
      const r = await get(`${server.url}/apis`, proxy());
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.deepEqual(r.json, {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [{ name: 'external.metrics.k8s.io', versions: [GV], preferredVersion: GV }],
      });
    });

    it('GET /apis/external.metrics.k8s.io is an APIGroup', async () => {
      const r = await get(`${server.url}/apis/external.metrics.k8s.io`, proxy());
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, { kind: 'APIGroup', apiVersion: 'v1', name: 'external.metrics.k8s.io', versions: [GV], preferredVersion: GV });
    });

    it('GET /apis/external.metrics.k8s.io/v1beta1 lists the provider metric names, or a placeholder when none', async () => {
      const r = await get(`${server.url}${BASE}`, proxy('system:kube-aggregator', []));
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: 'external.metrics.k8s.io/v1beta1',
        resources: ['decode_desired_replicas', 'prefill_desired_replicas'].map((name) => ({
          name,
          singularName: '',
          namespaced: true,
          kind: 'ExternalMetricValueList',
          verbs: ['get'],
        })),
      });
      const saved = provider.names;
      provider.names = [];
      try {
        const empty = await get(`${server.url}${BASE}`, proxy());
        assert.deepEqual(
          empty.json.resources.map((x: { name: string }) => x.name),
          ['externalmetrics'],
        );
      } finally {
        provider.names = saved;
      }
    });
  });

  describe('the metric path', () => {
    it('returns an ExternalMetricValueList with Quantity strings, RFC 3339 timestamps and the window', async () => {
      const r = await get(`${server.url}${BASE}/namespaces/llm/decode_desired_replicas?labelSelector=service%3Dchat`, proxy());
      assert.equal(r.status, 200, r.body);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.deepEqual(r.json, {
        kind: 'ExternalMetricValueList',
        apiVersion: 'external.metrics.k8s.io/v1beta1',
        metadata: {},
        items: [
          {
            metricName: 'decode_desired_replicas',
            metricLabels: { service: 'chat', pool: 'h200' },
            timestamp: '2026-01-02T03:04:05Z',
            window: 60,
            value: '14',
          },
        ],
      });
      assert.deepEqual(provider.calls.at(-1), { namespace: 'llm', metric: 'decode_desired_replicas', selectorText: 'service=chat' });
    });

    it('without labelSelector selects everything; fractional values render in milli, large ones with suffixes', async () => {
      const r = await get(`${server.url}${BASE}/namespaces/llm/decode_desired_replicas`, proxy());
      assert.deepEqual(
        r.json.items.map((i: { value: string }) => i.value),
        ['14', '1500m'],
      );
      assert.equal('window' in r.json.items[1], false, 'no window key when the provider has none');
      const k = await get(`${server.url}${BASE}/namespaces/llm/prefill_desired_replicas`, proxy());
      assert.equal(k.json.items[0].value, '2k');
    });

    it('takes the selector in Go-encoded form (spaces as +, parentheses and commas escaped)', async () => {
      const q = new URLSearchParams({ labelSelector: 'pool in (h100,a100),service!=chat' }).toString();
      assert.ok(q.includes('+'));
      const r = await get(`${server.url}${BASE}/namespaces/llm/decode_desired_replicas?${q}`, proxy());
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(r.json.items.map((i: { metricLabels: unknown }) => i.metricLabels), [{ service: 'code', pool: 'h100' }]);
    });

    it('serves metric names with a colon (vllm:…) verbatim', async () => {
      const r = await get(`${server.url}${BASE}/namespaces/default/vllm:tokens_per_s`, proxy());
      assert.equal(r.status, 200, r.body);
      assert.equal(r.json.items[0].metricName, 'vllm:tokens_per_s');
      assert.equal(r.json.items[0].value, '140349m');
    });
  });

  describe('errors are metav1.Status objects with the matching code', () => {
    it('400 BadRequest for an unparsable selector, naming the problem', async () => {
      const r = await get(`${server.url}${BASE}/namespaces/llm/decode_desired_replicas?labelSelector=${encodeURIComponent('service in chat')}`, proxy());
      assert.equal(r.status, 400);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.deepEqual(r.json, status(400, 'BadRequest', `unable to parse label selector "service in chat" at column 12: found 'chat', expected: '('`));
    });

    it('400 BadRequest passed through from the provider', async () => {
      const r = await get(`${server.url}${BASE}/namespaces/llm/bad_request_metric`, proxy());
      assert.deepEqual(r.json, status(400, 'BadRequest', 'selector must name a service'));
    });

    it('404 NotFound for an unknown metric', async () => {
      const r = await get(`${server.url}${BASE}/namespaces/llm/no_such_metric`, proxy());
      assert.equal(r.status, 404);
      assert.deepEqual(r.json, status(404, 'NotFound', 'the server could not find the metric no_such_metric for external.metrics.k8s.io'));
    });

    it('404 NotFound (not an empty list) when no series matches the selector', async () => {
      const r = await get(`${server.url}${BASE}/namespaces/llm/decode_desired_replicas?labelSelector=service%3Dnone`, proxy());
      assert.equal(r.status, 404);
      assert.equal(r.json.kind, 'Status');
      assert.match(r.json.message, /no series of external metric decode_desired_replicas in namespace llm match the selector "service=none"/);
    });

    it('503 ServiceUnavailable when the provider reports stale data', async () => {
      const r = await get(`${server.url}${BASE}/namespaces/llm/stale_metric`, proxy());
      assert.equal(r.status, 503);
      assert.deepEqual(r.json, status(503, 'ServiceUnavailable', 'stale_metric: last good value is 120 s old (max staleness 60 s)'));
    });

    it('500 InternalError for a provider crash, without leaking its internals', async () => {
      const r = await get(`${server.url}${BASE}/namespaces/llm/broken_metric`, proxy());
      assert.equal(r.status, 500);
      assert.deepEqual(r.json, status(500, 'InternalError', 'Internal error occurred: unable to fetch metrics'));
      assert.doesNotMatch(r.body, /prometheus/i);
      assert.ok(logs.some((l) => l.level === 'error' && String(l.fields?.error).includes('connection refused')), 'the detail is logged');
    });

    it('500 InternalError rather than publishing NaN', async () => {
      const r = await get(`${server.url}${BASE}/namespaces/llm/nan_metric`, proxy());
      assert.equal(r.status, 500);
      assert.equal(r.json.reason, 'InternalError');
      assert.doesNotMatch(r.body, /NaN|-9223372036854775808/);
    });

    it('404 Status for unknown paths', async () => {
      const r = await get(`${server.url}/apis/custom.metrics.k8s.io/v1beta1`, proxy());
      assert.equal(r.status, 404);
      assert.equal(r.json.kind, 'Status');
    });
  });

  describe('health, OpenAPI and /metrics need no credentials', () => {
    for (const path of ['/healthz', '/livez', '/readyz']) {
      it(`${path} → 200 ok without a client certificate`, async () => {
        const r = await get(`${server.url}${path}`);
        assert.equal(r.status, 200);
        assert.equal(r.body, 'ok');
      });
    }

    for (const path of ['/openapi/v2', '/openapi/v3', '/openapi/v3/apis/external.metrics.k8s.io/v1beta1']) {
      it(`${path} → 404 (the aggregator skips the spec quietly)`, async () => {
        const r = await get(`${server.url}${path}`);
        assert.equal(r.status, 404);
        assert.equal(r.json.kind, 'Status');
      });
    }

    it('/metrics exposes the request latency histogram by route and code, and in-flight requests', async () => {
      await get(`${server.url}${BASE}/namespaces/llm/decode_desired_replicas`, proxy());
      const r = await get(`${server.url}/metrics`);
      assert.equal(r.status, 200);
      assert.match(r.body, /baton_adapter_http_request_duration_seconds_count\{route="metric",code="200"\} [1-9]/);
      assert.match(r.body, /baton_adapter_http_request_duration_seconds_count\{route="metric",code="404"\} [1-9]/);
      assert.match(r.body, /baton_adapter_http_request_duration_seconds_bucket\{le="0.01",route="discovery",code="200"\} [1-9]/);
      assert.match(r.body, /baton_adapter_http_requests_in_flight 1/, 'the /metrics request itself is in flight');
      assert.match(r.body, /baton_adapter_subject_access_reviews_total\{outcome="allowed"\} [1-9]/);
    });
  });

  describe('authentication', () => {
    it('401 Status without a client certificate, even with X-Remote-* headers', async () => {
      const r = await get(`${server.url}${BASE}/namespaces/llm/decode_desired_replicas`, { headers: asUser('admin', ['system:masters']) });
      assert.equal(r.status, 401);
      assert.deepEqual(r.json, status(401, 'Unauthorized', 'Unauthorized: no client certificate presented'));
      const disc = await get(`${server.url}/apis`, { headers: asUser('admin', ['system:masters']) });
      assert.equal(disc.status, 401);
    });

    it('401 for a certificate from an untrusted CA (same subject as the front-proxy CA)', async () => {
      const r = await get(`${server.url}${BASE}/namespaces/llm/decode_desired_replicas`, { cert: p.rogue, headers: asUser('admin', ['system:masters']) });
      assert.equal(r.status, 401);
      assert.match(r.json.message, /client certificate rejected/);
    });

    it('401 for a front-proxy-CA certificate whose CN is not an allowed name', async () => {
      const r = await get(`${server.url}${BASE}/namespaces/llm/decode_desired_replicas`, { cert: p.otherProxy, headers: asUser('admin') });
      assert.equal(r.status, 401);
      assert.match(r.json.message, /CN "someone-else" is not in the requestheader allowed names/);
    });

    it('401 for a front-proxy request without X-Remote-User', async () => {
      const r = await get(`${server.url}${BASE}/namespaces/llm/decode_desired_replicas`, { cert: p.frontProxy });
      assert.equal(r.status, 401);
      assert.match(r.json.message, /without a user header/);
    });

    it('takes user, every group, uid and extra (unescaped, lowercased keys) from the front-proxy headers', async () => {
      reviews.length = 0;
      const headers = { ...asUser('bob', ['team-b', 'system:authenticated'], { 'Scopes/Read': ['a', 'b'] }), 'X-Remote-Uid': 'uid-7' };
      const r = await get(`${server.url}${BASE}/namespaces/ns-bob/decode_desired_replicas`, { cert: p.frontProxy, headers });
      assert.equal(r.status, 200, r.body);
      assert.equal(reviews.length, 1);
      assert.deepEqual(reviews[0], {
        user: 'bob',
        uid: 'uid-7',
        groups: ['team-b', 'system:authenticated'],
        extra: { 'scopes/read': ['a', 'b'] },
        resourceAttributes: { namespace: 'ns-bob', verb: 'list', group: 'external.metrics.k8s.io', version: 'v1beta1', resource: 'decode_desired_replicas' },
      });
    });

    it('an x509 client user (client CA) is CN/O, and X-Remote-* headers on that connection are ignored', async () => {
      reviews.length = 0;
      const r = await get(`${server.url}${BASE}/namespaces/ns-alice/decode_desired_replicas`, {
        cert: p.alice,
        headers: asUser('admin', ['system:masters']),
      });
      assert.equal(r.status, 200, r.body);
      assert.equal(reviews.length, 1, 'system:masters from a header did not skip the SAR');
      assert.equal(reviews[0]!.user, 'alice');
      assert.deepEqual(reviews[0]!.groups, ['team-a', 'devs']);
    });
  });

  describe('authorization (SubjectAccessReview)', () => {
    it('403 Forbidden Status when the SAR denies', async () => {
      const r = await get(`${server.url}${BASE}/namespaces/llm/decode_desired_replicas`, proxy('mallory', ['evil']));
      assert.equal(r.status, 403);
      assert.deepEqual(
        r.json,
        status(
          403,
          'Forbidden',
          'decode_desired_replicas.external.metrics.k8s.io is forbidden: User "mallory" cannot list resource "decode_desired_replicas" in API group "external.metrics.k8s.io" in the namespace "llm": no RBAC policy matched',
        ),
      );
    });

    it('caches decisions (allow and deny) per user, groups, namespace and metric', async () => {
      reviews.length = 0;
      for (let i = 0; i < 3; i++) {
        assert.equal((await get(`${server.url}${BASE}/namespaces/cache-ns/decode_desired_replicas`, proxy('carol', ['g1']))).status, 200);
        assert.equal((await get(`${server.url}${BASE}/namespaces/cache-ns/secret_metric`, proxy('carol', ['g1']))).status, 403);
      }
      assert.equal(reviews.length, 2);
      await get(`${server.url}${BASE}/namespaces/cache-ns/decode_desired_replicas`, proxy('carol', ['g1', 'g2']));
      await get(`${server.url}${BASE}/namespaces/other-ns/decode_desired_replicas`, proxy('carol', ['g1']));
      assert.equal(reviews.length, 4, 'different groups or namespace ask again');
    });

    it('allows system:masters without a SAR', async () => {
      reviews.length = 0;
      const r = await get(`${server.url}${BASE}/namespaces/llm/secret_metric`, proxy('root', ['system:masters']));
      assert.equal(r.status, 404, 'authorized, then the provider does not know the metric');
      assert.equal(reviews.length, 0);
    });

    it('500 when the SAR cannot be made, and the failure is not cached', async () => {
      reviewerFails = true;
      const r = await get(`${server.url}${BASE}/namespaces/llm/decode_desired_replicas`, proxy('dave'));
      assert.equal(r.status, 500);
      assert.deepEqual(r.json, status(500, 'InternalError', 'Internal error occurred: authorization check failed'));
      reviewerFails = false;
      const again = await get(`${server.url}${BASE}/namespaces/llm/decode_desired_replicas`, proxy('dave'));
      assert.equal(again.status, 200);
    });

    it('authorizes before parsing the selector (a denied user learns nothing)', async () => {
      const r = await get(`${server.url}${BASE}/namespaces/llm/decode_desired_replicas?labelSelector=(((`, proxy('mallory'));
      assert.equal(r.status, 403);
    });
  });

  describe('explain endpoint', () => {
    it('returns the provider explanation for namespace/metric/selector, authenticated and authorized like the API', async () => {
      const url = `${server.url}/explain/namespaces/llm/decode_desired_replicas?labelSelector=service%3Dchat`;
      const r = await get(url, proxy());
      assert.equal(r.status, 200, r.body);
      assert.equal(r.json.metric, 'decode_desired_replicas');
      assert.equal(r.json.selector, 'service=chat');
      assert.match(r.json.queries[0].promql, /rate\(vllm:generation_tokens_total/);
      assert.equal(r.json.values.length, 1);
      assert.equal((await get(url)).status, 401);
      assert.equal((await get(url, proxy('mallory'))).status, 403);
    });
  });
});

describe('adapter: server options', function () {
  this.timeout(20_000);
  const p = testPki();
  const auth = {
    authentication: { requestHeader: { clientCaPem: p.frontProxyCa.certPem, allowedNames: [] } },
    authorization: { allowAllAuthenticated: true as const },
  };

  it('an empty allowed-names list accepts any CN signed by the front-proxy CA', async () => {
    const s = await createAdapterServer({ provider: new FakeProvider(), tls: { certPem: p.serving.certPem, keyPem: p.serving.keyPem }, auth, log: () => {} });
    try {
      const r = await get(`${s.url}/apis/external.metrics.k8s.io/v1beta1/namespaces/x/decode_desired_replicas`, { cert: p.otherProxy, headers: asUser('u') });
      assert.equal(r.status, 200, r.body);
      const x509 = await get(`${s.url}/apis`, { cert: p.alice });
      assert.equal(x509.status, 401, 'no client CA configured: a kubernetes-ca user is not accepted');
    } finally {
      await s.close();
    }
  });

  it('rotating the front-proxy CA takes effect for new connections', async () => {
    const s = await createAdapterServer({ provider: new FakeProvider(), tls: { certPem: p.serving.certPem, keyPem: p.serving.keyPem }, auth, log: () => {} });
    try {
      assert.equal((await get(`${s.url}/apis`, { cert: p.frontProxy, headers: asUser('u') })).status, 200);
      assert.equal((await get(`${s.url}/apis`, { cert: p.rogue, headers: asUser('u') })).status, 401);
      s.setAuthentication({ requestHeader: { clientCaPem: p.rogueCa.certPem, allowedNames: [] } });
      assert.equal((await get(`${s.url}/apis`, { cert: p.frontProxy, headers: asUser('u') })).status, 401);
      assert.equal((await get(`${s.url}/apis`, { cert: p.rogue, headers: asUser('u') })).status, 200);
    } finally {
      await s.close();
    }
  });

  it('--self-signed serves a generated certificate for 127.0.0.1 and exposes its CA', async () => {
    const s = await createAdapterServer({ provider: new FakeProvider(), tls: { selfSigned: true }, auth, log: () => {} });
    try {
      assert.ok(s.selfSignedCaPem);
      const r = await get(`${s.url}/healthz`, { ca: s.selfSignedCaPem });
      assert.equal(r.status, 200);
      await assert.rejects(get(`${s.url}/healthz`), /self.signed|unable to verify|certificate/i);
    } finally {
      await s.close();
    }
  });

  it('serves /metrics on a separate plain-HTTP loopback port when asked, into the given registry', async () => {
    const registry = new Registry();
    const s = await createAdapterServer({
      provider: new FakeProvider(),
      tls: { certPem: p.serving.certPem, keyPem: p.serving.keyPem },
      auth,
      registry,
      metricsPort: 0,
      log: () => {},
    });
    try {
      await get(`${s.url}/healthz`);
      assert.match(s.metricsUrl!, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const body = await new Promise<string>((resolve, reject) =>
        http.get(s.metricsUrl!, (res) => {
          let b = '';
          res.on('data', (c: Buffer) => (b += c.toString()));
          res.on('end', () => resolve(b));
        }).on('error', reject),
      );
      assert.match(body, /baton_adapter_http_request_duration_seconds_count\{route="health",code="200"\} 1/);
      assert.ok(registry.getSingleMetric('baton_adapter_http_requests_in_flight'));
    } finally {
      await s.close();
    }
  });

  it('/readyz reports a not-ready reason from the hook with 503 (and never asks the provider)', async () => {
    let ready: true | string = 'rules not loaded';
    const provider = new FakeProvider();
    const s = await createAdapterServer({ provider, tls: { certPem: p.serving.certPem, keyPem: p.serving.keyPem }, auth, ready: () => ready, log: () => {} });
    try {
      const r = await get(`${s.url}/readyz`);
      assert.equal(r.status, 503);
      assert.equal(r.body, 'not ready: rules not loaded');
      ready = true;
      assert.equal((await get(`${s.url}/readyz`)).status, 200);
      assert.equal((await get(`${s.url}/livez`)).status, 200);
      assert.equal(provider.calls.length, 0);
    } finally {
      await s.close();
    }
  });

  it('--insecure-dev answers without credentials and warns loudly at start and (rate-limited) per request', async () => {
    const logs: { level: string; message: string }[] = [];
    const s = await createAdapterServer({
      provider: new FakeProvider(),
      tls: { certPem: p.serving.certPem, keyPem: p.serving.keyPem },
      auth: { insecureDev: true },
      insecureWarnIntervalMs: 60_000,
      log: (level, message) => logs.push({ level, message }),
    });
    try {
      assert.equal(logs.filter((l) => l.message === INSECURE_DEV_WARNING).length, 1, 'warned at start');
      for (let i = 0; i < 5; i++) {
        const r = await get(`${s.url}/apis/external.metrics.k8s.io/v1beta1/namespaces/x/decode_desired_replicas`);
        assert.equal(r.status, 200);
      }
      const warnings = logs.filter((l) => l.message === INSECURE_DEV_WARNING && l.level === 'warn');
      assert.equal(warnings.length, 2, 'one at start, one for the burst of requests');
    } finally {
      await s.close();
    }
  });
});
