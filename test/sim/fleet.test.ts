import assert from 'node:assert/strict';
import { DecodeInstance } from '../../sim/fleet/decode.js';
import { DEFAULT_NETWORK, Fleet } from '../../sim/fleet/fleet.js';
import { PrefillInstance } from '../../sim/fleet/prefill.js';
import type { FlightRequest } from '../../sim/fleet/request.js';
import { gpuModel, LLAMA3_8B, type GpuModel } from '../../sim/gpu/index.js';

/** A GPU whose decode step is a fixed 10 ms, so completion times are easy to state. */
function fixedStepGpu(kvCapacityTokens = 1_000_000): GpuModel {
  const base = gpuModel('H100');
  return { ...base, kvCapacityTokens, decodeStepSeconds: (b: number) => (b > 0 ? 0.01 : 0), prefillSeconds: (n: number) => n / 10_000 };
}

function req(id: number, input: number, output: number): FlightRequest {
  return { id, arrival: 0, input, output, prefillDone: 0, decodeArrival: 0, generated: 0, g0: 0, preemptions: 0, crossSwitch: false };
}

function runDecode(d: DecodeInstance, until: number): FlightRequest[] {
  const done: FlightRequest[] = [];
  let at = d.reschedule(0);
  while (at <= until) {
    d.settle(at, done);
    at = d.reschedule(at);
  }
  return done;
}

describe('simulator: decode instance (continuous batching)', () => {
  it('every running sequence gains one token per step; a request ends after output × step', () => {
    const d = new DecodeInstance(0, 'decode', 'decode', fixedStepGpu(), 1, 0, 0, 0);
    d.kvCap = 1_000_000;
    d.state = 'ready';
    d.accept(req(1, 100, 100));
    d.accept(req(2, 100, 50));
    d.settle(0, []);
    const done = runDecode(d, 10);
    assert.deepEqual(done.map((r) => r.id), [2, 1]);
    assert.ok(Math.abs(d.G - 100) < 1e-6);
    assert.ok(Math.abs(d.generatedTokens - 150) < 1e-6);
    assert.ok(Math.abs(d.busyS - 1.0) < 1e-9); // 100 steps of 10 ms
  });

  it('step time follows the calibrated model: more KV resident → slower steps', () => {
    const d = new DecodeInstance(0, 'decode', 'decode', gpuModel('H100'), 1, 0, 0, 0);
    d.kvCap = gpuModel('H100').kvCapacityTokens;
    d.accept(req(1, 1000, 10));
    d.settle(0, []);
    d.reschedule(0);
    const small = d.stepSeconds;
    for (let i = 2; i < 66; i++) d.accept(req(i, 4000, 10));
    d.settle(0, []);
    d.reschedule(0);
    assert.ok(d.stepSeconds > small * 1.5, `${d.stepSeconds} vs ${small}`);
  });

  it('a full KV cache queues new requests, and growth past capacity preempts the newest sequence', () => {
    const d = new DecodeInstance(0, 'decode', 'decode', fixedStepGpu(1000), 1, 0, 0, 0);
    d.kvCap = 1000;
    d.accept(req(1, 400, 300));
    d.accept(req(2, 400, 300));
    d.accept(req(3, 400, 10)); // does not fit at admission: waits
    d.settle(0, []);
    assert.equal(d.running.size, 2);
    assert.equal(d.waitingCount, 1);
    const done = runDecode(d, 100);
    assert.equal(done.length, 3, 'everything finishes eventually');
    assert.ok(d.preemptions >= 1, 'KV growth (800 → 1,000 tokens) preempted a sequence');
    assert.ok(done.some((r) => r.preemptions > 0));
    assert.ok(d.kvTokens < 1e-6);
  });
});

describe('simulator: prefill instance and fleet', () => {
  it('prefill is FIFO at the calibrated rate', () => {
    const p = new PrefillInstance(0, 'prefill', 'prefill', fixedStepGpu(), 1, 0, 0, 0);
    assert.equal(p.enqueue(req(1, 1000, 1), 0), 0.1);
    assert.equal(p.enqueue(req(2, 1000, 1), 0.05), 0.2);
    assert.ok(Math.abs(p.backlog(0.05) - 0.15) < 1e-12);
  });

  const pools = [
    { name: 'p', role: 'prefill' as const, gpuType: 'H100', gpusPerInstance: 1, maxInstances: 10, units: 1 },
    { name: 'd', role: 'decode' as const, gpuType: 'H200', gpusPerInstance: 1, maxInstances: 10, units: 1 },
  ];

  it('new instances cold-start; scale-in drops starting ones first, then drains busy ready ones', () => {
    const f = new Fleet({ pools, shape: LLAMA3_8B, coldStartS: 120, network: DEFAULT_NETWORK, random: Math.random });
    const first = f.scale('p', 2, 0, true);
    const created = f.scale('p', 4, 10, false);
    assert.equal(created.length, 2);
    assert.ok(created.every((i) => i.state === 'starting' && i.readyAt === 130));
    assert.deepEqual(f.counts('p'), { spec: 4, current: 4, ready: 2 });
    for (const i of first) (i as PrefillInstance).enqueue(req(i.id, 5000, 1), 10);
    f.scale('p', 1, 20, false);
    assert.ok(created.every((i) => i.state === 'gone' && i.goneAt === 20), 'never-ready instances go at once');
    assert.deepEqual(first.map((i) => i.state).sort(), ['draining', 'ready']);
    assert.equal(f.counts('p').current, 1);
    assert.equal(f.routePrefill(20), first.find((i) => i.state === 'ready'), 'a draining instance takes no new work');
  });

  it('KV transfer across switches is ~20 % slower', () => {
    const f = new Fleet({ pools, shape: LLAMA3_8B, coldStartS: 0, network: { ...DEFAULT_NETWORK, switches: 2, placement: 'affine' }, random: Math.random });
    f.scale('p', 2, 0, true);
    f.scale('d', 2, 0, true);
    const [p0] = f.poolInstances('p');
    const ds = f.poolInstances('d') as DecodeInstance[];
    const same = ds.find((d) => d.switchId === p0!.switchId)!;
    const other = ds.find((d) => d.switchId !== p0!.switchId)!;
    const r = req(1, 3000, 10);
    const tSame = f.transferSeconds(r, p0, same);
    const tCross = f.transferSeconds(r, p0, other);
    assert.ok(Math.abs(tCross / tSame - 1 / 0.8) < 1e-9);
    assert.ok(Math.abs(tSame - (3000 * LLAMA3_8B.kvBytesPerToken) / DEFAULT_NETWORK.sameSwitchBytesPerS) < 1e-12);
    assert.equal(f.routeDecode(p0), same, 'the router prefers the same switch when loads are equal');
  });

  it('counts GPU-hours from creation (cold start included) until gone', () => {
    const f = new Fleet({ pools, shape: LLAMA3_8B, coldStartS: 120, network: DEFAULT_NETWORK, random: Math.random });
    f.scale('d', 3, 0, false);
    f.scale('d', 1, 1800, false);
    const u = f.usage(3600);
    assert.ok(Math.abs(u['d']!.gpuHours - (1 + 0.5 + 0.5)) < 1e-9);
    assert.ok(Math.abs(u['d']!.cost - 2 * gpuModel('H200').pricePerHour) < 1e-9);
  });
});
