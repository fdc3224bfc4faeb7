// The adapter's half of the adapter ↔ engine contract (engine/sidecar/README.md, "How engine and adapter share the
// plan"). Demand goes out: after each decision the service's desired units per role are written, atomically, to the
// engine's `--demand` file. The plan comes back: the engine's `--plan-file` (desired replicas per service pool, with
// pool fallback, priority scarcity and ratio-guard caps applied). When that plan is fresh and was made for the demand
// just decided, the adapter serves the engine's per-pool split instead of its own; otherwise its own split, saying why.
// The plan may redistribute a role's replicas across pools or cap them, never lower them silently: a role whose
// engine total is below the adapter's needs an engine reason (capped, unplaced, ready-guard) for that role.
// The published pair is always one decision for both roles: the plan is adopted for both roles or for neither (taking
// the engine's cap for one role and the adapter's own split for the other broke the ratio guard during cold starts).
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { ROLES, type Decision, type Role } from '../engine/core/types.js';
import type { AfterDecision, ExtraReason, PublishedValue } from '../rules/evaluator.js';
import type { ServiceRule } from '../rules/types.js';

/** The slice of the engine's plan document (planDocument in engine/sidecar/engine.ts) the adapter reads. */
export interface EnginePlanDocument {
  generatedAt: string;
  desired: Record<string, Record<string, number>>;
  services?: { service: string; requested?: Partial<Record<Role, number>>; demanded?: Partial<Record<Role, number>> }[];
  reasons?: { code: string; service: string; role?: Role; pool?: string; detail?: Record<string, number | string | boolean>; message: string }[];
}

/** Engine reason codes that may lower a role below what the adapter decided. */
const CAP_CODES = new Set(['capped', 'unplaced', 'ready-guard']);
const EPS = 1e-6;

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Checks the shape of a plan document; the error names the file and the field. */
export function parsePlanDocument(doc: unknown, file = 'plan'): EnginePlanDocument {
  if (!isObj(doc)) throw new Error(`${file}: expected a JSON object`);
  if (typeof doc.generatedAt !== 'string' || !Number.isFinite(Date.parse(doc.generatedAt))) throw new Error(`${file}: generatedAt: expected an ISO timestamp, got ${JSON.stringify(doc.generatedAt)}`);
  if (!isObj(doc.desired)) throw new Error(`${file}: desired: expected {<service>: {<pool>: replicas}}`);
  for (const [svc, pools] of Object.entries(doc.desired)) {
    if (!isObj(pools)) throw new Error(`${file}: desired.${svc}: expected {<pool>: replicas}`);
    for (const [pool, n] of Object.entries(pools)) {
      if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new Error(`${file}: desired.${svc}.${pool}: expected a number ≥ 0, got ${JSON.stringify(n)}`);
    }
  }
  if (doc.services !== undefined && !Array.isArray(doc.services)) throw new Error(`${file}: services: expected a list`);
  if (doc.reasons !== undefined && !Array.isArray(doc.reasons)) throw new Error(`${file}: reasons: expected a list`);
  return doc as unknown as EnginePlanDocument;
}

/** The engine's `--demand` document for the given units. */
export function demandDocument(units: ReadonlyMap<string, Record<Role, number>>): { services: Record<string, Record<Role, number>> } {
  const services: Record<string, Record<Role, number>> = {};
  for (const [svc, u] of [...units].sort(([a], [b]) => a.localeCompare(b))) services[svc] = { prefill: u.prefill, decode: u.decode };
  return { services };
}

/**
 * A function that runs `flush` once however often it is called before then: on the next turn of the event loop, or
 * `delayMs` later (a throttle, for writes whose callers arrive one per turn).
 */
export function coalesced(flush: () => void, delayMs = 0): () => void {
  let scheduled = false;
  const run = (): void => {
    scheduled = false;
    flush();
  };
  return () => {
    if (scheduled) return;
    scheduled = true;
    if (delayMs > 0) setTimeout(run, delayMs).unref();
    else setImmediate(run);
  };
}

/** Write tmp + rename, so the engine never reads half a file. */
export function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export interface PlanBridgeOptions {
  /** Where to write the engine's demand (`baton engine --demand`). */
  demandFile?: string;
  /** The engine's `--plan-file`. */
  planFile?: string;
  /** A plan older than this is ignored (default 60 s). */
  maxPlanAgeS?: number;
  /** Services that still have rules; demand of others is dropped from the file. */
  liveServices?: () => Iterable<string>;
  log?: (message: string) => void;
}

