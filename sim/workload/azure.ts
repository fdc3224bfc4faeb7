// Azure LLM inference traces (2023 conv/code, 2024 week): CSV TIMESTAMP,ContextTokens,GeneratedTokens.
import { readFileSync } from 'node:fs';
import { TraceFormatError, numberedLines, parseCount } from './trace-error.js';
import type { SimRequest } from './types.js';
import { sortAndRebase } from './sort.js';

const TIMESTAMP_RE =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Parses "2023-11-16 18:17:03.9799600" (any number of fractional digits, optional Z or ±hh:mm).
 * Whole seconds and the fraction are kept apart so 7-digit fractions survive double precision.
 */
export function parseAzureTimestamp(raw: string): { seconds: number; fraction: number } | undefined {
  const m = TIMESTAMP_RE.exec(raw.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  let seconds = Date.UTC(Number(y), month - 1, day, hour, minute, second) / 1000;
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    seconds -= sign * (Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2)) * 60);
  }
  return { seconds, fraction: frac ? Number(`0.${frac}`) : 0 };
}

/** Parses Azure trace CSV text; `file` names the source in error messages. */
export function parseAzureTrace(text: string, file: string): SimRequest[] {
  const lines = numberedLines(text);
  const first = lines.next();
  if (first.done) throw new TraceFormatError(file, 1, undefined, 'empty file, expected header TIMESTAMP,ContextTokens,GeneratedTokens');
  const [headerLine, header] = first.value;
  const names = header.split(',').map((c) => c.trim());
  const column = (name: string): number => {
    const i = names.indexOf(name);
    if (i < 0) throw new TraceFormatError(file, headerLine, name, `missing column in header ${JSON.stringify(header)}`);
    return i;
  };
  const tsCol = column('TIMESTAMP');
  const inCol = column('ContextTokens');
  const outCol = column('GeneratedTokens');

  const base = { seconds: NaN, fraction: 0 };
  const rows: SimRequest[] = [];
  for (const [lineNo, line] of lines) {
    const cells = line.split(',');
    if (cells.length < names.length) {
      throw new TraceFormatError(file, lineNo, undefined, `expected ${names.length} comma-separated fields, got ${cells.length}`);
    }
    const rawTs = cells[tsCol] ?? '';
    const ts = parseAzureTimestamp(rawTs);
    if (!ts) throw new TraceFormatError(file, lineNo, 'TIMESTAMP', `expected "YYYY-MM-DD hh:mm:ss[.fffffff]", got ${JSON.stringify(rawTs)}`);
    if (Number.isNaN(base.seconds)) Object.assign(base, ts);
    rows.push({
      id: rows.length,
      // Relative to the first row for now; sortAndRebase moves the origin to the earliest arrival.
      arrival: ts.seconds - base.seconds + (ts.fraction - base.fraction),
      input: parseCount(cells[inCol], file, lineNo, 'ContextTokens'),
      output: parseCount(cells[outCol], file, lineNo, 'GeneratedTokens'),
    });
  }
  return sortAndRebase(rows);
}

/** Loads an Azure trace: requests sorted by arrival, seconds after the first request. */
export function loadAzureTrace(path: string): SimRequest[] {
  return parseAzureTrace(readFileSync(path, 'utf8'), path);
}
