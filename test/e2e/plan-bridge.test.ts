// e2e: the adapter and the engine together through their plan bridge (--demand / --plan-file), on a real control plane
// (etcd, kube-apiserver, controller-manager, scheduler, kwok) with a real Prometheus, during a cold start: decode pods
// take 15 s to become Ready (kwok Stage delay, as a server loading weights), prefill pods are Ready at once. A load step
// makes the adapter ask for more of both roles; the engine's ready-guard holds prefill until the new decode pods are
// Ready. Every value the adapter publishes must be one decision for both roles: the engine's plan for both (ready-guard
// cap included) or the adapter's own split for both, never the engine's decode with the adapter's own prefill (which
// scaled prefill 3 -> 7 ahead of decode and defeated the guard). The test plays the pool HPAs (AverageValue 1): it
// copies the adapter's published values to each Deployment's scale subresource every second.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { generateCa, issueCert } from '../../adapter/certs.js';
import { startAdapter, type RunningAdapter } from '../../adapter/main.js';
import { parseEngineConfig } from '../../engine/sidecar/config.js';
import { Engine } from '../../engine/sidecar/engine.js';
import { startTsdb, type RunningTsdb } from '../support/prometheus.js';
import { waitFor } from './harness/api.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { slotDeployment, topologyNode, waitForNodesReady } from './harness/workload.js';

const NS = 'llm';
const ENGINE_NS = 'baton';
const SLOW_START_MS = 15_000;
const PER_UNIT = 1000;
const POOLS = [
  { name: 'p-h100', role: 'prefill' as const, gpuType: 'H100', slow: false },
  { name: 'd-h20', role: 'decode' as const, gpuType: 'H20', slow: true },
];
const CONFIG = {
  namespace: ENGINE_NS,
  services: [{
    service: 'chat', priority: 1, affinity: 'none', ratio: { prefill: 3, decode: 2 },
    pools: POOLS.map((p) => ({ name: p.name, role: p.role, gpuType: p.gpuType, preference: 0, maxReplicas: 10, gpusPerReplica: 8 })),
  }],
};
const RULES = `services:
  - name: chat
    namespaces: [${NS}]
    ratio: {prefill: 3, decode: 2}
    decodeTpsPerUnit: ${PER_UNIT}
    decodeTps: {promql: 'sum(rate(e2e_generation_tokens_total[6s]))'}
    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1}
    maxStalenessSeconds: 60
    queryIntervalSeconds: 1
    pools:
      - {name: p-h100, role: prefill, minReplicas: 1, maxReplicas: 10}
      - {name: d-h20, role: decode, minReplicas: 1, maxReplicas: 10}
`;

function nodes(): object[] {
  return ['H100', 'H20'].flatMap((type) => Array.from({ length: 10 }, (_, i) => topologyNode(`${type.toLowerCase()}-${i}`, type, 's1-a', 's2-a')));
}

const deployment = (p: (typeof POOLS)[number]): object => slotDeployment(NS, 'chat', p, p.slow ? { slowstart: 'true' } : {});

