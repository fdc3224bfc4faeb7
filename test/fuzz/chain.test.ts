// Fuzzing the client-chain verifier: for any set of configured CAs and any certificates a client appends, in any order,
// the leaf is vouched for exactly when a real issuance path (every signature by the issuer's key) leads from it to a
// configured CA. The oracle is the issuance graph the fixtures were built from, not the verifier's own logic.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fc from '../support/fast-check.js';
import { generateCa, issueCert, type IssuedCert } from '../../adapter/certs.js';
import { verifyClientChain } from '../../adapter/chain.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 400);

interface Node {
  name: string;
  pem: IssuedCert;
  parent?: string;
  ca: boolean;
  cert: X509Certificate;
}

describe('fuzz: client certificate chain verification', function () {
  this.timeout(120_000);
  const nodes = new Map<string, Node>();
  const add = (name: string, pem: IssuedCert, ca: boolean, parent?: string) =>
    nodes.set(name, { name, pem, ca, cert: new X509Certificate(pem.certPem), ...(parent ? { parent } : {}) });

  before(() => {
    // Two roots with the same subject (a rogue twin), an intermediate under each, leaves everywhere.
    const rootA = generateCa({ cn: 'front-proxy-ca' });
    const rootB = generateCa({ cn: 'front-proxy-ca' });
    const rootC = generateCa({ cn: 'kubernetes-ca' });
    add('rootA', rootA, true);
    add('rootB', rootB, true);
    add('rootC', rootC, true);
    const interA = issueCert(rootA, { cn: 'inter', ca: true });
    const interB = issueCert(rootB, { cn: 'inter', ca: true });
    add('interA', interA, true, 'rootA');
    add('interB', interB, true, 'rootB');
    add('leafA', issueCert(rootA, { cn: 'front-proxy-client', client: true }), false, 'rootA');
    add('leafC', issueCert(rootC, { cn: 'mallory', client: true }), false, 'rootC');
    add('leafIA', issueCert(interA, { cn: 'front-proxy-client', client: true }), false, 'interA');
    add('leafIB', issueCert(interB, { cn: 'front-proxy-client', client: true }), false, 'interB');
    // A leaf (not a CA) cannot issue: a certificate "signed" by it is no chain.
    add('leafUnderLeaf', issueCert({ certPem: nodes.get('leafA')!.pem.certPem, keyPem: nodes.get('leafA')!.pem.keyPem }, { cn: 'x', client: true }), false, 'leafA');
  });

  /** Ground truth: walk real parents from the leaf, through CA certificates the client sent, to a configured root. */
  function expected(leaf: string, anchors: Set<string>, sent: Set<string>): boolean {
    if (anchors.has(leaf)) return true;
    for (let n = nodes.get(leaf)!; n.parent; ) {
      const parent = nodes.get(n.parent)!;
      if (!parent.ca) return false;
      if (anchors.has(parent.name)) return true;
      if (!sent.has(parent.name)) return false;
      n = parent;
    }
    return false;
  }

  it('vouches exactly for leaves with a real signed path to a configured CA', () => {
    const names = () => [...nodes.keys()];
    fc.assert(
      fc.property(
        fc.constantFrom('leafA', 'leafC', 'leafIA', 'leafIB', 'leafUnderLeaf'),
        fc.subarray(['rootA', 'rootB', 'rootC', 'interA']),
        fc.array(fc.constantFrom(...names()), { maxLength: 6 }),
        (leaf, anchorNames, sentNames) => {
          const verdict = verifyClientChain(
            nodes.get(leaf)!.cert,
            sentNames.map((n) => nodes.get(n)!.cert),
            anchorNames.map((n) => nodes.get(n)!.cert),
            Date.now(),
          );
          assert.equal(verdict.ok, expected(leaf, new Set(anchorNames), new Set(sentNames)), `${leaf} anchors=${anchorNames} sent=${sentNames}`);
          if (verdict.ok) assert.ok(anchorNames.some((a) => nodes.get(a)!.cert.fingerprint256 === verdict.anchor.fingerprint256), 'the anchor is a configured CA');
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('an expired leaf is refused whatever the chain', () => {
    const rootA = nodes.get('rootA')!;
    const old = new X509Certificate(issueCert(rootA.pem, { cn: 'old', client: true, notBefore: new Date(Date.now() - 40 * 86_400_000), days: 30 }).certPem);
    const v = verifyClientChain(old, [], [rootA.cert], Date.now());
    assert.equal(v.ok, false);
    assert.match((v as { reason: string }).reason, /expired/);
  });
});
