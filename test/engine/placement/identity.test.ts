// Pod-label conventions: each stack's preset attributes its own pods (and only its P/D engines) to a service, role,
// pool and group; the engine config reads the mapping; bad mappings are refused with the field named.
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { IDENTITY_PRESETS, identityOf, resolveIdentity, type IdentityPreset } from '../../../engine/placement/identity.js';
import { DEFAULT_TOPOLOGY_KEYS } from '../../../engine/placement/types.js';
import { parseEngineConfig } from '../../../engine/sidecar/config.js';
import { attribution, podInfo, readyByPool, toSnapshot } from '../../../engine/sidecar/convert.js';

/** A P/D engine pod and a pod of the same stack that is not one (router, frontend, planner), labelled each stack's way. */
const STACKS: Record<IdentityPreset, { engine: Record<string, string>; expect: object; other: Record<string, string> }> = {
  baton: {
    engine: { 'baton.io/service': 'chat', 'baton.io/role': 'decode', 'baton.io/pool': 'h200' },
    expect: { service: 'chat', role: 'decode', pool: 'h200' },
    other: { 'baton.io/service': 'chat', 'baton.io/role': 'router' },
  },
  'llm-d': {
    engine: { 'llm-d.ai/model': 'qwen3-32b', 'llm-d.ai/role': 'prefill', 'llm-d.ai/inference-serving': 'true' },
    expect: { service: 'qwen3-32b', role: 'prefill' },
    other: { 'llm-d.ai/model': 'qwen3-32b', 'llm-d.ai/role': 'both' },
  },
  'lws-disaggregatedset': {
    engine: { 'disaggregatedset.x-k8s.io/name': 'chat', 'disaggregatedset.x-k8s.io/role': 'decode', 'leaderworkerset.sigs.k8s.io/group-key': 'a1b2', 'leaderworkerset.sigs.k8s.io/worker-index': '1' },
    expect: { service: 'chat', role: 'decode', group: 'a1b2' },
    other: { 'disaggregatedset.x-k8s.io/name': 'chat' },
  },
  dynamo: {
    engine: { 'nvidia.com/dynamo-graph-deployment-name': 'llama', 'nvidia.com/dynamo-sub-component-type': 'prefill', 'nvidia.com/dynamo-component': 'VllmPrefillWorker', 'nvidia.com/dynamo-component-type': 'worker' },
    expect: { service: 'llama', role: 'prefill', pool: 'VllmPrefillWorker' },
    other: { 'nvidia.com/dynamo-graph-deployment-name': 'llama', 'nvidia.com/dynamo-component': 'Frontend', 'nvidia.com/dynamo-component-type': 'frontend' },
  },
  rbg: {
    engine: { 'rolebasedgroup.workloads.x-k8s.io/name': 'ds', 'rolebasedgroup.workloads.x-k8s.io/role': 'decode', 'rolebasedgroup.workloads.x-k8s.io/group-unique-key': 'k7' },
    expect: { service: 'ds', role: 'decode', group: 'k7' },
    other: { 'rolebasedgroup.workloads.x-k8s.io/name': 'ds', 'rolebasedgroup.workloads.x-k8s.io/role': 'scheduler' },
  },
  'aibrix-stormservice': {
    engine: { 'storm-service-name': 'ss', 'role-name': 'prefill', 'roleset-name': 'ss-roleset-0' },
    expect: { service: 'ss', role: 'prefill', group: 'ss-roleset-0' },
    other: { 'storm-service-name': 'ss', 'role-name': 'routing' },
  },
  kthena: {
    engine: { 'modelserving.volcano.sh/name': 'ms', 'modelserving.volcano.sh/role': 'decode', 'modelserving.volcano.sh/group-name': 'ms-0' },
    expect: { service: 'ms', role: 'decode', group: 'ms-0' },
    other: { 'modelserving.volcano.sh/name': 'ms', 'modelserving.volcano.sh/role': 'leader' },
  },
};

