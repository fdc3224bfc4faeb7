// The evaluation loop: each service's queries run on the service's own interval, never on the HPA request path.
// Query results become an observation for the policy core's decide(); its decision is kept in memory with timestamp and
// window until the next good evaluation. Unusable data never becomes a decision: the last good value is kept and ages.
import { decide, noteSignalMissing } from '../engine/core/decide.js';
import type { Decision, GuardReading, PolicyState, Role, ServicePolicyConfig } from '../engine/core/types.js';
import type { Registry } from 'prom-client';
import type { BatchTrace } from '../adapter/provider.js';
import type { Batch } from './batch/plan.js';
import { BatchedQueries, type RoundResults } from './batch/queries.js';
import { cohortKey, delayToPhase, phaseOffsetMs } from './batch/schedule.js';
import { SharedQueries } from './dedupe.js';
import { rulesMetrics, type RulesMetrics } from './metrics.js';
import { PrometheusError, type InstantQuery, type QueryResult } from './prometheus.js';
import { guardReadingOf, readPerPool, readSingle, type ProblemKind, type Reading } from './results.js';
import { policyConfigOf, type QuerySpec, type RuleSet, type ServiceRule } from './types.js';
import { evaluateWhen, whenData } from './when.js';

/** What one query did at the last evaluation; shown by explain. */
export interface QueryTrace {
  /** decodeTps, replicas, or guard:<name>. */
  name: string;
  promql: string;
  evaluatedAtMs: number;
  raw?: QueryResult;
  value?: number;
  error?: string;
  errorKind?: ProblemKind;
  /** False when a `when` condition switched this guard off. */
  active?: boolean;
  /** When the query ran as part of a batch: the one query sent, and the labels that cut this query's slice from it. */
  batch?: BatchTrace;
}

/** One value the service publishes: desired replicas of one pool. */
export interface PublishedValue {
  metric: string;
  labels: Record<string, string>;
  role: Role;
  pool: string;
  value: number;
}

export interface GoodValue {
  decision: Decision;
  atMs: number;
  windowS?: number;
  values: PublishedValue[];
  /** Why the published values differ from (or match) the decision's own split, e.g. the sidecar engine's plan. */
  extraReasons?: ExtraReason[];
}

/** A reason added after decide() (codes outside the policy core's, e.g. `engine-plan-stale`, `engine:capped`). */
export interface ExtraReason {
  code: string;
  role?: Role;
  pool?: string;
  detail: Record<string, number | string | boolean>;
  message: string;
}

/**
 * Runs after each decision, before it is served: may replace the published values (the sidecar engine's per-pool split)
 * and add reasons. Returning undefined keeps the decision's own split.
 */
export type AfterDecision = (rule: ServiceRule, decision: Decision, values: PublishedValue[], nowMs: number) => { values: PublishedValue[]; reasons: ExtraReason[] } | undefined;

export interface ServiceState {
  rule: ServiceRule;
  policy: PolicyState;
  lastGood?: GoodValue;
  lastAttemptMs?: number;
  /** Why the last attempt was held (undefined when it produced a decision). */
  lastProblem?: string;
  queries: QueryTrace[];
  /** The memory this service was restored from (before a restart); stands in until the first decision. */
  restored?: ServiceMemory;
}

/**
 * What a service's decisions need to survive an adapter restart: the policy core's state (held level, cooldown
 * timestamps, scale-in window) and what was published, which the HPAs have since followed.
 */
export interface ServiceMemory {
  policy: PolicyState;
  /** Published replicas per pool. */
  published: Record<string, number>;
  /** When the decision was made (ms since the epoch). */
  atMs: number;
}

/**
 * Where current replicas per pool come from when the rule has no `replicas` query. Returning undefined holds the tick.
 * The default, `lastDecisionReplicas`, assumes the HPAs did what Baton asked: the last decision's replicas (before the
 * first decision: what was published before a restart, when a memory was restored, else each pool's minReplicas).
 * The sidecar engine will plug in real Deployment counts.
 */
export type ReplicaSource = (rule: ServiceRule, state: ServiceState) => Record<string, number> | undefined | Promise<Record<string, number> | undefined>;

