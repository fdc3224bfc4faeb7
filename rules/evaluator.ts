// The evaluation loop: each service's queries run on the service's own interval, never on the HPA request path.
// Query results become an observation for the policy core's decide(); its decision is kept in memory with timestamp and
// window until the next good evaluation. Unusable data never becomes a decision: the last good value is kept and ages.
import { performance } from 'node:perf_hooks';
import { batched } from '../engine/core/batched.js';
import { decide, noteSignalMissing } from '../engine/core/decide.js';
import type { Decision, GuardReading, PolicyState, Role, ServiceObservation, ServicePolicyConfig } from '../engine/core/types.js';
import type { Registry } from 'prom-client';
import type { BatchTrace } from '../adapter/provider.js';
import type { Batch } from './batch/plan.js';
import { BatchedQueries, type RoundResults, type SettledAnswer } from './batch/queries.js';
import { cohortKey, delayToPhase, phaseOffsetMs } from './batch/schedule.js';
import { SharedQueries } from './dedupe.js';
import { drainGate, readDrain } from './drain.js';
import { rulesMetrics, type RulesMetrics, type ServiceSeries } from './metrics.js';
import { PrometheusError, type InstantQuery, type QueryResult } from './prometheus.js';
import { decidesWithoutSignal, guardReadingOf, readPerPool, readSingle, type ProblemKind, type Reading } from './results.js';
import { policyConfigOf, queryFamiliesOf, type RuleSet, type ServiceRule } from './types.js';
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
  /** Drain-aware scale-in: when the scale-in being held began waiting for its replicas to finish. */
  drainSinceMs?: number;
  /** Evaluations by result and the policy core's reasons by code, since start: exported at scrape time (metrics.ts). */
  counts: { evaluations: Record<string, number>; reasons: Record<string, number> };
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

/** Queries a round sends at once (the Prometheus client's connections). */
const PREFETCH_CONCURRENCY = 16;

/** Evaluations of one round run this many at a time, then yield to I/O, so serving never waits behind a whole round. */
const ROUND_SLICE = 16;

/**
 * A round that has run this long without a pause sleeps for as long again: thousands of evaluations then take about
 * twice their CPU time in wall time (well inside the interval), and the serving thread, the load and Prometheus keep a
 * core while they run, instead of waiting behind one burst of the main thread and its garbage collection.
 */
