// Capacity arithmetic in role units: heterogeneous pools differ in what one replica is worth.
import type { PoolConfig, Reason, Role } from './types.js';

interface RolePools {
  ordered: readonly PoolConfig[];
  bounds: Readonly<{ min: number; max: number }>;
}

interface Derived {
  byRole: Record<Role, RolePools>;
  /** The fields derived from, per pool, to see that nobody changed the array since (then it is derived again). */
  seen: { pool: PoolConfig; role: Role; name: string; preference: number; min: number; max: number; units: number }[];
}

// What a pools array says per role, derived once per array: decide() asks for it several times per decision, and a
// service's config (with its pools) is built once per rule set. A memo of a pure function: the core stays pure.
const derived = new WeakMap<readonly PoolConfig[], Derived>();

function rolePools(pools: readonly PoolConfig[], role: Role): RolePools {
  let d = derived.get(pools);
  if (!d || !unchanged(pools, d)) {
    d = {
      byRole: { prefill: derive(pools, 'prefill'), decode: derive(pools, 'decode') },
      seen: pools.map((p) => ({ pool: p, role: p.role, name: p.name, preference: p.preference, min: p.minReplicas, max: p.maxReplicas, units: p.unitsPerReplica })),
    };
    derived.set(pools, d);
  }
  return d.byRole[role];
}

function unchanged(pools: readonly PoolConfig[], d: Derived): boolean {
  if (pools.length !== d.seen.length) return false;
  for (let i = 0; i < pools.length; i++) {
    const p = pools[i]!;
    const s = d.seen[i]!;
    if (p !== s.pool || p.role !== s.role || p.name !== s.name || p.preference !== s.preference || p.minReplicas !== s.min || p.maxReplicas !== s.max || p.unitsPerReplica !== s.units) return false;
  }
  return true;
}

function derive(pools: readonly PoolConfig[], role: Role): RolePools {
  const ordered = pools.filter((p) => p.role === role).sort((a, b) => a.preference - b.preference || a.name.localeCompare(b.name));
  let min = 0;
  let max = 0;
  for (const p of ordered) {
    min += p.minReplicas * p.unitsPerReplica;
    max += p.maxReplicas * p.unitsPerReplica;
  }
  return { ordered: Object.freeze(ordered), bounds: Object.freeze({ min, max }) };
}

/** A role's pools in preference order (then by name). */
export function poolsOf(pools: readonly PoolConfig[], role: Role): readonly PoolConfig[] {
  return rolePools(pools, role).ordered;
}

/** Units the role has now, from the replicas per pool. */
export function unitsOf(pools: readonly PoolConfig[], role: Role, replicas: Record<string, number>): number {
  let units = 0;
  for (const p of poolsOf(pools, role)) units += (replicas[p.name] ?? 0) * p.unitsPerReplica;
  return units;
}

export function unitBounds(pools: readonly PoolConfig[], role: Role): Readonly<{ min: number; max: number }> {
  return rolePools(pools, role).bounds;
}

/** Smallest capacity step of a role: one replica of its smallest pool. */
export function smallestStep(pools: readonly PoolConfig[], role: Role): number {
  let step = Infinity;
  for (const p of poolsOf(pools, role)) step = Math.min(step, p.unitsPerReplica);
  return step === Infinity ? 1 : step;
}

export interface Split {
  pools: Record<string, number>;
  /** Units the split provides (≥ the request unless every pool is full). */
  units: number;
  replicas: number;
  reasons: Reason[];
}

// Guard against 10.000000001 / 1 → 11 replicas from float noise.
const EPS = 1e-9;

/**
 * Splits a role's desired units over its pools: every pool gets its minimum, then pools fill in preference order up to
 * their maximum, so a full preferred pool falls back to the next one. Scale-in therefore empties the least preferred
 * pool first.
 */
export function splitUnits(pools: readonly PoolConfig[], role: Role, units: number): Split {
  const ordered = poolsOf(pools, role);
  const out: Record<string, number> = {};
  const reasons: Reason[] = [];
  let remaining = units;
  for (const p of ordered) {
    out[p.name] = p.minReplicas;
    remaining -= p.minReplicas * p.unitsPerReplica;
  }
  for (let i = 0; i < ordered.length; i++) {
    const p = ordered[i]!;
    if (remaining <= EPS) break;
    const room = p.maxReplicas - (out[p.name] ?? 0);
    if (room <= 0) continue;
    const want = Math.ceil(remaining / p.unitsPerReplica - EPS);
    const take = Math.min(room, want);
    out[p.name] = (out[p.name] ?? 0) + take;
    remaining -= take * p.unitsPerReplica;
    if (take < want && i + 1 < ordered.length) {
      reasons.push({
        code: 'pool-fallback',
        role,
        pool: p.name,
        detail: { maxReplicas: p.maxReplicas, unitsLeft: round3(remaining) },
        message: `${role} pool ${p.name} is full at ${p.maxReplicas} replicas; ${round3(remaining)} units go to the next pool`,
      });
    }
  }
  let provided = 0;
  let replicas = 0;
  for (const p of ordered) {
    const n = out[p.name] ?? 0;
    provided += n * p.unitsPerReplica;
    replicas += n;
  }
  return { pools: out, units: provided, replicas, reasons };
}

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
