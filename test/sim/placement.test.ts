// `network.placement: 'engine'`: the fleet asks engine/placement (the sidecar engine's own code) where new instances go.
// Pods of a group share a switch; an S1-affine service sends fewer KV transfers across switches than random placement.
import assert from 'node:assert/strict';
import { planPlacement } from '../../engine/placement/place.js';
import { DecodeInstance } from '../../sim/fleet/decode.js';
import { DEFAULT_NETWORK, Fleet, type NetworkConfig, type SimPool } from '../../sim/fleet/fleet.js';
import { EnginePlacement, simulatedNodes } from '../../sim/fleet/placement.js';
import { dataFile } from '../../sim/paths.js';
import { heterogeneousPools, runScenario } from '../../sim/scenario.js';
import { SERVICE_PRESETS } from '../../sim/service.js';
import { LLAMA3_8B } from '../../sim/gpu/index.js';
import { loadAzureTrace, paperDayEnvelope, synthesize } from '../../sim/workload/index.js';

const POOLS: SimPool[] = [
  { name: 'prefill-h100', role: 'prefill', gpuType: 'H100', gpusPerInstance: 1, maxInstances: 64, units: 1 },
  { name: 'decode-h20', role: 'decode', gpuType: 'H20', gpusPerInstance: 1, maxInstances: 64, units: 1 },
];

function fleet(placement: NetworkConfig['placement'], seed = 1): Fleet {
  let s = seed;
  const random = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  return new Fleet({ pools: POOLS, shape: LLAMA3_8B, coldStartS: 0, network: { ...DEFAULT_NETWORK, switches: 4, placement }, random });
}

describe('sim/fleet/placement (engine placement in the simulator)', () => {
  it('sizes the simulated cluster from the pools: 8-GPU nodes per type, every switch offering every type, two S2s', () => {
    const nodes = simulatedNodes(POOLS, { switches: 4 });
    assert.equal(nodes.length, 16); // 64 one-GPU instances per pool / 8 per node, two pools
    assert.ok(nodes.every((n) => n.allocatableGpus === 8));
    for (const t of ['H100', 'H20']) {
      const s1s = new Set(nodes.filter((n) => n.labels['baton.io/gpu-type'] === t).map((n) => n.labels['baton.io/s1']));
      assert.equal(s1s.size, 4, `${t} on every switch`);
    }
    assert.deepEqual([...new Set(nodes.map((n) => `${n.labels['baton.io/s1']}<${n.labels['baton.io/s2']}`))].sort(), ['s1-0<s2-0', 's1-1<s2-0', 's1-2<s2-1', 's1-3<s2-1']);
    // The engine's topology accepts it.
    assert.doesNotThrow(() => planPlacement({ nodes, pods: [] }, [], []));
  });

  it('with engine placement, the pods of a group share a switch, and groups keep both roles', () => {
    const f = fleet('engine');
    const steps: [number, number][] = [[4, 6], [10, 14], [20, 24], [12, 12], [28, 30]];
    for (const [p, d] of steps) {
      f.scale('prefill-h100', p, 0, true);
      f.scale('decode-h20', d, 0, true);
    }
    const placement = f.placement!;
    assert.ok(placement instanceof EnginePlacement);
    const live = f.pools.flatMap((p) => f.poolInstances(p.name)).filter((i) => i.state !== 'gone');
    const nodes = new Map(placement.nodes.map((n) => [n.name, n]));
    let bound = 0;
    for (const i of live) {
      const node = placement.nodeOf(i);
      if (!node) continue;
      bound++;
      // The instance's switch is its node's S1: where the engine put it.
      assert.equal(`s1-${i.switchId}`, nodes.get(node)!.labels['baton.io/s1']);
    }
    assert.ok(bound >= live.length - placement.fallbacks && placement.planned > 0);
    assert.equal(placement.fallbacks, 0, 'every new instance had a slot in the plan');
    // Every switch that holds one role of the service holds the other: groups are S1 domains with P and D.
    const roles = new Map<number, Set<string>>();
    for (const i of live.filter((x) => x.state === 'ready')) (roles.get(i.switchId) ?? roles.set(i.switchId, new Set()).get(i.switchId)!).add(i.role);
    for (const [sw, rs] of roles) assert.deepEqual([...rs].sort(), ['decode', 'prefill'], `switch ${sw}`);
    // Affinity packs: the engine fills a domain before opening the next (16 GPUs of each type per switch here), where
    // 'affine' spreads every role over all 4 switches.
    assert.equal(roles.size, 2, `groups on ${roles.size} switches`);
  });

  it('an S1-affine service sends fewer KV transfers across switches with engine placement than with random', () => {
    // Small fleets at zero load: routing prefers the prefill's switch, so a transfer crosses switches exactly when the
    // prefill's switch holds no decode instance (random placement leaves such switches, engine groups never do).
    const share = (placement: NetworkConfig['placement']): number => {
      let cross = 0;
      let all = 0;
      for (let seed = 1; seed <= 20; seed++) {
        const f = fleet(placement, seed * 7919);
        f.scale('prefill-h100', 3, 0, true);
        f.scale('decode-h20', 3, 0, true);
        const req = { id: 0, arrival: 0, input: 1000, output: 100, prefillDone: 0, decodeArrival: 0, generated: 0, g0: 0, preemptions: 0, crossSwitch: false };
        for (let k = 0; k < 30; k++) {
          const p = f.routePrefill(0)!;
          const d = f.routeDecode(p)!;
          assert.ok(d instanceof DecodeInstance);
          f.transferSeconds(req, p, d);
        }
        cross += f.crossSwitchTransfers;
        all += f.transfers;
      }
      return cross / all;
    };
    const engine = share('engine');
    const random = share('random');
    assert.ok(engine < random, `engine ${engine} vs random ${random}`);
    assert.equal(engine, 0);
  });

  it('in a full simulation run, engine placement keeps the cross-switch share below random', function () {
    this.timeout(120_000);
    const svc = SERVICE_PRESETS.A!;
    const lengths = loadAzureTrace(dataFile('traces', 'azure-llm-2023-conv.csv'));
    const startS = 7.5 * 3600;
    const durationS = 20 * 60;
    const requests = () => synthesize({ lengths, envelope: paperDayEnvelope(), peakRps: 40, durationS, startS, seed: 7, meanInput: svc.meanInput, meanOutput: svc.meanOutput });
    const run = (placement: NetworkConfig['placement']) =>
      runScenario({ service: svc, pools: heterogeneousPools(), requests, startS, durationS, policies: ['coordinated'], network: { ...DEFAULT_NETWORK, placement } }).results.coordinated!;
    const engine = run('engine');
    const random = run('random');
    assert.ok(engine.completed > 0 && random.completed > 0);
    assert.ok(engine.crossSwitchShare < random.crossSwitchShare, `engine ${engine.crossSwitchShare} vs random ${random.crossSwitchShare}`);
  });
});
