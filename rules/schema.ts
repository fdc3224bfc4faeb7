// JSON Schema of a rule file (ajv, draft-07). Structural checks only; cross-references (unique names, ascending tiers,
// pools per role) live in validate.ts because JSON Schema cannot say them with good messages.

import { ENGINE_NAMES } from './presets.js';

const name = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$', maxLength: 253 };
const labelName = { type: 'string', pattern: '^([a-zA-Z0-9.-]+/)?[a-zA-Z_][a-zA-Z0-9_.-]*$' };
const labelMap = { type: 'object', propertyNames: labelName, additionalProperties: { type: 'string' } };
const positive = { type: 'number', exclusiveMinimum: 0 };
const nonNegative = { type: 'number', minimum: 0 };
const fraction = { type: 'number', minimum: 0, maximum: 1 };
const duration = { type: 'string', pattern: '^([0-9]+(ms|s|m|h|d|w|y))+$' };
const when = { type: 'object', minProperties: 1, maxProperties: 1 };
const query = {
  oneOf: [
    { type: 'string', minLength: 1 },
    {
      type: 'object',
      additionalProperties: false,
      required: ['promql'],
      properties: { promql: { type: 'string', minLength: 1 }, by: labelName },
    },
  ],
};

const pool = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'role', 'maxReplicas'],
  properties: {
    name,
    role: { enum: ['prefill', 'decode'] },
    gpuType: { type: 'string', minLength: 1 },
    unitsPerReplica: positive,
    preference: { type: 'integer' },
    minReplicas: { type: 'integer', minimum: 0 },
    maxReplicas: { type: 'integer', minimum: 1 },
    poolLabelValue: { type: 'string', minLength: 1 },
    labels: labelMap,
  },
};

const guard = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'slo', 'tiers'],
  properties: {
    name: { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' },
    promql: { type: 'string', minLength: 1 },
    slo: positive,
    tiers: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['above', 'scaleOut'],
        properties: { above: positive, scaleOut: positive },
      },
    },
    roles: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['prefill', 'decode'] } },
    when,
  },
};

const service = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'ratio', 'decodeTpsPerUnit', 'pools'],
  properties: {
    name,
    namespaces: { type: 'array', minItems: 1, uniqueItems: true, items: name },
    engine: { enum: [...ENGINE_NAMES] },
    match: labelMap,
    poolLabel: labelName,
    window: duration,
    ratio: {
      type: 'object',
      additionalProperties: false,
      required: ['prefill', 'decode'],
      properties: { prefill: { type: 'integer', minimum: 1 }, decode: { type: 'integer', minimum: 1 } },
    },
    decodeTpsPerUnit: positive,
    pools: { type: 'array', minItems: 2, items: pool },
    decodeTps: query,
    guards: { type: 'array', items: guard },
    stability: {
      type: 'object',
      additionalProperties: false,
      properties: {
        scaleUpCooldownS: nonNegative,
        scaleDownCooldownS: nonNegative,
        scaleInHysteresis: fraction,
        scaleInDamping: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        scaleInWindowS: nonNegative,
        guardCeiling: { type: 'number', minimum: 1 },
        signalRecoveryS: nonNegative,
      },
    },
    periodic: {
      type: 'object',
      additionalProperties: false,
      required: ['mode', 'entries'],
      properties: {
        mode: { enum: ['floor', 'only'] },
        utcOffsetS: { type: 'integer', minimum: -86400, maximum: 86400 },
        entries: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['from', 'prefill', 'decode'],
            properties: {
              from: { type: 'string', pattern: '^([01]?[0-9]|2[0-3]):[0-5][0-9]$' },
              prefill: nonNegative,
              decode: nonNegative,
            },
          },
        },
        when,
      },
    },
    replicas: query,
    wake: {
      type: 'object',
      additionalProperties: false,
      properties: {
        promql: { type: 'string', minLength: 1 },
        above: nonNegative,
        idleSeconds: positive,
      },
    },
    drain: {
      type: 'object',
      additionalProperties: false,
      properties: {
        promql: { type: 'string', minLength: 1 },
        by: labelName,
        indexLabel: labelName,
        maxWaitSeconds: nonNegative,
      },
    },
    metric: {
      type: 'object',
      additionalProperties: false,
      properties: {
        name: { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_:.-]*$' },
        labels: labelMap,
      },
    },
    maxStalenessSeconds: positive,
    queryIntervalSeconds: { type: 'number', minimum: 0.1 },
    utcOffsetSeconds: { type: 'integer', minimum: -86400, maximum: 86400 },
  },
};

const path = { type: 'string', minLength: 1 };
const headerName = { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" };
/** How Baton reaches Prometheus (beside the adapter's flags): tenancy headers, mutual TLS, deadline, secrets as files. */
const prometheus = {
  type: 'object',
  additionalProperties: false,
  properties: {
    headers: { type: 'object', propertyNames: headerName, additionalProperties: { type: 'string' } },
    headerFiles: { type: 'object', propertyNames: headerName, additionalProperties: path },
    bearerTokenFile: path,
    basicAuthFile: path,
    caFile: path,
    certFile: path,
    keyFile: path,
    timeout: duration,
  },
};

export const ruleFileSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  additionalProperties: false,
  required: ['services'],
  properties: {
    prometheus,
    services: { type: 'array', minItems: 1, items: service },
  },
} as const;
