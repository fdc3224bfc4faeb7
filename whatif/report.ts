// What a what-if prints and writes: per pool and per role, the replicas the rule would have produced and their
// GPU-hours against what ran, then where the what-if fleet changed.
import type { Role } from '../engine/core/types.js';
import { formatSeconds, latencyKindOf } from '../rules/slo.js';
import { gpuHours, type PoolHours, type WhatIfRun, type WhatIfStep } from './replay.js';

export const WHATIF_JSON_FORMAT = 'baton-whatif/1';

export interface RoleHours {
  whatIf: number;
  actual: number | null;
  /** The what-if over the stretch where what ran is known (compare this with `actual`). */
  whatIfCovered: number | null;
  /** $ over the whole range (null when a pool's price is unknown). */
  whatIfCost: number | null;
  actualCost: number | null;
}

/**
 * How a guard's observed latency stood against its SLO at the steps with a reading. The readings were taken on what
 * ran: where the what-if fleet had fewer replicas of the guarded roles than that, latency would have been higher, so
 * such steps count as met only when `atRisk` is subtracted.
 */
export interface GuardVerdict {
  guard: string;
  /** ttft, tbt, or other (a custom guard) */
  kind: string;
  slo: number;
  sloFrom: string;
  roles: Role[];
  steps: number;
  withReading: number;
  met: number;
  /** Met, but the what-if fleet was smaller than what ran in a guarded role. */
  atRisk: number;
  errors: number;
  /** Share of steps with a reading within the SLO, as observed (met / withReading); null without readings. */
  wouldMeet: number | null;
  /** The share that holds on the what-if fleet for certain: (met − atRisk) / withReading. */
  certain: number | null;
}

export interface ReportOptions {
  /** $ per GPU-hour per pool; null where unknown. */
  price?: (pool: string) => number | null;
  /** SLO overrides by latency kind (--slo-ttft / --slo-tbt), in seconds. */
  slo?: { ttftS?: number; tbtS?: number };
}

export interface WhatIfReport {
  format: typeof WHATIF_JSON_FORMAT;
  service: string;
  fromS: number;
  toS: number;
  stepS: number;
  points: number;
  /** Steps where decode TPS was unusable and the step held (gaps, NaN, errors). */
  heldSteps: number;
  actualSource: string | null;
  pools: PoolHours[];
  roles: Record<Role, RoleHours>;
  total: RoleHours;
  verdicts: GuardVerdict[];
  /** Every point held: the rule produced no decision over the range (exit 1). */
  allHeld: boolean;
  steps: WhatIfStep[];
}

export function buildReport(run: WhatIfRun, stepS: number, gpusPerReplica: (pool: string) => number, actualSource: string | null, o: ReportOptions = {}): WhatIfReport {
  const pools = gpuHours(run, gpusPerReplica, o.price);
  const add = (xs: (number | null)[]): number | null => (xs.some((x) => x === null) ? null : xs.reduce<number>((a, x) => a + x!, 0));
  const sum = (list: PoolHours[]): RoleHours => {
    const known = list.some((p) => p.actual);
    return {
      whatIf: list.reduce((a, p) => a + p.whatIf.gpuHours, 0),
      actual: known ? list.reduce((a, p) => a + (p.actual?.gpuHours ?? 0), 0) : null,
      whatIfCovered: known ? list.reduce((a, p) => a + (p.actual?.whatIfGpuHours ?? 0), 0) : null,
      whatIfCost: add(list.map((p) => p.whatIf.cost)),
      actualCost: known ? add(list.map((p) => p.actual?.cost ?? null)) : null,
    };
  };
  const heldSteps = run.steps.filter((s) => s.held).length;
  return {
    format: WHATIF_JSON_FORMAT,
    service: run.rule.name,
    fromS: run.steps[0]?.t ?? 0,
    toS: run.steps.at(-1)?.t ?? 0,
    stepS,
    points: run.steps.length,
    heldSteps,
    actualSource,
    pools,
    roles: { prefill: sum(pools.filter((p) => p.role === 'prefill')), decode: sum(pools.filter((p) => p.role === 'decode')) },
    total: sum(pools),
    verdicts: guardVerdicts(run, o.slo ?? {}),
    allHeld: run.steps.length > 0 && heldSteps === run.steps.length,
    steps: run.steps,
  };
}

