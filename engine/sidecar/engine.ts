// `baton engine`: every cycle it lists nodes and pods, rebuilds the view, plans (engine/placement), publishes the plan,
// and — when it leads and is not advisory — labels nodes with their slots, marks pods to drain with
// pod-deletion-cost, writes the plan ConfigMap for the adapter and records Events. All state lives in the cluster
// (slot labels, pods, the Lease), so a restarted engine resumes from what it reads.
import { renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import type * as k8s from '@kubernetes/client-node';
import { planPlacement } from '../placement/place.js';
import type { PlacementPlan, PlacementReason, ServiceDemand } from '../placement/types.js';
import { deletionCosts, labelPatches, DELETION_COST, type LabelPatch } from './actuate.js';
import type { EngineConfig } from './config.js';
import { loadDemand } from './config.js';
import { parseSelector } from '../../adapter/selector.js';
import { attribution, nodeInfo, podInfo, readyByPool, toSnapshot, withTargetGroups, type PodAttribution, type TargetSelection } from './convert.js';
import { batched, emitEvent, listCluster, loadKubeConfig, makeClients, patchNodeLabels, patchPodCost, podsOnNode, publishConfigMap, type KubeClients } from './kube.js';
import { LeaderElector } from './lease.js';
import { EngineMetrics } from './metrics.js';
import { refText, TargetReaders, type TargetReading } from './targets/index.js';

export interface EngineOptions {
  config: EngineConfig;
  kubeconfig?: string | k8s.KubeConfig;
  /** Demand file the adapter rewrites (re-read each cycle); or a function, for tests and the simulator. */
  demandFile?: string;
  demand?: () => ServiceDemand[];
  intervalS?: number;
  /** Compute and publish (HTTP, plan file) but write nothing to the cluster. */
  advisory?: boolean;
  identity?: string;
  leaseName?: string;
  leaseDurationS?: number;
  planConfigMap?: string;
  /** Where to write the plan JSON (atomic rename), e.g. an emptyDir shared with the adapter container. */
  planFile?: string;
  /** Serve /plan, /metrics, /healthz (= /readyz) and /livez on host:port (0 = any free port). */
  port?: number;
  /** Listen address for `port`; 127.0.0.1 unless the pod's probes and Prometheus must reach it (0.0.0.0). */
  host?: string;
  concurrency?: number;
  log?: (line: string) => void;
}

export interface CycleResult {
  leader: boolean;
  plan: PlacementPlan;
  labelPatches: number;
  costPatches: number;
  conflicts: number;
  errors: string[];
  planMs: number;
  /** Ready replicas per service and pool (a multi-node group counts once, when all its pods are Ready). */
  ready: Map<string, Record<string, number>>;
  /** Objects the engine scaled itself this cycle (`scaler: engine`), one write each. */
  scaleWrites: number;
  /** What each pool's workload said through `/scale` (the last good reading when this cycle's read failed). */
  targets: { service: string; pool: string; reading?: TargetReading; error?: string }[];
}

/** The part of the plan the adapter needs: desired replicas per service pool, plus groups and reasons. */
export function planDocument(plan: PlacementPlan, at: Date): Record<string, unknown> {
  return {
    generatedAt: at.toISOString(),
    desired: Object.fromEntries(plan.services.map((s) => [s.service, s.pools])),
    services: plan.services,
    reasons: plan.reasons,
  };
}

export class Engine {
  readonly metrics = new EngineMetrics();
  private readonly c: KubeClients;
  private readonly readers: TargetReaders;
  /**
   * The last good `/scale` reading per `service/pool`, with its parsed selector: a failed read keeps counting the pool's
   * pods as before.
   */
  private readonly readings = new Map<string, { reading: TargetReading; matches: TargetSelection['matches'] }>();
  private readonly elector: LeaderElector;
  private readonly identity: string;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<unknown> | undefined;
  private server: Server | undefined;
  private lastDemand: ServiceDemand[] | undefined;
  private lastEvents = new Map<string, string>();
  lastPlan: PlacementPlan | undefined;
  lastError: string | undefined;
  url: string | undefined;
  /** When the loop last finished a cycle, whatever its outcome (ms since epoch); liveness reads it. */
  private lastCycleEndMs: number | undefined;
  private readonly startedMs = Date.now();

  constructor(private readonly o: EngineOptions) {
    const kc = typeof o.kubeconfig === 'object' ? o.kubeconfig : loadKubeConfig(o.kubeconfig);
    this.c = makeClients(kc);
    this.readers = new TargetReaders(kc);
    this.identity = o.identity ?? `${hostname()}-${process.pid}`;
    this.elector = new LeaderElector(this.c, { namespace: o.config.namespace, name: o.leaseName ?? 'baton-engine', identity: this.identity, durationS: o.leaseDurationS ?? 15 }, Date.now, (err) => this.log(`lease: ${err.message}`));
    this.metrics.advisory.set(o.advisory ? 1 : 0);
  }

  private log(line: string): void {
    (this.o.log ?? ((l: string) => process.stderr.write(l + '\n')))(`[baton engine ${this.identity}] ${line}`);
  }

  private demand(): ServiceDemand[] | undefined {
    try {
      if (this.o.demand) this.lastDemand = this.o.demand();
      else if (this.o.demandFile) this.lastDemand = loadDemand(this.o.demandFile);
    } catch (err) {
      // A half-written or broken file never scales anything: the last good demand holds.
      this.log(`demand unreadable, holding the last good one: ${(err as Error).message}`);
    }
    return this.lastDemand;
  }

  /** One cycle; safe to call directly (tests). */
  async cycleOnce(): Promise<CycleResult> {
    const cfg = this.o.config;
    const leader = this.o.advisory ? false : await this.elector.tryAcquireOrRenew();
    this.metrics.leader.set(leader ? 1 : 0);
    const [{ nodes, pods }, targets] = await Promise.all([listCluster(this.c), this.readTargets()]);
    const by = withTargetGroups(this.attributionOf(targets), pods);
    const snap = toSnapshot(nodes, pods, cfg.keys, by);
    const ready = readyByPool(snap);
    this.recordTargets(targets, ready);
    const demand = (this.demand() ?? []).map((d) => ({ ...d, ready: ready.get(d.service) ?? {} }));
    const t0 = performance.now();
    const plan = planPlacement(snap, cfg.services, demand, { keys: cfg.keys });
    const planMs = performance.now() - t0;
    this.metrics.planSeconds.observe(planMs / 1000);
    this.lastPlan = plan;
    this.record(plan);
    if (this.o.planFile) {
      writeFileSync(this.o.planFile + '.tmp', JSON.stringify({ ...planDocument(plan, new Date()), slots: plan.slots }) + '\n');
      renameSync(this.o.planFile + '.tmp', this.o.planFile);
    }
    const result: CycleResult = { leader, plan, labelPatches: 0, costPatches: 0, conflicts: 0, errors: targets.flatMap((t) => (t.error ? [t.error] : [])), planMs, ready, targets, scaleWrites: 0 };
    if (!leader) return result;

    // 1. Slot labels (before desired replicas grow, so new pods find their nodes).
    const rv = new Map(nodes.map((n) => [n.metadata?.name ?? '', n.metadata?.resourceVersion]));
    const recompute = async (fresh: k8s.V1Node): Promise<LabelPatch | undefined> => {
      const live = (await podsOnNode(this.c, fresh.metadata?.name ?? '')).map((p) => podInfo(p, cfg.keys, by)).filter((p) => p !== undefined);
      return labelPatches({ nodes: [nodeInfo(fresh, cfg.keys)], pods: live }, plan, cfg.services)[0];
    };
    const patches = labelPatches(snap, plan, cfg.services);
    const outcomes = await batched(patches, this.o.concurrency ?? 8, async (p) => {
      if (!this.elector.isLeader()) return { result: 'skipped' as const, conflicts: 0, error: 'lost the lease' };
      // Removing a key: recount the node's pods right now, so a pod bound since the list keeps its label.
      let patch: LabelPatch | undefined = p;
      let version = rv.get(p.node);
      if (Object.values(p.labels).includes(null)) {
        const fresh = await this.c.core.readNode({ name: p.node });
        version = fresh.metadata?.resourceVersion;
        patch = await recompute(fresh);
      }
      if (!patch) return { result: 'skipped' as const, conflicts: 0 };
      return patchNodeLabels(this.c, patch, version, recompute);
    });
    for (const out of outcomes) {
      this.metrics.patches.inc({ kind: 'node-label', result: out.result });
      this.metrics.conflicts.inc(out.conflicts);
      result.conflicts += out.conflicts;
      if (out.result === 'ok' || out.result === 'conflict-retried') result.labelPatches++;
      if (out.error) result.errors.push(out.error);
    }

    // 2. Drain marks (before desired replicas shrink, so the HPA scale-down deletes these pods).
    const current = new Map<string, string | undefined>();
    for (const p of pods) current.set(`${p.metadata?.namespace}/${p.metadata?.name}`, p.metadata?.annotations?.[DELETION_COST]);
    const costs = deletionCosts(snap, plan, current);
    await batched(costs, this.o.concurrency ?? 8, async (p) => {
      if (!this.elector.isLeader()) return;
      try {
        await patchPodCost(this.c, p, DELETION_COST);
        result.costPatches++;
        this.metrics.patches.inc({ kind: 'pod-deletion-cost', result: 'ok' });
      } catch (err) {
        this.metrics.patches.inc({ kind: 'pod-deletion-cost', result: 'error' });
        result.errors.push(`pod ${p.pod}: ${(err as Error).message}`);
      }
    });

    // 3. Services the engine scales itself: every role of the object in one write, at the plan's (placed) replicas.
    for (const sc of cfg.scalers) {
      const planned = plan.services.find((x) => x.service === sc.service);
      if (!planned || !this.elector.isLeader()) continue;
      const byRole = Object.fromEntries(Object.entries(sc.roles).map(([pool, role]) => [role, planned.pools[pool] ?? 0]));
      try {
        const r = await this.readers.scaleRoles(sc.ref, byRole);
        if (r === 'written') result.scaleWrites++;
        this.metrics.patches.inc({ kind: 'scale-roles', result: r === 'written' ? 'ok' : 'skipped' });
      } catch (err) {
        this.metrics.patches.inc({ kind: 'scale-roles', result: 'error' });
        result.errors.push(`scale ${sc.service}: ${(err as Error).message}`);
      }
    }

    // 4. The plan for the adapter, then Events for what changed.
    if (this.elector.isLeader()) {
      const cm = this.o.planConfigMap ?? 'baton-plan';
      const doc = planDocument(plan, new Date());
      await publishConfigMap(this.c, cfg.namespace, cm, { 'desired.json': JSON.stringify(doc.desired), 'plan.json': JSON.stringify(doc) });
      await this.events(plan.reasons, cm).catch((err: Error) => result.errors.push(`events: ${err.message}`));
    }
    for (const e of result.errors) this.log(e);
    return result;
  }

  /**
   * Every configured target's scale subresource, read together (in config order); a failure, or a selector that does
   * not parse, keeps the last good reading.
   */
  private async readTargets(): Promise<CycleResult['targets']> {
    return batched(this.o.config.targets, this.o.concurrency ?? 8, async (t) => {
      const key = `${t.service}/${t.pool}`;
      try {
        const reading = await this.readers.read(t.ref);
        this.readings.set(key, { reading, matches: parseSelector(reading.selector).matches });
        return { service: t.service, pool: t.pool, reading };
      } catch (err) {
        const last = this.readings.get(key)?.reading;
        const error = `target ${refText(t.ref)} of ${key}: ${(err as Error).message}${last ? ' (counting with the last good reading)' : ''}`;
        return last ? { service: t.service, pool: t.pool, reading: last, error } : { service: t.service, pool: t.pool, error };
      }
    });
  }

  private attributionOf(targets: CycleResult['targets']): PodAttribution {
    const cfg = this.o.config;
    const selections: TargetSelection[] = [];
    targets.forEach((t, i) => {
      const kept = t.reading && this.readings.get(`${t.service}/${t.pool}`);
      if (kept) selections.push({ service: t.service, pool: t.pool, namespace: cfg.targets[i]!.ref.namespace, matches: kept.matches });
    });
    return { ...attribution(cfg.podLabels, cfg.services), targets: selections };
  }

  private recordTargets(targets: CycleResult['targets'], ready: Map<string, Record<string, number>>): void {
    this.metrics.targetReplicas.reset();
    this.metrics.readyReplicas.reset();
    for (const s of this.o.config.services) for (const p of s.pools) this.metrics.readyReplicas.set({ service: s.service, pool: p.name }, ready.get(s.service)?.[p.name] ?? 0);
    targets.forEach((t, i) => {
      if (t.reading) this.metrics.targetReplicas.set({ service: t.service, pool: t.pool, kind: this.o.config.targets[i]!.ref.kind }, t.reading.replicas);
      this.metrics.targetReads.inc({ result: t.error ? 'error' : 'ok' });
    });
  }

  private record(plan: PlacementPlan): void {
    this.metrics.desiredReplicas.reset();
    this.metrics.groups.reset();
    for (const s of plan.services) {
      for (const spec of this.o.config.services.find((x) => x.service === s.service)?.pools ?? []) this.metrics.desiredReplicas.set({ service: s.service, role: spec.role, pool: spec.name }, s.pools[spec.name] ?? 0);
      for (const g of s.groups) this.metrics.groups.inc({ service: s.service, tier: ['low', 'medium', 'high'][g.tier]! });
    }
    for (const r of plan.reasons) this.metrics.decisions.inc({ service: r.service, code: r.code });
  }

  /** One Event per reason whose message changed since the last cycle (steady state is quiet). */
  private async events(reasons: PlacementReason[], cm: string): Promise<void> {
    const seen = new Map<string, string>();
    for (const r of reasons) {
      const key = `${r.service}|${r.code}|${r.role ?? ''}|${r.pool ?? ''}`;
      seen.set(key, r.message);
      if (this.lastEvents.get(key) === r.message) continue;
      const warn = r.code === 'capped' || r.code === 'unplaced' || r.code === 'ready-guard';
      const reason = r.code.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());
      await emitEvent(this.c, this.o.config.namespace, cm, warn ? 'Warning' : 'Normal', reason, `${r.service}: ${r.message}`, this.identity);
    }
    this.lastEvents = seen;
  }

  async start(): Promise<void> {
    if (this.o.port !== undefined) await this.serve(this.o.port);
    const loop = async () => {
      this.running = this.cycleOnce()
        .then((r) => {
          this.lastError = undefined;
          this.metrics.cycles.inc({ result: r.errors.length ? 'partial' : 'ok' });
        })
        .catch((err: Error) => {
          this.lastError = err.message;
          this.metrics.cycles.inc({ result: 'error' });
          this.log(`cycle failed: ${err.message}`);
        });
      await this.running;
      this.lastCycleEndMs = Date.now();
      if (!this.stopped) this.timer = setTimeout(loop, (this.o.intervalS ?? 10) * 1000);
    };
    this.timer = setTimeout(loop, 0);
  }

  /**
   * Live while the loop keeps finishing cycles (failed ones count): only a wedged loop — a cycle that never returns —
   * should make the kubelet restart the container; restarting does not fix an unreachable apiserver.
   */
  liveness(nowMs: number): { ok: boolean; message: string } {
    const allowanceMs = Math.max(60, 6 * (this.o.intervalS ?? 10)) * 1000;
    const since = this.lastCycleEndMs ?? this.startedMs;
    const ageS = Math.round((nowMs - since) / 1000);
    if (nowMs - since <= allowanceMs) return { ok: true, message: this.lastCycleEndMs === undefined ? 'starting' : `last cycle ended ${ageS} s ago` };
    return { ok: false, message: `no cycle has ended for ${ageS} s (allowed ${allowanceMs / 1000} s): the loop is stuck` };
  }

  private serve(port: number): Promise<void> {
    this.server = createServer((req, res) => {
      if (req.url === '/plan') {
        res.writeHead(this.lastPlan ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify(this.lastPlan ? { ...planDocument(this.lastPlan, new Date()), slots: this.lastPlan.slots } : { error: 'no plan yet' }));
      } else if (req.url === '/metrics') {
        this.metrics.registry.metrics().then((m) => {
          res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
          res.end(m);
        }, (err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        });
      } else if (req.url === '/healthz' || req.url === '/readyz') {
        // Ready = the last cycle worked (the cluster answered); a failing apiserver makes the engine unready, not dead.
        res.writeHead(this.lastError ? 500 : 200);
        res.end(this.lastError ?? 'ok');
      } else if (req.url === '/livez') {
        const l = this.liveness(Date.now());
        res.writeHead(l.ok ? 200 : 503);
        res.end(l.message);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      const host = this.o.host ?? '127.0.0.1';
      this.server!.listen(port, host, () => {
        const a = this.server!.address();
        const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
        this.url = typeof a === 'object' && a ? `http://${shown}:${a.port}` : undefined;
        resolve();
      });
    });
  }

  /** Stops the loop (waits for a cycle in flight), gives up the lease and closes the server. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    await this.elector.release();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
