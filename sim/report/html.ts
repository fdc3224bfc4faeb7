// The `--html FILE` report: one self-contained page (inline CSS and SVG, a few lines of inline script, no fetches)
// with the summary table, the plan, and per policy: load, replicas, TTFT/TBT p99 against the SLOs, GPU utilization.
import type { ScenarioResult } from '../scenario.js';
import type { TimelinePoint } from '../simulate.js';
import { fmtChange, fmtClock, fmtCost, fmtDuration, fmtNumber, fmtPercent, fmtSeconds, fmtTimes } from './format.js';
import { checkMeta, type ReportMeta } from './meta.js';
import { fmtAxis } from './scale.js';
import { oracleMeaning, SLO_GOAL, summarize, underGoalNote, type PolicySummary } from './summary.js';
import { esc, renderChart, type ChartPoint, type ChartSeries } from './svg.js';

export interface HtmlOptions {
  title?: string;
  /** Attainment below this (fraction) is highlighted; default SLO_GOAL (summary.ts). */
  sloTarget?: number;
  /** Latency charts clip at this multiple of the SLO so a runaway queue does not flatten the rest; default 3. */
  latencyClip?: number;
}

const COLORS = {
  prefill: '#d95f02',
  decode: '#1b7fbf',
  arrivals: '#444444',
  decodeTps: '#7b3294',
  slo: '#c0392b',
};

/** Policies keep their colour across charts; unknown names take the spare ones in order. */
const POLICY_COLORS: Record<string, string> = {
  static: '#777777',
  'hpa-util': '#e7298a',
  'per-role-tps': '#d4a300',
  coordinated: '#1f78b4',
  oracle: '#33a02c',
};
const SPARE_COLORS = ['#a6761d', '#66a61e', '#e41a1c', '#17becf', '#6a3d9a'];

export function renderHtml(result: ScenarioResult, meta: ReportMeta, opts: HtmlOptions = {}): string {
  checkMeta(meta, 'renderHtml');
  const rows = summarize(result, 'renderHtml');
  const sloTarget = opts.sloTarget ?? SLO_GOAL;
  const clip = opts.latencyClip ?? 3;
  const title = opts.title ?? `Baton simulation — ${meta.service.name}`;
  const x = { from: meta.startS, to: meta.startS + meta.durationS };
  const domains = sharedDomains(rows, meta, clip);
  let spare = 0;
  const colorOf = (p: string): string => POLICY_COLORS[p] ?? SPARE_COLORS[spare++ % SPARE_COLORS.length]!;
  const policyColors = new Map(rows.map((r) => [r.policy, colorOf(r.policy)]));

  // A runaway policy is drawn clipped at the top so the others stay readable; the title says so.
  const gpuPeaks = rows.map((r) => Math.max(...r.result.timeline.map((p) => p.gpus)));
  const gpuMax = Math.max(1, comparableMax(gpuPeaks)) * 1.1;
  const clipped = rows.filter((_, i) => gpuPeaks[i]! > gpuMax).map((r) => r.policy);
  const gpus = renderChart({
    id: 'gpus',
    title: `GPUs allocated, every policy${clipped.length ? ` (${clipped.join(', ')} clipped at the top)` : ''}`,
    x,
    left: { label: 'GPUs', max: gpuMax },
    width: 900,
    height: 280,
    series: rows.map((r) => ({ label: r.policy, color: policyColors.get(r.policy)!, step: true, points: pts(r.result.timeline, (p) => Math.min(p.gpus, gpuMax)) })),
  });

  const sections = rows.map((r) => policySection(r, meta, x, domains, policyColors.get(r.policy)!, sloTarget));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${esc(title)}</h1>
<p class="sub">${esc(subtitle(meta))}</p>
</header>
<main>
<section id="summary">
<h2>Summary</h2>
${summaryTable(rows, sloTarget)}
<p class="note">SLO attainment: share of requests within the TTFT SLO, the TBT SLO, and both (requests still in flight at the end count as misses unless they arrived in the last minute); highlighted below ${fmtPercent(sloTarget, 1)} %.
P:D drift: mean |ready P:D in units ÷ planned ratio − 1|. vs static: GPU-hour change against static peak. ${esc(oracleMeaning(rows, sloTarget) ?? '')} ${esc(underGoalNote(rows, sloTarget) ?? '')}</p>
</section>
<section id="plan">
<h2>Plan</h2>
${planTable(result)}
</section>
<section id="compare">
<h2>Fleet size over time</h2>
<div class="wide">${gpus}</div>
</section>
${sections.join('\n')}
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

interface Domains {
  arrivals: number;
  decodeTps: number;
  replicas: number;
  ttft: number;
  tbt: number;
}

/** One y range per metric across policies, so side-by-side charts compare at a glance. */
function sharedDomains(rows: readonly PolicySummary[], meta: ReportMeta, clip: number): Domains {
  const d: Domains = { arrivals: 0, decodeTps: 0, replicas: 0, ttft: 0, tbt: 0 };
  for (const { result } of rows) {
    for (const p of result.timeline) {
      d.arrivals = Math.max(d.arrivals, p.arrivalsPerS);
      d.decodeTps = Math.max(d.decodeTps, p.decodeTps);
      if (p.ttftP99 !== null) d.ttft = Math.max(d.ttft, p.ttftP99);
      if (p.tbtP99 !== null) d.tbt = Math.max(d.tbt, p.tbtP99);
    }
  }
  const { sloTtftS, sloTbtS } = meta.service;
  // Keep the SLO line inside the chart with some headroom, and cap runaway latencies at `clip` × SLO.
  d.ttft = Math.min(clip * sloTtftS, Math.max(1.2 * sloTtftS, d.ttft));
  d.tbt = Math.min(clip * sloTbtS, Math.max(1.2 * sloTbtS, d.tbt)) * 1000;
  d.replicas = Math.max(1, comparableMax(rows.map((r) => Math.max(...r.result.timeline.map((p) => Math.max(p.replicas.prefill, p.replicas.decode))))));
  return d;
}

/**
 * The largest of the values that are within 4× of the smallest: one runaway policy (hpa-util can hold 20× the fleet)
 * must not flatten every other chart. Policies above it get their own range.
 */
export function comparableMax(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v) && v > 0);
  if (finite.length === 0) return 0;
  const floor = Math.min(...finite);
  return Math.max(...finite.filter((v) => v <= 4 * floor));
}

