// The JSON Schema of the policy core's carried state (PolicyState) and of what a service's decisions leave behind
// (policy state + published replicas), for every place that reads them back from outside the process: the adapter's
// state file and the cluster-object store. Data only; validation (ajv) happens at those edges.
const finite = { type: 'number' } as const;
const nonNegative = { type: 'number', minimum: 0 } as const;

export const policyStateSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    lastScaleUpAt: finite,
    lastScaleDownAt: finite,
    decodeUnits: nonNegative,
    signalMissingAt: finite,
    idleSince: finite,
    recentNeeds: {
      type: 'array',
      maxItems: 100_000,
      items: { type: 'array', minItems: 2, maxItems: 2, items: [finite, nonNegative] },
    },
  },
} as const;

export const serviceMemorySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['policy', 'published', 'atMs'],
  properties: {
    policy: policyStateSchema,
    published: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 } },
    atMs: finite,
  },
} as const;
