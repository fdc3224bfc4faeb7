// Calibration of the simulated fleet as a whole: decode utilization is flat (measured on H100/H200), and the pressure
// test shows the paper's bell-shaped throughput by P:D ratio.
import assert from 'node:assert/strict';
import { StaticPolicy } from '../../sim/policies/static.js';
import { dataFile } from '../../sim/paths.js';
import { heterogeneousPools, planScenario, simulationConfig, type ScenarioOptions } from '../../sim/scenario.js';
import { servicePreset } from '../../sim/service.js';
import { simulate } from '../../sim/simulate.js';
import { metricStudy } from '../../sim/studies/metrics.js';
import { pressureTest } from '../../sim/studies/pressure.js';
import { buildWorkload } from '../../sim/workload/build.js';
import { loadAzureTrace, synthesize } from '../../sim/workload/index.js';

const lengths = loadAzureTrace(dataFile('traces', 'azure-llm-2023-conv.csv'));
const svc = servicePreset('A');
const FLAT = { at: () => 1, periodS: 86_400 };

function steady(rps: number) {
  const requests = () => synthesize({ lengths, envelope: FLAT, peakRps: rps, durationS: 600, seed: 11, meanInput: svc.meanInput, meanOutput: svc.meanOutput });
  const o: ScenarioOptions = { service: svc, pools: heterogeneousPools().filter((p) => p.preference === 0), requests, startS: 0, durationS: 600, policies: [] };
  const plan = planScenario(o);
  return simulate(simulationConfig(o, plan), requests(), new StaticPolicy({ 'prefill-h100': 8, 'decode-h20': 4 }));
}

describe('simulator calibration: utilization and the P:D bell', function () {
  this.timeout(300_000);

  it('decode GPU utilization stays ~86 % from light to heavy load while decode TPS grows; prefill utilization tracks load', () => {
    const light = steady(5);
    const heavy = steady(60);
    const mid = (x: typeof light) => x.timeline.slice(1);
    const dLight = mid(light).map((p) => p.decodeUtil);
    const dHeavy = mid(heavy).map((p) => p.decodeUtil);
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(Math.abs(avg(dLight) - 0.865) < 0.03, `light ${avg(dLight)}`);
    assert.ok(Math.abs(avg(dHeavy) - 0.865) < 0.03, `heavy ${avg(dHeavy)}`);
    const tpsRatio = avg(mid(heavy).map((p) => p.decodeTps)) / avg(mid(light).map((p) => p.decodeTps));
    assert.ok(tpsRatio > 8, `decode TPS grew ${tpsRatio.toFixed(1)}×`);
    const pLight = avg(mid(light).map((p) => p.prefillUtil));
    const pHeavy = avg(mid(heavy).map((p) => p.prefillUtil));
    assert.ok(pHeavy > pLight + 0.3, `prefill util ${pLight.toFixed(2)} → ${pHeavy.toFixed(2)}`);
  });

  it('the pressure test is bell-shaped: the best split beats both extremes by ≥ 15 %, best at 10P:6D here', () => {
    const r = pressureTest({ service: svc, prefillGpu: 'H100', decodeGpu: 'H20', total: 16, lengths, prefillCounts: [4, 7, 10, 13], probeS: 180 });
    const tps = r.points.map((p) => p.decodeTps);
    assert.equal(r.best.prefill, 10);
    assert.ok(r.best.decodeTps >= 1.15 * tps[0]! && r.best.decodeTps >= 1.15 * tps[tps.length - 1]!, tps.join(', '));
    // Monotone up to the peak and down after it: a bell, not noise.
    assert.ok(tps[0]! < tps[1]! && tps[1]! < tps[2]! && tps[2]! > tps[3]!, tps.join(', '));
  });

  it('metric study: decode TPS tracks load both ways; decode GPU utilization as the signal over-provisions many times over', () => {
    const w = buildWorkload({ trace: dataFile('traces', 'azure-llm-2023-conv.csv'), diurnal: true, peakRps: 60, startHour: 10, hours: 4, timeScale: 1, rateScale: 1, seed: 7 }, svc);
    const pools = heterogeneousPools().filter((p) => p.preference === 0);
    const study = metricStudy({ service: svc, pools, requests: w.requests, startS: w.startS, durationS: w.durationS, policies: [], ratio: { prefill: 10, decode: 6 }, timelineStepS: 300 },
      ['decodeTps', 'decodeGpuUtil']);
    const [tps, util] = study;
    assert.ok(tps!.tracking > 0.7, `decode TPS tracking ${tps!.tracking}`);
    assert.ok(tps!.scaledIn, 'decode TPS follows the 12:30 dip down');
    assert.ok(tps!.result.sloAttainment.both > 0.98);
    assert.ok(util!.result.gpuHours > 5 * tps!.result.gpuHours, `${util!.result.gpuHours} vs ${tps!.result.gpuHours}`);
  });
});