export class PlanBridge {
  private readonly units = new Map<string, Record<Role, number>>();
  // Services that decide in one burst share one write.
  private readonly scheduleWrite = coalesced(() => this.flush());
  private cached: { key: string; checkedMs: number; doc?: EnginePlanDocument; error?: string } | undefined;
  private readonly maxAgeS: number;
  /** Demand files written so far (tests and logs). */
  writes = 0;

  constructor(private readonly o: PlanBridgeOptions) {
    this.maxAgeS = o.maxPlanAgeS ?? 60;
  }

  /** The evaluator hook: records demand, then applies the plan. */
  readonly afterDecision: AfterDecision = (rule, decision, values, nowMs) => {
    if (this.o.demandFile) this.recordDemand(rule.name, decision);
    if (!this.o.planFile) return undefined;
    return applyPlan(rule, decision, values, this.plan(nowMs), nowMs, this.maxAgeS);
  };

  private recordDemand(service: string, d: Decision): void {
    this.units.set(service, { prefill: d.prefill.units, decode: d.decode.units });
    this.scheduleWrite();
  }

  /** Writes the demand file now. */
  flush(): void {
    if (!this.o.demandFile) return;
    if (this.o.liveServices) {
      const live = new Set(this.o.liveServices());
      for (const s of [...this.units.keys()]) if (!live.has(s)) this.units.delete(s);
    }
    try {
      writeAtomically(this.o.demandFile, JSON.stringify(demandDocument(this.units)) + '\n');
      this.writes++;
    } catch (e) {
      this.o.log?.(`writing the engine demand file ${this.o.demandFile} failed: ${(e as Error).message}`);
    }
  }

