// What a what-if prints and writes: per pool and per role, the replicas the rule would have produced and their
// GPU-hours against what ran, then where the what-if fleet changed.
import type { Role } from '../engine/core/types.js';
import { gpuHours, type PoolHours, type WhatIfRun, type WhatIfStep } from './replay.js';

export const WHATIF_JSON_FORMAT = 'baton-whatif/1';

export interface RoleHours {
  whatIf: number;
  actual: number | null;
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
  steps: WhatIfStep[];
}

export function buildReport(run: WhatIfRun, stepS: number, gpusPerReplica: (pool: string) => number, actualSource: string | null): WhatIfReport {
  const pools = gpuHours(run, gpusPerReplica);
  const sum = (list: PoolHours[]): RoleHours => ({
    whatIf: list.reduce((a, p) => a + p.whatIf.gpuHours, 0),
    actual: list.some((p) => p.actual) ? list.reduce((a, p) => a + (p.actual?.gpuHours ?? 0), 0) : null,
  });
  return {
    format: WHATIF_JSON_FORMAT,
    service: run.rule.name,
    fromS: run.steps[0]?.t ?? 0,
    toS: run.steps.at(-1)?.t ?? 0,
    stepS,
    points: run.steps.length,
    heldSteps: run.steps.filter((s) => s.held).length,
    actualSource,
    pools,
    roles: { prefill: sum(pools.filter((p) => p.role === 'prefill')), decode: sum(pools.filter((p) => p.role === 'decode')) },
    total: sum(pools),
    steps: run.steps,
  };
}

const iso = (t: number): string => new Date(t * 1000).toISOString().replace('.000Z', 'Z');
const hours = (h: number | null): string => (h === null ? '–' : h.toFixed(2));

function delta(whatIf: number, actual: number | null): string {
  if (actual === null || actual === 0) return '–';
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
  out.push('');
  const rows = r.pools.map((p) => [
    p.pool, p.role, p.gpuType,
    `${p.whatIf.min}/${p.whatIf.mean.toFixed(1)}/${p.whatIf.max}`, hours(p.whatIf.gpuHours),
    p.actual ? p.actual.mean.toFixed(1) : '–', hours(p.actual?.gpuHours ?? null), delta(p.whatIf.gpuHours, p.actual?.gpuHours ?? null),
  ]);
  for (const role of ['prefill', 'decode'] as const) {
    const h = r.roles[role];
    rows.push([`(${role})`, role, '', '', hours(h.whatIf), '', hours(h.actual), delta(h.whatIf, h.actual)]);
  }
  rows.push(['total', '', '', '', hours(r.total.whatIf), '', hours(r.total.actual), delta(r.total.whatIf, r.total.actual)]);
  out.push(...table(['pool', 'role', 'GPU', 'what-if min/mean/max', 'GPU-h what-if', 'ran mean', 'GPU-h ran', 'Δ GPU-h'], rows));
  out.push('');
  const changes = r.steps.filter((s, i) => i === 0 || r.pools.some((p) => s.replicas[p.pool] !== r.steps[i - 1]!.replicas[p.pool]));
  out.push(`what-if replicas where they changed (${changes.length}${changes.length > maxChanges ? `, first ${maxChanges}; all in --json` : ''}):`);
  for (const s of changes.slice(0, maxChanges)) {
    const tps = s.decodeTps === null ? 'held' : `${Math.round(s.decodeTps)} tok/s`;
    const ran = s.actual ? `  ran ${r.pools.map((p) => s.actual![p.pool]).join('/')}` : '';
    out.push(`  ${iso(s.t)}  ${r.pools.map((p) => `${p.pool}=${s.replicas[p.pool]}`).join(' ')}  (${tps})${ran}`);
  }
  return out.join('\n') + '\n';
}
