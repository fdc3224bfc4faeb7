// What the HA leader writes per service and every replica serves: one published decision (values per pool, the
// decision with its reasons and policy state) and the instant from which it is served. Sharded over ConfigMaps by a
// stable hash of the service name (one ConfigMap holds at most 1 MiB); read back through a JSON Schema, so a damaged
// object is reported and skipped, never served.
import AjvModule from 'ajv';
import { policyStateSchema } from '../../engine/core/state-schema.js';
import type { GoodValue } from '../../rules/evaluator.js';

export const RECORD_VERSION = 1;
/** Earlier decisions a record carries at most (decisions come an interval apart; the publish delay is about one). */
export const MAX_EARLIER = 4;

export interface DecisionRecord {
  v: number;
  /** The GoodValue as the leader decided it. */
  good: GoodValue;
  /** Every replica serves `good` from this instant (ms since the epoch), so they switch together. */
  effectiveAtMs: number;
  /** The leader that wrote it (for explain and logs). */
  leader: string;
  /**
   * The decisions before this one that were still to be served when it was written, oldest first: the one in force
   * then and any still waiting for their instant. A replica that starts while `good` waits serves what the others
   * serve, instead of nothing.
   */
  earlier?: { good: GoodValue; effectiveAtMs: number }[];
}

const goodSchema = {
  type: 'object',
  required: ['decision', 'atMs', 'values'],
  properties: {
    atMs: { type: 'number' },
    windowS: { type: 'number' },
    values: {
      type: 'array',
      items: {
        type: 'object',
        required: ['metric', 'labels', 'role', 'pool', 'value'],
        properties: {
          metric: { type: 'string' },
          labels: { type: 'object', additionalProperties: { type: 'string' } },
          role: { enum: ['prefill', 'decode'] },
          pool: { type: 'string' },
          value: { type: 'integer', minimum: 0 },
        },
      },
    },
    decision: { type: 'object', required: ['state', 'reasons'], properties: { state: policyStateSchema, reasons: { type: 'array' } } },
    extraReasons: { type: 'array' },
  },
} as const;

const recordSchema = {
  type: 'object',
  required: ['v', 'good', 'effectiveAtMs', 'leader'],
  properties: {
    v: { const: RECORD_VERSION },
    effectiveAtMs: { type: 'number' },
    leader: { type: 'string' },
    good: goodSchema,
    earlier: { type: 'array', maxItems: MAX_EARLIER, items: { type: 'object', required: ['good', 'effectiveAtMs'], properties: { good: goodSchema, effectiveAtMs: { type: 'number' } } } },
  },
} as const;

const Ajv = AjvModule.default;
const validate = new Ajv({ allErrors: false, strict: false }).compile(recordSchema);

/** The record in `text`, or why it is unusable. */
export function parseRecord(text: string): { record?: DecisionRecord; error?: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return { error: `not JSON: ${(e as Error).message}` };
  }
  if (!validate(doc)) {
    const e = validate.errors?.[0];
    return { error: `${e?.instancePath || '(root)'} ${e?.message ?? 'is invalid'}` };
  }
  return { record: doc as unknown as DecisionRecord };
}

/** Records parsed per event-loop turn when a store reads many changed ones (a leader's round of thousands). */
export const PARSE_SLICE = 50;

/** FNV-1a of the name, modulo the shard count: stable across processes and restarts. */
export function shardOf(service: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < service.length; i++) {
    h ^= service.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % shards;
}
