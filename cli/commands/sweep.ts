// `baton sweep`: the pressure test (throughput by P:D ratio, the paper's bell curve) and, with --metrics, the metric
// study (each of the eight signals as the scaling signal).
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { heterogeneousPools } from '../../sim/scenario.js';
import { formatRuleSlo, ruleSlo, type RuleSlo } from '../../rules/slo.js';
import { servicePreset, withSlo } from '../../sim/service.js';
import { ruleCapacity, type RuleCapacity } from '../../sim/studies/rule-capacity.js';
import { metricStudy } from '../../sim/studies/metrics.js';
import { pressureTest, type PressureResult } from '../../sim/studies/pressure.js';
import { buildWorkload } from '../../sim/workload/build.js';
import { loadTrace } from '../../sim/workload/index.js';
import { integer, latency, positiveNumber } from '../options.js';
import { loadRuleService } from './simulate-rules.js';
import { DEFAULT_TRACE } from './simulate.js';

interface SweepFlags {
  service: string;
  prefillGpu: string;
  decodeGpu: string;
  total: number;
  trace: string;
  json?: string;
  metrics?: boolean;
  peakRps: number;
  seed: number;
  rules?: string;
  rulesService?: string;
  sloTtft?: number;
  sloTbt?: number;
  ruleOut?: string;
}

export function bar(fraction: number, width = 40): string {
  const n = Math.max(0, Math.round(fraction * width));
  return '█'.repeat(n) + ' '.repeat(width - n);
}

function printPressure(result: PressureResult): void {
  const top = result.best.decodeTps;
  for (const p of result.points) {
    const mark = p === result.best ? '  ← best' : '';
    console.log(`  ${String(p.prefill).padStart(2)}P:${String(p.decode).padEnd(2)}D  ${bar(top > 0 ? p.decodeTps / top : 0)} ${p.maxRps.toFixed(1).padStart(6)} req/s  ${Math.round(p.decodeTps).toString().padStart(6)} decode tok/s${mark}`);
  }
}

/** The measured numbers as a rule fragment to paste into the service (YAML). */
export function ruleFragment(service: string, cap: RuleCapacity, slo: RuleSlo): string {
  return [
    `# baton sweep --rules: measured for service "${service}", prefill ${cap.prefillPool} (${cap.prefillGpu}), decode ${cap.decodePool} (${cap.decodeGpu}),`,
    `# at TTFT ≤ ${slo.ttft.seconds} s and TBT ≤ ${slo.tbt.seconds} s; best split ${cap.pressure.best.prefill}P:${cap.pressure.best.decode}D of ${cap.total} instances.`,
    `ratio: {prefill: ${cap.ratio.prefill}, decode: ${cap.ratio.decode}}`,
    `decodeTpsPerUnit: ${cap.decodeTpsPerUnit}`,
    '',
  ].join('\n');
}

