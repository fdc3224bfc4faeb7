// Certificates with node-forge: a CA plus serving/client leaves. Used by `--self-signed`, the tests and the e2e harness
// (front-proxy CA, client-ca for kubectl users, serving cert with the `<svc>.<ns>.svc` SAN the aggregator dials).
import { randomBytes } from 'node:crypto';
import forge from 'node-forge';

const { pki } = forge;

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
}

export interface IssuedCert {
  certPem: string;
  keyPem: string;
}

export interface CaOptions {
  cn?: string;
  days?: number;
}

export interface CertOptions {
  /** Common name: the user name for client certs (and the front-proxy name checked against allowed names). */
  cn: string;
  /** Subject organizations: the groups of an x509 client user. */
  organizations?: string[];
  dnsNames?: string[];
  ips?: string[];
  /** Client certificate (clientAuth) instead of a serving certificate (serverAuth). */
  client?: boolean;
  days?: number;
  /** Validity start; defaults to one minute ago (clock skew). Tests use it to make expired certs. */
  notBefore?: Date;
  /** An intermediate CA (may sign certificates) instead of a leaf. */
  ca?: boolean;
}

function serial(): string {
  // Positive 16-byte serial: clear the top bit so DER does not read it as negative.
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

function newKeys(): forge.pki.rsa.KeyPair {
  // forge delegates to node's native RSA key generation when it can; 2048 bits is what kubeadm uses.
  return pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
}

function validity(cert: forge.pki.Certificate, days: number, notBefore?: Date): void {
  const start = notBefore ?? new Date(Date.now() - 60_000);
  cert.validity.notBefore = start;
  cert.validity.notAfter = new Date(start.getTime() + days * 86_400_000);
}

export function generateCa(opts: CaOptions = {}): CertificateAuthority {
  const keys = newKeys();
  const cert = pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  validity(cert, opts.days ?? 3650);
  const attrs = [{ name: 'commonName', value: opts.cn ?? 'baton-ca' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { certPem: pki.certificateToPem(cert), keyPem: pki.privateKeyToPem(keys.privateKey) };
}

export function issueCert(ca: CertificateAuthority, opts: CertOptions): IssuedCert {
  const caCert = pki.certificateFromPem(ca.certPem);
  const caKey = pki.privateKeyFromPem(ca.keyPem);
  const keys = newKeys();
  const cert = pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  validity(cert, opts.days ?? 365, opts.notBefore);
  const subject: forge.pki.CertificateField[] = [{ name: 'commonName', value: opts.cn }];
  for (const o of opts.organizations ?? []) subject.push({ name: 'organizationName', value: o });
  cert.setSubject(subject);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = [
    ...(opts.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(opts.ips ?? []).map((ip) => ({ type: 7, ip })),
  ];
  const extensions: object[] = opts.ca
    ? [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true }]
    : [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: !opts.client, clientAuth: !!opts.client },
      ];
  extensions.push(
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  );
  if (altNames.length > 0) extensions.push({ name: 'subjectAltName', altNames });
  cert.setExtensions(extensions);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: pki.certificateToPem(cert), keyPem: pki.privateKeyToPem(keys.privateKey) };
}

/** A throwaway CA and a serving cert for localhost/127.0.0.1 (plus any extra names): `--self-signed`. */
export function selfSignedServing(extraDnsNames: string[] = []): IssuedCert & { caPem: string } {
  const ca = generateCa({ cn: 'baton-self-signed-ca' });
  const leaf = issueCert(ca, { cn: 'baton-adapter', dnsNames: ['localhost', ...extraDnsNames], ips: ['127.0.0.1', '::1'] });
  return { ...leaf, caPem: ca.certPem };
}
