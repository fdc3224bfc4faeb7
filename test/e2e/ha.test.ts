// High availability on the real control plane: two `baton adapter --ha` processes (no local state) behind the
// aggregator through a round-robin TLS-passthrough proxy, the decision store and the Lease on the real kube-apiserver,
// stock HPAs following. Faults during a steady load and a load step: the leader SIGKILLed, a rollout (a new replica
// with empty local state, then the old one stopped), Prometheus killed, partial answers, a guard query timing out.
// Checked every second: no HPA's desiredReplicas goes below its value before the fault; every replica, polled
// directly, answers the same value; after each fault the served level is the no-fault level again within 3 query
// intervals.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startExporterScenario, type ExporterScenario } from '../../sim/exporter/index.js';
import { StaticPolicy } from '../../sim/policies/static.js';
import type { PoolPlan } from '../../sim/scenario.js';
import { waitFor } from './harness/api.js';
import { registerBatonHa, type HaBaton, type HaReplica } from './harness/baton-ha.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { startFaultProxy, type FaultProxy } from './harness/fault-proxy.js';
import { ProcessSet } from './harness/processes.js';
import { startHttpSdPrometheus } from './harness/prometheus.js';
import { applyScenario, ruleYaml, workloadName, type PoolSpec } from './harness/workload.js';

const NS = 'llm';
const SERVICE = 'service-a';
const METRIC = 'baton_desired_replicas';
const RULE_INTERVAL_S = 2;
const RATE_WINDOW_S = 15;
const HPA_SYNC_S = 2;
const MAX_STALENESS_S = 30;
const PROM_TIMEOUT_MS = 1500;
const LEASE_S = 4;
const SYNC_MS = 300;
const PUBLISH_DELAY_MS = 1000;
/** "Within 3 query intervals" of a fault clearing, plus the publish delay every replica switches at. */
const RECOVER_MS = 3 * RULE_INTERVAL_S * 1000 + PUBLISH_DELAY_MS;
const POOLS: PoolSpec[] = [
  { name: 'prefill-h100', role: 'prefill', gpuType: 'H100', nodes: 3, gpusPerNode: 8, minReplicas: 1, maxReplicas: 20 },
  { name: 'decode-h200', role: 'decode', gpuType: 'H200', nodes: 3, gpusPerNode: 8, minReplicas: 1, maxReplicas: 16 },
];
const [, DECODE] = POOLS as [PoolSpec, PoolSpec];
const METRIC_PATH = `/apis/external.metrics.k8s.io/v1beta1/namespaces/${NS}/${METRIC}?labelSelector=${encodeURIComponent(`service=${SERVICE}`)}`;

type Levels = Record<string, number>;
interface Served { status: number; levels?: Levels; atMs?: number }

const quantity = (v: string) => (v.endsWith('m') ? Number(v.slice(0, -1)) / 1000 : Number(v));

