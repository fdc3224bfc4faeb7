// The adapter's decision memory on disk (`--state-file`): the policy core's state and the published replicas per
// service, rewritten after decisions and read at start. Without it a restarted adapter forgets the level it held (and
// its cooldowns), believes each pool is at its minimum, and publishes the bare need: at a steady load that can lower
// replicas the hysteresis band was holding — a restart scaling capacity down. A missing, unreadable or old file just
// means starting fresh (with a warning); it never stops the adapter.
import { readFileSync } from 'node:fs';
import AjvModule, { type ErrorObject } from 'ajv';
import { serviceMemorySchema } from '../engine/core/state-schema.js';
import type { ServiceMemory } from '../rules/evaluator.js';
import { coalesced, writeAtomically } from './plan-bridge.js';

export const STATE_FILE_VERSION = 1;
/** Older memories describe a fleet the HPAs (or people) may have changed since: ignored. */
export const DEFAULT_STATE_MAX_AGE_S = 900;

export interface StateDocument {
  version: number;
  savedAt: string;
  services: Record<string, ServiceMemory>;
}

/** Memories from `file` no older than `maxAgeS`; problems are reported through `log` and yield {}. */
export function loadStateFile(file: string, nowMs: number, maxAgeS: number, log: (message: string) => void): Record<string, ServiceMemory> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') log(`state file ${file} unreadable, starting fresh: ${(e as Error).message}`);
    return {};
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    log(`state file ${file} is not JSON, starting fresh: ${(e as Error).message}`);
    return {};
  }
  const d = doc as Partial<StateDocument> | null;
  if (!d || typeof d !== 'object' || d.version !== STATE_FILE_VERSION || typeof d.services !== 'object' || d.services === null) {
    log(`state file ${file} is not a version ${STATE_FILE_VERSION} Baton state document, starting fresh`);
    return {};
  }
  const out: Record<string, ServiceMemory> = {};
  for (const [name, m] of Object.entries(d.services)) {
    const problem = memoryProblem(m);
    if (problem) {
      log(`state file ${file}: services.${name} ${problem}; that service starts fresh`);
      continue;
    }
    const ageS = (nowMs - m.atMs) / 1000;
    if (ageS > maxAgeS) {
      log(`state file ${file}: services.${name} is ${Math.round(ageS)} s old (more than ${maxAgeS} s); that service starts fresh`);
      continue;
    }
    out[name] = m;
  }
  return out;
}

// ajv's CJS default export under NodeNext.
const Ajv = AjvModule.default;
const validateMemory = new Ajv({ allErrors: false, strict: false }).compile(serviceMemorySchema);

/** Why a saved memory cannot be used (the first schema violation, as `path message`), or undefined. */
export function memoryProblem(m: unknown): string | undefined {
  if (validateMemory(m)) return undefined;
  return errorText(validateMemory.errors?.[0]);
}

function errorText(e: ErrorObject | null | undefined): string {
  if (!e) return 'does not match the state schema';
  const path = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : '';
  return `${path ? `has ${path} that ` : ''}${e.message ?? 'is invalid'}${extra}`;
}

/**
 * Rewrites the file with every memory after decisions, at most once per `throttleMs`: the evaluator lets one service
 * decide per event-loop turn, so a per-turn write would rewrite all services once per service (quadratic at thousands
 * of services). A crash loses at most that much memory; `flush()` on close loses none.
 */
export class StateFileWriter {
  writes = 0;
  /** Call after a decision. */
  readonly changed: () => void;

  constructor(private readonly file: string, private readonly snapshot: () => Record<string, ServiceMemory>, private readonly log: (message: string) => void, private readonly now: () => number = Date.now, throttleMs = 1000) {
    this.changed = coalesced(() => this.flush(), throttleMs);
  }

  flush(): void {
    const doc: StateDocument = { version: STATE_FILE_VERSION, savedAt: new Date(this.now()).toISOString(), services: this.snapshot() };
    try {
      writeAtomically(this.file, JSON.stringify(doc) + '\n');
      this.writes++;
    } catch (e) {
      this.log(`writing the state file ${this.file} failed: ${(e as Error).message}`);
    }
  }
}
