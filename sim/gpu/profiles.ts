// Reads the measured GPU profiles (JSON lines, format in sim/data/gpu-profiles/README.md / workloads.md §5).
import { readFileSync } from 'node:fs';
import { dataFile } from '../paths.js';

export interface PrefillPoint {
  promptLen: number;
  batch: number;
  /** Whole batch, milliseconds. */
  ms: number;
  tokensPerS: number;
}

export interface DecodePoint {
  batch: number;
  ctx: number;
  stepMs: number;
  /** Weights + KV read per step, GiB (as recorded). */
  bytesPerStepGiB: number;
}

export interface MeasuredProfile {
  source: string;
  /** Total device memory the driver reported, GiB. */
  deviceMemGiB: number;
  prefill: PrefillPoint[];
  decode: DecodePoint[];
  /** Points the profiler marked with `error` (e.g. out of memory); skipped by fits. */
  skipped: number;
}

type JsonRecord = Record<string, unknown>;

function num(rec: JsonRecord, key: string, where: string): number {
  const v = rec[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: field '${key}' must be a finite number, got ${JSON.stringify(v)}`);
  return v;
}

/** Parses profile text; `source` names the file in error messages. */
export function parseProfile(text: string, source: string): MeasuredProfile {
  const profile: MeasuredProfile = { source, deviceMemGiB: NaN, prefill: [], decode: [], skipped: 0 };
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${source}:${i + 1}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (e) {
      throw new Error(`${where}: not JSON (${(e as Error).message})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${where}: expected a JSON object`);
    const rec = parsed as JsonRecord;
    if (rec['error'] !== undefined) {
      profile.skipped++;
      return;
    }
    switch (rec['phase']) {
      case 'device':
        profile.deviceMemGiB = num(rec, 'mem_gib', where);
        break;
      case 'prefill':
        profile.prefill.push({
          promptLen: num(rec, 'prompt_len', where), batch: num(rec, 'batch', where),
          ms: num(rec, 'ms', where), tokensPerS: num(rec, 'tokens_per_s', where),
        });
        break;
      case 'decode':
        // Decode records without step_ms carry nothing to fit.
        if (rec['step_ms'] === undefined) return;
        profile.decode.push({
          batch: num(rec, 'batch', where), ctx: num(rec, 'ctx', where),
          stepMs: num(rec, 'step_ms', where), bytesPerStepGiB: num(rec, 'bytes_per_step_gib', where),
        });
        break;
      default:
        break; // ceiling, model, idle, done: descriptive only
    }
  });
  if (!Number.isFinite(profile.deviceMemGiB)) throw new Error(`${source}: no 'device' record with mem_gib`);
  if (profile.prefill.length < 2) throw new Error(`${source}: need at least 2 prefill records, found ${profile.prefill.length}`);
  if (profile.decode.length < 2) throw new Error(`${source}: need at least 2 decode records with step_ms, found ${profile.decode.length}`);
  return profile;
}

/** Reads a bundled profile, e.g. 'h100-llama3-8b-shape.jsonl'. */
export function loadProfile(fileName: string): MeasuredProfile {
  const path = dataFile('gpu-profiles', fileName);
  return parseProfile(readFileSync(path, 'utf8'), path);
}
