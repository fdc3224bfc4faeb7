// Normalized daily/weekly arrival-rate shapes for the synthesizer.
import { readFileSync } from 'node:fs';
import { TraceFormatError, numberedLines } from './trace-error.js';
import type { Envelope } from './types.js';

const DAY_S = 24 * 3600;

/** Wraps t into [0, period). */
function wrap(t: number, period: number): number {
  const r = t % period;
  return r < 0 ? r + period : r;
}

/** Piecewise-linear envelope through (seconds, value) points; repeats every periodS. */
export function piecewiseLinearEnvelope(points: ReadonlyArray<readonly [number, number]>, periodS: number): Envelope {
  if (points.length === 0) throw new Error('envelope needs at least one point');
  const ts = Float64Array.from(points, (p) => p[0]);
  const vs = Float64Array.from(points, (p) => p[1]);
  for (let i = 0; i < ts.length; i++) {
    if (i > 0 && !(ts[i]! > ts[i - 1]!)) throw new Error(`envelope point times must increase (point ${i}: ${ts[i]})`);
    if (!(vs[i]! >= 0 && vs[i]! <= 1)) throw new Error(`envelope values must be in [0, 1] (point ${i}: ${vs[i]})`);
  }
  if (ts[0]! < 0 || ts[ts.length - 1]! > periodS) throw new Error(`envelope point times must lie in [0, ${periodS}]`);
  const last = ts.length - 1;
  return {
    periodS,
    at(t: number): number {
      const x = wrap(t, periodS);
      // Before the first / after the last point: interpolate across the period boundary.
      if (x < ts[0]! || x >= ts[last]!) {
        const span = ts[0]! + periodS - ts[last]!;
        if (span <= 0) return vs[0]!;
        const dx = x >= ts[last]! ? x - ts[last]! : x + periodS - ts[last]!;
        return vs[last]! + ((vs[0]! - vs[last]!) * dx) / span;
      }
      let lo = 0;
      let hi = last;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (ts[mid]! <= x) lo = mid;
        else hi = mid;
      }
      const t0 = ts[lo]!;
      const t1 = ts[hi]!;
      return t1 === t0 ? vs[lo]! : vs[lo]! + ((vs[hi]! - vs[lo]!) * (x - t0)) / (t1 - t0);
    },
  };
}

/**
 * HeteroScale Fig. 5 "Daily workload" (paper.md §5.2), normalized to 1 at the peak.
 * Landmarks read off the figure: 0.37 at 00:00/24:00, trough ~1.5 % near 05:00, morning peak 0.87 at
 * 11:00, lunch dip 0.50 at 12:30, daily peak 0.99-1.0 over 15:30-16:30, evening bump 0.62 at 21:30.
 * Points between the landmarks are our own smooth fill, not read from the paper.
 */
export const PAPER_DAY_POINTS_H: ReadonlyArray<readonly [hour: number, value: number]> = [
  [0, 0.37], [1, 0.26], [2, 0.15], [3, 0.07], [4, 0.03], [5, 0.015], [6, 0.04], [7, 0.13],
  [8, 0.32], [9, 0.56], [10, 0.76], [11, 0.87], [11.75, 0.7], [12.5, 0.5], [13.25, 0.66],
  [14, 0.8], [15, 0.93], [15.5, 0.98], [16, 1.0], [16.5, 0.98], [17, 0.92], [18, 0.76],
  [19, 0.6], [20, 0.55], [21, 0.59], [21.5, 0.62], [22, 0.6], [23, 0.5],
];

export function paperDayEnvelope(): Envelope {
  return piecewiseLinearEnvelope(PAPER_DAY_POINTS_H.map(([h, v]) => [h * 3600, v] as const), DAY_S);
}

export interface CsvEnvelopeOptions {
  /** 'step' holds each window's rate for the whole window (faithful to ServeGen); 'linear' joins window midpoints. */
  interpolate?: 'step' | 'linear';
}

/**
 * ServeGen rate file (`window_start_seconds,requests_per_second`, no header) normalized to its maximum.
 * The period is last start + window width, so a 14-day file repeats every 14 days.
 */
export function csvEnvelope(path: string, opts: CsvEnvelopeOptions = {}): Envelope {
  const starts: number[] = [];
  const rates: number[] = [];
  for (const [lineNo, line] of numberedLines(readFileSync(path, 'utf8'))) {
    const cells = line.split(',');
    const start = Number(cells[0]);
    const rate = Number(cells[1]);
    if (cells.length < 2 || cells[0]!.trim() === '' || !Number.isFinite(start)) {
      throw new TraceFormatError(path, lineNo, 'window_start_seconds', `expected a number, got ${JSON.stringify(cells[0] ?? '')}`);
    }
    if (cells[1]!.trim() === '' || !Number.isFinite(rate) || rate < 0) {
      throw new TraceFormatError(path, lineNo, 'requests_per_second', `expected a non-negative number, got ${JSON.stringify(cells[1])}`);
    }
    if (starts.length > 0 && start <= starts[starts.length - 1]!) {
      throw new TraceFormatError(path, lineNo, 'window_start_seconds', `must increase (${start} after ${starts[starts.length - 1]})`);
    }
    starts.push(start);
    rates.push(rate);
  }
  if (starts.length < 2) throw new Error(`${path}: need at least two rate windows, got ${starts.length}`);
  const max = Math.max(...rates);
  if (!(max > 0)) throw new Error(`${path}: all rates are zero`);
  const width = starts[1]! - starts[0]!;
  const origin = starts[0]!;
  const periodS = starts[starts.length - 1]! - origin + width;
  const norm = rates.map((r) => r / max);

  if (opts.interpolate === 'linear') {
    return piecewiseLinearEnvelope(starts.map((s, i) => [s - origin + width / 2, norm[i]!] as const), periodS);
  }
  const rel = Float64Array.from(starts, (s) => s - origin);
  return {
    periodS,
    at(t: number): number {
      const x = wrap(t, periodS);
      let lo = 0;
      let hi = rel.length; // invariant: rel[lo] <= x < rel[hi] (rel[length] = periodS)
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (rel[mid]! <= x) lo = mid;
        else hi = mid;
      }
      return norm[lo]!;
    },
  };
}

/** Integral of the envelope over [startS, startS + durationS] (trapezoid rule), in envelope-seconds. */
export function envelopeIntegral(env: Envelope, startS: number, durationS: number, stepS = 60): number {
  const steps = Math.max(1, Math.ceil(durationS / stepS));
  const h = durationS / steps;
  let sum = (env.at(startS) + env.at(startS + durationS)) / 2;
  for (let i = 1; i < steps; i++) sum += env.at(startS + i * h);
  return sum * h;
}
