// Mooncake / AIPerf JSONL traces: {"timestamp": ms, "input_length", "output_length", "hash_ids": [...]}.
import { readFileSync } from 'node:fs';
import { TraceFormatError, numberedLines, parseCount } from './trace-error.js';
import type { SimRequest } from './types.js';
import { sortAndRebase } from './sort.js';

/** Tokens per hash_ids block in the Mooncake FAST'25 traces. */
export const MOONCAKE_BLOCK_TOKENS = 512;

/**
 * Parses Mooncake JSONL text; `file` names the source in error messages.
 * prefixHitTokens = tokens in the leading run of blocks whose hash_id appeared in an earlier request
 * (infinite cache, contiguous prefix as in vLLM/SGLang prefix caching), capped at input.
 */
export function parseMooncakeTrace(text: string, file: string, blockTokens = MOONCAKE_BLOCK_TOKENS): SimRequest[] {
  const rows: SimRequest[] = [];
  const hashesOf = new Map<SimRequest, number[]>();
  for (const [lineNo, line] of numberedLines(text)) {
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      throw new TraceFormatError(file, lineNo, undefined, `invalid JSON: ${(e as Error).message}`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw new TraceFormatError(file, lineNo, undefined, 'expected a JSON object');
    }
    const rec = obj as Record<string, unknown>;
    const ts = rec['timestamp'];
    if (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0) {
      throw new TraceFormatError(file, lineNo, 'timestamp', `expected non-negative milliseconds, got ${JSON.stringify(ts)}`);
    }
    const req: SimRequest = {
      id: rows.length,
      arrival: ts / 1000,
      input: parseCount(rec['input_length'], file, lineNo, 'input_length'),
      output: parseCount(rec['output_length'], file, lineNo, 'output_length'),
    };
    const hashes = rec['hash_ids'];
    if (hashes !== undefined) {
      if (!Array.isArray(hashes)) throw new TraceFormatError(file, lineNo, 'hash_ids', 'expected an array of integers');
      hashes.forEach((h, i) => {
        if (!Number.isInteger(h)) throw new TraceFormatError(file, lineNo, `hash_ids[${i}]`, `expected an integer, got ${JSON.stringify(h)}`);
      });
      hashesOf.set(req, hashes as number[]);
    }
    rows.push(req);
  }
  sortAndRebase(rows);

  // Walk in arrival order so "seen before" means "sent earlier".
  const seen = new Set<number>();
  for (const req of rows) {
    const hashes = hashesOf.get(req);
    if (!hashes) continue;
    let hitBlocks = 0;
    while (hitBlocks < hashes.length && seen.has(hashes[hitBlocks]!)) hitBlocks++;
    req.prefixHitTokens = Math.min(hitBlocks * blockTokens, req.input);
    for (const h of hashes) seen.add(h);
  }
  return rows;
}

/** Loads a Mooncake trace: requests sorted by arrival, seconds after the first request. */
export function loadMooncakeTrace(path: string, blockTokens = MOONCAKE_BLOCK_TOKENS): SimRequest[] {
  return parseMooncakeTrace(readFileSync(path, 'utf8'), path, blockTokens);
}