function policySection(
  row: PolicySummary, meta: ReportMeta, x: { from: number; to: number }, dom: Domains, color: string, sloTarget: number,
): string {
  const { policy, result: r } = row;
  const tl = r.timeline;
  const id = slug(policy);
  const load = renderChart({
    id: `load-${id}`,
    title: 'Load',
    x,
    left: { label: 'arrivals / s', max: dom.arrivals },
    right: { label: 'decode tok/s', max: dom.decodeTps },
    series: [
      { label: 'arrivals/s', color: COLORS.arrivals, points: pts(tl, (p) => p.arrivalsPerS) },
      { label: 'decode tok/s', color: COLORS.decodeTps, axis: 'right', points: pts(tl, (p) => p.decodeTps) },
    ],
  });
  const replicas = renderChart({
    id: `replicas-${id}`,
    title: 'Replicas per role',
    x,
    left: { label: 'instances', max: Math.max(dom.replicas, ...tl.map((p) => Math.max(p.replicas.prefill, p.replicas.decode))) },
    series: [
      { label: 'prefill', color: COLORS.prefill, step: true, points: pts(tl, (p) => p.replicas.prefill) },
      { label: 'prefill ready', color: COLORS.prefill, step: true, dash: '3 3', points: pts(tl, (p) => p.ready.prefill) },
      { label: 'decode', color: COLORS.decode, step: true, points: pts(tl, (p) => p.replicas.decode) },
      { label: 'decode ready', color: COLORS.decode, step: true, dash: '3 3', points: pts(tl, (p) => p.ready.decode) },
    ],
  });
  const ttft = renderChart({
    id: `ttft-${id}`,
    title: 'TTFT p99 (30 s window)',
    x,
    left: { label: 'seconds', max: dom.ttft },
    refs: [{ y: meta.service.sloTtftS, label: `SLO ${fmtSeconds(meta.service.sloTtftS)}`, color: COLORS.slo }],
    series: [{ label: 'TTFT p99', color: COLORS.prefill, points: pts(tl, (p) => p.ttftP99) }],
  });
  const tbt = renderChart({
    id: `tbt-${id}`,
    title: 'TBT p99 (30 s window)',
    x,
    left: { label: 'milliseconds', max: dom.tbt },
    refs: [{ y: meta.service.sloTbtS * 1000, label: `SLO ${fmtSeconds(meta.service.sloTbtS)}`, color: COLORS.slo }],
    series: [{ label: 'TBT p99', color: COLORS.decode, points: pts(tl, (p) => (p.tbtP99 === null ? null : p.tbtP99 * 1000)) }],
  });
  const util = renderChart({
    id: `util-${id}`,
    title: 'GPU utilization per role',
    x,
    left: { label: 'utilization %', max: 100, format: (v) => fmtAxis(v) },
    series: [
      { label: 'prefill', color: COLORS.prefill, points: pts(tl, (p) => p.prefillUtil * 100) },
      { label: 'decode', color: COLORS.decode, points: pts(tl, (p) => p.decodeUtil * 100) },
    ],
  });
  const miss = r.sloAttainment.both < sloTarget;
  const figures = `<div class="figures">
<dl>
<dt>GPU-hours</dt><dd>${fmtNumber(r.gpuHours)}</dd>
<dt>cost</dt><dd>$${fmtCost(r.cost)}</dd>
<dt>SLO attainment</dt><dd class="${miss ? 'miss' : 'ok'}">${fmtPercent(r.sloAttainment.both)} %</dd>
<dt>TTFT p50 / p99</dt><dd>${fmtSeconds(r.ttft.p50)} / ${fmtSeconds(r.ttft.p99)}</dd>
<dt>TBT p50 / p99</dt><dd>${fmtSeconds(r.tbt.p50)} / ${fmtSeconds(r.tbt.p99)}</dd>
<dt>scale events</dt><dd>${r.scaleEvents}</dd>
<dt>P:D drift</dt><dd>${fmtPercent(r.ratioDrift, 1)} %</dd>
<dt>preemptions</dt><dd>${r.preemptions}</dd>
<dt>vs static / oracle</dt><dd>${fmtChange(row.vsStatic)} / ${fmtTimes(row.vsOracle)}</dd>
</dl>
</div>`;
  return `<section class="policy" id="policy-${id}" data-policy="${esc(policy)}">
<h2><span class="swatch" style="background:${color}"></span>${esc(policy)}</h2>
<div class="grid">
${figures}
${load}
${replicas}
${ttft}
${tbt}
${util}
</div>
</section>`;
}

