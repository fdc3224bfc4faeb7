// When each round of evaluations runs: services that send the same queries (the same batches, or the same single
// queries) form one cohort evaluated together, and each cohort runs at its own stable phase within its interval, so
// hundreds of cohorts do not all land on one tick. The phase depends only on what the cohort queries, so it is the same
// after a restart and on every HA replica.

/** 32-bit FNV-1a: small, stable across processes and versions (unlike a seeded hash). */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The cohort's offset within its interval, in [0, intervalMs). */
export function phaseOffsetMs(cohort: string, intervalMs: number): number {
  return fnv1a(cohort) % Math.max(1, Math.floor(intervalMs));
}

/** Milliseconds from nowMs to the next instant (epoch time) whose phase in the interval is offsetMs; in (0, intervalMs]. */
export function delayToPhase(nowMs: number, intervalMs: number, offsetMs: number): number {
  const phase = ((nowMs % intervalMs) + intervalMs) % intervalMs;
  const d = (offsetMs - phase + intervalMs) % intervalMs;
  return d === 0 ? intervalMs : d;
}

/** What a cohort is keyed by: the interval and the sorted set of units (batch templates or single queries) it sends. */
export function cohortKey(intervalS: number, units: readonly string[]): string {
  return `${intervalS}s\u0000${[...new Set(units)].sort().join('\u0000')}`;
}