const ROUND_BURST_MS = 4;

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
  private readonly series = (): Iterable<ServiceSeries> => this.seriesNow();
  /** The query family each query sent is timed under (a batch's: its first member's). */
  private familyOfQuery = new Map<string, string>();

  constructor(opts: EvaluatorOptions) {
    this.clock = opts.clock ?? Date.now;
    this.metrics = rulesMetrics(opts.registry);
    // Timed per HTTP query sent: a batch answering thousands of services is one observation, not thousands.
    const timed = (promql: string): Promise<QueryResult> => {
      const end = this.metrics.queryDuration.startTimer({ query: this.familyOfQuery.get(promql) ?? 'other' });
      return opts.query(promql).finally(end);
    };
    this.shared = new SharedQueries(timed, this.clock, opts.reuseMs ?? 1000, () => this.metrics.queriesSent.inc());
    this.replicaSource = opts.replicaSource ?? lastDecisionReplicas;
    this.log = opts.log ?? ((m) => console.error(`baton rules: ${m}`));
    this.queries = new BatchedQueries(this.shared, this.log);
    this.afterDecision = opts.afterDecision;
    this.restore = new Map(Object.entries(opts.restore ?? {}));
    this.onDecision = opts.onDecision;
    this.deferPublish = opts.deferPublish;
    this.metrics.sources.add(this.series);
  }

  /** Replaces the rule set atomically; state (policy memory, last good values) is kept for services that remain. */
  setRules(ruleSet: RuleSet): void {
    const names = new Set(ruleSet.services.map((s) => s.name));
    for (const [name, st] of this.states) {
      if (names.has(name)) continue;
      this.states.delete(name);
    }
    const added: string[] = [];
    for (const rule of ruleSet.services) {
      const st = this.states.get(rule.name);
      if (st) {
        // Values published under a pool that no longer exists must not linger.
        if (st.lastGood && !samePools(st.rule, rule)) {
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
    this.queries.setQueries(ruleSet.services.flatMap((s) => queryFamiliesOf(s).map((q) => q.spec.promql)));
    this.familyOfQuery = timedFamilies(ruleSet.services, this.queries.batches);
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
      const key = cohortKey(rule.queryIntervalS, queryFamiliesOf(rule).map((q) => this.queries.unitOf(q.spec.promql)));
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
      // Everything the round needs is sent first, a few at a time (a query's deadline runs from when it is sent, so
      // thousands of unbatched queries must not queue behind each other), and the evaluations then read settled
      // answers without a promise per query.
      // One member per text sent: thousands of services sharing a batch cost one prefetch, not one promise each.
      const bySent = new Map<string, string>();
      for (const s of services) {
        const st = this.states.get(s);
        if (!st) continue;
        for (const q of queryFamiliesOf(st.rule)) {
          const sent = this.queries.sentFor(q.spec.promql);
          if (!bySent.has(sent)) bySent.set(sent, q.spec.promql);
        }
      }
      await batched([...bySent.values()], PREFETCH_CONCURRENCY, (q) => this.queries.prefetch(q, results) ?? Promise.resolve());
      let burstFrom = performance.now();
      for (let i = 0; i < services.length; i += ROUND_SLICE) {
        const ran = performance.now() - burstFrom;
        if (ran >= ROUND_BURST_MS) {
          await new Promise<void>((r) => setTimeout(r, Math.ceil(ran)));
          burstFrom = performance.now();
        } else if (i > 0) await new Promise<void>((r) => setImmediate(r));
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
      return { rule, policy: {}, queries: [], counts: { evaluations: {}, reasons: {} } };
    }
    return { rule, policy: structuredClone(m.policy), queries: [], restored: structuredClone(m), counts: { evaluations: {}, reasons: {} } };
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
    return true;
  }

  async stop(): Promise<void> {
    this.started = false;
    for (const name of [...this.timers.keys()]) this.clearTimer(name);
    await Promise.allSettled([...this.rounds, ...this.running.values()]);
    this.metrics.sources.delete(this.series);
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
    // Families in queryFamiliesOf's order: decodeTps, one per guard, then replicas and wake when the rule has them.
    const families = queryFamiliesOf(rule);
    const traces: QueryTrace[] = new Array(families.length);
    let waiting: Promise<void>[] | undefined;
    for (let i = 0; i < families.length; i++) {
      const f = families[i]!;
      const now = round ? this.queries.answerNow(f.spec.promql, round) : undefined;
      if (now) traces[i] = this.traceOf(rule.name, f.name, f.spec.promql, nowMs, now);
      else (waiting ??= []).push(this.runQuery(f.spec.promql, round).then((a) => void (traces[i] = this.traceOf(rule.name, f.name, f.spec.promql, nowMs, a))));
    }
    if (waiting) await Promise.all(waiting);
    // After every await: the rules may have changed (or the service gone) under us; this evaluation then belongs to
    // the old set and must not store values for pools that no longer exist.
    if (waiting && !this.isCurrent(service, st, rule)) return;
    st.lastAttemptMs = nowMs;
    st.queries = traces;
    const guardsAt = 1;
    const replicasAt = guardsAt + rule.guards.length;

    // Current replicas: the rule's query, or the pluggable source.
    let replicas: Record<string, number> | undefined;
    if (rule.replicas) {
      const reading = this.reading(rule, traces[replicasAt]!, (r) => readPerPool(r, { by: rule.replicas!.by!, pools: rule.pools, required: 'all' }));
      if (reading.ok) replicas = reading.perPool;
    } else {
      try {
        const source = this.replicaSource(rule, st);
        replicas = source instanceof Promise ? await source : source;
      } catch (e) {
        this.log(`${rule.name}: replica source failed: ${(e as Error).message}`);
      }
      if (!this.isCurrent(service, st, rule)) return;
    }
    if (!replicas) return this.hold(st, `current replicas are unknown${rule.replicas ? `: ${traces[replicasAt]!.error ?? 'no result'}` : ''}`);

    const signal = this.reading(rule, traces[0]!, (r) =>
      rule.decodeTps.by ? readPerPool(r, { by: rule.decodeTps.by, pools: decodePoolsOf(rule), required: { replicas } }) : readSingle(r));
    const values: Record<string, number | undefined> = { decodeTps: signal.ok ? signal.value : undefined };
    const readings: Record<string, GuardReading> = {};
    for (let i = 0; i < rule.guards.length; i++) {
      const g = rule.guards[i]!;
      const r = this.reading(rule, traces[guardsAt + i]!, readSingle);
      values[g.name] = r.ok ? r.value : undefined;
      readings[g.name] = guardReadingOf(r);
    }

    // The policy config is built once per rule; only `when` conditions (guards, periodic) make a per-evaluation copy.
    let cfg = policyConfigCached(rule);
    if (rule.guards.some((g) => g.when) || rule.periodic?.when) {
      const when = whenData(nowS, rule.utcOffsetS, values);
      cfg = { ...cfg, guards: cfg.guards.filter((g) => {
        const rg = rule.guards.find((x) => x.name === g.name)!;
        return !rg.when || evaluateWhen(rg.when, when);
      }) };
      if (rule.periodic?.when && !evaluateWhen(rule.periodic.when, when)) delete cfg.periodic;
    }
    for (let i = 0; i < rule.guards.length; i++) traces[guardsAt + i]!.active = cfg.guards.some((g) => g.name === rule.guards[i]!.name);
    const signalNotNeeded = cfg.periodic?.mode === 'only';
    // Scale to zero: the core decides without decode TPS (asleep, waking, or holding a level whose pods have not
    // reported yet) while the wake query answers. Wake is the last family.
    let wake: GuardReading | undefined;
    if (rule.wake) wake = guardReadingOf(this.reading(rule, traces[families.findIndex((f) => f.name === 'wake')]!, readSingle));
    if (!signal.ok && !signalNotNeeded && !decidesWithoutSignal(rule.wake !== undefined, wake)) {
      st.policy = noteSignalMissing(st.policy, nowS);
      return this.hold(st, `decode TPS unusable: ${signal.problem}`);
    }

    const guards: Record<string, GuardReading> = {};
    for (const g of cfg.guards) guards[g.name] = readings[g.name]!;
    const observation: ServiceObservation = { now: nowS, decodeTps: values.decodeTps, guards, replicas };
    if (rule.wake) observation.wake = wake;
    const policyBefore = st.policy;
    const decision = decide(cfg, observation, st.policy);
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
    if (rule.drain) {
      const trace = traces[families.findIndex((f) => f.name === 'drain')]!;
      const reading = readDrain(rule, trace.raw, trace.error);
      if (!reading.ok && trace.raw) trace.error = reading.problem;
      const previous = st.lastGood ? Object.fromEntries(st.lastGood.values.map((v) => [v.pool, v.value])) : st.restored?.published;
      const gate = drainGate(rule, previous, published, reading, st.drainSinceMs, nowMs);
      published = gate.values;
      if (gate.reasons.length) extraReasons = [...(extraReasons ?? []), ...gate.reasons];
      if (gate.waitingSinceMs === undefined) delete st.drainSinceMs;
      else st.drainSinceMs = gate.waitingSinceMs;
      // A held scale-in did not happen: the policy state stays where it was, so no cooldown or damping starts from it.
      if (gate.held) st.policy = policyBefore;
    }
    const good: GoodValue = { decision, atMs: nowMs, values: published };
    if (extraReasons?.length) good.extraReasons = extraReasons;
    if (rule.windowS !== undefined) good.windowS = rule.windowS;
    delete st.lastProblem;
    this.onDecision?.(rule.name, memoryOf(st.policy, published, nowMs));
    count(st.counts.evaluations, 'ok');
    for (const r of decision.reasons) count(st.counts.reasons, r.code);
    if (this.deferPublish) {
      this.deferPublish(rule.name, good);
      return;
    }
    st.lastGood = good;
    delete st.restored;
  }

  private isCurrent(service: string, st: ServiceState, rule: ServiceRule): boolean {
    return this.states.get(service) === st && st.rule === rule;
  }

  /** One query's trace from its answer (or its error). */
  private traceOf(rule: string, family: string, promql: string, evaluatedAtMs: number, a: NonNullable<SettledAnswer>): QueryTrace {
    const t: QueryTrace = { name: family, promql, evaluatedAtMs };
    if ('answer' in a) {
      t.raw = a.answer.result;
      if (a.answer.batch) t.batch = a.answer.batch.traces.get(promql)!;
      return t;
    }
    const e = a.error;
    const kind = e instanceof PrometheusError ? e.kind : 'error';
    this.metrics.queryErrors.inc({ rule, query: family, kind });
    t.error = (e as Error).message;
    t.errorKind = 'error';
    // The batch it failed in, unless Prometheus refused the merge and the query then failed alone.
    const batch = this.queries.batchOf(promql)?.traces.get(promql);
    if (batch) t.batch = batch;
    return t;
  }

  private async runQuery(promql: string, round?: RoundResults): Promise<NonNullable<SettledAnswer>> {
    try {
      return { answer: await this.queries.run(promql, round) };
    } catch (error) {
      return { error };
    }
  }

  /** Reads a result (or records why it cannot be used) into the trace. */
  private reading(rule: ServiceRule, trace: QueryTrace, read: (r: QueryResult) => Reading): Reading {
    if (!trace.raw) return { ok: false, kind: 'error', problem: trace.error ?? 'no result' };
    const r = read(trace.raw);
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
    count(st.counts.evaluations, result);
    const age = st.lastGood ? ((this.clock() - st.lastGood.atMs) / 1000).toFixed(1) + ' s old' : 'none yet';
    this.log(`${st.rule.name}: ${problem}; keeping the last good value (${age})`);
  }

  /** Every service's exported series, at scrape time. */
  private *seriesNow(): Iterable<ServiceSeries> {
    const now = this.clock();
    for (const [service, st] of this.states) {
      yield { service, stalenessS: st.lastGood ? (now - st.lastGood.atMs) / 1000 : Infinity, published: st.lastGood?.values ?? [], evaluations: st.counts.evaluations, reasons: st.counts.reasons };
    }
  }
}

function count(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

// Derived once per rule object (rules are immutable once loaded; a reload makes new objects).
const configByRule = new WeakMap<ServiceRule, ServicePolicyConfig>();
const decodePoolsByRule = new WeakMap<ServiceRule, ServiceRule['pools']>();

/** The policy core's config of a rule (decide() never changes it). */
function policyConfigCached(rule: ServiceRule): ServicePolicyConfig {
  let cfg = configByRule.get(rule);
  if (!cfg) configByRule.set(rule, (cfg = policyConfigOf(rule)));
  return cfg;
}

function decodePoolsOf(rule: ServiceRule): ServiceRule['pools'] {
  let pools = decodePoolsByRule.get(rule);
  if (!pools) decodePoolsByRule.set(rule, (pools = rule.pools.filter((p) => p.role === 'decode')));
  return pools;
}

/** The family each query is timed under; a batch's merged query takes its first member's. */
function timedFamilies(services: readonly ServiceRule[], batches: readonly Batch[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const rule of services) for (const f of queryFamiliesOf(rule)) if (!out.has(f.spec.promql)) out.set(f.spec.promql, f.name);
  for (const b of batches) {
    const first = b.members.keys().next().value;
    out.set(b.promql, (first !== undefined && out.get(first)) || 'other');
  }
  return out;
}

function memoryOf(policy: PolicyState, values: PublishedValue[], atMs: number): ServiceMemory {
  return { policy, published: Object.fromEntries(values.map((v) => [v.pool, v.value])), atMs };
}

function samePools(a: ServiceRule, b: ServiceRule): boolean {
  const key = (r: ServiceRule) => r.pools.map((p) => `${p.name}/${p.role}`).sort().join(',');
  return key(a) === key(b);
}

// A pool's published labels never change while its rule stands: one frozen object per pool, shared by every decision.
const labelsByRule = new WeakMap<object, readonly Readonly<Record<string, string>>[]>();

export function publishedLabels(rule: Pick<ServiceRule, 'name' | 'metric' | 'pools'>): readonly Readonly<Record<string, string>>[] {
  let labels = labelsByRule.get(rule);
  if (!labels) labelsByRule.set(rule, (labels = rule.pools.map((p) => Object.freeze({ ...rule.metric.labels, ...p.labels, service: rule.name, role: p.role, pool: p.name }))));
  return labels;
}

function publish(rule: ServiceRule, decision: Decision): PublishedValue[] {
  const labels = publishedLabels(rule);
  return rule.pools.map((p, i) => ({
    metric: rule.metric.name,
    labels: labels[i]!,
    role: p.role,
    pool: p.name,
    value: decision[p.role].pools[p.name] ?? p.minReplicas,
  }));
}