export const lastDecisionReplicas: ReplicaSource = (rule, state) => {
  // What was published (the decision's split, or the engine's when a plan replaced it).
  const published = state.lastGood?.values;
  const out: Record<string, number> = {};
  for (const p of rule.pools) out[p.name] = published?.find((v) => v.pool === p.name)?.value ?? state.restored?.published[p.name] ?? p.minReplicas;
  return out;
};

export interface EvaluatorOptions {
  query: InstantQuery;
  registry?: Registry;
  /** Milliseconds since the epoch; injectable for tests. */
  clock?: () => number;
  replicaSource?: ReplicaSource;
  /** Reuse a query result younger than this across services (default 1000 ms). */
  reuseMs?: number;
  log?: (message: string) => void;
  afterDecision?: AfterDecision;
  /** Memories saved by an earlier run, by service: a service whose pools still match starts from its memory. */
  restore?: Record<string, ServiceMemory>;
  /** Called after every decision with the service's memory (to save it). */
  onDecision?: (service: string, memory: ServiceMemory) => void;
  /**
   * High availability (adapter/ha): a decision is handed here instead of being served at once; the coordinator
   * publishes it to the cluster-object store and every replica, this one included, serves it through adopt() at the
   * same instant.
   */
  deferPublish?: (service: string, good: GoodValue) => void;
}

/** Evaluations of one round run this many at a time, then yield to I/O, so serving never waits behind a whole round. */
const ROUND_SLICE = 64;

/** Services evaluated together at one stable phase of their interval (see batch/schedule.ts). */
interface Cohort {
  intervalMs: number;
  offsetMs: number;
  services: string[];
}

export class Evaluator {
  private readonly states = new Map<string, ServiceState>();
  /** Round timers, by cohort key. */
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private cohorts = new Map<string, Cohort>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly rounds = new Set<Promise<void>>();
  private readonly shared: SharedQueries;
  private readonly queries: BatchedQueries;
  private readonly metrics: RulesMetrics;
  private readonly clock: () => number;
  private readonly replicaSource: ReplicaSource;
  private readonly log: (message: string) => void;
  private readonly afterDecision: AfterDecision | undefined;
  private readonly restore: Map<string, ServiceMemory>;
  private readonly onDecision: ((service: string, memory: ServiceMemory) => void) | undefined;
  private readonly deferPublish: ((service: string, good: GoodValue) => void) | undefined;
  private ruleSet: RuleSet = { services: [], files: [], loadedAtMs: 0 };
  private started = false;
  private readonly refreshStaleness = (): void => this.updateStaleness();

  constructor(opts: EvaluatorOptions) {
    this.clock = opts.clock ?? Date.now;
    this.metrics = rulesMetrics(opts.registry);
    this.shared = new SharedQueries(opts.query, this.clock, opts.reuseMs ?? 1000, () => this.metrics.queriesSent.inc());
    this.replicaSource = opts.replicaSource ?? lastDecisionReplicas;
    this.log = opts.log ?? ((m) => console.error(`baton rules: ${m}`));
    this.queries = new BatchedQueries(this.shared, this.log);
    this.afterDecision = opts.afterDecision;
    this.restore = new Map(Object.entries(opts.restore ?? {}));
    this.onDecision = opts.onDecision;
    this.deferPublish = opts.deferPublish;
    this.metrics.beforeScrape.add(this.refreshStaleness);
  }

  /** Replaces the rule set atomically; state (policy memory, last good values) is kept for services that remain. */
  setRules(ruleSet: RuleSet): void {
    const names = new Set(ruleSet.services.map((s) => s.name));
    for (const [name, st] of this.states) {
      if (names.has(name)) continue;
      this.states.delete(name);
      for (const v of st.lastGood?.values ?? []) this.metrics.desiredReplicas.remove({ service: name, role: v.role, pool: v.pool });
      this.metrics.staleness.remove({ rule: name });
    }
    const added: string[] = [];
    for (const rule of ruleSet.services) {
      const st = this.states.get(rule.name);
      if (st) {
        // Values published under a pool that no longer exists must not linger.
        if (st.lastGood && !samePools(st.rule, rule)) {
          for (const v of st.lastGood.values) this.metrics.desiredReplicas.remove({ service: rule.name, role: v.role, pool: v.pool });
          delete st.lastGood;
          st.policy = {};
        }
        st.rule = rule;
      } else {
        this.states.set(rule.name, this.initialState(rule));
        added.push(rule.name);
      }
    }
    this.ruleSet = ruleSet;
    this.queries.setQueries(ruleSet.services.flatMap((s) => queriesOf(s).map((q) => q.spec.promql)));
    this.cohorts = this.cohortsOf(ruleSet);
    if (!this.started) return;
    // A new service decides at once, then joins its cohort's phase.
    if (added.length) void this.round(added);
    this.armAll();
  }

