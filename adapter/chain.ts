// Certificate path verification, as Go's x509.Verify does it for the kube-apiserver's client-certificate and
// requestheader authenticators: a path from the leaf to one of the configured CAs in which every link's issuer name
// matches and every signature verifies, through CA intermediates the client may send, each valid now and allowed to
// authenticate clients. Nothing the client sends is ever an anchor: a copy of a CA appended to a chain is at most an
// intermediate, and it still needs the leaf (or the intermediate below it) to carry its signature.
import { X509Certificate } from 'node:crypto';

export const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';
const ANY_EKU_OID = '2.5.29.37.0';
/** Longest path considered (Go has no fixed limit but bounds its work; real chains are 2–4 long). */
const MAX_DEPTH = 8;

export type ChainVerdict = { ok: true; anchor: X509Certificate; path: X509Certificate[] } | { ok: false; reason: string };

function validAt(cert: X509Certificate, nowMs: number): boolean {
  return Date.parse(cert.validFrom) <= nowMs && nowMs <= Date.parse(cert.validTo);
}

/** An extended key usage list that is absent allows any use (RFC 5280); present, it must name clientAuth or any. */
function allowsClientAuth(cert: X509Certificate): boolean {
  const eku = cert.keyUsage;
  return !eku || eku.length === 0 || eku.includes(CLIENT_AUTH_OID) || eku.includes(ANY_EKU_OID);
}

/** `issuer` issued `cert`: names chain and the signature verifies with the issuer's key. */
function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * Verifies `leaf` up to one of `anchors` (the configured CAs), using `intermediates` (what the client sent) only as
 * untrusted candidates. The leaf itself may be an anchor (possession of its key is what the TLS handshake proved).
 */
export function verifyClientChain(leaf: X509Certificate, intermediates: readonly X509Certificate[], anchors: readonly X509Certificate[], nowMs: number): ChainVerdict {
  if (!validAt(leaf, nowMs)) return { ok: false, reason: 'client certificate is expired or not yet valid' };
  if (!allowsClientAuth(leaf)) return { ok: false, reason: 'client certificate is not for client authentication (extended key usage)' };
  const anchorPrints = new Set(anchors.map((a) => a.fingerprint256));
  if (anchorPrints.has(leaf.fingerprint256)) return { ok: true, anchor: anchors.find((a) => a.fingerprint256 === leaf.fingerprint256)!, path: [leaf] };
  // Candidates the client sent, minus copies of anchors (those are tried as anchors, from our configuration).
  const pool = intermediates.filter((c) => !anchorPrints.has(c.fingerprint256));
  const search = (path: X509Certificate[]): ChainVerdict | undefined => {
    const cert = path[path.length - 1]!;
    for (const a of anchors) if (validAt(a, nowMs) && signedBy(cert, a)) return { ok: true, anchor: a, path: [...path, a] };
    if (path.length >= MAX_DEPTH) return undefined;
    for (const i of pool) {
      if (path.some((c) => c.fingerprint256 === i.fingerprint256)) continue;
      if (!i.ca || !validAt(i, nowMs) || !allowsClientAuth(i) || !signedBy(cert, i)) continue;
      const found = search([...path, i]);
      if (found) return found;
    }
    return undefined;
  };
  return search([leaf]) ?? { ok: false, reason: 'client certificate does not chain to a trusted CA' };
}

/** The certificates a TLS peer presented beyond its leaf, as Node exposes them (issuer links), without loops. */
export function presentedChain(leaf: X509Certificate): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set([leaf.fingerprint256]);
  for (let c = leaf.issuerCertificate; c && !seen.has(c.fingerprint256) && out.length < MAX_DEPTH * 2; c = c.issuerCertificate) {
    seen.add(c.fingerprint256);
    out.push(c);
  }
  return out;
}
