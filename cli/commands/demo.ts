// `baton demo` (what `npm start` runs): HeteroScale's method end to end on the embedded default, no cluster needed.
// 1. pressure test → the P:D ratio; 2. a diurnal day from the bundled Azure trace on a heterogeneous fleet under every
// policy side by side; 3. the table and a self-contained HTML report.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { POLICY_NAMES } from '../../sim/scenario.js';
import { servicePreset } from '../../sim/service.js';
import { pressureTest } from '../../sim/studies/pressure.js';
import { loadTrace } from '../../sim/workload/index.js';
import { integer, positiveNumber } from '../options.js';
import { DEFAULT_TRACE, runAndReport, specFrom } from './simulate.js';

interface DemoFlags {
  peakRps: number;
  hours: number;
  html: string;
  json?: string;
  seed: number;
}

export function demoCommand(): Command {
  return new Command('demo')
    .description('the embedded default: pressure test, then a diurnal day on a heterogeneous fleet under every policy')
    .option('--peak-rps <n>', 'requests/s at the busiest time of day', positiveNumber('--peak-rps'), 100)
    .option('--hours <h>', 'hours of the day to simulate', positiveNumber('--hours'), 24)
    .option('--html <file>', 'where to write the HTML report', join(tmpdir(), 'baton-demo-report.html'))
    .option('--json <file>', 'also write the figures as JSON')
    .option('--seed <n>', 'random seed', integer('--seed'), 7)
    .action(async (f: DemoFlags) => {
      const started = Date.now();
      const service = servicePreset('A');
      console.log(`Baton demo: ${service.name} (prompt ~${service.meanInput} / output ~${service.meanOutput} tokens, TTFT ≤ ${service.sloTtftS} s, TBT ≤ ${service.sloTbtS * 1000} ms)`);
      console.log('Fleet: prefill on H100 (compute-rich), decode on H20 (bandwidth-rich) with H200 as fallback; GPU models calibrated to measured H100/H200 profiles.\n');
      console.log('1/2 Pressure test: 16 instances split P:D, highest request rate within the SLOs …');
      const pressure = pressureTest({ service, prefillGpu: 'H100', decodeGpu: 'H20', total: 16, lengths: loadTrace(DEFAULT_TRACE), seed: f.seed, prefillCounts: [6, 7, 8, 9, 10, 11, 12] });
      for (const p of pressure.points) console.log(`    ${p.prefill}P:${p.decode}D  ${p.maxRps.toFixed(1).padStart(6)} req/s${p === pressure.best ? '  ← best' : ''}`);
      const ratio = { prefill: pressure.best.prefill, decode: pressure.best.decode };
      console.log(`    → P:D = ${ratio.prefill}:${ratio.decode}\n`);
      console.log(`2/2 A day of traffic (the paper's diurnal shape, peak ${f.peakRps} req/s, request mix from the bundled Azure trace), every policy on the same requests …`);
      const spec = specFrom({
        trace: DEFAULT_TRACE, diurnal: true, peakRps: f.peakRps, hours: f.hours, startHour: 0, timeScale: 1, rateScale: 1,
        service: 'A', fleet: 'heterogeneous', ratio, policies: [...POLICY_NAMES], coldStart: 120, seed: f.seed,
        port: 0, speed: 1, flavour: 'vllm', rps: 10,
      }, [...POLICY_NAMES]);
      const result = await runAndReport(spec, { html: f.html, ...(f.json ? { json: f.json } : {}) }, 'diurnal day from the bundled Azure conversation trace');
      const c = result.results.coordinated;
      const s = result.results.static;
      const o = result.results.oracle;
      if (c && s && o) {
        console.log(`\nCoordinated scaling used ${((1 - c.gpuHours / s.gpuHours) * 100).toFixed(1)} % fewer GPU-hours than a static peak fleet, ` +
          `${(c.gpuHours / o.gpuHours).toFixed(2)}× the oracle's, with ${(c.sloAttainment.both * 100).toFixed(2)} % of requests within both SLOs.`);
      }
      console.log(`Open the report: ${f.html}   (done in ${((Date.now() - started) / 1000).toFixed(0)} s)`);
      console.log('Next: `baton simulate --help`, `baton sweep --metrics`, `baton simulate --serve-metrics` for a live Prometheus target.');
    });
}
