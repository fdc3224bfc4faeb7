import assert from 'node:assert/strict';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { planPlacement, slotLabelKey, DEFAULT_TOPOLOGY_KEYS } from '../../../engine/placement/index.js';
import { deletionCosts, labelPatches, DRAIN_COST } from '../../../engine/sidecar/actuate.js';
import { parseDemand, parseEngineConfig } from '../../../engine/sidecar/config.js';
import { nodeInfo, podInfo, toSnapshot } from '../../../engine/sidecar/convert.js';
import { batonPod, node, pool, rack, service, snapshot } from '../placement-helpers.js';

const spec = () => service('chat', { affinity: 's1', pools: [pool('p', 'prefill', 'H100'), pool('d', 'decode', 'H100')] });
const P = slotLabelKey('chat', 'p');
const D = slotLabelKey('chat', 'd');

describe('engine sidecar: label and drain actuation', () => {
  it('labels the nodes the plan chose, and only those', () => {
    const snap = snapshot(rack('s', 'x', ['H100'], 4));
    const plan = planPlacement(snap, [spec()], [{ service: 'chat', units: { prefill: 1, decode: 2 } }]);
    const patches = labelPatches(snap, plan, [spec()]);
    assert.equal(patches.length, 3);
    const values = patches.flatMap((p) => Object.entries(p.labels));
    assert.deepEqual(values.map(([k]) => k).sort(), [D, D, P].sort());
    assert.ok(values.every(([, v]) => v === '1'));
  });

  it('never removes or lowers a label below the pods still on the node', () => {
    const nodes = rack('s', 'x', ['H100'], 4);
    nodes[0]!.labels[P] = '1';
    nodes[1]!.labels[D] = '1';
    nodes[2]!.labels[P] = '1'; // reserved, no pod: may go
    const snap = snapshot(nodes, [batonPod('ns/a', 'x-0', 'chat', 'p'), batonPod('ns/b', 'x-1', 'chat', 'd')]);
    const plan = planPlacement(snap, [spec()], [{ service: 'chat', units: { prefill: 0, decode: 0 } }]);
    const patches = labelPatches(snap, plan, [spec()]);
    assert.deepEqual(patches, [{ node: 'x-2', labels: { [P]: null } }]);
    const costs = deletionCosts(snap, plan, new Map());
    assert.deepEqual(costs.map((c) => [c.pod, c.cost]).sort(), [['ns/a', DRAIN_COST], ['ns/b', DRAIN_COST]]);
  });

  it('drains not-Ready pods first and clears a drain mark that is no longer needed', () => {
    const nodes = rack('s', 'x', ['H100'], 2, 16);
    nodes[0]!.labels[P] = '2';
    nodes[1]!.labels[D] = '1';
    const pods = [batonPod('ns/ready', 'x-0', 'chat', 'p'), batonPod('ns/cold', 'x-0', 'chat', 'p', 8, false), batonPod('ns/d', 'x-1', 'chat', 'd')];
    const plan = planPlacement(snapshot(nodes, pods), [spec()], [{ service: 'chat', units: { prefill: 1, decode: 1 } }]);
    assert.deepEqual(deletionCosts(snapshot(nodes, pods), plan, new Map([['ns/ready', DRAIN_COST]])), [{ pod: 'ns/cold', cost: DRAIN_COST }, { pod: 'ns/ready', cost: null }]);
  });

  it('leaves slot labels of services it does not know alone', () => {
    const nodes = [node('n', 'H100', 'x', 's', 8, { [slotLabelKey('other', 'p')]: '1' })];
    const plan = planPlacement(snapshot(nodes), [spec()], []);
    assert.deepEqual(labelPatches(snapshot(nodes), plan, [spec()]), []);
  });
});

describe('engine sidecar: Kubernetes objects → snapshot', () => {
  const keys = DEFAULT_TOPOLOGY_KEYS;
  it('reads allocatable GPUs, cordons, NotReady, pod GPUs and Baton pod labels', () => {
    const n: V1Node = { metadata: { name: 'n', labels: { 'baton.io/gpu-type': 'H100' } }, spec: { unschedulable: true }, status: { allocatable: { 'nvidia.com/gpu': '8' } } };
    assert.deepEqual(nodeInfo(n, keys), { name: 'n', labels: { 'baton.io/gpu-type': 'H100' }, allocatableGpus: 8, unschedulable: true });
    const notReady: V1Node = { metadata: { name: 'm' }, status: { conditions: [{ type: 'Ready', status: 'False' }] } };
    assert.equal(nodeInfo(notReady, keys).unschedulable, true);
    const pod: V1Pod = {
      metadata: { name: 'p', namespace: 'ns', labels: { 'baton.io/service': 'chat', 'baton.io/pool': 'd' } },
      spec: { nodeName: 'n', containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': '4' } } }] },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    };
    assert.deepEqual(podInfo(pod, keys), { name: 'ns/p', node: 'n', gpus: 4, service: 'chat', pool: 'd', ready: true });
    assert.equal(podInfo({ ...pod, status: { phase: 'Succeeded' } }, keys), undefined);
    assert.equal(toSnapshot([n], [{ ...pod, spec: { containers: [] } }], keys).pods.length, 0, 'unbound pods hold nothing');
  });
});

describe('engine sidecar: config and demand files', () => {
  const good = { namespace: 'baton', services: [{ service: 'chat', priority: 2, affinity: 's1', ratio: { prefill: 1, decode: 2 }, pools: [{ name: 'p', role: 'prefill', gpuType: 'H100', gpusPerReplica: 8 }, { name: 'd', role: 'decode', gpuType: 'H20' }] }] };
  it('parses a config with defaults', () => {
    const c = parseEngineConfig(good, 'engine.yaml');
    assert.equal(c.keys.s1, 'baton.io/s1');
    assert.deepEqual(c.services[0]!.pools.map((p) => [p.name, p.gpusPerReplica, p.preference]), [['p', 8, 0], ['d', 1, 1]]);
  });
  it('names the file and field that is wrong', () => {
    const bad = structuredClone(good);
    (bad.services[0]!.pools[1] as Record<string, unknown>).role = 'both';
    assert.throws(() => parseEngineConfig(bad, 'engine.yaml'), /engine\.yaml: services\[0\]\.pools\[1\]\.role: expected prefill or decode/);
    assert.throws(() => parseEngineConfig({ ...good, topologyKeys: { rack: 'x' } }, 'engine.yaml'), /topologyKeys\.rack is not one of/);
    assert.throws(() => parseEngineConfig({ services: [{ ...good.services[0], affinity: 's3' }] }, 'e.yaml'), /e\.yaml: .*affinity must be none, s2 or s1/);
    assert.throws(() => parseDemand({ services: { chat: { prefill: 'x', decode: 1 } } }, 'd.json'), /d\.json: services\.chat\.prefill: expected a number/);
    assert.deepEqual(parseDemand({ services: { chat: { prefill: 2, decode: 4 } } }), [{ service: 'chat', units: { prefill: 2, decode: 4 } }]);
  });
});
