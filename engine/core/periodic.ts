// Time-of-day table: counts and ratio by the clock, alone or as a floor under the metric-driven decision.
import type { PeriodicConfig, PeriodicEntry } from './types.js';

const DAY_S = 86_400;

export function parseTimeOfDay(hhmm: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm);
  if (!m) throw new Error(`periodic entry time "${hhmm}" is not HH:MM`);
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (h > 23 || min > 59) throw new Error(`periodic entry time "${hhmm}" is out of range 00:00–23:59`);
  return h * 3600 + min * 60;
}

/** The entry in force at `now` (seconds); the last entry of the day wraps past midnight. */
export function periodicEntryAt(cfg: PeriodicConfig, now: number): PeriodicEntry | undefined {
  if (cfg.entries.length === 0) return undefined;
  const tod = (((now + (cfg.utcOffsetS ?? 0)) % DAY_S) + DAY_S) % DAY_S;
  const sorted = [...cfg.entries].sort((a, b) => parseTimeOfDay(a.from) - parseTimeOfDay(b.from));
  let current = sorted[sorted.length - 1]!;
  for (const e of sorted) if (parseTimeOfDay(e.from) <= tod) current = e;
  return current;
}
