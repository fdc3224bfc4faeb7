// Pools read through a scale subresource: the engine counts a pool's replicas from the pods the target's `/scale`
// selector selects (whatever their labels), finds a LeaderWorkerSet's workers through their leader's group, and refuses
// readings that would count strangers.
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { parseSelector } from '../../../adapter/selector.js';
import { IDENTITY_PRESETS } from '../../../engine/placement/identity.js';
import { DEFAULT_TOPOLOGY_KEYS } from '../../../engine/placement/types.js';
import { parseEngineConfig } from '../../../engine/sidecar/config.js';
import { attribution, podInfo, readyByPool, toSnapshot, withTargetGroups, type PodAttribution } from '../../../engine/sidecar/convert.js';
import { rolesPatch } from '../../../engine/sidecar/targets/disaggregatedset.js';
import { readingOf, splitApiVersion } from '../../../engine/sidecar/targets/scale.js';

const GROUP = 'leaderworkerset.sigs.k8s.io/group-key';
const SERVICES = [{
  service: 'chat', priority: 0, affinity: 'none' as const, ratio: { prefill: 1, decode: 1 },
  pools: [
    { name: 'p', role: 'prefill' as const, gpuType: 'H100', gpusPerReplica: 8, unitsPerReplica: 1, preference: 0, minReplicas: 0, maxReplicas: 10 },
    { name: 'd', role: 'decode' as const, gpuType: 'H200', gpusPerReplica: 8, unitsPerReplica: 1, preference: 0, minReplicas: 0, maxReplicas: 10 },
  ],
}];