  /** The plan file's content, re-read when its mtime or size changes (checked at most once a second). */
  private plan(nowMs: number): { doc?: EnginePlanDocument; error?: string } {
    const file = this.o.planFile!;
    if (this.cached && nowMs - this.cached.checkedMs < 1000) return this.cached;
    let key: string;
    try {
      const st = statSync(file);
      key = `${st.mtimeMs}:${st.size}`;
    } catch (e) {
      this.cached = { key: '', checkedMs: nowMs, error: `plan file ${file} unreadable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
      return this.cached;
    }
    if (this.cached?.key === key) {
      this.cached.checkedMs = nowMs;
      return this.cached;
    }
    try {
      this.cached = { key, checkedMs: nowMs, doc: parsePlanDocument(JSON.parse(readFileSync(file, 'utf8')), file) };
    } catch (e) {
      this.cached = { key, checkedMs: nowMs, error: (e as Error).message };
    }
    return this.cached;
  }
}

/**
 * The values to publish for one decision given the engine's plan (pure; the tests drive it directly too): the engine's
 * pool split for both roles when the plan is fresh, names every pool, was made for the demand just decided (the
 * plan's `demanded`, what the engine saw, not its capped `requested`), and lowers no role below the decision without
 * an engine reason for that role; otherwise the decision's own split for both roles, with reasons saying which
 * condition failed.
 */
export function applyPlan(
  rule: ServiceRule, decision: Decision, values: PublishedValue[], plan: { doc?: EnginePlanDocument; error?: string }, nowMs: number, maxAgeS: number,
): { values: PublishedValue[]; reasons: ExtraReason[] } {
  const reasons: ExtraReason[] = [];
  const doc = plan.doc;
  if (!doc) {
    reasons.push({ code: 'engine-plan-missing', detail: {}, message: `no engine plan (${plan.error ?? 'none yet'}): publishing the adapter's own pool split` });
    return { values, reasons };
  }
  const ageS = (nowMs - Date.parse(doc.generatedAt)) / 1000;
  if (ageS > maxAgeS) {
    reasons.push({ code: 'engine-plan-stale', detail: { ageSeconds: round3(ageS), maxAgeSeconds: maxAgeS }, message: `engine plan is ${ageS.toFixed(1)} s old (max ${maxAgeS} s): publishing the adapter's own pool split` });
    return { values, reasons };
  }
  const desired = doc.desired[rule.name];
  if (!desired) {
    reasons.push({ code: 'engine-plan-missing', detail: { ageSeconds: round3(ageS) }, message: `engine plan has no entry for service ${rule.name}: publishing the adapter's own pool split` });
    return { values, reasons };
  }
  const engineReasons = (doc.reasons ?? []).filter((r) => r.service === rule.name);
  for (const r of engineReasons) {
    const x: ExtraReason = { code: `engine:${r.code}`, detail: r.detail ?? {}, message: `engine: ${r.message}` };
    if (r.role) x.role = r.role;
    if (r.pool) x.pool = r.pool;
    reasons.push(x);
  }
  const entry = doc.services?.find((s) => s.service === rule.name);
  const madeFor = entry?.demanded ?? entry?.requested ?? {};
  const own = (name: string) => values.find((v) => v.pool === name)?.value ?? 0;
  // Every role must pass before the plan is taken for any.
  const refusals: ExtraReason[] = [];
  const refuse = (role: Role, code: string, detail: ExtraReason['detail'], message: string) =>
    refusals.push({ code, role, detail, message: `${message}: publishing the adapter's own split for both roles` });
  const adopted: ExtraReason[] = [];
  for (const role of ROLES) {
    const pools = rule.pools.filter((p) => p.role === role);
    const missing = pools.filter((p) => desired[p.name] === undefined).map((p) => p.name);
    if (missing.length) {
      refuse(role, 'engine-plan-mismatch', { missingPools: missing.join(',') }, `engine plan has no ${missing.join(', ')} pool`);
      continue;
    }
    const asked = madeFor[role];
    if (asked !== undefined && Math.abs(asked - decision[role].units) > EPS * Math.max(1, decision[role].units)) {
      refuse(role, 'engine-plan-behind', { planUnits: asked, decidedUnits: decision[role].units }, `engine plan was made for ${asked} ${role} units, the adapter decided ${decision[role].units}`);
      continue;
    }
    const ownUnits = pools.reduce((s, p) => s + own(p.name) * p.unitsPerReplica, 0);
    const engineUnits = pools.reduce((s, p) => s + desired[p.name]! * p.unitsPerReplica, 0);
    if (engineUnits < ownUnits - EPS && !engineReasons.some((r) => CAP_CODES.has(r.code) && (r.role === undefined || r.role === role))) {
      refuse(role, 'engine-plan-lower', { planUnits: engineUnits, publishedUnits: ownUnits }, `engine plan has fewer ${role} units (${engineUnits}) than the adapter's (${ownUnits}) without a cap reason`);
      continue;
    }
    adopted.push(adoption(role));
  }
  function adoption(role: Role): ExtraReason {
    const pools = rule.pools.filter((p) => p.role === role);
    const ownUnits = pools.reduce((s, p) => s + own(p.name) * p.unitsPerReplica, 0);
    const engineUnits = pools.reduce((s, p) => s + desired![p.name]! * p.unitsPerReplica, 0);
    return {
      code: 'engine-plan', role, detail: { ageSeconds: round3(ageS), planUnits: engineUnits, decidedUnits: ownUnits },
      message: `publishing the engine's ${role} split ${pools.map((p) => `${p.name}=${desired![p.name]}`).join(' ')} (plan ${ageS.toFixed(1)} s old; own split ${pools.map((p) => `${p.name}=${own(p.name)}`).join(' ')})`,
    };
  }
  if (refusals.length > 0) {
    // A plan behind the decision while the engine holds a role for readiness: the hold stands whatever the new level
    // (it waits for pods the adapter cannot see), so the engine's pair is served whole until it plans for the new
    // level; publishing the adapter's own pair instead would lift the guard at every step of a ramp.
    const holds = engineReasons.filter((r) => r.code === 'ready-guard');
    if (holds.length === 0 || !refusals.every((r) => r.code === 'engine-plan-behind')) return { values, reasons: [...reasons, ...refusals] };
    reasons.push({
      code: 'engine-plan-guarded', detail: { ageSeconds: round3(ageS) },
      message: `engine plan was made for other units (${refusals.map((r) => `${r.role}: ${r.detail['planUnits']} planned, ${r.detail['decidedUnits']} decided`).join('; ')}) but holds ${holds.map((h) => h.role ?? 'a role').join(', ')} until pods are Ready: publishing the engine's split for both roles until it plans for the new level`,
    });
    adopted.splice(0, adopted.length, ...ROLES.map(adoption));
  }
  reasons.push(...adopted);
  return { values: values.map((v) => (desired[v.pool] !== undefined ? { ...v, value: desired[v.pool]! } : v)), reasons };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