  /** Services grouped by the units (batches or single queries) they send, each group with its stable phase. */
  private cohortsOf(ruleSet: RuleSet): Map<string, Cohort> {
    const out = new Map<string, Cohort>();
    for (const rule of ruleSet.services) {
      const key = cohortKey(rule.queryIntervalS, queriesOf(rule).map((q) => this.queries.unitOf(q.spec.promql)));
      const c = out.get(key);
      if (c) c.services.push(rule.name);
      else {
        const intervalMs = rule.queryIntervalS * 1000;
        out.set(key, { intervalMs, offsetMs: phaseOffsetMs(key, intervalMs), services: [rule.name] });
      }
    }
    return out;
  }

  /** The phase (ms into its interval) at which a service's cohort runs. */
  phaseOf(service: string): { offsetMs: number; intervalMs: number; cohortSize: number } | undefined {
    for (const c of this.cohorts.values()) if (c.services.includes(service)) return { offsetMs: c.offsetMs, intervalMs: c.intervalMs, cohortSize: c.services.length };
    return undefined;
  }

  /** Timers for every cohort that has none; cohorts that are gone lose theirs. */
  private armAll(): void {
    for (const key of [...this.timers.keys()]) if (!this.cohorts.has(key)) this.clearTimer(key);
    for (const key of this.cohorts.keys()) if (!this.timers.has(key)) this.arm(key);
  }

  private arm(key: string): void {
    const c = this.cohorts.get(key);
    if (!c) return;
    const t = setTimeout(() => {
      this.timers.delete(key);
      const now = this.cohorts.get(key);
      if (!this.started || !now) return;
      void this.round(now.services).finally(() => {
        if (this.started && !this.timers.has(key)) this.arm(key);
      });
    }, delayToPhase(this.clock(), c.intervalMs, c.offsetMs));
    t.unref();
    this.timers.set(key, t);
  }

  /**
   * One round: the services' evaluations share one set of answers (each batch is sent once), and run a slice at a
   * time with a turn of the event loop between slices.
   */
  private round(services: readonly string[]): Promise<void> {
    const results: RoundResults = new Map();
    const p = (async () => {
      for (let i = 0; i < services.length; i += ROUND_SLICE) {
        if (i > 0) await new Promise<void>((r) => setImmediate(r));
        await Promise.all(services.slice(i, i + ROUND_SLICE).map((s) => this.evaluate(s, results)));
      }
    })();
    this.rounds.add(p);
    void p.finally(() => this.rounds.delete(p));
    return p;
  }

  rules(): RuleSet {
    return this.ruleSet;
  }

  /** A new service's state: from a restored memory when it has one for exactly these pools (used once). */
  private initialState(rule: ServiceRule): ServiceState {
    const m = this.restore.get(rule.name);
    this.restore.delete(rule.name);
    const pools = rule.pools.map((p) => p.name).sort().join(',');
    if (!m || Object.keys(m.published).sort().join(',') !== pools) {
      if (m) this.log(`${rule.name}: saved memory is for other pools (${Object.keys(m.published).join(', ')}); starting fresh`);
      return { rule, policy: {}, queries: [] };
    }
    return { rule, policy: structuredClone(m.policy), queries: [], restored: structuredClone(m) };
  }

  /** Every service's memory, for saving: services that have decided since this run started or were restored. */
  memories(): Record<string, ServiceMemory> {
    const out: Record<string, ServiceMemory> = {};
    for (const [name, st] of this.states) {
      if (st.lastGood) out[name] = memoryOf(st.lastGood.decision.state, st.lastGood.values, st.lastGood.atMs);
      else if (st.restored) out[name] = st.restored; // not decided yet in this run: keep what was saved
    }
    return out;
  }

