// Per-run certificates (node-forge through adapter/certs.ts; no openssl): the cluster CA (apiserver serving, admin
// client), a separate front-proxy CA (the aggregator's client cert) and the service-account signing key pair.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateCa, issueCert, type CertificateAuthority } from '../../../adapter/certs.js';

export const FRONT_PROXY_CLIENT_CN = 'front-proxy-client';

export interface PemPair {
  cert: string;
  key: string;
}

export interface ClusterPki {
  dir: string;
  ca: CertificateAuthority;
  frontProxyCa: CertificateAuthority;
  /** File paths. */
  files: {
    caCert: string;
    caKey: string;
    frontProxyCaCert: string;
    apiserverCert: string;
    apiserverKey: string;
    adminCert: string;
    adminKey: string;
    frontProxyClientCert: string;
    frontProxyClientKey: string;
    saPub: string;
    saKey: string;
  };
}

function write(dir: string, name: string, pem: string): string {
  const path = join(dir, name);
  writeFileSync(path, pem, { mode: 0o600 });
  return path;
}

export function generateClusterPki(dir: string): ClusterPki {
  mkdirSync(dir, { recursive: true });
  const ca = generateCa({ cn: 'baton-e2e-cluster-ca', days: 30 });
  const frontProxyCa = generateCa({ cn: 'baton-e2e-front-proxy-ca', days: 30 });
  const apiserver = issueCert(ca, {
    cn: 'kube-apiserver',
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
    ips: ['127.0.0.1', '10.96.0.1'],
    days: 30,
  });
  const admin = issueCert(ca, { cn: 'baton-e2e-admin', organizations: ['system:masters'], client: true, days: 30 });
  const frontProxyClient = issueCert(frontProxyCa, { cn: FRONT_PROXY_CLIENT_CN, client: true, days: 30 });
  const sa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    dir,
    ca,
    frontProxyCa,
    files: {
      caCert: write(dir, 'ca.crt', ca.certPem),
      caKey: write(dir, 'ca.key', ca.keyPem),
      frontProxyCaCert: write(dir, 'front-proxy-ca.crt', frontProxyCa.certPem),
      apiserverCert: write(dir, 'apiserver.crt', apiserver.certPem),
      apiserverKey: write(dir, 'apiserver.key', apiserver.keyPem),
      adminCert: write(dir, 'admin.crt', admin.certPem),
      adminKey: write(dir, 'admin.key', admin.keyPem),
      frontProxyClientCert: write(dir, 'front-proxy-client.crt', frontProxyClient.certPem),
      frontProxyClientKey: write(dir, 'front-proxy-client.key', frontProxyClient.keyPem),
      saPub: write(dir, 'sa.pub', sa.publicKey.export({ type: 'spki', format: 'pem' }).toString()),
      saKey: write(dir, 'sa.key', sa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
    },
  };
}
