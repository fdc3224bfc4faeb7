// Capacity arithmetic in role units: heterogeneous pools differ in what one replica is worth.
import type { PoolConfig, Reason, Role } from './types.js';

export function poolsOf(pools: readonly PoolConfig[], role: Role): PoolConfig[] {
  return pools.filter((p) => p.role === role).sort((a, b) => a.preference - b.preference || a.name.localeCompare(b.name));
}

/** Units the role has now, from the replicas per pool. */
export function unitsOf(pools: readonly PoolConfig[], role: Role, replicas: Record<string, number>): number {
  let units = 0;
  for (const p of poolsOf(pools, role)) units += (replicas[p.name] ?? 0) * p.unitsPerReplica;
  return units;
}

export function unitBounds(pools: readonly PoolConfig[], role: Role): { min: number; max: number } {
  let min = 0;
  let max = 0;
  for (const p of poolsOf(pools, role)) {
    min += p.minReplicas * p.unitsPerReplica;
    max += p.maxReplicas * p.unitsPerReplica;
  }
  return { min, max };
}

/** Smallest capacity step of a role: one replica of its smallest pool. */
export function smallestStep(pools: readonly PoolConfig[], role: Role): number {
  const steps = poolsOf(pools, role).map((p) => p.unitsPerReplica);
  return steps.length ? Math.min(...steps) : 1;
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
  for (const [i, p] of ordered.entries()) {
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