function summaryTable(rows: readonly PolicySummary[], sloTarget: number): string {
  const hasStatic = rows.some((r) => r.vsStatic !== null);
  const hasOracle = rows.some((r) => r.vsOracle !== null);
  const fewest = Math.min(...rows.map((r) => r.result.gpuHours));
  const head = `<tr><th rowspan="2">policy</th><th rowspan="2">GPU-hours</th><th rowspan="2">cost $</th>
<th colspan="3">SLO attainment %</th><th colspan="2">p99</th><th colspan="2">GPU util %</th><th rowspan="2">P:D drift</th>
<th rowspan="2">scale events</th>${hasStatic ? '<th rowspan="2">vs static</th>' : ''}${hasOracle ? '<th rowspan="2">vs oracle</th>' : ''}</tr>
<tr><th>TTFT</th><th>TBT</th><th>both</th><th>TTFT</th><th>TBT</th><th>P</th><th>D</th></tr>`;
  const body = rows.map(({ policy, result: r, vsStatic, vsOracle }) => {
    const cls = (f: number): string => (f < sloTarget ? ' class="miss"' : '');
    return `<tr data-policy="${esc(policy)}"><th scope="row">${esc(policy)}</th>
<td${r.gpuHours === fewest ? ' class="best"' : ''}>${fmtNumber(r.gpuHours)}</td><td>${fmtCost(r.cost)}</td>
<td${cls(r.sloAttainment.ttft)}>${fmtPercent(r.sloAttainment.ttft)}</td><td${cls(r.sloAttainment.tbt)}>${fmtPercent(r.sloAttainment.tbt)}</td>
<td${cls(r.sloAttainment.both)}>${fmtPercent(r.sloAttainment.both)}</td>
<td>${fmtSeconds(r.ttft.p99)}</td><td>${fmtSeconds(r.tbt.p99)}</td>
<td>${fmtPercent(r.meanGpuUtil.prefill, 0)}</td><td>${fmtPercent(r.meanGpuUtil.decode, 0)}</td>
<td>${fmtPercent(r.ratioDrift, 1)} %</td><td>${r.scaleEvents}</td>
${hasStatic ? `<td>${fmtChange(vsStatic)}</td>` : ''}${hasOracle ? `<td>${fmtTimes(vsOracle)}</td>` : ''}</tr>`;
  });
  return `<table class="summary">\n<thead>${head}</thead>\n<tbody>${body.join('\n')}</tbody>\n</table>`;
}

