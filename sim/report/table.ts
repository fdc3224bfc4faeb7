// The terminal table `baton simulate` prints: one row per policy, plus a short header with the plan.
import type { ScenarioResult } from '../scenario.js';
import { fmtChange, fmtClock, fmtCost, fmtDuration, fmtNumber, fmtPercent, fmtSeconds, fmtTimes } from './format.js';
import { checkMeta, type ReportMeta } from './meta.js';
import { oracleMeaning, summarize, underGoalNote, type PolicySummary } from './summary.js';
import { renderTextTable, type TextColumn } from './text-table.js';

export interface TableOptions {
  /** Adds the service, window and SLOs to the header. */
  meta?: ReportMeta;
  /** The plan header (pools, units, ratio, capacity) and the footnotes; default true. */
  header?: boolean;
}

/** Terminal width the table and notes are laid out for. */
const WIDTH = 100;

const POLICY_COLUMNS: TextColumn[] = [
  { title: 'policy', align: 'left' },
  { title: 'GPU-h', align: 'right' },
  { title: 'cost $', align: 'right' },
  { title: 'TTFT', group: 'SLO attainment %', align: 'right' },
  { title: 'TBT', group: 'SLO attainment %', align: 'right' },
  { title: 'both', group: 'SLO attainment %', align: 'right' },
  { title: 'P', group: 'GPU util %', align: 'right' },
  { title: 'D', group: 'GPU util %', align: 'right' },
  { title: 'drift', group: 'P:D', align: 'right' },
  { title: 'events', group: 'scale', align: 'right' },
  { title: 'static', group: 'GPU-h vs', align: 'right' },
  { title: 'oracle', group: 'GPU-h vs', align: 'right' },
];

export function formatTable(result: ScenarioResult, opts: TableOptions = {}): string {
  const rows = summarize(result, 'formatTable');
  if (opts.meta) checkMeta(opts.meta, 'formatTable');
  const hasStatic = rows.some((r) => r.vsStatic !== null);
  const hasOracle = rows.some((r) => r.vsOracle !== null);
  // Drop the relative columns whose baseline was not run rather than print a column of dashes.
  const keep = POLICY_COLUMNS.map((c) => !(c.title === 'static' && !hasStatic) && !(c.title === 'oracle' && !hasOracle));
  const columns = POLICY_COLUMNS.filter((_, i) => keep[i]);
  const cells = rows.map(({ policy, result: r, vsStatic, vsOracle }) =>
    [
      policy,
      fmtNumber(r.gpuHours),
      fmtCost(r.cost),
      fmtPercent(r.sloAttainment.ttft),
      fmtPercent(r.sloAttainment.tbt),
      fmtPercent(r.sloAttainment.both),
      fmtPercent(r.meanGpuUtil.prefill, 0),
      fmtPercent(r.meanGpuUtil.decode, 0),
      `${fmtPercent(r.ratioDrift, 1)}%`,
      String(r.scaleEvents),
      fmtChange(vsStatic),
      fmtTimes(vsOracle),
    ].filter((_, i) => keep[i]),
  );
  const table = renderTextTable(columns, cells);
  if (opts.header === false) return table.join('\n') + '\n';
  const notes = footnotes(result, rows, hasStatic).flatMap((n) => wrap(n, WIDTH));
  return [...planHeader(result, opts.meta), '', ...table, '', ...notes].join('\n') + '\n';
}

function planHeader(result: ScenarioResult, meta: ReportMeta | undefined): string[] {
  const { plan } = result;
  const lines: string[] = [];
  if (meta) {
    const s = meta.service;
    lines.push(
      `${s.name} · ${fmtClock(meta.startS)} → ${fmtClock(meta.startS + meta.durationS)} (${fmtDuration(meta.durationS)})` +
        ` · SLO TTFT ≤ ${fmtSeconds(s.sloTtftS)}, TBT ≤ ${fmtSeconds(s.sloTbtS)}`,
    );
    if (meta.source) lines.push(...wrap(`workload: ${meta.source}`, WIDTH));
  }
  lines.push(
    `plan: P:D ${plan.ratio.prefill}:${plan.ratio.decode} (in units) · decode target ` +
      `${fmtNumber(plan.policyConfig.decodeTpsPerUnit)} tok/s per unit`,
  );
  const cols: TextColumn[] = [
    { title: 'pool', align: 'left' },
    { title: 'role', align: 'left' },
    { title: 'GPU', align: 'left' },
    { title: 'GPUs/inst', align: 'right' },
    { title: 'units', align: 'right' },
    { title: 'req/s', group: 'per instance', align: 'right' },
    { title: 'tok/s', group: 'per instance', align: 'right' },
    { title: 'max inst', align: 'right' },
  ];
  const rows = plan.simPools.map((p) => {
    const cap = plan.capacity[p.name];
    return [
      p.name, p.role, p.gpuType, String(p.gpusPerInstance), p.units.toFixed(2),
      cap ? fmtNumber(cap.requestsPerS) : '–', cap ? fmtNumber(cap.tps) : '–', String(p.maxInstances),
    ];
  });
  for (const l of renderTextTable(cols, rows)) lines.push(`  ${l}`);
  return lines;
}

function footnotes(result: ScenarioResult, rows: readonly PolicySummary[], hasStatic: boolean): string[] {
  const any = Object.values(result.results)[0]!;
  const notes = [
    `SLO attainment: share of requests (${any.requests.toLocaleString('en-US')} arrived) within the TTFT SLO, the TBT SLO, both; requests still in flight at the end count as misses unless they arrived in the last minute.`,
    'P:D drift: mean |ready P:D in units ÷ planned ratio − 1|.',
  ];
  if (hasStatic) notes.push('vs static: GPU-hours change against static peak provisioning.');
  const oracle = oracleMeaning(rows);
  if (oracle) notes.push(oracle);
  const under = underGoalNote(rows);
  if (under) notes.push(under);
  const unfinished = Object.entries(result.results).filter(([, r]) => r.unfinished > 0);
  if (unfinished.length) {
    notes.push(`in flight at the end: ${unfinished.map(([n, r]) => `${n} ${r.unfinished}`).join(', ')}`);
  }
  return notes;
}

/** Greedy word wrap; continuation lines are indented so each note reads as one item. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = `  ${word}`;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}