  state(service: string): ServiceState | undefined {
    return this.states.get(service);
  }

  /** The merged queries of the current rule set (batch/plan.ts). */
  get batches(): readonly Batch[] {
    return this.queries.batches;
  }

  /** HTTP queries sent so far (after deduplication). */
  get queriesSent(): number {
    return this.shared.sent;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    // The first decisions come at once (one round for everything), later rounds at each cohort's phase.
    void this.round(this.ruleSet.services.map((s) => s.name));
    this.armAll();
  }

  /** Stops evaluating (a follower serves what the leader publishes); start() resumes. */
  async pause(): Promise<void> {
    this.started = false;
    for (const name of [...this.timers.keys()]) this.clearTimer(name);
    await Promise.allSettled([...this.rounds, ...this.running.values()]);
  }

  get evaluating(): boolean {
    return this.started;
  }

  /**
   * Serves a decision made elsewhere (the HA leader's, read back from the store) as this service's current value.
   * With `withPolicy`, its policy state becomes this replica's too, so a follower that takes over resumes the fleet's
   * level. Refused (false) when the service is unknown here or its pools differ (replicas on different rule sets).
   */
  adopt(service: string, good: GoodValue, withPolicy: boolean): boolean {
    const st = this.states.get(service);
    if (!st) return false;
    const pools = st.rule.pools.map((p) => p.name).sort().join(',');
    if (good.values.map((v) => v.pool).sort().join(',') !== pools) return false;
    st.lastGood = good;
    if (withPolicy) st.policy = structuredClone(good.decision.state);
    delete st.restored;
    for (const v of good.values) this.metrics.desiredReplicas.set({ service, role: v.role, pool: v.pool }, v.value);
    this.setStaleness(service, st, this.clock());
    return true;
  }

  async stop(): Promise<void> {
    this.started = false;
    for (const name of [...this.timers.keys()]) this.clearTimer(name);
    await Promise.allSettled([...this.rounds, ...this.running.values()]);
    this.metrics.beforeScrape.delete(this.refreshStaleness);
  }

  /** Evaluates every service once, now (tests and `baton rules check`). */
  async evaluateAll(): Promise<void> {
    await this.round(this.ruleSet.services.map((s) => s.name));
  }

  /**
   * One evaluation of one service; concurrent calls for the same service share the run. It never rejects: a failure
   * inside one service's evaluation (a bug, a restored state decide() cannot use) holds that service's last value and
   * is reported on it; the other services go on.
   */
  evaluate(service: string, round?: RoundResults): Promise<void> {
    const pending = this.running.get(service);
    if (pending) return pending;
    const p = this.evaluateNow(service, round)
      .catch((e: unknown) => this.failed(service, e))
      .finally(() => this.running.delete(service));
    this.running.set(service, p);
    return p;
  }

  private clearTimer(name: string): void {
    const t = this.timers.get(name);
    if (t) clearTimeout(t);
    this.timers.delete(name);
  }

