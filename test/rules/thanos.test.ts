// Baton behind a Thanos Querier over two Prometheus (each scraping half of the decode pods, each with its sidecar): the
// adapter reads the whole fleet through the Querier; when one Prometheus is gone the Querier can only answer part of
// the sum, and Baton (all-or-error answers: partial_response=false) holds the published value instead of lowering it;
// a benign PromQL annotation (Thanos' warnings) does not hold a healthy service.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessSet } from '../e2e/harness/processes.js';
import { freePorts } from '../e2e/harness/ports.js';
import { startAdapterHarness, until, type AdapterHarness } from '../adapter/harness.js';
import { growingPage } from '../support/growing-page.js';
import { startTsdb, type RunningTsdb } from '../support/prometheus.js';
import { ensureThanos } from '../support/thanos.js';

const SAMPLE = readFileSync(join(process.cwd(), 'test', 'rules', 'upstream-samples', 'vllm-v1.prom'), 'utf8');
const DECODE_Q = 'sum by (pool) (rate(vllm:generation_tokens_total{service="chat",pool="decode-h100"}[10s]))';
// rate() of a gauge: Prometheus' engine annotates it ("metric might not be a counter"); the answer is still good.
const ANNOTATED_Q = 'sum(rate(vllm:num_requests_running{service="chat"}[10s])) + 1000';

const rules = `services:
  - name: chat
    ratio: {prefill: 1, decode: 1}
    decodeTpsPerUnit: 1000
    decodeTps: {promql: '${DECODE_Q}', by: pool}
    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1, signalRecoveryS: 0}
    queryIntervalSeconds: 1
    maxStalenessSeconds: 600
    pools:
      - {name: prefill-h100, role: prefill, minReplicas: 1, maxReplicas: 8}
      - {name: decode-h100, role: decode, minReplicas: 1, maxReplicas: 8}
  - name: annotated
    ratio: {prefill: 1, decode: 1}
    decodeTpsPerUnit: 1000
    decodeTps: '${ANNOTATED_Q}'
    queryIntervalSeconds: 1
    pools:
      - {name: a-prefill, role: prefill, minReplicas: 1, maxReplicas: 8}
      - {name: a-decode, role: decode, minReplicas: 1, maxReplicas: 8}
`;

describe('rules: Baton behind a Thanos Querier over two Prometheus', function () {
  this.timeout(90_000);
  let pages: Server;
  let shards: RunningTsdb[] = [];
  let processes: ProcessSet;
  let queryUrl = '';
  let h: AdapterHarness;
  let dir: string;

  const decode = (service: string) => h.running.evaluator.state(service)?.lastGood?.values.find((v) => v.role === 'decode')?.value;

  before(async function () {
    this.timeout(60 * 60_000); // a cold build of Thanos
    const thanos = ensureThanos();
    dir = mkdtempSync(join(tmpdir(), 'baton-thanos-'));
    // One decode pod per shard, each generating 1200 tokens/s (the sample's counters grow by their value per second).
    const started = Date.now();
    pages = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(growingPage(SAMPLE, started)));
    await new Promise<void>((r) => pages.listen(0, '127.0.0.1', r));
    const target = `127.0.0.1:${(pages.address() as AddressInfo).port}`;
    shards = await Promise.all(['a', 'b'].map((shard) => startTsdb('prometheus', {
      targets: [], groups: [{ targets: [target], labels: { service: 'chat', pool: 'decode-h100', pod: `decode-${shard}` } }], externalLabels: { shard }, scrapeIntervalS: 1,
    })));
    processes = new ProcessSet(dir);
    const [gA, hA, gB, hB, gQ, hQ] = (await freePorts(6)) as [number, number, number, number, number, number];
    for (const [i, [g, http]] of [[gA, hA], [gB, hB]].entries()) {
      processes.start(`thanos-sidecar-${i}`, thanos, ['sidecar', `--prometheus.url=${shards[i]!.url}`, `--tsdb.path=${shards[i]!.dataDir}`,
        `--grpc-address=127.0.0.1:${g}`, `--http-address=127.0.0.1:${http}`, '--log.level=warn']);
    }
    processes.start('thanos-query', thanos, ['query', `--http-address=127.0.0.1:${hQ}`, `--grpc-address=127.0.0.1:${gQ}`,
      `--endpoint=127.0.0.1:${gA}`, `--endpoint=127.0.0.1:${gB}`, '--store.response-timeout=2s', '--log.level=warn']);
    queryUrl = `http://127.0.0.1:${hQ}`;
    await until('the Querier sees both shards with a full rate window', async () => {
      const r = await fetch(`${queryUrl}/api/v1/query?query=${encodeURIComponent('count(count_over_time(vllm:generation_tokens_total[15s]) >= 12)')}`).catch(() => undefined);
      const j = (await r?.json().catch(() => undefined)) as { data?: { result?: { value: [number, string] }[] } } | undefined;
      return j?.data?.result?.[0]?.value[1] === '2' ? true : undefined;
    }, 45_000);
    h = await startAdapterHarness({ rules: { 'chat.yaml': rules }, prometheusUrl: queryUrl });
  });

  after(async () => {
    await h?.close();
    await processes?.stopAll();
    for (const s of shards) await s.stop();
    await new Promise((r) => pages?.close(r));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reads the whole fleet through the Querier: 2 × 1200 tokens/s → 3 decode replicas', async () => {
    await until('chat decides from both shards', async () => (decode('chat') === 3 ? true : undefined), 15_000);
  });

  it('a benign PromQL annotation (a Thanos warning) does not hold a healthy service', async () => {
    const r = await fetch(`${queryUrl}/api/v1/query?query=${encodeURIComponent(ANNOTATED_Q)}`);
    const body = (await r.json()) as { status: string; warnings?: string[]; infos?: string[] };
    assert.equal(body.status, 'success');
    assert.ok([...(body.warnings ?? []), ...(body.infos ?? [])].some((w) => /might not be a counter/.test(w)), `the Querier annotates the query: ${JSON.stringify(body)}`);
    await until('annotated decides', async () => (decode('annotated') === 1 ? true : undefined), 15_000);
    assert.equal(h.running.evaluator.state('annotated')!.lastProblem, undefined);
  });

  it('one Prometheus gone: the Querier can answer only half of the sum; Baton holds 3 instead of lowering to 2', async () => {
    await shards[1]!.stop();
    // What a client that accepts partial answers would read now: one shard's 1200 tokens/s.
    await until('the Querier answers partially', async () => {
      const r = await fetch(`${queryUrl}/api/v1/query?partial_response=true&query=${encodeURIComponent(DECODE_Q)}`);
      const j = (await r.json()) as { data?: { result?: { value: [number, string] }[] } };
      const v = Number(j.data?.result?.[0]?.value[1]);
      return v > 0 && v < 1800 ? true : undefined;
    }, 20_000);
    const seen = new Set<number | undefined>();
    const until6s = Date.now() + 6_000;
    while (Date.now() < until6s) {
      seen.add(decode('chat'));
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.deepEqual([...seen], [3], 'the published decode replicas never went down');
    assert.match(h.running.evaluator.state('chat')!.lastProblem ?? '', /decode TPS unusable/);
  });
});
