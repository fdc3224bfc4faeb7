// Inline SVG line charts, generated here so the HTML report needs no script library and no network.
import { fmtClock } from './format.js';
import { fmtAxis, niceTicks, timeTicks } from './scale.js';

export interface ChartPoint {
  x: number;
  /** null leaves a gap (e.g. no latency samples in the window). */
  y: number | null;
}

export interface ChartSeries {
  label: string;
  color: string;
  points: readonly ChartPoint[];
  axis?: 'left' | 'right';
  /** SVG stroke-dasharray. */
  dash?: string;
  /** Draw as steps (the value holds until the next point), for counts like replicas. */
  step?: boolean;
}

export interface ReferenceLine {
  y: number;
  label: string;
  color: string;
}

export interface ChartSpec {
  /** Stable identifier, emitted as data-chart (what tests and people link to). */
  id: string;
  title: string;
  x: { from: number; to: number };
  left: { label: string; max?: number; format?: (v: number) => string };
  right?: { label: string; max?: number; format?: (v: number) => string };
  series: readonly ChartSeries[];
  refs?: readonly ReferenceLine[];
  /** viewBox size; the page scales it to its box, so pick it near the displayed size to keep text at ~11 px. */
  width?: number;
  height?: number;
}

const W_DEFAULT = 420;
const H_DEFAULT = 240;
const FONT = 11;
/** Rough width of a character at FONT px in the UI sans-serif, for laying out legends without measuring. */
const CHAR_W = 6.2;

