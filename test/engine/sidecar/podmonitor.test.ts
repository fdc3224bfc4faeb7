// The PodMonitor built from a pod-label mapping, run on a real Prometheus: its relabelings (the same mapping the engine
// counts pods with) turn each stack's pod labels, as Kubernetes service discovery presents them, into the service /
// role / pool labels Baton's rule presets select on, and drop pods that are neither prefill nor decode.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveIdentity, sdLabel, type IdentityLabels, type Relabeling } from '../../../engine/placement/identity.js';
import { podMonitorFor } from '../../../engine/sidecar/podmonitor.js';
import { PrometheusClient } from '../../../rules/prometheus.js';
import { REPO_ROOT } from '../../e2e/harness/binaries.js';
import { promRelabel, startTsdb, type RunningTsdb } from '../../support/prometheus.js';

interface Case {
  name: string;
  id: IdentityLabels;
  /** Each pod's labels; the ones expected to be scraped, with the labels their series get. */
  pods: { labels: Record<string, string>; expect?: { service: string; role: string; pool: string } }[];
}

const CASES: Case[] = [
  {
    name: 'llm-d (no pool label: the pool is the role)',
    id: resolveIdentity('llm-d', 'podLabels'),
    pods: [
      { labels: { 'llm-d.ai/model': 'qwen', 'llm-d.ai/role': 'prefill' }, expect: { service: 'qwen', role: 'prefill', pool: 'prefill' } },
      { labels: { 'llm-d.ai/model': 'qwen', 'llm-d.ai/role': 'decode' }, expect: { service: 'qwen', role: 'decode', pool: 'decode' } },
      { labels: { 'llm-d.ai/model': 'qwen', 'llm-d.ai/role': 'both' } },
    ],
  },
  {
    name: 'dynamo (the component is the pool)',
    id: resolveIdentity('dynamo', 'podLabels'),
    pods: [
      { labels: { 'nvidia.com/dynamo-graph-deployment-name': 'llama', 'nvidia.com/dynamo-sub-component-type': 'decode', 'nvidia.com/dynamo-component': 'VllmDecodeWorker' }, expect: { service: 'llama', role: 'decode', pool: 'VllmDecodeWorker' } },
      { labels: { 'nvidia.com/dynamo-graph-deployment-name': 'llama', 'nvidia.com/dynamo-component': 'Frontend' } },
    ],
  },
  {
    name: 'kthena with roles named P-instance / D-instance',
    id: resolveIdentity({ preset: 'kthena', roleValues: { prefill: ['P-instance'], decode: ['D-instance'] } }, 'podLabels'),
    pods: [
      { labels: { 'modelserving.volcano.sh/name': 'ms', 'modelserving.volcano.sh/role': 'P-instance' }, expect: { service: 'ms', role: 'prefill', pool: 'prefill' } },
      { labels: { 'modelserving.volcano.sh/name': 'ms', 'modelserving.volcano.sh/role': 'D-instance' }, expect: { service: 'ms', role: 'decode', pool: 'decode' } },
      { labels: { 'modelserving.volcano.sh/name': 'ms', 'modelserving.volcano.sh/role': 'leader' } },
    ],
  },
];

describe('PodMonitor relabelings from the pod-label mapping, on a real Prometheus', function () {
  this.timeout(60_000);
  let server: http.Server;
  const tsdbs: RunningTsdb[] = [];

  before(async () => {
    server = http.createServer((_req, res) => void res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end('# TYPE vllm:generation_tokens_total counter\nvllm:generation_tokens_total 5\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const c of CASES) {
      // Service discovery's meta labels per pod; `pod` keeps the targets apart.
      const groups = c.pods.map((p, i) => ({ targets: [target], labels: { ...Object.fromEntries(Object.entries(p.labels).map(([k, v]) => [sdLabel(k), v])), __meta_kubernetes_pod_name: `pod-${i}` } }));
      const relabel = [...podMonitorRelabelings(c.id), { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' }];
      tsdbs.push(await startTsdb('prometheus', { targets: [], groups, scrapeIntervalS: 1, relabelConfigs: relabel }));
    }
  });

  after(async () => {
    await Promise.all(tsdbs.map((t) => t.stop()));
    await new Promise((r) => server?.close(r));
  });

  CASES.forEach((c, i) => {
    it(`${c.name}: engines get service/role/pool, other pods are not scraped`, async () => {
      const client = new PrometheusClient({ url: tsdbs[i]!.url, timeoutMs: 3000 });
      const want = c.pods.flatMap((p) => (p.expect ? [p.expect] : [])).map((e) => `${e.service}/${e.role}/${e.pool}`).sort();
      try {
        let got: string[] = [];
        const deadline = Date.now() + 20_000;
        while (Date.now() < deadline) {
          const r = await client.query('up');
          got = r.kind === 'vector' ? r.series.map((s) => `${s.labels.service}/${s.labels.role}/${s.labels.pool}`).sort() : [];
          if (got.length >= want.length) break;
          await new Promise((res) => setTimeout(res, 300));
        }
        assert.deepEqual(got, want);
        const tokens = await client.query('vllm:generation_tokens_total');
        assert.equal(tokens.kind === 'vector' ? tokens.series.length : -1, want.length);
      } finally {
        client.close();
      }
    });
  });

  it('the committed PodMonitor (manifests/monitoring) is the one built from Baton\'s own labels', () => {
    const committed = parse(readFileSync(join(REPO_ROOT, 'manifests/monitoring/podmonitor-engines.yaml'), 'utf8')) as unknown;
    assert.deepEqual(committed, podMonitorFor(resolveIdentity('baton', 'podLabels')));
  });
});

function podMonitorRelabelings(id: IdentityLabels): Record<string, unknown>[] {
  const pm = podMonitorFor(id) as { spec: { podMetricsEndpoints: { relabelings: Relabeling[] }[] } };
  return pm.spec.podMetricsEndpoints[0]!.relabelings.map(promRelabel);
}