  private async evaluateNow(service: string, round?: RoundResults): Promise<void> {
    const st = this.states.get(service);
    if (!st) return;
    const rule = st.rule;
    const nowMs = this.clock();
    const nowS = nowMs / 1000;
    const families = queriesOf(rule);
    const results = await Promise.all(families.map(async (f) => this.runQuery(rule.name, f.name, f.spec.promql, round)));
    const byName = new Map(families.map((f, i) => [f.name, results[i]!]));
    const traces: QueryTrace[] = families.map((f, i) => ({ name: f.name, promql: f.spec.promql, evaluatedAtMs: nowMs, ...results[i]! }));
    const traceOf = (name: string): QueryTrace => traces.find((t) => t.name === name)!;
    // After every await: the rules may have changed (or the service gone) under us; this evaluation then belongs to
    // the old set and must not store values for pools that no longer exist.
    const current = (): boolean => this.states.get(service) === st && st.rule === rule;
    if (!current()) return;
    st.lastAttemptMs = nowMs;
    st.queries = traces;

    // Current replicas: the rule's query, or the pluggable source.
    let replicas: Record<string, number> | undefined;
    if (rule.replicas) {
      const reading = this.reading(rule, traceOf('replicas'), byName.get('replicas')!.raw, (r) => readPerPool(r, { by: rule.replicas!.by!, pools: rule.pools, required: 'all' }));
      if (reading.ok) replicas = reading.perPool;
    } else {
      try {
        replicas = await this.replicaSource(rule, st);
      } catch (e) {
        this.log(`${rule.name}: replica source failed: ${(e as Error).message}`);
      }
      if (!current()) return;
    }
    if (!replicas) return this.hold(st, `current replicas are unknown${rule.replicas ? `: ${traceOf('replicas').error ?? 'no result'}` : ''}`);

    const decodePools = rule.pools.filter((p) => p.role === 'decode');
    const signal = this.reading(rule, traceOf('decodeTps'), byName.get('decodeTps')!.raw, (r) =>
      rule.decodeTps.by ? readPerPool(r, { by: rule.decodeTps.by, pools: decodePools, required: { replicas } }) : readSingle(r));
    const values: Record<string, number | undefined> = { decodeTps: signal.ok ? signal.value : undefined };
    const readings: Record<string, GuardReading> = {};
    for (const g of rule.guards) {
      const r = this.reading(rule, traceOf(`guard:${g.name}`), byName.get(`guard:${g.name}`)!.raw, readSingle);
      values[g.name] = r.ok ? r.value : undefined;
      readings[g.name] = guardReadingOf(r);
    }

    const when = whenData(nowS, rule.utcOffsetS, values);
    const cfg: ServicePolicyConfig = policyConfigOf(rule);
    cfg.guards = cfg.guards.filter((g) => {
      const rg = rule.guards.find((x) => x.name === g.name)!;
      const active = !rg.when || evaluateWhen(rg.when, when);
      traceOf(`guard:${g.name}`).active = active;
      return active;
    });
    if (rule.periodic?.when && !evaluateWhen(rule.periodic.when, when)) delete cfg.periodic;
    const signalNotNeeded = cfg.periodic?.mode === 'only';
    if (!signal.ok && !signalNotNeeded) {
      st.policy = noteSignalMissing(st.policy, nowS);
      return this.hold(st, `decode TPS unusable: ${signal.problem}`);
    }

    const guards: Record<string, GuardReading> = {};
    for (const g of cfg.guards) guards[g.name] = readings[g.name];
    const decision = decide(cfg, { now: nowS, decodeTps: values.decodeTps, guards, replicas }, st.policy);
    st.policy = decision.state;
    let published = publish(rule, decision);
    let extraReasons: ExtraReason[] | undefined;
    try {
      const adjusted = this.afterDecision?.(rule, decision, published, nowMs);
      if (adjusted) {
        published = adjusted.values;
        extraReasons = adjusted.reasons;
      }
    } catch (e) {
      this.log(`${rule.name}: after-decision hook failed, publishing the decision's own split: ${(e as Error).message}`);
    }
    const good: GoodValue = { decision, atMs: nowMs, values: published };
    if (extraReasons?.length) good.extraReasons = extraReasons;
    if (rule.windowS !== undefined) good.windowS = rule.windowS;
    delete st.lastProblem;
    this.onDecision?.(rule.name, memoryOf(decision.state, published, nowMs));
    this.metrics.evaluations.inc({ rule: rule.name, result: 'ok' });
    for (const r of decision.reasons) this.metrics.decisionReasons.inc({ rule: rule.name, code: r.code });
    if (this.deferPublish) {
      this.deferPublish(rule.name, good);
      return;
    }
    st.lastGood = good;
    delete st.restored;
    for (const v of published) this.metrics.desiredReplicas.set({ service: rule.name, role: v.role, pool: v.pool }, v.value);
    this.metrics.staleness.set({ rule: rule.name }, 0);
  }