describe('e2e: HA — two adapters behind the aggregator serve one decision; faults never lower replicas', function () {
  this.timeout(180_000);
  let cluster: Cluster | undefined;
  let sim: ExporterScenario | undefined;
  let proxy: FaultProxy | undefined;
  let baton: HaBaton | undefined;
  let promProcs: ProcessSet | undefined;
  let failed = false;
  const report: string[] = [];
  let disagreements = 0;
  let comparisons = 0;

  const api = () => cluster!.api;
  const hpaDesired = async (): Promise<Levels> => {
    const out: Levels = {};
    for (const p of POOLS) {
      out[p.name] = (await api().get<{ status?: { desiredReplicas?: number } }>(`/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers/${workloadName(SERVICE, p)}`)).status?.desiredReplicas ?? -1;
    }
    return out;
  };

  async function servedBy(r: HaReplica): Promise<Served & { body?: string }> {
    const res = await baton!.direct(r, METRIC_PATH).catch((e: Error) => ({ status: 0, body: e.message }));
    if (res.status !== 200) return { status: res.status, body: res.body.slice(0, 300) };
    const body = JSON.parse(res.body) as { items: { metricLabels: Record<string, string>; value: string; timestamp: string }[] };
    return { status: 200, levels: Object.fromEntries(body.items.map((i) => [i.metricLabels.pool!, quantity(i.value)])), atMs: Date.parse(body.items[0]!.timestamp) };
  }

  /** Every live replica answers the same: compared at once, and a difference must vanish on an immediate re-poll (a switch instant). */
  async function replicasAgree(): Promise<Served> {
    const key = (s: Served) => JSON.stringify([s.status, s.levels, s.atMs]);
    for (let attempt = 0; ; attempt++) {
      const all = await Promise.all(baton!.replicas().map(servedBy));
      comparisons++;
      if (all.every((s) => key(s) === key(all[0]!))) return all[0]!;
      if (attempt >= 1) {
        disagreements++;
        assert.fail(`replicas disagree: ${baton!.replicas().map((r, i) => `${r.name}=${key(all[i]!)}`).join(' ')}`);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  async function steady(what: string, timeoutMs = 90_000): Promise<Levels> {
    let previous = '';
    return waitFor(`${what}: replicas agree, fresh, HPAs follow`, timeoutMs, async () => {
      const s = await replicasAgree();
      const desired = await hpaDesired();
      const fresh = s.status === 200 && Date.now() - s.atMs! < 3 * RULE_INTERVAL_S * 1000 + PROM_TIMEOUT_MS + PUBLISH_DELAY_MS;
      const ok = fresh && POOLS.every((p) => s.levels![p.name] === desired[p.name]);
      const k = JSON.stringify(s.levels);
      const twice = ok && k === previous;
      previous = ok ? k : '';
      if (!twice) throw new Error(`fresh=${fresh} served ${k} HPA ${JSON.stringify(desired)}`);
      return s.levels!;
    }, HPA_SYNC_S * 1000);
  }

  /**
   * Runs `fault` for `durationMs` while checking every second that HPAs stay at or above `before` and the replicas
   * agree; then `heal`, and within RECOVER_MS a fresh decision at the no-fault level: the level before (the load did
   * not change), or for `lower` (the load fell during the fault) a decode level below it.
   */
  async function fault(name: string, inject: () => Promise<void> | void, heal: () => Promise<void> | void, durationMs: number, expect: 'same' | 'lower' = 'same'): Promise<void> {
    const before = await steady(`${name}: before`);
    const t0 = Date.now();
    await inject();
    let polls = 0;
    while (Date.now() - t0 < durationMs) {
      const desired = await hpaDesired();
      for (const p of POOLS) assert.ok(desired[p.name]! >= before[p.name]!, `${name}: HPA ${p.name} desiredReplicas ${desired[p.name]} < ${before[p.name]} during the fault`);
      const s = await replicasAgree();
      if (s.status === 200) for (const p of POOLS) assert.ok(s.levels![p.name]! >= before[p.name]!, `${name}: served ${JSON.stringify(s.levels)} below ${JSON.stringify(before)}`);
      polls++;
      await new Promise((r) => setTimeout(r, 1000));
    }
    await heal();
    const t1 = Date.now();
    const atHeal = (await replicasAgree()).atMs ?? 0;
    const atLevel = (l: Levels) => (expect === 'same' ? JSON.stringify(l) === JSON.stringify(before) : l[DECODE.name]! < before[DECODE.name]!);
    await waitFor(`${name}: a fresh decision at the no-fault level (${expect} than ${JSON.stringify(before)}) within ${RECOVER_MS} ms`, RECOVER_MS, async () => {
      const s = await replicasAgree();
      if (s.status !== 200 || s.atMs! <= atHeal || !atLevel(s.levels!)) throw new Error(`served ${JSON.stringify(s)}`);
      return true;
    }, 250);
    const recoveredS = (Date.now() - t1) / 1000;
    const settledAt = await steady(`${name}: after`);
    report.push(`${name}: before ${JSON.stringify(before)}, ${polls} polls during ${durationMs / 1000} s (HPAs never lower, replicas agreed), fresh no-fault level ${recoveredS.toFixed(1)} s after it cleared; now ${JSON.stringify(settledAt)}`);
  }

  async function startPrometheus(): Promise<string> {
    promProcs = new ProcessSet(cluster!.runDir);
    return (await startHttpSdPrometheus(promProcs, cluster!.runDir, `${sim!.url}/sd`, 1)).url;
  }

  before(async function () {
    this.timeout(60 * 60_000);
    cluster = await startCluster({ hpaSyncPeriodS: HPA_SYNC_S });
    try {
      const simPools: PoolPlan[] = POOLS.map((p) => ({ name: p.name, role: p.role, gpuType: p.gpuType, gpusPerInstance: 1, maxInstances: 20, preference: 0, minReplicas: 1 }));
      sim = await startExporterScenario({
        rps: 9, mix: [{ input: 2000, output: 250 }], lengths: 'trace', pools: simPools,
        policy: new StaticPolicy({ [POOLS[0]!.name]: 8, [DECODE.name]: 6 }), coldStartS: 0, speed: 1, seed: 5,
      });
      proxy = await startFaultProxy(await startPrometheus(), 4 * PROM_TIMEOUT_MS);
      const rulesDir = join(cluster.runDir, 'rules');
      mkdirSync(rulesDir);
      const rules = ruleYaml({ service: SERVICE, namespace: NS, pools: POOLS, ratio: { prefill: 3, decode: 2 }, decodeTpsPerUnit: 500, window: `${RATE_WINDOW_S}s`, queryIntervalS: RULE_INTERVAL_S });
      // A TBT guard (the vllm preset's query) that never fires at this load: its reading is what the guard-timeout fault breaks.
      const withGuard = rules.replace('    stability:', '    guards:\n      - {name: tbt_p99, slo: 5, tiers: [{above: 1.0, scaleOut: 0.1}]}\n    stability:');
      assert.notEqual(withGuard, rules);
      writeFileSync(join(rulesDir, `${SERVICE}.yaml`), withGuard.replace('maxStalenessSeconds: 60', `maxStalenessSeconds: ${MAX_STALENESS_S}`));
      baton = await registerBatonHa(cluster, { rulesDir, prometheusUrl: proxy.url, prometheusTimeoutMs: PROM_TIMEOUT_MS, leaseDurationS: LEASE_S, syncIntervalMs: SYNC_MS, publishDelayMs: PUBLISH_DELAY_MS }, ['a', 'b']);
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
    if (failed && cluster) console.error(`\n===== HA e2e failed (run dir kept: ${cluster.runDir}) =====\n${cluster.logTails(30)}`);
    await baton?.close().catch(() => undefined);
    await proxy?.close().catch(() => undefined);
    await promProcs?.stopAll().catch(() => undefined);
    await sim?.close().catch(() => undefined);
    await cluster?.stop(failed);
    report.push(`replica comparisons ${comparisons}, lasting disagreements ${disagreements}`);
    console.log(`      HA report:\n${report.map((t) => `        ${t}`).join('\n')}`);
  });

  it('steady load, then a load step: both replicas serve the leader\'s decision; the decision store is ConfigMaps on the real apiserver', async () => {
    await waitFor('the 9 rps plateau (decode ≥ 4)', 90_000, async () => {
      const s = await replicasAgree();
      return s.status === 200 && s.levels![DECODE.name]! >= 4 ? true : undefined;
    }, 500);
    const low = await steady('steady at 9 rps', 120_000);
    const leader = await baton!.leader();
    assert.ok(['a', 'b'].includes(leader), `lease holder ${leader}`);
    const cms = await api().get<{ items: { metadata: { name: string }; data?: Record<string, string> }[] }>(`/api/v1/namespaces/baton-system/configmaps?labelSelector=${encodeURIComponent('baton.io/decisions=baton-decisions')}`);
    const record = cms.items.flatMap((c) => Object.entries(c.data ?? {})).find(([k]) => k === SERVICE);
    assert.ok(record, 'the leader wrote the service\'s decision to a ConfigMap');
    assert.equal(JSON.parse(record[1]).leader, leader);
    sim!.setRate(14);
    await new Promise((r) => setTimeout(r, (RATE_WINDOW_S + 2 * RULE_INTERVAL_S) * 1000));
    const high = await steady('plateau at 14 rps');
    assert.ok(high[DECODE.name]! > low[DECODE.name]!, `the step moved decode: ${JSON.stringify(low)} → ${JSON.stringify(high)}`);
    report.push(`leader ${leader}; 9 rps ${JSON.stringify(low)} → 14 rps ${JSON.stringify(high)}`);
  });

  it('the leader SIGKILLed: the other replica takes over from the stored state; nothing the HPAs see changes', async () => {
    const leader = await baton!.leader();
    const t0 = Date.now();
    await fault('leader killed', () => baton!.stopReplica(leader, 'SIGKILL'), () => undefined, (LEASE_S + 2) * 1000);
    const next = await baton!.leader();
    assert.notEqual(next, leader);
    report.push(`leader ${leader} killed → ${next} leads (${((Date.now() - t0) / 1000).toFixed(1)} s to a steady fresh level)`);
  });

  it('a rollout: a new replica with empty local state serves the fleet\'s level at once; the old one stops cleanly', async () => {
    const old = baton!.replicas()[0]!.name;
    await fault('rollout', async () => {
      const fresh = await baton!.addReplica('c');
      // Its very first answer is a value (the stored level), not a 503 or a bare need; an unequal pair must vanish on an
      // immediate re-poll (a switch instant between the two answers), as in replicasAgree.
      let [mine, theirs] = await Promise.all([servedBy(fresh), servedBy(baton!.replicas().find((r) => r.name === old)!)]);
      assert.equal(mine.status, 200, `the new replica's first answer: ${JSON.stringify(mine)}`);
      if (JSON.stringify(mine) !== JSON.stringify(theirs)) {
        await new Promise((r) => setTimeout(r, 150));
        [mine, theirs] = await Promise.all([servedBy(fresh), servedBy(baton!.replicas().find((r) => r.name === old)!)]);
      }
      assert.deepEqual(mine, theirs, 'the new replica serves the stored level (and decision time), not a bare need');
      await baton!.stopReplica(old, 'SIGTERM');
    }, () => undefined, 4000);
    assert.equal(await baton!.leader(), 'c', 'a clean stop hands the lease over');
    await baton!.addReplica('d'); // two replicas again for the next faults
  });

  it('partial answers (a storage node down): held, never a smaller sum; back at once when whole again', async () => {
    await fault('partial answers', () => void (proxy!.mode = 'partial'), () => void (proxy!.mode = 'pass'), 10_000);
    assert.ok((proxy!.counts.partial ?? 0) > 0);
  });

  it('a guard query timing out while the load falls: no scale-in until it answers, then the no-fault level', async () => {
    await fault('guard timeout', () => {
      proxy!.mode = 'slow-guard';
      sim!.setRate(6);
    }, () => void (proxy!.mode = 'pass'), (RATE_WINDOW_S + 3 * RULE_INTERVAL_S) * 1000, 'lower');
    assert.ok((proxy!.counts['slow-guard'] ?? 0) > 0);
  }).timeout(240_000);

  it('Prometheus SIGKILLed and restarted: held meanwhile; the no-fault level within 3 query intervals of it answering', async () => {
    await fault('prometheus killed', () => {
      const p = promProcs!.list().find((x) => x.name === 'prometheus' && x.exited === undefined)!;
      process.kill(-p.pid, 'SIGKILL');
    }, async () => {
      proxy!.upstream = await startPrometheus();
      // The fault clears when Prometheus answers the decode signal again (targets rediscovered, two scrapes in the window).
      await waitFor('Prometheus answers the decode signal again', 60_000, async () => {
        const r = await fetch(`${proxy!.upstream}/api/v1/query?query=${encodeURIComponent(`sum(rate(vllm:generation_tokens_total[${RATE_WINDOW_S}s]))`)}`);
        const body = (await r.json()) as { data?: { result?: unknown[] } };
        return (body.data?.result?.length ?? 0) > 0 ? true : undefined;
      }, 250);
    }, 10_000);
  });
});