function pod(name: string, labels: Record<string, string>, ready = true, namespace = 'llm', size?: number): V1Pod {
  return {
    metadata: { name, namespace, labels, ...(size ? { annotations: { 'leaderworkerset.sigs.k8s.io/size': String(size) } } : {}) },
    spec: { nodeName: `n-${name}`, containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': '8' } } }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

/** The pools' targets as `/scale` describes them: a StatefulSet for prefill, a LeaderWorkerSet (leaders only) for decode. */
function byTargets(): PodAttribution {
  return {
    ...attribution(IDENTITY_PRESETS.baton, SERVICES),
    targets: [
      { service: 'chat', pool: 'p', namespace: 'llm', matches: parseSelector('app=chat-prefill').matches },
      { service: 'chat', pool: 'd', namespace: 'llm', matches: parseSelector('leaderworkerset.sigs.k8s.io/name=chat-decode,leaderworkerset.sigs.k8s.io/worker-index=0').matches },
    ],
  };
}

const lws = (g: string, index: number, ready = true) =>
  pod(`chat-decode-${g}-${index}`, { 'leaderworkerset.sigs.k8s.io/name': 'chat-decode', 'leaderworkerset.sigs.k8s.io/worker-index': String(index), [GROUP]: g }, ready, 'llm', 2);

describe('engine targets: pools counted through /scale selectors', () => {
  it('a pod the selector selects is the pool\'s without any Baton label; the same labels in another namespace are not', () => {
    const pods = [pod('chat-prefill-0', { app: 'chat-prefill' }), pod('chat-prefill-1', { app: 'chat-prefill' }, false), pod('x-0', { app: 'chat-prefill' }, true, 'other')];
    const snap = toSnapshot([], pods, DEFAULT_TOPOLOGY_KEYS, byTargets());
    assert.deepEqual(snap.pods.map((p) => [p.name, p.service, p.pool]), [['llm/chat-prefill-0', 'chat', 'p'], ['llm/chat-prefill-1', 'chat', 'p'], ['other/x-0', undefined, undefined]]);
    assert.deepEqual(readyByPool(snap).get('chat'), { p: 1 });
  });

  it('a LeaderWorkerSet\'s workers follow their leader\'s group; a group with a NotReady worker is not ready', () => {
    const pods = [lws('g1', 0), lws('g1', 1), lws('g2', 0), lws('g2', 1, false), lws('g3', 0)];
    const snap = toSnapshot([], pods, DEFAULT_TOPOLOGY_KEYS, byTargets());
    assert.ok(snap.pods.every((p) => p.pool === 'd' && p.service === 'chat'), JSON.stringify(snap.pods));
    // g1 ready; g2 has a NotReady worker; g3 has only its leader of 2 pods.
    assert.deepEqual(readyByPool(snap).get('chat'), { d: 1 });
  });

  it('a pod re-read alone (a node recount) keeps its group\'s pool through the cycle\'s group map', () => {
    const pods = [lws('g1', 0), lws('g1', 1)];
    const by = withTargetGroups(byTargets(), pods);
    assert.equal(podInfo(lws('g1', 1), DEFAULT_TOPOLOGY_KEYS, by)?.pool, 'd');
    assert.equal(podInfo(lws('g1', 1), DEFAULT_TOPOLOGY_KEYS, byTargets())?.pool, undefined, 'without the map a worker alone names no pool');
  });

  it('a target\'s selector wins over the pod\'s own Baton labels', () => {
    const p = pod('chat-prefill-0', { app: 'chat-prefill', 'baton.io/service': 'chat', 'baton.io/pool': 'd', 'baton.io/role': 'decode' });
    assert.equal(podInfo(p, DEFAULT_TOPOLOGY_KEYS, byTargets())?.pool, 'p');
  });

  it('reads spec.replicas and status.selector from a Scale, and refuses an empty selector or a bad count', () => {
    const ref = { apiVersion: 'example.com/v1', kind: 'Server', name: 's', namespace: 'llm' };
    assert.deepEqual(readingOf({ spec: { replicas: 3 }, status: { replicas: 2, selector: 'app=s' } }, ref), { replicas: 3, selector: 'app=s' });
    assert.deepEqual(readingOf({ spec: {}, status: { selector: 'app=s' } }, ref), { replicas: 0, selector: 'app=s' });
    assert.throws(() => readingOf({ spec: { replicas: 1 }, status: { replicas: 1 } }, ref), /example\.com\/v1 Server llm\/s: \/scale status\.selector is empty .*labelSelectorPath/);
    assert.throws(() => readingOf({ spec: { replicas: -1 }, status: { selector: 'a=b' } }, ref), /spec\.replicas is -1/);
    assert.deepEqual(splitApiVersion('leaderworkerset.x-k8s.io/v1'), { group: 'leaderworkerset.x-k8s.io', version: 'v1' });
  });

  it('the engine config takes a pool target and names what is wrong with a bad one', () => {
    const cfg = (target: unknown) => ({ services: [{ ...SERVICES[0], pools: [{ ...SERVICES[0]!.pools[0], target }, SERVICES[0]!.pools[1]] }] });
    const ok = parseEngineConfig(cfg({ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'chat-prefill', namespace: 'llm' }), 'e.yaml');
    assert.deepEqual(ok.targets, [{ service: 'chat', pool: 'p', ref: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'chat-prefill', namespace: 'llm' } }]);
    assert.throws(() => parseEngineConfig(cfg({ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'x' }), 'e.yaml'), /e\.yaml: services\[0\]\.pools\[0\]\.target\.namespace: expected a non-empty string/);
    assert.throws(() => parseEngineConfig(cfg({ apiVersion: 'v1', kind: 'ReplicationController', name: 'x', namespace: 'llm' }), 'e.yaml'), /pools\[0\]\.target\.apiVersion: expected group\/version/);
    assert.throws(() => parseEngineConfig(cfg({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'x', namespace: 'llm', replicas: 2 }), 'e.yaml'), /pools\[0\]\.target\.replicas: unknown field/);
    assert.deepEqual(parseEngineConfig({ services: SERVICES }).targets, []);
  });
});

describe('engine targets: a DisaggregatedSet\'s roles scaled in one write', () => {
  const ds = (prefill?: number, decode?: number, extra?: number) => ({
    metadata: { resourceVersion: '42' },
    spec: { roles: [{ name: 'prefill', spec: prefill === undefined ? {} : { replicas: prefill } }, { name: 'decode', spec: { replicas: decode } }, ...(extra === undefined ? [] : [{ name: 'router', spec: { replicas: extra } }])] },
  });

  it('one JSON Patch moves every role, guarded by resourceVersion and each role\'s name at its index', () => {
    assert.deepEqual(rolesPatch(ds(1, 1), { prefill: 3, decode: 2 }, 'ds'), [
      { op: 'test', path: '/metadata/resourceVersion', value: '42' },
      { op: 'test', path: '/spec/roles/0/name', value: 'prefill' }, { op: 'add', path: '/spec/roles/0/spec/replicas', value: 3 },
      { op: 'test', path: '/spec/roles/1/name', value: 'decode' }, { op: 'add', path: '/spec/roles/1/spec/replicas', value: 2 },
    ]);
    assert.deepEqual(rolesPatch(ds(3, 2), { prefill: 3, decode: 2 }, 'ds'), [], 'nothing to write');
    assert.deepEqual(rolesPatch(ds(undefined, 0), { prefill: 0, decode: 0 }, 'ds'), [], 'an unset count is 0');
  });

  it('refuses a write the object would refuse (zero and non-zero roles mixed, counting roles Baton does not scale) and a missing role', () => {
    assert.throws(() => rolesPatch(ds(1, 1), { prefill: 0, decode: 2 }, 'llm/chat'), /llm\/chat: prefill=0, decode=2 would mix zero and non-zero roles.*holding/);
    assert.throws(() => rolesPatch(ds(1, 1, 2), { prefill: 0, decode: 0 }, 'ds'), /router=2 would mix/);
    assert.throws(() => rolesPatch(ds(1, 1), { prefil: 2 }, 'ds'), /no role "prefil" \(roles: prefill, decode\)/);
  });

  it('scaler: engine needs every pool to be a role of one DisaggregatedSet; a role is named only for that kind', () => {
    const target = (role: string, name = 'chat') => ({ apiVersion: 'disaggregatedset.x-k8s.io/v1', kind: 'DisaggregatedSet', name, namespace: 'llm', role });
    const cfg = (scaler: string, t0: unknown, t1: unknown) => ({ services: [{ ...SERVICES[0], scaler, pools: [{ ...SERVICES[0]!.pools[0], target: t0 }, { ...SERVICES[0]!.pools[1], target: t1 }] }] });
    const ok = parseEngineConfig(cfg('engine', target('prefill'), target('decode')), 'e.yaml');
    assert.deepEqual(ok.scalers, [{ service: 'chat', ref: { apiVersion: 'disaggregatedset.x-k8s.io/v1', kind: 'DisaggregatedSet', name: 'chat', namespace: 'llm' }, roles: { p: 'prefill', d: 'decode' } }]);
    assert.equal(ok.targets[0]!.ref.role, 'prefill');
    assert.deepEqual(parseEngineConfig(cfg('hpa', target('prefill'), target('decode'))).scalers, [], 'hpa (the default) leaves scaling to the HPAs');
    assert.throws(() => parseEngineConfig(cfg('engine', target('prefill'), target('decode', 'other')), 'e.yaml'), /pools\[1\]\.target: every pool must target the same DisaggregatedSet \(llm\/chat\)/);
    assert.throws(() => parseEngineConfig(cfg('engine', target('prefill'), target('prefill')), 'e.yaml'), /pools\[1\]\.target\.role: role "prefill" is already another pool's/);
    assert.throws(() => parseEngineConfig(cfg('engine', target('prefill'), { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'x', namespace: 'llm' }), 'e.yaml'), /pools\[1\]\.target: scaler: engine needs every pool to target a role of a DisaggregatedSet/);
    assert.throws(() => parseEngineConfig(cfg('engine', target('prefill'), { ...target('decode'), role: undefined }), 'e.yaml'), /pools\[1\]\.target\.role: expected a non-empty string/);
    assert.throws(() => parseEngineConfig(cfg('hpa', { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'x', namespace: 'llm', role: 'p' }, undefined), 'e.yaml'), /pools\[0\]\.target\.role: only a DisaggregatedSet target names a role/);
    assert.throws(() => parseEngineConfig(cfg('sometimes', target('prefill'), target('decode')), 'e.yaml'), /services\[0\]\.scaler: expected hpa .* or engine/);
  });
});
