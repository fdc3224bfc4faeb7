// Issue 2's acceptance on the diurnal day from the bundled Azure trace (service A, heterogeneous pools): every policy
// replays the same ~4.3 M requests through the same simulator; the coordinated policy runs through the real policy
// core and the stock-HPA model.
import assert from 'node:assert/strict';
import { runSpecParallel } from '../../sim/parallel.js';
import { dataFile } from '../../sim/paths.js';
import type { ScenarioResult } from '../../sim/scenario.js';
import type { ScenarioSpec } from '../../sim/spec.js';

export const ACCEPTANCE_SPEC: ScenarioSpec = {
  service: 'A',
  fleet: 'heterogeneous',
  workload: { trace: dataFile('traces', 'azure-llm-2023-conv.csv'), diurnal: true, peakRps: 100, startHour: 0, hours: 24, timeScale: 1, rateScale: 1, seed: 7 },
  policies: ['static', 'hpa-util', 'per-role-tps', 'coordinated', 'oracle'],
  // The pressure test's best split for this service and pool pair (test/sim/studies.test.ts checks it).
  ratio: { prefill: 10, decode: 6 },
  coldStartS: 120,
};

describe('simulator acceptance: a diurnal day, every policy side by side', function () {
  this.timeout(15 * 60_000);
  let r: ScenarioResult;

  before(async () => {
    r = await runSpecParallel(ACCEPTANCE_SPEC);
    for (const [name, x] of Object.entries(r.results)) {
      console.log(`      ${name.padEnd(13)} ${x.gpuHours.toFixed(1).padStart(8)} GPU-h  SLO both ${(x.sloAttainment.both * 100).toFixed(2)} %  (TTFT ${(x.sloAttainment.ttft * 100).toFixed(2)}, TBT ${(x.sloAttainment.tbt * 100).toFixed(2)})`);
    }
  });

  it('coordinated uses ≥ 41.3 % fewer GPU-hours than static peak', () => {
    const saving = 1 - r.results.coordinated!.gpuHours / r.results.static!.gpuHours;
    assert.ok(saving >= 0.413, `saving ${(saving * 100).toFixed(1)} %`);
  });

  it('coordinated uses ≤ 1.10 × the oracle lower bound', () => {
    const x = r.results.coordinated!.gpuHours / r.results.oracle!.gpuHours;
    assert.ok(x <= 1.1, `${x.toFixed(3)} × oracle`);
  });

  it('coordinated keeps ≥ 99 % of requests within both SLOs', () => {
    assert.ok(r.results.coordinated!.sloAttainment.both >= 0.99, String(r.results.coordinated!.sloAttainment.both));
  });

  it('HPA on decode GPU utilization never scales decode in (the paper\'s Fig. 6d failure)', () => {
    const decode = r.results['hpa-util']!.timeline.map((p) => p.replicas.decode);
    for (let i = 1; i < decode.length; i++) assert.ok(decode[i]! >= decode[i - 1]!, `decode went ${decode[i - 1]} → ${decode[i]} at point ${i}`);
    assert.ok(decode[decode.length - 1]! > decode[0]!, 'it scaled out and stayed out');
  });

  it('per-role uncoordinated TPS shows worse attainment or more GPU-hours than coordinated', () => {
    const c = r.results.coordinated!;
    const p = r.results['per-role-tps']!;
    assert.ok(p.sloAttainment.both < c.sloAttainment.both || p.gpuHours > c.gpuHours,
      `per-role ${p.gpuHours.toFixed(1)} GPU-h ${(p.sloAttainment.both * 100).toFixed(2)} % vs coordinated ${c.gpuHours.toFixed(1)} GPU-h ${(c.sloAttainment.both * 100).toFixed(2)} %`);
    assert.ok(p.ratioDrift > c.ratioDrift, 'and its P:D ratio drifts more');
  });
});
