// Axis maths: "nice" tick steps for values and for clock time.

/** Ticks from 0 (or below, for negative data) to at least `max`, about `count` of them, at 1/2/2.5/5 × 10^k steps. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) max = min + 1;
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const first = Math.floor(min / step) * step;
  const ticks: number[] = [];
  for (let v = first; v < max + step * 0.999; v += step) ticks.push(roundTo(v, step));
  return ticks;
}

const TIME_STEPS_S = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 14400, 21600, 43200, 86400];

/** Clock-aligned ticks inside [from, to], about `count` of them. */
export function timeTicks(from: number, to: number, count = 6): number[] {
  const span = Math.max(1, to - from);
  const step = TIME_STEPS_S.find((s) => span / s <= count) ?? Math.ceil(span / count / 86400) * 86400;
  const ticks: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to + 1e-9; t += step) ticks.push(t);
  return ticks;
}

/** Compact axis label: 0.5, 12, 1.5k, 20k, 1.2M. */
export function fmtAxis(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  if (a >= 10 || a === 0) return String(+v.toFixed(0));
  return String(+v.toFixed(2));
}

function roundTo(v: number, step: number): number {
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 2);
  return +v.toFixed(digits);
}