  private async runQuery(rule: string, family: string, promql: string, round?: RoundResults): Promise<Pick<QueryTrace, 'raw' | 'error' | 'errorKind' | 'batch'>> {
    const end = this.metrics.queryDuration.startTimer({ rule, query: family });
    try {
      const answer = await this.queries.run(promql, round);
      return answer.batch ? { raw: answer.result, batch: answer.batch.traces.get(promql)! } : { raw: answer.result };
    } catch (e) {
      const kind = e instanceof PrometheusError ? e.kind : 'error';
      this.metrics.queryErrors.inc({ rule, query: family, kind });
      // The batch it failed in, unless Prometheus refused the merge and the query then failed alone.
      const batch = this.queries.batchOf(promql)?.traces.get(promql);
      return { error: (e as Error).message, errorKind: 'error', ...(batch ? { batch } : {}) };
    } finally {
      end();
    }
  }

  /** Reads a result (or records why it cannot be used) into the trace. */
  private reading(rule: ServiceRule, trace: QueryTrace, raw: QueryResult | undefined, read: (r: QueryResult) => Reading): Reading {
    if (!raw) return { ok: false, kind: 'error', problem: trace.error ?? 'no result' };
    const r = read(raw);
    if (r.ok) trace.value = r.value;
    else {
      trace.error = r.problem;
      trace.errorKind = r.kind;
      this.metrics.queryErrors.inc({ rule: rule.name, query: trace.name, kind: r.kind });
    }
    return r;
  }

  /** An evaluation threw: keep what was published, forget policy state that may be the cause, say so. */
  private failed(service: string, e: unknown): void {
    const st = this.states.get(service);
    const message = e instanceof Error ? e.message : String(e);
    if (!st) {
      this.log(`${service}: evaluation failed: ${message}`);
      return;
    }
    // A restored memory that decide() cannot use must not fail every evaluation until it ages out; the held level
    // is rebuilt from the published replicas (the replica source still reads them).
    if (st.restored) st.policy = {};
    else if (st.lastGood) st.policy = st.lastGood.decision.state;
    this.hold(st, `evaluation failed: ${message}`, 'error');
  }

  private hold(st: ServiceState, problem: string, result: 'held' | 'error' = 'held'): void {
    st.lastProblem = problem;
    this.metrics.evaluations.inc({ rule: st.rule.name, result });
    const age = st.lastGood ? ((this.clock() - st.lastGood.atMs) / 1000).toFixed(1) + ' s old' : 'none yet';
    this.log(`${st.rule.name}: ${problem}; keeping the last good value (${age})`);
    // Only this service's gauge: during an outage every service holds, and refreshing all of them on each hold is
    // quadratic in the number of services (the scrape hook refreshes them all once per scrape anyway).
    this.setStaleness(st.rule.name, st, this.clock());
  }

  private updateStaleness(): void {
    const now = this.clock();
    for (const [name, st] of this.states) this.setStaleness(name, st, now);
  }

  private setStaleness(name: string, st: ServiceState, now: number): void {
    this.metrics.staleness.set({ rule: name }, st.lastGood ? (now - st.lastGood.atMs) / 1000 : Infinity);
  }
}

function queriesOf(rule: ServiceRule): { name: string; spec: QuerySpec }[] {
  const out = [{ name: 'decodeTps', spec: rule.decodeTps }];
  for (const g of rule.guards) out.push({ name: `guard:${g.name}`, spec: g.query });
  if (rule.replicas) out.push({ name: 'replicas', spec: rule.replicas });
  return out;
}

function memoryOf(policy: PolicyState, values: PublishedValue[], atMs: number): ServiceMemory {
  return { policy, published: Object.fromEntries(values.map((v) => [v.pool, v.value])), atMs };
}

function samePools(a: ServiceRule, b: ServiceRule): boolean {
  const key = (r: ServiceRule) => r.pools.map((p) => `${p.name}/${p.role}`).sort().join(',');
  return key(a) === key(b);
}

function publish(rule: ServiceRule, decision: Decision): PublishedValue[] {
  return rule.pools.map((p) => ({
    metric: rule.metric.name,
    labels: { ...rule.metric.labels, ...p.labels, service: rule.name, role: p.role, pool: p.name },
    role: p.role,
    pool: p.name,
    value: decision[p.role].pools[p.name] ?? p.minReplicas,
  }));
}
