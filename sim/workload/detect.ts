// Picks a trace loader from the file name, or failing that from the first line.
import { closeSync, openSync, readSync } from 'node:fs';
import { extname } from 'node:path';
import { loadAzureTrace } from './azure.js';
import { loadMooncakeTrace } from './mooncake.js';
import type { SimRequest, TraceFormat } from './types.js';

export const TRACE_FORMATS: readonly TraceFormat[] = ['azure', 'mooncake'];

function firstLine(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return (buf.toString('utf8', 0, n).split('\n').find((l) => l.trim() !== '') ?? '').trim();
  } finally {
    closeSync(fd);
  }
}

/** Default for `--format azure|mooncake`: .jsonl/.json => mooncake; otherwise sniff the first line. */
export function detectFormat(path: string): TraceFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.jsonl' || ext === '.json' || ext === '.ndjson') return 'mooncake';
  const line = firstLine(path);
  if (line.startsWith('{')) return 'mooncake';
  if (/\bTIMESTAMP\b/.test(line) && /\bContextTokens\b/.test(line)) return 'azure';
  throw new Error(
    `${path}: cannot tell the trace format (first line ${JSON.stringify(line.slice(0, 80))}); ` +
      `expected an Azure CSV header "TIMESTAMP,ContextTokens,GeneratedTokens" or Mooncake JSON lines; pass --format azure|mooncake`,
  );
}

/** Loads a request trace in the given format, or the detected one. */
export function loadTrace(path: string, format: TraceFormat = detectFormat(path)): SimRequest[] {
  switch (format) {
    case 'azure':
      return loadAzureTrace(path);
    case 'mooncake':
      return loadMooncakeTrace(path);
    default:
      throw new Error(`unknown trace format ${JSON.stringify(format)}; expected one of ${TRACE_FORMATS.join(', ')}`);
  }
}