export function renderChart(spec: ChartSpec): string {
  const W = spec.width ?? W_DEFAULT;
  const H = spec.height ?? H_DEFAULT;
  const hasRight = spec.right !== undefined && spec.series.some((s) => s.axis === 'right');
  const legendRows = layoutLegend(spec, W - 16);
  // Without a right axis the margin still has to hold half of the last clock label.
  const m = { left: 46, right: hasRight ? 46 : 20, top: 24 + legendRows.length * 15, bottom: 24 };
  const plotW = W - m.left - m.right;
  const plotH = H - m.top - m.bottom;

  const axisMax = (side: 'left' | 'right', given: number | undefined): number => {
    if (given !== undefined && given > 0) return given;
    let max = 0;
    for (const s of spec.series) if ((s.axis ?? 'left') === side) for (const p of s.points) if (p.y !== null && p.y > max) max = p.y;
    if (side === 'left') for (const r of spec.refs ?? []) max = Math.max(max, r.y);
    return max > 0 ? max : 1;
  };
  const leftTicks = niceTicks(0, axisMax('left', spec.left.max));
  const rightTicks = hasRight ? niceTicks(0, axisMax('right', spec.right!.max)) : [];
  const leftTop = leftTicks[leftTicks.length - 1]!;
  const rightTop = rightTicks[rightTicks.length - 1] ?? 1;
  const span = Math.max(1e-9, spec.x.to - spec.x.from);
  const sx = (x: number): number => m.left + ((x - spec.x.from) / span) * plotW;
  const sy = (y: number, top: number): number => m.top + plotH - (Math.max(0, Math.min(top, y)) / top) * plotH;
  let clipped = false;

  const out: string[] = [];
  out.push(
    `<svg class="chart" data-chart="${esc(spec.id)}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(spec.title)}"` +
      ` xmlns="http://www.w3.org/2000/svg" font-size="${FONT}">`,
  );
  out.push(`<title>${esc(spec.title)}</title>`);
  out.push(`<text class="chart-title" x="8" y="15" font-weight="600" font-size="${FONT + 1}">${esc(spec.title)}</text>`);

  // Grid and axes.
  const lfmt = spec.left.format ?? fmtAxis;
  for (const v of leftTicks) {
    const y = sy(v, leftTop);
    out.push(`<line class="grid" x1="${m.left}" x2="${m.left + plotW}" y1="${f(y)}" y2="${f(y)}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${m.left - 5}" y="${f(y + 3.5)}" text-anchor="end" fill="#555">${esc(lfmt(v))}</text>`);
  }
  if (hasRight) {
    const rfmt = spec.right!.format ?? fmtAxis;
    for (const v of rightTicks) {
      out.push(`<text x="${m.left + plotW + 5}" y="${f(sy(v, rightTop) + 3.5)}" fill="#555">${esc(rfmt(v))}</text>`);
    }
  }
  for (const t of timeTicks(spec.x.from, spec.x.to)) {
    const x = sx(t);
    out.push(`<line x1="${f(x)}" x2="${f(x)}" y1="${m.top + plotH}" y2="${m.top + plotH + 4}" stroke="#888"/>`);
    out.push(`<text x="${f(x)}" y="${m.top + plotH + 16}" text-anchor="middle" fill="#555">${fmtClock(t)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#bbb"/>`);
  out.push(
    `<text x="11" y="${f(m.top + plotH / 2)}" transform="rotate(-90 11 ${f(m.top + plotH / 2)})" text-anchor="middle"` +
      ` fill="#333">${esc(spec.left.label)}</text>`,
  );
  if (hasRight) {
    const x = W - 8;
    out.push(
      `<text x="${x}" y="${f(m.top + plotH / 2)}" transform="rotate(90 ${x} ${f(m.top + plotH / 2)})" text-anchor="middle"` +
        ` fill="#333">${esc(spec.right!.label)}</text>`,
    );
  }

  // Reference lines (SLOs) under the data so the data stays readable where they meet.
  for (const r of spec.refs ?? []) {
    const y = sy(r.y, leftTop);
    out.push(`<line class="ref" x1="${m.left}" x2="${m.left + plotW}" y1="${f(y)}" y2="${f(y)}" stroke="${r.color}" stroke-dasharray="6 3" stroke-width="1.5"/>`);
    out.push(`<text x="${m.left + plotW - 4}" y="${f(y - 4)}" text-anchor="end" fill="${r.color}">${esc(r.label)}</text>`);
  }

  for (const s of spec.series) {
    const top = (s.axis ?? 'left') === 'right' ? rightTop : leftTop;
    const d = pathData(s, sx, (y) => {
      if (y > top) clipped = true;
      return sy(y, top);
    });
    if (!d) continue;
    out.push(
      `<path class="series" data-series="${esc(s.label)}" d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"` +
        `${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} stroke-linejoin="round"/>`,
    );
  }
  if (clipped) {
    out.push(`<text class="clip-note" x="${m.left + 4}" y="${m.top + 11}" fill="#a00">▲ values above the axis are drawn at its top</text>`);
  }

  // Legend.
  legendRows.forEach((row, i) => {
    const y = 30 + i * 15;
    for (const item of row) {
      const s = item.series;
      const axisNote = hasRight ? ` (${(s.axis ?? 'left') === 'right' ? 'right' : 'left'})` : '';
      out.push(
        `<line x1="${f(item.x)}" x2="${f(item.x + 16)}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="2.5"` +
          `${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
      );
      out.push(`<text x="${f(item.x + 20)}" y="${y}" fill="#333">${esc(s.label + axisNote)}</text>`);
    }
  });
  out.push('</svg>');
  return out.join('');
}

interface LegendItem { series: ChartSeries; x: number }

function layoutLegend(spec: ChartSpec, width: number): LegendItem[][] {
  const hasRight = spec.right !== undefined && spec.series.some((s) => s.axis === 'right');
  const rows: LegendItem[][] = [[]];
  let x = 8;
  for (const s of spec.series) {
    const text = s.label.length + (hasRight ? 8 : 0);
    const w = 20 + text * CHAR_W + 14;
    if (x + w > width && rows[rows.length - 1]!.length > 0) {
      rows.push([]);
      x = 8;
    }
    rows[rows.length - 1]!.push({ series: s, x });
    x += w;
  }
  return rows[0]!.length ? rows : [];
}

function pathData(s: ChartSeries, sx: (x: number) => number, sy: (y: number) => number): string {
  const parts: string[] = [];
  let pen = false;
  for (const p of s.points) {
    if (p.y === null || !Number.isFinite(p.y)) {
      pen = false;
      continue;
    }
    const x = sx(p.x);
    const y = sy(p.y);
    if (!pen) parts.push(`M${f(x)} ${f(y)}`);
    else if (s.step) parts.push(`H${f(x)}V${f(y)}`);
    else parts.push(`L${f(x)} ${f(y)}`);
    pen = true;
  }
  return parts.join('');
}

function f(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
