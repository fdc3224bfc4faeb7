// Drain-aware scale-in (pure: plain data in, values and reasons out). StatefulSets and LeaderWorkerSets remove their
// highest-index replicas (pod-deletion-cost does not steer them), ReplicaSets the pods of lowest deletion cost (Baton's
// engine marks the ones it wants gone); before a lower count is published, the replicas it removes should have finished
// their requests. The gate holds the service's
// scale-in, every pool of the pair together (one decision per pair), until those replicas run nothing, or until the
// rule's wait is over. The drain reading follows the guards' rule: a value counts, an empty answer is idle (nothing
// running anywhere), an error holds (a monitoring fault never lowers capacity).
import { DELETION_COST_LABEL } from '../engine/placement/identity.js';
import type { QueryResult } from './prometheus.js';
import type { ExtraReason, PublishedValue } from './evaluator.js';
import type { ServiceRule } from './types.js';

/**
 * Requests running on one replica of one pool: by replica index where the controller removes the highest indexes (a
 * LeaderWorkerSet group sums its pods), else by pod with its deletion cost (a ReplicaSet removes the lowest first).
 */
export interface ReplicaLoad {
  pool: string;
  index?: number;
  pod?: string;
  cost?: number;
  running: number;
}

export type DrainReading = { ok: true; replicas: ReplicaLoad[] } | { ok: false; problem: string };

/** The drain query's vector as per-replica loads; series that name neither an index nor a pod are not counted. */
export function readDrain(rule: ServiceRule, raw: QueryResult | undefined, error: string | undefined): DrainReading {
  const d = rule.drain!;
  if (!raw) return { ok: false, problem: error ?? 'no result' };
  if (raw.kind !== 'vector') return { ok: false, problem: `expected an instant vector by ${d.query.by} and ${d.indexLabel}, got a ${raw.kind}` };
  const byValue = new Map(rule.pools.map((p) => [p.poolLabelValue, p.name]));
  const sums = new Map<string, ReplicaLoad>();
  for (const s of raw.series) {
    const pool = byValue.get(s.labels[d.query.by] ?? '');
    if (!pool) continue;
    const indexText = s.labels[d.indexLabel];
    const index = indexText === undefined ? undefined : Number(indexText);
    const pod = s.labels.pod;
    if (index !== undefined && !(Number.isInteger(index) && index >= 0)) continue;
    if (index === undefined && !pod) continue;
    if (!(s.value >= 0) || s.value === Infinity) return { ok: false, problem: `running requests of ${pool} ${index !== undefined ? `replica ${index}` : pod} is ${s.value}` };
    const k = index !== undefined ? `${pool}\u0000#${index}` : `${pool}\u0000${pod}`;
    let l = sums.get(k);
    if (!l) {
      l = index !== undefined ? { pool, index, running: 0 } : { pool, pod: pod!, cost: Number(s.labels[DELETION_COST_LABEL] ?? 0) || 0, running: 0 };
      sums.set(k, l);
    }
    l.running += s.value;
  }
  return { ok: true, replicas: [...sums.values()] };
}

/**
 * The replicas a scale-in from `from` to `to` removes: indexes `to`..`from−1` where the pool's replicas have indexes;
 * else the `from − to` pods of lowest deletion cost, and every pod tied with the last of them (which of the tied ones
 * goes is the ReplicaSet's choice, so all of them must be idle).
 */
export function leaving(loads: readonly ReplicaLoad[], pool: string, from: number, to: number): ReplicaLoad[] {
  const mine = loads.filter((r) => r.pool === pool);
  if (mine.some((r) => r.index !== undefined)) return mine.filter((r) => r.index !== undefined && r.index >= to && r.index < from);
  const byCost = [...mine].sort((a, b) => a.cost! - b.cost!);
  const n = from - to;
  if (n <= 0 || byCost.length === 0) return [];
  const last = byCost[Math.min(n, byCost.length) - 1]!.cost!;
  return byCost.filter((r) => r.cost! <= last);
}

export interface DrainGate {
  values: PublishedValue[];
  reasons: ExtraReason[];
  /** When the held scale-in started waiting (kept across evaluations); undefined when nothing waits. */
  waitingSinceMs?: number;
  /** True when a scale-in was held back this evaluation. */
  held: boolean;
}

/**
 * `next` is what the decision would publish, `previous` what is published now (pool → replicas). Pools not shrinking
 * pass as they are; shrinking pools publish `next` only when the replicas they remove run no requests, or the wait
 * (since `waitingSinceMs`) has reached the rule's maxWaitS.
 */
export function drainGate(rule: ServiceRule, previous: Readonly<Record<string, number>> | undefined, next: readonly PublishedValue[], reading: DrainReading, waitingSinceMs: number | undefined, nowMs: number): DrainGate {
  const d = rule.drain!;
  const shrinking = previous ? next.filter((v) => previous[v.pool] !== undefined && v.value < previous[v.pool]!) : [];
  if (!shrinking.length) return { values: [...next], reasons: [], held: false };
  const holdAll = (): PublishedValue[] => next.map((v) => (shrinking.includes(v) ? { ...v, value: previous![v.pool]! } : v));
  const scaleIn = shrinking.map((v) => `${v.pool} ${previous![v.pool]} → ${v.value}`).join(', ');
  if (!reading.ok) {
    return {
      values: holdAll(), held: true, waitingSinceMs: waitingSinceMs ?? nowMs,
      reasons: [{ code: 'drain-unknown', detail: { problem: reading.problem }, message: `scale-in held (${scaleIn}): which replicas still run requests is unknown (${reading.problem}); a monitoring fault never lowers capacity` }],
    };
  }
  const busy = shrinking.flatMap((v) => leaving(reading.replicas, v.pool, previous![v.pool]!, v.value).filter((r) => r.running > 0));
  const since = waitingSinceMs ?? nowMs;
  const waitedS = Math.round((nowMs - since) / 1000);
  const running = busy.reduce((a, r) => a + r.running, 0);
  const on = busy.map((r) => (r.index !== undefined ? `${r.pool}[${r.index}]` : `${r.pool} pod ${r.pod}`)).join(', ');
  if (!busy.length) {
    const reasons: ExtraReason[] = waitingSinceMs === undefined ? [] : [{ code: 'drained', detail: { waitedS }, message: `scale-in (${scaleIn}) after ${waitedS} s: the replicas it removes run no requests` }];
    return { values: [...next], reasons, held: false };
  }
  if (waitedS >= d.maxWaitS) {
    return { values: [...next], held: false, reasons: [{ code: 'drain-timeout', detail: { running, waitedS, maxWaitS: d.maxWaitS }, message: `scale-in (${scaleIn}) after the longest wait (${d.maxWaitS} s) with ${running} requests still running on ${on}` }] };
  }
  return {
    values: holdAll(), held: true, waitingSinceMs: since,
    reasons: [{ code: 'draining', detail: { running, replicas: busy.length, waitedS, maxWaitS: d.maxWaitS }, message: `scale-in held (${scaleIn}): ${running} requests still running on the replicas it removes (${on}); waited ${waitedS} s of at most ${d.maxWaitS} s` }],
  };
}
