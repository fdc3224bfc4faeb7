// Number and time formatting shared by the table, the HTML report and chart axes.

/** "12.34" / "123.4" / "1,234": three to four significant digits, whatever the magnitude. */
export function fmtNumber(x: number): string {
  if (!Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(1);
  return x.toFixed(2);
}

/** Fraction as a percentage with `digits` decimals: 0.99875 → "99.88". */
export function fmtPercent(fraction: number, digits = 2): string {
  return Number.isFinite(fraction) ? (fraction * 100).toFixed(digits) : '–';
}

export function fmtCost(dollars: number): string {
  if (!Number.isFinite(dollars)) return '–';
  return dollars >= 1000 ? Math.round(dollars).toLocaleString('en-US') : dollars.toFixed(2);
}

/** Change relative to a baseline: 0.587 → "-41.3%". */
export function fmtChange(ratio: number | null): string {
  if (ratio === null || !Number.isFinite(ratio)) return '–';
  const pct = (ratio - 1) * 100;
  return `${pct > 0 ? '+' : ''}${pct.toFixed(1)}%`;
}

export function fmtTimes(ratio: number | null): string {
  return ratio === null || !Number.isFinite(ratio) ? '–' : `${ratio.toFixed(2)}×`;
}

/** Latency in the unit that reads best: 0.0123 → "12.3 ms", 1.5 → "1.50 s". */
export function fmtSeconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  if (s < 1) return `${(s * 1000).toFixed(s < 0.01 ? 2 : 1)} ms`;
  if (s < 120) return `${s.toFixed(2)} s`;
  return `${(s / 60).toFixed(1)} min`;
}

/** Seconds since midnight as a clock time; past the first day, "d2 03:00". */
export function fmtClock(t: number, withSeconds = false): string {
  const day = Math.floor(t / 86400);
  const s = ((t % 86400) + 86400) % 86400;
  const hh = String(Math.floor(s / 3600)).padStart(2, '0');
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(Math.floor(s % 60)).padStart(2, '0');
  const clock = withSeconds ? `${hh}:${mm}:${ss}` : `${hh}:${mm}`;
  return day > 0 ? `d${day + 1} ${clock}` : clock;
}

/** "20 min", "8 h", "1 h 30 min". */
export function fmtDuration(s: number): string {
  if (s < 3600) return `${+(s / 60).toFixed(1)} min`;
  const h = Math.floor(s / 3600);
  const m = Math.round((s - h * 3600) / 60);
  return m ? `${h} h ${m} min` : `${h} h`;
}
