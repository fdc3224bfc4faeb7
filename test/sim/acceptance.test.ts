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

  it('HPA on decode GPU utilization never scales decode in to what the load needs (the paper\'s Fig. 6d failure)', () => {
    // Decode reads ~86 % whenever it runs a batch of any size, so the HPA (target 70 %) keeps adding decode pods until
    // enough of them sit idle to pull the average down: it settles far above the need and stays there at every hour.
    const util = r.results['hpa-util']!.timeline;
    const oracle = r.results.oracle!.timeline;
    const firstHour = 3600 + util[0]!.t;
    let checked = 0;
    for (let k = 0; k < util.length && k < oracle.length; k++) {
      if (util[k]!.t < firstHour) continue;
      const need = oracle[k]!.replicas.decode;
      assert.ok(util[k]!.replicas.decode >= 3 * need, `at t=${util[k]!.t}: ${util[k]!.replicas.decode} decode pods for a need of ${need}`);
      checked++;
    }
    assert.ok(checked > 200);
    assert.ok(r.results['hpa-util']!.gpuHours >= 5 * r.results.coordinated!.gpuHours);
  });

  it('per-role uncoordinated TPS shows worse attainment or more GPU-hours than coordinated', () => {
    const c = r.results.coordinated!;
    const p = r.results['per-role-tps']!;
    assert.ok(p.sloAttainment.both < c.sloAttainment.both || p.gpuHours > c.gpuHours,
      `per-role ${p.gpuHours.toFixed(1)} GPU-h ${(p.sloAttainment.both * 100).toFixed(2)} % vs coordinated ${c.gpuHours.toFixed(1)} GPU-h ${(c.sloAttainment.both * 100).toFixed(2)} %`);
    assert.ok(p.ratioDrift > c.ratioDrift, 'and its P:D ratio drifts more');
  });
});

describe('simulator acceptance: a small fleet (1–5 instances per role) does not flap', function () {
  this.timeout(10 * 60_000);
  let r: ScenarioResult;

  before(async () => {
    r = await runSpecParallel({
      ...ACCEPTANCE_SPEC,
      workload: { ...ACCEPTANCE_SPEC.workload, peakRps: 30 },
      policies: ['per-role-tps', 'coordinated', 'oracle'],
    });
    for (const [name, x] of Object.entries(r.results)) {
      console.log(`      ${name.padEnd(13)} ${x.gpuHours.toFixed(1).padStart(8)} GPU-h  SLO both ${(x.sloAttainment.both * 100).toFixed(2)} %  ${x.scaleEvents} scale events`);
    }
  });

  // At a few replicas the roles' rounding boundaries sit close together and a p99 over few requests is noisy. Before
  // the held level was kept unrounded (and scale-in landed with headroom) this day took 699 scale events, 1.26× the
  // oracle and 98.93 % SLO: scale-outs were undone before their pods were Ready.
  it('coordinated keeps ≥ 99.5 % SLO within 1.2× the oracle', () => {
    const c = r.results.coordinated!;
    assert.ok(c.sloAttainment.both >= 0.995, `SLO ${(c.sloAttainment.both * 100).toFixed(2)} %`);
    const x = c.gpuHours / r.results.oracle!.gpuHours;
    assert.ok(x <= 1.2, `${x.toFixed(3)} × oracle`);
  });

  it('coordinated scales at most ~12 times an hour (no flapping)', () => {
    const c = r.results.coordinated!;
    assert.ok(c.scaleEvents <= 300, `${c.scaleEvents} scale events in 24 h`);
  });
});