function planTable(result: ScenarioResult): string {
  const { plan } = result;
  const rows = plan.simPools.map((p) => {
    const cap = plan.capacity[p.name];
    return `<tr><th scope="row">${esc(p.name)}</th><td class="l">${esc(p.role)}</td><td class="l">${esc(p.gpuType)}</td>
<td>${p.gpusPerInstance}</td><td>${p.units.toFixed(2)}</td><td>${cap ? fmtNumber(cap.requestsPerS) : '–'}</td>
<td>${cap ? fmtNumber(cap.tps) : '–'}</td><td>${p.maxInstances}</td></tr>`;
  });
  return `<p>P:D ratio <b>${plan.ratio.prefill}:${plan.ratio.decode}</b> (in units) · decode target
<b>${fmtNumber(plan.policyConfig.decodeTpsPerUnit)}</b> tok/s per unit</p>
<table class="plan">
<thead><tr><th>pool</th><th>role</th><th>GPU</th><th>GPUs / instance</th><th>units</th><th>req/s per instance</th>
<th>tok/s per instance</th><th>max instances</th></tr></thead>
<tbody>${rows.join('\n')}</tbody>
</table>`;
}

function subtitle(meta: ReportMeta): string {
  const s = meta.service;
  const parts = [
    `${s.name}`,
    `${fmtClock(meta.startS)} → ${fmtClock(meta.startS + meta.durationS)} (${fmtDuration(meta.durationS)})`,
    `SLO TTFT ≤ ${fmtSeconds(s.sloTtftS)}, TBT ≤ ${fmtSeconds(s.sloTbtS)}`,
  ];
  if (meta.source) parts.push(meta.source);
  return parts.join(' · ');
}

function pts(tl: readonly TimelinePoint[], pick: (p: TimelinePoint) => number | null): ChartPoint[] {
  return tl.map((p) => ({ x: p.t, y: pick(p) }));
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'policy';
}

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #222; background: #fafafa; margin: 0; }
header { background: #fff; border-bottom: 1px solid #ddd; padding: 16px 28px 10px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 26px 0 10px; display: flex; align-items: center; gap: 8px; }
.sub { color: #555; margin: 0; }
main { padding: 0 28px 40px; max-width: 1500px; }
table { border-collapse: collapse; background: #fff; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ddd; padding: 4px 9px; text-align: right; }
th { background: #f2f2f2; font-weight: 600; text-align: center; }
tbody th { text-align: left; }
td.l { text-align: left; }
td.miss, dd.miss { color: #b00020; font-weight: 600; }
td.best { font-weight: 700; }
.note { color: #555; font-size: 12.5px; max-width: 1100px; }
.wide { max-width: 900px; background: #fff; border: 1px solid #e2e2e2; }
.grid { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 12px; }
@media (max-width: 980px) { .grid { grid-template-columns: minmax(0, 1fr); } }
svg.chart { width: 100%; height: auto; background: #fff; border: 1px solid #e2e2e2; display: block; font-family: inherit; }
.figures { background: #fff; border: 1px solid #e2e2e2; padding: 8px 14px; }
.figures dl { display: grid; grid-template-columns: auto 1fr; gap: 3px 14px; margin: 0; }
.figures dt { color: #555; }
.figures dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
.swatch { width: 14px; height: 14px; border-radius: 3px; display: inline-block; }
`;

// Marks each chart with how many of its series paths the browser actually laid out with a nonzero length, so a
// headless check (or a person in devtools) can tell drawn charts from empty ones.
const SCRIPT = `
for (const svg of document.querySelectorAll('svg.chart')) {
  let drawn = 0;
  for (const p of svg.querySelectorAll('path.series')) if (p.getTotalLength() > 0) drawn++;
  svg.setAttribute('data-drawn', String(drawn));
}
document.body.setAttribute('data-charts', String(document.querySelectorAll('svg.chart').length));
`;