function guardVerdicts(run: WhatIfRun, flags: { ttftS?: number; tbtS?: number }): GuardVerdict[] {
  const { rule, steps } = run;
  return rule.guards.map((g) => {
    const kind = latencyKindOf(g.name) ?? 'other';
    const flag = kind === 'ttft' ? flags.ttftS : kind === 'tbt' ? flags.tbtS : undefined;
    const slo = flag ?? g.slo;
    const roles: Role[] = g.roles ?? (kind === 'ttft' ? ['prefill'] : kind === 'tbt' ? ['decode'] : ['prefill', 'decode']);
    const guarded = rule.pools.filter((p) => roles.includes(p.role));
    let withReading = 0;
    let met = 0;
    let atRisk = 0;
    let errors = 0;
    for (const s of steps) {
      const v = s.guards[g.name];
      if (v === 'error') errors++;
      if (typeof v !== 'number') continue;
      withReading++;
      if (v > slo) continue;
      met++;
      const smaller = s.actual && roles.some((role) => {
        const inRole = guarded.filter((p) => p.role === role);
        return inRole.reduce((a, p) => a + s.replicas[p.name]! * p.unitsPerReplica, 0) < inRole.reduce((a, p) => a + (s.actual![p.name] ?? 0) * p.unitsPerReplica, 0) - 1e-9;
      });
      if (smaller) atRisk++;
    }
    return {
      guard: g.name, kind, slo, sloFrom: flag !== undefined ? (kind === 'ttft' ? '--slo-ttft' : '--slo-tbt') : `rule guard ${g.name}`, roles,
      steps: steps.length, withReading, met, atRisk, errors, wouldMeet: withReading ? met / withReading : null, certain: withReading ? (met - atRisk) / withReading : null,
    };
  });
}

/** The verdict line for a guard. */
export function verdictLine(v: GuardVerdict): string {
  const what = v.kind === 'ttft' ? 'TTFT' : v.kind === 'tbt' ? 'TBT' : v.guard;
  const slo = v.kind === 'other' ? String(v.slo) : formatSeconds(v.slo);
  if (v.wouldMeet === null) return `verdict: ${what} ${slo} (${v.sloFrom}): no reading in ${v.steps} steps (no traffic, or the guard's series is missing)${v.errors ? `; ${v.errors} errors` : ''}`;
  const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
  const risk = v.atRisk ? `; ${pct(v.certain!)} for certain: at ${v.atRisk} of the met steps the what-if ran fewer ${v.roles.join('/')} replicas than what ran` : '';
  const errors = v.errors ? `; ${v.errors} steps could not be read` : '';
  return `verdict: would have met ${what} ${slo} (${v.sloFrom}) in ${pct(v.wouldMeet)} of ${v.withReading} steps with a reading (latency as observed on what ran${risk}${errors})`;
}

const iso = (t: number): string => new Date(t * 1000).toISOString().replace('.000Z', 'Z');
const hours = (h: number | null): string => (h === null ? '–' : h.toFixed(2));
const money = (c: number | null): string => (c === null ? '–' : `$${c.toFixed(2)}`);

