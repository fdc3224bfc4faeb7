// Faults on the real control plane, with the HPA scenario at a steady load: Prometheus SIGKILLed, made slow (answers
// after the client timeout) and made to answer garbage, behind a loopback fault proxy; the adapter restarted on its
// port. Polling faster than the HPA sync: no HPA lowers desiredReplicas and no Deployment loses replicas because of a
// fault; the adapter serves its last good value until maxStalenessSeconds, then 503; after each fault everything comes
// back by itself and follows the load again. Also the SubjectAccessReview denial through the real kube-apiserver.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { startExporterScenario, type ExporterScenario } from '../../sim/exporter/index.js';
import { StaticPolicy } from '../../sim/policies/static.js';
import type { PoolPlan } from '../../sim/scenario.js';
import type { GoodValue } from '../../rules/evaluator.js';
import { waitFor } from './harness/api.js';
import { registerBaton, type RegisteredBaton } from './harness/baton.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { GARBAGE, startFaultProxy, type FaultProxy } from './harness/fault-proxy.js';
import { ProcessSet } from './harness/processes.js';
import { startHttpSdPrometheus } from './harness/prometheus.js';
import { applyScenario, ruleYaml, workloadName, type PoolSpec } from './harness/workload.js';

const NS = 'llm';
const SERVICE = 'service-a';
const METRIC = 'baton_desired_replicas';
const OUTPUT_TOKENS = 250;
const RULE_INTERVAL_S = 2;
/** The rate window of the decode query: a load step is fully seen this long after it. */
const RATE_WINDOW_S = 15;
const HPA_SYNC_S = 2;
const MAX_STALENESS_S = 12;
const PROM_TIMEOUT_MS = 2000;
const SLOW_MS = 4000;
/** How long each outage lasts: past maxStalenessSeconds, so both the held value and the 503 are seen. */
const OUTAGE_MS = (MAX_STALENESS_S + 8) * 1000;
const POOLS: PoolSpec[] = [
  { name: 'prefill-h100', role: 'prefill', gpuType: 'H100', nodes: 3, gpusPerNode: 8, minReplicas: 1, maxReplicas: 20 },
  { name: 'decode-h200', role: 'decode', gpuType: 'H200', nodes: 3, gpusPerNode: 8, minReplicas: 1, maxReplicas: 16 },
];
const [, DECODE] = POOLS as [PoolSpec, PoolSpec];
const METRIC_PATH = `/apis/external.metrics.k8s.io/v1beta1/namespaces/${NS}/${METRIC}?labelSelector=${encodeURIComponent(`service=${SERVICE}`)}`;