/** A scrape target whose decode token counter grows at `tps` tokens/s (changeable). */
async function startTokenTarget(): Promise<{ target: string; setTps(tps: number): void; close(): Promise<void> }> {
  let total = 0;
  let tps = 0;
  let at = Date.now();
  const advance = () => {
    const now = Date.now();
    total += (tps * (now - at)) / 1000;
    at = now;
  };
  const server = http.createServer((req, res) => {
    advance();
    res.writeHead(req.url === '/metrics' ? 200 : 404, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(req.url === '/metrics' ? `# TYPE e2e_generation_tokens_total counter\ne2e_generation_tokens_total{pool="d-h20"} ${total.toFixed(3)}\n` : '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    target: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    setTps: (x) => {
      advance();
      tps = x;
    },
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}

interface Observation {
  atMs: number;
  published: Record<string, number>;
  decided: { prefill: number; decode: number };
  adoptedRoles: string[];
  engineReasons: string[];
  /** Every extra reason code (bridge refusals included), for failure messages. */
  codes: string[];
  ready: Record<string, number>;
}

describe('e2e: adapter + engine plan bridge during a cold start (real control plane, real Prometheus, slow decode pods)', function () {
  this.timeout(600_000);
  let cluster: Cluster | undefined;
  let tsdb: RunningTsdb | undefined;
  let target: Awaited<ReturnType<typeof startTokenTarget>> | undefined;
  let adapter: RunningAdapter | undefined;
  let engine: Engine | undefined;
  let hpaTimer: NodeJS.Timeout | undefined;
  let failed = false;
  const observations: Observation[] = [];

  const api = () => cluster!.api;
  const readyPods = async (): Promise<Record<string, number>> => {
    const pods = (await api().get<{ items: { metadata: { labels?: Record<string, string>; deletionTimestamp?: string }; status: { conditions?: { type: string; status: string }[] } }[] }>(`/api/v1/namespaces/${NS}/pods`)).items;
    const out: Record<string, number> = {};
    for (const p of pods) {
      const pool = p.metadata.labels?.['baton.io/pool'];
      if (!pool || p.metadata.deletionTimestamp) continue;
      out[pool] = (out[pool] ?? 0) + (p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? 1 : 0);
    }
    return out;
  };
  const published = (): Record<string, number> | undefined => {
    const good = adapter?.evaluator.state('chat')?.lastGood;
    return good ? Object.fromEntries(good.values.map((v) => [v.pool, v.value])) : undefined;
  };

  /** The pool HPAs' part (AverageValue 1): each Deployment's replicas = the adapter's published value for its pool. */
  async function hpaSync(): Promise<void> {
    const want = published();
    if (!want) return;
    for (const p of POOLS) {
      const r = await api().request('PATCH', `/apis/apps/v1/namespaces/${NS}/deployments/chat-${p.name}/scale`, { spec: { replicas: want[p.name] ?? 0 } }, 'application/merge-patch+json');
      assert.equal(r.status, 200, r.text);
    }
  }

  /** One look at what the adapter publishes and why, with the pods' readiness. */
  async function observe(): Promise<Observation | undefined> {
    const good = adapter?.evaluator.state('chat')?.lastGood;
    if (!good) return undefined;
    const reasons = good.extraReasons ?? [];
    const o: Observation = {
      atMs: good.atMs,
      published: Object.fromEntries(good.values.map((v) => [v.pool, v.value])),
      decided: { prefill: good.decision.prefill.units, decode: good.decision.decode.units },
      adoptedRoles: reasons.filter((r) => r.code === 'engine-plan').map((r) => r.role!).sort(),
      engineReasons: reasons.filter((r) => r.code.startsWith('engine:')).map((r) => `${r.code}${r.role ? `/${r.role}` : ''}`),
      codes: reasons.map((r) => `${r.code}${r.role ? `/${r.role}` : ''}${r.code.startsWith('engine-plan-') ? ` ${JSON.stringify(r.detail)}` : ''}`),
      ready: await readyPods(),
    };
    observations.push(o);
    return o;
  }

  /** Broken promises, kept apart from waitFor's retries (which would swallow a thrown assertion). */
  const violations: string[] = [];
  const check = (ok: boolean, message: string): void => {
    if (!ok) violations.push(message);
  };
  /** waitFor, then no broken promise on the way (reported before a timeout, which they may explain). */
  async function watch<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
    let out: T | undefined;
    let error: unknown;
    try {
      out = await waitFor(what, timeoutMs, probe, 500);
    } catch (e) {
      error = e;
    }
    assert.deepEqual(violations.slice(0, 5), [], `${violations.length} violation(s) while waiting for ${what}`);
    if (error) throw error;
    return out!;
  }

  /** The bridge's promise at every instant: one decision for both roles. */
  function assertOneDecision(o: Observation): void {
    const why = JSON.stringify(o);
    check(o.adoptedRoles.length === 0 || o.adoptedRoles.join(',') === 'decode,prefill', `the engine's plan taken for one role only: ${why}`);
    if (o.adoptedRoles.length === 0) {
      // The adapter's own split, both roles from the decided level (one pool per role, one unit per replica).
      check(o.published['p-h100'] === Math.max(1, Math.ceil(o.decided.prefill - 1e-9)), `own split, prefill: ${why}`);
      check(o.published['d-h20'] === Math.max(1, Math.ceil(o.decided.decode - 1e-9)), `own split, decode: ${why}`);
    }
  }

  before(async function () {
    this.timeout(3_600_000); // a cold build of the control plane binaries
    cluster = await startCluster({ log: () => undefined, slowStartMs: SLOW_START_MS });
    await cluster.apply([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ENGINE_NS } },
      ...nodes(),
    ]);
    await cluster.apply(POOLS.map(deployment));
    await waitForNodesReady(api(), 20);
    target = await startTokenTarget();
    target.setTps(1500);
    tsdb = await startTsdb('prometheus', { targets: [target.target], scrapeIntervalS: 1 });

    const dir = join(cluster.runDir, 'bridge');
    mkdirSync(join(dir, 'rules'), { recursive: true });
    writeFileSync(join(dir, 'rules', 'chat.yaml'), RULES);
    const ca = generateCa({ cn: 'e2e-bridge-ca' });
    const serving = issueCert(ca, { cn: 'baton-adapter', dnsNames: ['localhost'], ips: ['127.0.0.1'] });
    writeFileSync(join(dir, 'tls.crt'), serving.certPem);
    writeFileSync(join(dir, 'tls.key'), serving.keyPem, { mode: 0o600 });
    const demandFile = join(dir, 'demand.json');
    const planFile = join(dir, 'plan.json');

    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    engine = new Engine({ config: parseEngineConfig(CONFIG, 'engine.json'), kubeconfig: kc, demandFile, planFile, intervalS: 1, identity: 'e2e-bridge', leaseDurationS: 4, log: () => undefined });
    await engine.start();
    adapter = await startAdapter({
      rulesDir: join(dir, 'rules'),
      prometheus: { url: tsdb.url, timeoutMs: 2000 },
      port: 0,
      tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
      security: { mode: 'insecure-dev' },
      engine: { demandFile, planFile, maxPlanAgeS: 10 },
      log: () => undefined,
    });
    const loop = () => {
      hpaTimer = setTimeout(() => void hpaSync().catch(() => undefined).finally(() => {
        if (hpaTimer) loop();
      }), 1000);
    };
    loop();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });

  after(async () => {
    clearTimeout(hpaTimer);
    hpaTimer = undefined;
    await adapter?.close().catch(() => undefined);
    await engine?.stop().catch(() => undefined);
    await tsdb?.stop();
    await target?.close();
    if (failed && cluster) {
      process.stderr.write(`observations (last 20):\n${observations.slice(-20).map((o) => JSON.stringify(o)).join('\n')}\n`);
      process.stderr.write(cluster.logTails(15) + '\n');
    }
    await cluster?.stop(failed);
  });

  it('settles at low load with every pod Ready, serving the engine\'s plan for both roles', async () => {
    const settled = await watch('2 decode + 3 prefill pods Ready and the engine plan adopted', 120_000, async () => {
      const o = await observe();
      if (o) assertOneDecision(o);
      return o && o.adoptedRoles.length === 2 && o.ready['d-h20'] === 2 && o.ready['p-h100'] === 3 && o.published['d-h20'] === 2 && o.published['p-h100'] === 3 ? o : undefined;
    });
    assert.deepEqual(settled.published, { 'p-h100': 3, 'd-h20': 2 });
  });

  it('a load step: the ready-guard holds prefill while the new decode pods start, and the pair stays one decision', async () => {
    target!.setTps(4500);
    let guarded: Observation | undefined;
    const last = await watch('5 decode + 7 prefill pods Ready after the step', 180_000, async () => {
      const o = await observe();
      if (!o) return undefined;
      assertOneDecision(o);
      const decodeNotReady = (o.ready['d-h20'] ?? 0) < o.published['d-h20']!;
      if (o.adoptedRoles.length === 2 && o.engineReasons.includes('engine:ready-guard/prefill') && decodeNotReady) guarded ??= o;
      // While decode is behind, prefill never runs ahead of the level decode's Ready pods carry (the guard's point).
      if (o.engineReasons.includes('engine:ready-guard/prefill')) {
        check(o.published['p-h100']! < Math.ceil(o.decided.prefill - 1e-9), `prefill published at its own level despite the ready-guard: ${JSON.stringify(o)}`);
      }
      return o.ready['d-h20'] === 5 && o.ready['p-h100'] === 7 && o.published['p-h100'] === 7 && o.published['d-h20'] === 5 ? o : undefined;
    });
    assert.ok(guarded, `the cold start engaged the engine's ready-guard with the plan adopted for both roles (observations: ${observations.length})`);
    assert.ok(guarded.published['p-h100']! < Math.ceil(guarded.decided.prefill - 1e-9), `held prefill below the decided level: ${JSON.stringify(guarded)}`);
    assert.deepEqual(last.published, { 'p-h100': 7, 'd-h20': 5 });
    const plan = JSON.parse(readFileSync(join(cluster!.runDir, 'bridge', 'plan.json'), 'utf8')) as { desired: Record<string, Record<string, number>> };
    assert.deepEqual(plan.desired['chat'], { 'p-h100': 7, 'd-h20': 5 }, 'the engine agrees once decode is Ready');
  });
});