describe('pod label presets', () => {
  for (const [name, c] of Object.entries(STACKS)) {
    it(`${name}: attributes its engine pods, not its other pods`, () => {
      const id = resolveIdentity(name, 'podLabels');
      assert.deepEqual(identityOf(c.engine, id), c.expect);
      assert.equal(identityOf(c.other, id), undefined);
      assert.ok(IDENTITY_PRESETS[name as IdentityPreset].source.length > 10, 'every preset says where its keys were found');
    });
  }

  it('a stack whose roles carry their own names maps them (Kthena roles named P-instance / D-instance)', () => {
    const id = resolveIdentity({ preset: 'kthena', roleValues: { prefill: ['P-instance'], decode: ['D-instance'] } }, 'podLabels');
    assert.equal(identityOf({ 'modelserving.volcano.sh/name': 'ms', 'modelserving.volcano.sh/role': 'P-instance' }, id)?.role, 'prefill');
    assert.equal(identityOf({ 'modelserving.volcano.sh/name': 'ms', 'modelserving.volcano.sh/role': 'prefill' }, id), undefined);
    assert.equal(id.group, 'modelserving.volcano.sh/group-name', 'keys not given stay the preset\'s');
  });

  it('only Baton\'s own convention lets a pod without a role label count by its pool', () => {
    assert.deepEqual(identityOf({ 'baton.io/service': 'chat', 'baton.io/pool': 'h200' }, IDENTITY_PRESETS.baton), { service: 'chat', pool: 'h200' });
    const custom = resolveIdentity({ service: 'app', role: 'tier', pool: 'pool' }, 'podLabels');
    assert.equal(identityOf({ app: 'chat', pool: 'h200' }, custom), undefined);
  });

  it('refuses an unknown preset, a bad key, an unknown field and a value meaning both roles, naming the field', () => {
    assert.throws(() => resolveIdentity('llmd', 'cfg: podLabels'), /cfg: podLabels: unknown label preset "llmd" \(expected one of baton, llm-d/);
    assert.throws(() => resolveIdentity({ role: 'has space' }, 'cfg: podLabels'), /cfg: podLabels\.role: "has space" is not a Kubernetes label key/);
    assert.throws(() => resolveIdentity({ roles: 'x' }, 'cfg: podLabels'), /cfg: podLabels\.roles: unknown field/);
    assert.throws(() => resolveIdentity({ roleValues: { prefill: ['p'], decode: ['p'] } }, 'cfg: podLabels'), /cfg: podLabels\.roleValues: "p" cannot mean both prefill and decode/);
    assert.throws(() => resolveIdentity({ roleValues: { prefill: [] } }, 'cfg: podLabels'), /podLabels\.roleValues\.prefill: expected a non-empty list/);
  });
});

describe('the engine reads pods through the configured labels', () => {
  const config = (podLabels?: unknown) => parseEngineConfig({
    services: [{
      service: 'qwen3-32b', ratio: { prefill: 1, decode: 1 },
      pools: [{ name: 'p-h100', role: 'prefill', gpuType: 'H100' }, { name: 'd-h200', role: 'decode', gpuType: 'H200' }, { name: 'd-h100', role: 'decode', gpuType: 'H100' }],
    }],
    ...(podLabels !== undefined ? { podLabels } : {}),
  }, 'engine.yaml');
  const pod = (labels: Record<string, string>): V1Pod => ({
    metadata: { name: 'p', namespace: 'ns', labels },
    spec: { nodeName: 'n1', containers: [] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  });

  it('defaults to Baton\'s labels; a preset names another convention', () => {
    assert.equal(config().podLabels, IDENTITY_PRESETS.baton);
    assert.equal(config('llm-d').podLabels.role, 'llm-d.ai/role');
    assert.throws(() => config('nope'), /engine\.yaml: podLabels: unknown label preset "nope"/);
  });

  it('a pod whose labels name no pool belongs to its service\'s only pool of its role, and to none when there are several', () => {
    const cfg = config('llm-d');
    const by = attribution(cfg.podLabels, cfg.services);
    const prefill = podInfo(pod({ 'llm-d.ai/model': 'qwen3-32b', 'llm-d.ai/role': 'prefill' }), DEFAULT_TOPOLOGY_KEYS, by);
    assert.deepEqual([prefill?.service, prefill?.pool, prefill?.ready], ['qwen3-32b', 'p-h100', true]);
    const decode = podInfo(pod({ 'llm-d.ai/model': 'qwen3-32b', 'llm-d.ai/role': 'decode' }), DEFAULT_TOPOLOGY_KEYS, by);
    assert.equal(decode?.pool, undefined, 'two decode pools: the pod cannot be placed in one by its labels alone');
    const router = podInfo(pod({ 'llm-d.ai/model': 'qwen3-32b', 'llm-d.ai/role': 'both' }), DEFAULT_TOPOLOGY_KEYS, by);
    assert.equal(router?.service, undefined);
    assert.equal(router?.gpus, 0, 'still counted on its node, as any pod is');
  });
});

describe('multi-node replicas: a LeaderWorkerSet group is ready only when every pod of it is', () => {
  const lwsPod = (name: string, pool: string, group: string | undefined, ready: boolean, size = 2): V1Pod => ({
    metadata: {
      name, namespace: 'ns',
      labels: { 'baton.io/service': 'chat', 'baton.io/role': pool.startsWith('p') ? 'prefill' : 'decode', 'baton.io/pool': pool, ...(group ? { 'leaderworkerset.sigs.k8s.io/group-key': group } : {}) },
      annotations: group ? { 'leaderworkerset.sigs.k8s.io/size': String(size) } : {},
    },
    spec: { nodeName: `node-${name}`, containers: [] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });

  it('counts groups, not pods: one NotReady worker, or a worker not created yet, keeps its group out', () => {
    const snap = toSnapshot([], [
      lwsPod('a-0', 'decode', 'ga', true), lwsPod('a-1', 'decode', 'ga', true), // ready group
      lwsPod('b-0', 'decode', 'gb', true), lwsPod('b-1', 'decode', 'gb', false), // one worker NotReady
      lwsPod('c-0', 'decode', 'gc', true), // leader only: the worker is not there yet
      lwsPod('p-0', 'prefill', undefined, true), lwsPod('p-1', 'prefill', undefined, false), // single-pod replicas
    ], DEFAULT_TOPOLOGY_KEYS);
    assert.deepEqual(readyByPool(snap).get('chat'), { decode: 1, prefill: 1 });
    assert.deepEqual(snap.pods.find((p) => p.name === 'ns/c-0')?.groupSize, 2);
  });
});
