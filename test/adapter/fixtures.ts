// Shared test fixtures: a PKI like a kubeadm cluster's (front-proxy CA, client CA, serving CA), a fake provider behind
// the provider seam, an HTTPS request helper and a local HTTPS server that plays the kube-apiserver's SAR and ConfigMap
// endpoints (the real control plane arrives with a later issue).
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { loadClientNode } from '../../adapter/kube.js';
import { generateCa, issueCert, type CertificateAuthority, type IssuedCert } from '../../adapter/certs.js';
import {
  MetricError,
  type Explanation,
  type ExternalMetricSample,
  type ExternalMetricsProvider,
  type LabelMatcher,
} from '../../adapter/provider.js';

export interface Pki {
  servingCa: CertificateAuthority;
  serving: IssuedCert;
  frontProxyCa: CertificateAuthority;
  frontProxy: IssuedCert;
  otherProxy: IssuedCert;
  clientCa: CertificateAuthority;
  alice: IssuedCert;
  rogueCa: CertificateAuthority;
  rogue: IssuedCert;
}

let pki: Pki | undefined;
export function testPki(): Pki {
  if (!pki) {
    const servingCa = generateCa({ cn: 'serving-ca' });
    const frontProxyCa = generateCa({ cn: 'front-proxy-ca' });
    const clientCa = generateCa({ cn: 'kubernetes-ca' });
    const rogueCa = generateCa({ cn: 'front-proxy-ca' }); // same name, different key
    pki = {
      servingCa,
      serving: issueCert(servingCa, { cn: 'baton-adapter', dnsNames: ['localhost', 'baton.baton-system.svc'], ips: ['127.0.0.1'] }),
      frontProxyCa,
      frontProxy: issueCert(frontProxyCa, { cn: 'front-proxy-client', client: true }),
      otherProxy: issueCert(frontProxyCa, { cn: 'someone-else', client: true }),
      clientCa,
      alice: issueCert(clientCa, { cn: 'alice', organizations: ['team-a', 'devs'], client: true }),
      rogueCa,
      rogue: issueCert(rogueCa, { cn: 'front-proxy-client', client: true }),
    };
  }
  return pki;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export function get(
  url: string,
  opts: { cert?: IssuedCert; headers?: Record<string, string | string[]>; ca?: string; method?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: opts.method ?? 'GET',
        ca: opts.ca ?? testPki().servingCa.certPem,
        ...(opts.cert ? { cert: opts.cert.certPem, key: opts.cert.keyPem } : {}),
        headers: opts.headers ?? {},
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode!, headers: res.headers, body, json });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Front-proxy headers as the aggregator sets them (one X-Remote-Group per group). */
export function asUser(user: string, groups: string[] = [], extra: Record<string, string[]> = {}): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = { 'X-Remote-User': user };
  if (groups.length > 0) h['X-Remote-Group'] = groups;
  for (const [k, v] of Object.entries(extra)) h[`X-Remote-Extra-${encodeURIComponent(k)}`] = v;
  return h;
}

export const NOW_MS = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

/** A provider double: fixed series per metric, and metrics that fail in each documented way. */
export class FakeProvider implements ExternalMetricsProvider {
  calls: { namespace: string; metric: string; selectorText: string }[] = [];
  names = ['decode_desired_replicas', 'prefill_desired_replicas'];
  series: Record<string, ExternalMetricSample[]> = {
    decode_desired_replicas: [
      { metricName: 'decode_desired_replicas', labels: { service: 'chat', pool: 'h200' }, value: 14, timestampMs: NOW_MS, windowSeconds: 60 },
      { metricName: 'decode_desired_replicas', labels: { service: 'code', pool: 'h100' }, value: 1.5, timestampMs: NOW_MS },
    ],
    prefill_desired_replicas: [
      { metricName: 'prefill_desired_replicas', labels: { service: 'chat' }, value: 2000, timestampMs: NOW_MS },
    ],
    'vllm:tokens_per_s': [{ metricName: 'vllm:tokens_per_s', labels: {}, value: 140.349, timestampMs: NOW_MS }],
    nan_metric: [{ metricName: 'nan_metric', labels: {}, value: NaN, timestampMs: NOW_MS }],
  };

  metricNames(): string[] {
    return this.names;
  }

  getExternalMetric(namespace: string, metric: string, selector: LabelMatcher, selectorText: string): ExternalMetricSample[] {
    this.calls.push({ namespace, metric, selectorText });
    if (metric === 'stale_metric') throw new MetricError(503, 'ServiceUnavailable', 'stale_metric: last good value is 120 s old (max staleness 60 s)');
    if (metric === 'broken_metric') throw new Error('secret internals: http://prometheus:9090 connection refused');
    if (metric === 'bad_request_metric') throw new MetricError(400, 'BadRequest', 'selector must name a service');
    const all = this.series[metric];
    if (!all) throw new MetricError(404, 'NotFound', `the server could not find the metric ${metric} for external.metrics.k8s.io`);
    return all.filter((s) => selector(s.labels));
  }

  explain(namespace: string, metric: string, selector: LabelMatcher, selectorText: string): Explanation {
    const values = this.getExternalMetric(namespace, metric, selector, selectorText);
    return {
      namespace,
      metric,
      selector: selectorText,
      queries: [{ name: 'decode_tps', promql: 'sum by (service) (rate(vllm:generation_tokens_total[1m]))', evaluatedAtMs: NOW_MS, raw: [] }],
      values,
      reasons: [{ code: 'signal' }],
    };
  }
}

export interface FakeApiServer {
  url: string;
  kubeConfig: KubeConfig;
  sarBodies: unknown[];
  configMapData: Record<string, string>;
  close(): Promise<void>;
}

/**
 * A loopback HTTPS server answering the two kube-apiserver calls the adapter makes:
 * POST subjectaccessreviews (decided by `decide`) and GET the extension-apiserver-authentication ConfigMap.
 */
export async function startFakeApiServer(
  decide: (spec: { user: string; groups?: string[]; resourceAttributes?: { resource: string; namespace: string } }) => boolean,
  configMapData: Record<string, string> = {},
): Promise<FakeApiServer> {
  const p = testPki();
  const sarBodies: unknown[] = [];
  const state = { configMapData };
  const server = https.createServer({ cert: p.serving.certPem, key: p.serving.keyPem }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      res.setHeader('Content-Type', 'application/json');
      if (req.method === 'POST' && req.url?.startsWith('/apis/authorization.k8s.io/v1/subjectaccessreviews')) {
        const review = JSON.parse(body) as { spec: Parameters<typeof decide>[0] };
        sarBodies.push(review);
        const allowed = decide(review.spec);
        res.end(JSON.stringify({ ...review, status: allowed ? { allowed: true } : { allowed: false, reason: 'no RBAC policy matched' } }));
        return;
      }
      if (req.method === 'GET' && req.url?.startsWith('/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication')) {
        res.end(
          JSON.stringify({
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'extension-apiserver-authentication', namespace: 'kube-system' },
            data: state.configMapData,
          }),
        );
        return;
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404, reason: 'NotFound' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { KubeConfig } = await loadClientNode();
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: url, caData: Buffer.from(p.servingCa.certPem).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'adapter', token: 'adapter-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'adapter' }],
    currentContext: 'fake',
  });
  return {
    url,
    kubeConfig: kc,
    sarBodies,
    get configMapData() {
      return state.configMapData;
    },
    set configMapData(d: Record<string, string>) {
      state.configMapData = d;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