function delta(whatIf: number | null, actual: number | null): string {
  if (whatIf === null || actual === null || actual === 0) return '–';
  const d = (whatIf / actual - 1) * 100;
  return `${d >= 0 ? '+' : ''}${d.toFixed(1)}%`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]): string => r.map((v, c) => (c < 3 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

export function formatReport(r: WhatIfReport, maxChanges = 30): string {
  const out: string[] = [];
  out.push(`what-if: service ${r.service} · ${iso(r.fromS)} → ${iso(r.toS)} · step ${r.stepS}s · ${r.points} points`);
  out.push(`decode TPS unusable (held, never scaled down) at ${r.heldSteps} of ${r.points} points`);
  out.push(`what ran: ${r.actualSource ?? 'unknown (give the rule a replicas query or --actual)'}`);
  const covered = r.pools.find((p) => p.actual)?.actual?.coveredHours;
  if (covered !== undefined) out.push(`Δ compares the what-if with what ran over the ${covered.toFixed(2)} h where what ran is known (the what-if total covers ${((r.toS - r.fromS) / 3600).toFixed(2)} h)`);
  out.push('');
  const rows = r.pools.map((p) => [
    p.pool, p.role, p.gpuType,
    `${p.whatIf.min}/${p.whatIf.mean.toFixed(1)}/${p.whatIf.max}`, hours(p.whatIf.gpuHours), money(p.whatIf.cost),
    p.actual ? p.actual.mean.toFixed(1) : '–', hours(p.actual?.gpuHours ?? null), money(p.actual?.cost ?? null),
    delta(p.actual?.whatIfGpuHours ?? null, p.actual?.gpuHours ?? null),
  ]);
  const roleRow = (name: string, role: string, h: RoleHours): string[] =>
    [name, role, '', '', hours(h.whatIf), money(h.whatIfCost), '', hours(h.actual), money(h.actualCost), delta(h.whatIfCovered, h.actual)];
  for (const role of ['prefill', 'decode'] as const) rows.push(roleRow(`(${role})`, role, r.roles[role]));
  rows.push(roleRow('total', '', r.total));
  out.push(...table(['pool', 'role', 'GPU', 'what-if min/mean/max', 'GPU-h what-if', 'cost what-if', 'ran mean', 'GPU-h ran', 'cost ran', 'Δ GPU-h (covered)'], rows));
  out.push('');
  for (const v of r.verdicts) out.push(verdictLine(v));
  if (r.verdicts.length) out.push('');
  const changes = r.steps.filter((s, i) => i === 0 || r.pools.some((p) => s.replicas[p.pool] !== r.steps[i - 1]!.replicas[p.pool]));
  out.push(`what-if replicas where they changed (${changes.length}${changes.length > maxChanges ? `, first ${maxChanges}; all in --json` : ''}):`);
  for (const s of changes.slice(0, maxChanges)) {
    const tps = s.decodeTps === null ? 'held' : `${Math.round(s.decodeTps)} tok/s`;
    const sloOf = (g: string): number | undefined => r.verdicts.find((v) => v.guard === g)?.slo;
    const guardText = (g: string, v: number | null | 'error'): string => {
      if (v === null || v === 'error') return `${g}=${v === null ? 'idle' : 'error'}`;
      const slo = sloOf(g);
      return `${g}=${+v.toPrecision(3)}${slo ? ` (${(v / slo).toFixed(2)}×SLO)` : ''}`;
    };
    const guards = Object.entries(s.guards).map(([g, v]) => guardText(g, v)).join(' ');
    const ran = s.actual ? `  ran ${r.pools.map((p) => `${p.pool}=${s.actual![p.pool]}`).join(' ')}` : '';
    const why = s.reasons.length ? `  [${s.reasons.join(', ')}]` : s.problem ? `  [held: ${s.problem}]` : '';
    out.push(`  ${iso(s.t)}  ${r.pools.map((p) => `${p.pool}=${s.replicas[p.pool]}`).join(' ')}  (${tps}${guards ? `; ${guards}` : ''})${ran}${why}`);
  }
  if (r.allHeld) out.push('', `every one of the ${r.points} points held: the rule produced no decision over this range (see the problems in --json steps[].problem)`);
  return out.join('\n') + '\n';
}