type Levels = Record<string, number>;
interface Hpa {
  status?: { desiredReplicas?: number; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

function quantity(v: string): number {
  return v.endsWith('m') ? Number(v.slice(0, -1)) / 1000 : Number(v);
}

describe('e2e: faults — Prometheus killed/slow/garbage, adapter restarted — never lower replicas, recover by themselves', function () {
  this.timeout(150_000);
  let cluster: Cluster | undefined;
  let sim: ExporterScenario | undefined;
  let proxy: FaultProxy | undefined;
  let baton: RegisteredBaton | undefined;
  let promProcs: ProcessSet | undefined;
  let failed = false;
  const report: string[] = [];

  const api = () => cluster!.api;
  const hpaOf = (p: PoolSpec) => api().get<Hpa>(`/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/${workloadName(SERVICE, p)}`);
  const replicasOf = async (p: PoolSpec) => (await api().get<{ spec: { replicas: number } }>(`/apis/apps/v1/namespaces/${NS}/deployments/${workloadName(SERVICE, p)}`)).spec.replicas;
  const lastGood = (): GoodValue | undefined => baton!.adapter.evaluator.state(SERVICE)?.lastGood;
  const valuesOf = (g: GoodValue): Levels => Object.fromEntries(g.values.map((v) => [v.pool, v.value]));

  async function startPrometheus(): Promise<string> {
    // Its own process set: a deliberately killed Prometheus must not fail the cluster's liveness checks.
    promProcs = new ProcessSet(cluster!.runDir);
    return (await startHttpSdPrometheus(promProcs, cluster!.runDir, `${sim!.url}/sd`, 1)).url;
  }

  function killPrometheus(): void {
    const p = promProcs!.list().find((x) => x.name === 'prometheus' && x.exited === undefined);
    assert.ok(p, 'no running Prometheus to kill');
    process.kill(-p.pid, 'SIGKILL');
  }

  /** What the aggregator serves anyone for the service (the HPA's read): status and values. */
  async function served(): Promise<{ status: number; levels?: Levels; reason?: string; message?: string }> {
    const r = await api().request('GET', METRIC_PATH);
    let body: { items?: { metricLabels: Record<string, string>; value: string }[]; reason?: string; message?: string };
    try {
      body = JSON.parse(r.text) as typeof body;
    } catch {
      // The aggregator's own answer when the adapter is unreachable is plain text ("error trying to reach service").
      return { status: r.status, reason: 'non-JSON', message: r.text.slice(0, 200) };
    }
    if (r.status !== 200) return { status: r.status, reason: body.reason ?? '', message: body.message ?? '' };
    return { status: 200, levels: Object.fromEntries((body.items ?? []).map((i) => [i.metricLabels.pool!, quantity(i.value)])) };
  }

  async function hpaLevels(): Promise<{ desired: Levels; replicas: Levels }> {
    const desired: Levels = {};
    const replicas: Levels = {};
    for (const p of POOLS) {
      desired[p.name] = (await hpaOf(p)).status?.desiredReplicas ?? -1;
      replicas[p.name] = await replicasOf(p);
    }
    return { desired, replicas };
  }

  /** Baton fresh, its values = HPA desiredReplicas = Deployment replicas, twice a sync apart; all HPAs ScalingActive. */
  async function settled(what: string, timeoutMs = 90_000): Promise<Levels> {
    let previous = '';
    return waitFor(`${what}: Baton, HPAs and Deployments agree`, timeoutMs, async () => {
      const g = lastGood();
      const fresh = g !== undefined && Date.now() - g.atMs < 3 * RULE_INTERVAL_S * 1000 + PROM_TIMEOUT_MS;
      const mine = g ? valuesOf(g) : {};
      const { desired, replicas } = await hpaLevels();
      const active = await Promise.all(POOLS.map(async (p) => (await hpaOf(p)).status?.conditions?.find((c) => c.type === 'ScalingActive')?.status === 'True'));
      const agree = fresh && active.every(Boolean) && POOLS.every((p) => mine[p.name] === desired[p.name] && desired[p.name] === replicas[p.name]);
      const key = JSON.stringify(mine);
      const ok = agree && key === previous;
      previous = agree ? key : '';
      if (!ok) throw new Error(`fresh=${fresh} active=${active} Baton ${key}, HPA ${JSON.stringify(desired)}, Deployments ${JSON.stringify(replicas)}`);
      return mine;
    }, HPA_SYNC_S * 1000);
  }

  /**
   * Injects a fault for OUTAGE_MS and checks, every second: HPA desiredReplicas and Deployment replicas never below
   * what Baton last decided before the fault; no new decision while it lasts; the served value is the last good one
   * until maxStalenessSeconds, then a 503 Status; afterwards Baton, the aggregator and the HPAs recover by themselves.
   */
  async function outage(name: string, inject: () => void | Promise<void>, heal: () => void | Promise<void>, outageMs = OUTAGE_MS): Promise<void> {
    const before = await settled(`${name}: steady before the fault`);
    const t0 = Date.now();
    await inject();
    const floor: Levels = { ...before };
    let frozen: GoodValue | undefined;
    let first503: number | undefined;
    let lastHeld200: number | undefined;
    const seen = { desired: new Set<string>(), served: new Set<number>(), polls: 0 };
    // A query already answered before the fault may still land one decision: freeze after one interval + timeout.
    const freezeAt = t0 + RULE_INTERVAL_S * 1000 + PROM_TIMEOUT_MS + 500;
    while (Date.now() - t0 < outageMs) {
      const g = lastGood()!;
      if (frozen === undefined && Date.now() >= freezeAt) {
        frozen = g;
        for (const p of POOLS) floor[p.name] = Math.min(floor[p.name]!, valuesOf(g)[p.name]!);
      }
      if (frozen) assert.equal(g, frozen, `${name}: Baton made a new decision during the fault (${JSON.stringify(valuesOf(g))})`);
      const { desired, replicas } = await hpaLevels();
      seen.polls++;
      seen.desired.add(JSON.stringify(desired));
      for (const p of POOLS) {
        assert.ok(desired[p.name]! >= floor[p.name]!, `${name}: HPA ${p.name} desiredReplicas ${desired[p.name]} < ${floor[p.name]} during the fault`);
        assert.ok(replicas[p.name]! >= floor[p.name]!, `${name}: Deployment ${p.name} replicas ${replicas[p.name]} < ${floor[p.name]} during the fault`);
      }
      const s = await served();
      const ageS = (Date.now() - g.atMs) / 1000;
      seen.served.add(s.status);
      if (s.status === 200) {
        assert.ok(ageS <= MAX_STALENESS_S + 1.5, `${name}: served a value ${ageS.toFixed(1)} s old (max staleness ${MAX_STALENESS_S} s)`);
        assert.deepEqual(s.levels, valuesOf(g), `${name}: served values are not Baton's last good ones`);
        lastHeld200 = ageS;
      } else {
        assert.equal(s.status, 503, `${name}: HTTP ${s.status} ${s.reason}: ${s.message}`);
        assert.equal(s.reason, 'ServiceUnavailable');
        assert.ok(ageS >= MAX_STALENESS_S - 1, `${name}: 503 when the value was only ${ageS.toFixed(1)} s old`);
        first503 ??= ageS;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.ok(lastHeld200 !== undefined, `${name}: the last good value was never served during the fault`);
    assert.ok(first503 !== undefined, `${name}: no 503 after ${MAX_STALENESS_S} s of staleness`);
    const heldS = (frozen!.atMs - t0) / 1000;
    await heal();
    const t1 = Date.now();
    await waitFor(`${name}: a new decision after the fault`, 30_000, () => (lastGood()!.atMs > frozen!.atMs ? true : undefined), 200);
    const decidedS = (Date.now() - t1) / 1000;
    await waitFor(`${name}: the aggregator serves values again`, 30_000, async () => ((await served()).status === 200 ? true : undefined), 500);
    const servedS = (Date.now() - t1) / 1000;
    const after = await settled(`${name}: recovered`);
    report.push(`${name}: before ${JSON.stringify(before)}; last decision ${heldS.toFixed(1)} s after the fault; ${seen.polls} polls, HPA desired seen ${[...seen.desired].join(' ')}` +
      ` (floor ${JSON.stringify(floor)}); held value served until ${lastHeld200.toFixed(1)} s old, first 503 at ${first503.toFixed(1)} s;` +
      ` healed → new decision ${decidedS.toFixed(1)} s, served ${servedS.toFixed(1)} s, HPAs agree ${((Date.now() - t1) / 1000).toFixed(1)} s; now ${JSON.stringify(after)}`);
  }

  /** A load step after a fault: the decode HPA's desiredReplicas moves in that direction. */
  async function followsLoad(rps: number, direction: 'up' | 'down', what: string): Promise<void> {
    const before = (await hpaOf(DECODE)).status?.desiredReplicas ?? 0;
    const t0 = Date.now();
    sim!.setRate(rps);
    const v = await waitFor(`${what}: decode HPA moves ${direction} from ${before} at ${rps} rps`, 90_000, async () => {
      const d = (await hpaOf(DECODE)).status?.desiredReplicas ?? before;
      return (direction === 'up' ? d > before : d < before) ? d : undefined;
    }, 500);
    const movedS = (Date.now() - t0) / 1000;
    // The first move comes while the rate window still mixes old and new load: let the window (and a scrape and two
    // evaluations) pass, then wait for the plateau, so the next test starts from the level of this load, not a ramp.
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + (RATE_WINDOW_S + 1 + 2 * RULE_INTERVAL_S) * 1000 - Date.now())));
    const plateau = await settled(`${what}: plateau at ${rps} rps`);
    report.push(`${what}: load → ${rps} rps, decode HPA ${before} → ${v} in ${movedS.toFixed(1)} s; plateau ${JSON.stringify(plateau)}`);
  }

  before(async function () {
    this.timeout(60 * 60_000);
    cluster = await startCluster({ hpaSyncPeriodS: HPA_SYNC_S });
    try {
      const simPools: PoolPlan[] = POOLS.map((p) => ({ name: p.name, role: p.role, gpuType: p.gpuType, gpusPerInstance: 1, maxInstances: 20, preference: 0, minReplicas: 1 }));
      sim = await startExporterScenario({
        rps: 9, mix: [{ input: 2000, output: OUTPUT_TOKENS }], lengths: 'trace', pools: simPools,
        policy: new StaticPolicy({ [POOLS[0]!.name]: 8, [DECODE.name]: 6 }), coldStartS: 0, speed: 1, seed: 5,
      });
      proxy = await startFaultProxy(await startPrometheus(), SLOW_MS);
      const rulesDir = join(cluster.runDir, 'rules');
      mkdirSync(rulesDir);
      const rules = ruleYaml({ service: SERVICE, namespace: NS, pools: POOLS, ratio: { prefill: 3, decode: 2 }, decodeTpsPerUnit: 500, window: `${RATE_WINDOW_S}s`, queryIntervalS: RULE_INTERVAL_S });
      assert.match(rules, /maxStalenessSeconds: 60/);
      writeFileSync(join(rulesDir, `${SERVICE}.yaml`), rules.replace('maxStalenessSeconds: 60', `maxStalenessSeconds: ${MAX_STALENESS_S}`));
      baton = await registerBaton(cluster, { rulesDir, prometheusUrl: proxy.url, prometheusTimeoutMs: PROM_TIMEOUT_MS });
      await applyScenario(cluster, NS, SERVICE, POOLS, { metric: METRIC, tolerance: '0' });
    } catch (err) {
      failed = true;
      throw err;
    }
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });

  after(async function () {
    this.timeout(60_000);
    if (failed && cluster) {
      console.error(`\n===== faults e2e failed (run dir kept: ${cluster.runDir}) =====\n${cluster.logTails(30)}`);
      if (baton) console.error(`(adapter log: ${baton.logFile})`);
    }
    await baton?.close().catch(() => undefined);
    await proxy?.close().catch(() => undefined);
    await promProcs?.stopAll().catch(() => undefined);
    await sim?.close().catch(() => undefined);
    await cluster?.stop(failed);
    if (proxy) report.push(`fault proxy answers: ${JSON.stringify(proxy.counts)}`);
    if (report.length) console.log(`      faults report:\n${report.map((t) => `        ${t}`).join('\n')}`);
  });

  it('steady load: HPAs follow Baton through the fault proxy', async () => {
    // The rate window fills first (the fleet just started): settle on the plateau, not on the ramp towards it.
    await waitFor('Baton reaches the 9 rps plateau (decode ≥ 4)', 90_000, () => ((lastGood() && valuesOf(lastGood()!)[DECODE.name]! >= 4) ? true : undefined), 500);
    const levels = await settled('steady load', 120_000);
    assert.ok(levels[DECODE.name]! >= 3, `the steady level must leave room to see a drop: ${JSON.stringify(levels)}`);
    report.push(`steady at 9 rps: ${JSON.stringify(levels)}`);
  });

  it('Prometheus SIGKILLed: last good value, then 503; no HPA lowers replicas; restarted, values come back and follow load', async () => {
    await outage('prometheus killed', killPrometheus, async () => {
      proxy!.upstream = await startPrometheus(); // same data dir; it may listen on another port, the proxy hides that
    });
    await followsLoad(14, 'up', 'after the restart');
  });

  it('Prometheus slow (answers after the client timeout): same guarantees; recovers and follows load', async () => {
    await outage('prometheus slow', () => void (proxy!.mode = 'slow'), () => void (proxy!.mode = 'pass'));
    await followsLoad(6, 'down', 'after slowness');
  });

  it('Prometheus answers garbage (invalid JSON, NaN, ±Inf, negative, wrong types, 5xx): same guarantees; recovers', async () => {
    // Long enough for one query per kind of garbage (one query per rule interval).
    await outage('prometheus garbage', () => void (proxy!.mode = 'garbage'), () => void (proxy!.mode = 'pass'), Math.max(OUTAGE_MS, (GARBAGE.length + 2) * RULE_INTERVAL_S * 1000));
    assert.equal(Object.keys(proxy!.counts).filter((k) => k.startsWith('garbage:')).length, GARBAGE.length, `not every kind of garbage was served: ${JSON.stringify(proxy!.counts)}`);
    await followsLoad(11, 'up', 'after garbage');
  });

  it('adapter restarted on the same port: no HPA lowers replicas meanwhile; HPAs recover by themselves', async () => {
    const before = await settled('steady before the adapter restart');
    const t0 = Date.now();
    const restarted = baton!.restartAdapter(6000);
    let polls = 0;
    let errors = 0;
    try {
      while (Date.now() - t0 < 8000) {
        const { desired, replicas } = await hpaLevels();
        for (const p of POOLS) {
          assert.ok(desired[p.name]! >= before[p.name]!, `HPA ${p.name} desiredReplicas ${desired[p.name]} < ${before[p.name]} while the adapter was down`);
          assert.ok(replicas[p.name]! >= before[p.name]!, `Deployment ${p.name} replicas ${replicas[p.name]} < ${before[p.name]} while the adapter was down`);
        }
        if ((await served()).status !== 200) errors++;
        polls++;
        await new Promise((r) => setTimeout(r, 1000));
      }
    } finally {
      await restarted; // the next tests need the adapter back even when an assertion failed
    }
    assert.ok(errors > 0, 'the aggregator never noticed the adapter was down (the restart did not happen?)');
    const t1 = Date.now();
    await waitFor('the aggregator serves the restarted adapter', 60_000, async () => ((await served()).status === 200 ? true : undefined), 500);
    const after = await settled('after the adapter restart');
    // The restarted adapter reads its decision memory (--state-file): it holds what it held, it does not drop to the
    // bare need (the band was holding more) — a restart must not scale capacity down.
    for (const p of POOLS) {
      assert.ok(after[p.name]! >= before[p.name]!, `${p.name}: ${before[p.name]} before, ${after[p.name]} after the restart at the same load`);
      assert.ok(after[p.name]! - before[p.name]! <= 1, `${p.name}: ${before[p.name]} before, ${after[p.name]} after the restart at the same load`);
    }
    report.push(`adapter restart: down 6 s, ${polls} polls (${errors} non-200 through the aggregator), served again ${((Date.now() - t1) / 1000).toFixed(1)} s after start; ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
  });

  it('SubjectAccessReview denial: a user without RBAC gets a 403 Status from the adapter and from kubectl', async () => {
    const f = cluster!.pki.files;
    const direct = (user: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      // The aggregator's own client certificate, naming the user in X-Remote-User: only the SAR decides.
      const req = https.request(baton!.url + METRIC_PATH, {
        ca: baton!.caPem, servername: 'baton-adapter.baton-system.svc',
        cert: readFileSync(f.frontProxyClientCert), key: readFileSync(f.frontProxyClientKey),
        headers: { 'X-Remote-User': user, 'X-Remote-Group': 'system:authenticated' },
      }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    const denied = await direct('mallory');
    assert.equal(denied.status, 403, denied.body);
    const status = JSON.parse(denied.body) as { kind: string; reason: string; code: number; message: string };
    assert.deepEqual([status.kind, status.reason, status.code], ['Status', 'Forbidden', 403]);
    assert.match(status.message, /User "mallory" cannot list resource "baton_desired_replicas"/);
    // The same certificate for the HPA controller's identity is allowed (bootstrap RBAC): the SAR made the difference.
    const allowed = await direct('system:serviceaccount:kube-system:horizontal-pod-autoscaler');
    assert.equal(allowed.status, 200, allowed.body);
    // Through the real kube-apiserver, impersonating an unprivileged user: Forbidden.
    await assert.rejects(cluster!.kubectl(['get', '--raw', METRIC_PATH, '--as=mallory']), /Forbidden|forbidden/);
  });
});
