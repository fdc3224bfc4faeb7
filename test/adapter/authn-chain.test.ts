// Front-proxy impersonation (issue 11 defect 1): a client-CA user who appends the public front-proxy CA certificate to
// her chain must stay herself. Only a chain whose every signature verifies, leaf to a configured CA, counts.
import assert from 'node:assert/strict';
import type { AccessDecision, SubjectAccessReviewSpec } from '../../adapter/authz.js';
import { issueCert, generateCa } from '../../adapter/certs.js';
import { createAdapterServer, type AdapterServer } from '../../adapter/server.js';
import { asUser, FakeProvider, get, testPki } from './fixtures.js';

const BASE = '/apis/external.metrics.k8s.io/v1beta1';

describe('adapter: front-proxy chains are verified, never matched', function () {
  this.timeout(30_000);
  const p = testPki();
  let server: AdapterServer;
  let anyName: AdapterServer;
  let reviews: SubjectAccessReviewSpec[];
  // A client-CA user whose CN is the allowed front-proxy name, and a plain client-CA user with no rights.
  const namedLikeProxy = issueCert(p.clientCa, { cn: 'front-proxy-client', client: true });
  const mallory = issueCert(p.clientCa, { cn: 'mallory', client: true });
  // A real intermediate under the front-proxy CA: a proxy certificate it issues is a front proxy.
  const intermediateCa = generateCa({ cn: 'front-proxy-intermediate' });
  const withAppended = (leaf: { certPem: string; keyPem: string }, ...extra: string[]) => ({ certPem: leaf.certPem + extra.join(''), keyPem: leaf.keyPem });

  const start = (allowedNames: string[]) =>
    createAdapterServer({
      provider: new FakeProvider(),
      tls: { certPem: p.serving.certPem, keyPem: p.serving.keyPem },
      auth: {
        authentication: { requestHeader: { clientCaPem: p.frontProxyCa.certPem, allowedNames }, clientCaPem: p.clientCa.certPem },
        authorization: {
          reviewer: async (spec): Promise<AccessDecision> => {
            reviews.push(spec);
            return spec.user === 'alice' ? { allowed: true } : { allowed: false, reason: 'no RBAC policy matched' };
          },
        },
      },
      log: () => {},
    });
  before(async () => {
    reviews = [];
    server = await start(['front-proxy-client']);
    anyName = await start([]); // empty allowed names: any CN the front-proxy CA signed may assert identities
  });
  after(() => Promise.all([server.close(), anyName.close()]));
  beforeEach(() => {
    reviews.length = 0;
  });

  for (const [name, srv] of [['allowed names', () => server], ['any name', () => anyName]] as const) {
    it(`${name}: a client-CA user with the front-proxy CA appended is herself: X-Remote-* ignored, SAR asked, 403`, async () => {
      const r = await get(`${srv().url}${BASE}/namespaces/llm/decode_desired_replicas`, {
      cert: withAppended(mallory, p.frontProxyCa.certPem),
      headers: asUser('admin', ['system:masters']),
    });
      assert.equal(r.status, 403, r.body);
      assert.match(r.json.message, /User "mallory"/);
      assert.equal(reviews.length, 1);
      assert.equal(reviews[0]!.user, 'mallory');
      assert.deepEqual(reviews[0]!.groups, []);
    });
  }

  it('a client-CA cert named like the allowed proxy, with the CA appended, is an x509 user and cannot reach /explain', async () => {
    const r = await get(`${server.url}/explain/namespaces/llm/decode_desired_replicas`, {
      cert: withAppended(namedLikeProxy, p.frontProxyCa.certPem),
      headers: asUser('alice', ['system:masters']),
    });
    assert.equal(r.status, 403, r.body);
    assert.equal(reviews[0]!.user, 'front-proxy-client');
  });

  it('the real front proxy still speaks for others', async () => {
    const r = await get(`${server.url}${BASE}/namespaces/llm/decode_desired_replicas`, { cert: p.frontProxy, headers: asUser('alice') });
    assert.equal(r.status, 200, r.body);
    assert.equal(reviews[0]!.user, 'alice');
  });

  it('a proxy certificate from an intermediate signed by the front-proxy CA is the front proxy (intermediate sent)', async () => {
    const inter = issueCert(p.frontProxyCa, { cn: 'front-proxy-intermediate', ca: true });
    const leaf = issueCert(inter, { cn: 'front-proxy-client', client: true });
    const r = await get(`${server.url}${BASE}/namespaces/via-intermediate/decode_desired_replicas`, { cert: withAppended(leaf, inter.certPem), headers: asUser('alice') });
    assert.equal(r.status, 200, r.body);
    assert.equal(reviews[0]!.user, 'alice');
  });

  it('a chain through an intermediate that is not signed by the CA is refused', async () => {
    // The intermediate has no link to the front-proxy CA: appending both does not help.
    const leaf = issueCert(intermediateCa, { cn: 'front-proxy-client', client: true });
    const r = await get(`${server.url}/apis`, { cert: withAppended(leaf, intermediateCa.certPem, p.frontProxyCa.certPem), headers: asUser('admin', ['system:masters']) });
    assert.equal(r.status, 401, r.body);
  });
});