export function sweepCommand(): Command {
  return new Command('sweep')
    .description('pressure test: max throughput within SLOs by P:D ratio for a service and pool pair (HeteroScale Algorithm 1)')
    .option('--service <name>', 'service preset (A or B)', 'A')
    .option('--prefill-gpu <type>', 'GPU of the prefill pool', 'H100')
    .option('--decode-gpu <type>', 'GPU of the decode pool', 'H20')
    .option('--total <n>', 'instances split between prefill and decode', integer('--total', 2), 16)
    .option('--trace <file>', 'trace whose request mix is replayed', DEFAULT_TRACE)
    .option('--metrics', 'also run the metric study: each of the eight signals as the scaling signal over 8 hours', false)
    .option('--peak-rps <n>', 'metric study: peak requests/s of the 8-hour replay', positiveNumber('--peak-rps'), 120)
    .option('--seed <n>', 'random seed', integer('--seed'), 7)
    .option('--json <file>', 'write the results as JSON')
    .option('--rules <file|dir>', "measure a rule's service: its reference pools' GPUs, judged against its own latency guards' SLOs")
    .option('--rules-service <name>', '--rules: which service of the file (needed when it has several)')
    .option('--slo-ttft <latency>', "TTFT SLO (1.5, 800ms); default: the rule's ttft guard, else the service preset's", latency('--slo-ttft'))
    .option('--slo-tbt <latency>', "TBT SLO (0.03, 30ms); default: the rule's tbt/itl guard, else the service preset's", latency('--slo-tbt'))
    .option('--rule-out <file>', '--rules: write the measured ratio and decodeTpsPerUnit as a rule fragment (YAML)')
    .action(async (f: SweepFlags, self: Command) => {
      const preset = servicePreset(f.service);
      const lengths = loadTrace(f.trace);
      const flags = { ...(f.sloTtft !== undefined ? { ttftS: f.sloTtft } : {}), ...(f.sloTbt !== undefined ? { tbtS: f.sloTbt } : {}) };
      if (f.ruleOut && !f.rules) throw new Error('--rule-out needs --rules: the fragment is written for a rule');
      if (f.rules) {
        for (const flag of ['prefillGpu', 'decodeGpu'] as const) {
          if (self.getOptionValueSource(flag) === 'cli') throw new Error(`--${flag === 'prefillGpu' ? 'prefill-gpu' : 'decode-gpu'} cannot be combined with --rules: the rule's pools name the GPUs`);
        }
        const rule = await loadRuleService(f.rules, f.rulesService);
        const slo = ruleSlo(rule, flags, { ttftS: preset.sloTtftS, tbtS: preset.sloTbtS, name: `service ${preset.name}` });
        const service = withSlo(preset, { ttftS: slo.ttft.seconds, tbtS: slo.tbt.seconds }, rule.name);
        const cap = ruleCapacity({ rule, service, lengths, total: f.total, seed: f.seed });
        console.log(`Pressure test: rule service "${rule.name}" from ${f.rules}, prefill ${cap.prefillPool} (${cap.prefillGpu}), decode ${cap.decodePool} (${cap.decodeGpu}), ${f.total} instances, ${service.meanInput}/${service.meanOutput} tokens`);
        console.log(`  ${formatRuleSlo(slo)}`);
        printPressure(cap.pressure);
        console.log(`The rule says P:D ${rule.ratio.prefill}:${rule.ratio.decode} and ${rule.decodeTpsPerUnit} tok/s per decode unit; measured at its SLO: ${cap.ratio.prefill}:${cap.ratio.decode} and ${cap.decodeTpsPerUnit} tok/s per unit.`);
        const out = { service: rule.name, rules: f.rules, prefillGpu: cap.prefillGpu, decodeGpu: cap.decodeGpu, total: f.total, slo: { ttftS: slo.ttft.seconds, ttftFrom: slo.ttft.from, tbtS: slo.tbt.seconds, tbtFrom: slo.tbt.from }, ratio: cap.ratio, decodeTpsPerUnit: cap.decodeTpsPerUnit, pressure: cap.pressure };
        if (f.ruleOut) {
          writeFileSync(f.ruleOut, ruleFragment(rule.name, cap, slo));
          console.log(`Rule fragment written to ${f.ruleOut}`);
        }
        if (f.json) {
          writeFileSync(f.json, JSON.stringify(out, null, 2));
          console.log(`JSON written to ${f.json}`);
        }
        return;
      }
      const service = Object.keys(flags).length ? withSlo(preset, { ttftS: flags.ttftS ?? preset.sloTtftS, tbtS: flags.tbtS ?? preset.sloTbtS }) : preset;
      console.log(`Pressure test: ${service.name} (${service.meanInput}/${service.meanOutput} tokens, TTFT ≤ ${service.sloTtftS} s, TBT ≤ ${service.sloTbtS * 1000} ms), prefill ${f.prefillGpu}, decode ${f.decodeGpu}, ${f.total} instances`);
      const result = pressureTest({ service, prefillGpu: f.prefillGpu, decodeGpu: f.decodeGpu, total: f.total, lengths, seed: f.seed });
      printPressure(result);
      console.log(`Best ratio ${result.best.prefill}:${result.best.decode}; throughput there is ${(result.peakOverExtremes * 100).toFixed(0)} % above the better extreme.`);
      console.log(`Use it: baton simulate --ratio ${result.best.prefill}:${result.best.decode} …  (decode target per instance ≈ ${Math.round(result.best.decodeTps / result.best.decode)} tok/s at the SLO edge)`);
      const out: Record<string, unknown> = { service: service.name, prefillGpu: f.prefillGpu, decodeGpu: f.decodeGpu, total: f.total, pressure: result };
      if (f.metrics) {
        const w = buildWorkload({ trace: f.trace, diurnal: true, peakRps: f.peakRps, startHour: 9, hours: 8, timeScale: 1, rateScale: 1, seed: f.seed }, service);
        const pools = heterogeneousPools().filter((p) => p.preference === 0);
        const ratio = { prefill: result.best.prefill, decode: result.best.decode };
        const study = metricStudy({ service, pools, requests: w.requests, startS: w.startS, durationS: w.durationS, policies: [], ratio, timelineStepS: 600 });
        console.log(`\nMetric study: 09:00–17:00 of the paper's day (peaks at 11:00 and 16:00, dip at 12:30) at peak ${f.peakRps} req/s, one signal sizing both roles at ${ratio.prefill}:${ratio.decode}`);
        console.log('  signal               target     GPU-hours  SLO both   tracks load  scales in');
        for (const s of study) {
          console.log(`  ${s.signal.padEnd(20)} ${s.target.toPrecision(3).padStart(8)}  ${s.result.gpuHours.toFixed(1).padStart(9)}  ${(s.result.sloAttainment.both * 100).toFixed(2).padStart(7)} %  ${s.tracking.toFixed(2).padStart(10)}  ${s.scaledIn ? 'yes' : 'NO'}`);
        }
        out.metricStudy = study.map((s) => ({ signal: s.signal, target: s.target, gpuHours: s.result.gpuHours, sloAttainment: s.result.sloAttainment, tracking: s.tracking, scaledIn: s.scaledIn }));
      }
      if (f.json) {
        writeFileSync(f.json, JSON.stringify(out, null, 2));
        console.log(`JSON written to ${f.json}`);
      }
    });
}
