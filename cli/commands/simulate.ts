// `baton simulate`: replay a trace (or a diurnal day drawn from it) through the fleet simulator under each policy,
// or with --serve-metrics run it live and expose each simulated pod's engine metrics for a real Prometheus.
import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { runSpecParallel } from '../../sim/parallel.js';
import { createProgress, formatTable, renderHtml, toJson, type ReportMeta } from '../../sim/report/index.js';
import { POLICY_NAMES, type PolicyName, type ScenarioResult } from '../../sim/scenario.js';
import { servicePreset, withSlo } from '../../sim/service.js';
import type { ScenarioSpec } from '../../sim/spec.js';
import { dataFile } from '../../sim/paths.js';
import { FLAVOURS, serveMetricsCommandAction, type Flavour } from '../../sim/exporter/index.js';
import { formatRuleSlo } from '../../rules/slo.js';
import type { FollowAdapterOptions } from '../../sim/exporter/follow-adapter.js';
import { ruleExporterPlan } from '../../sim/exporter/rule.js';
import { fleetPools } from '../../sim/spec.js';
import { buildWorkload } from '../../sim/workload/build.js';
import { loadRuleService, runRulesAndReport } from './simulate-rules.js';
import { integer, latency, listOf, nonNegativeNumber, oneOf, positiveNumber, ratio } from '../options.js';

export const DEFAULT_TRACE = dataFile('traces', 'azure-llm-2023-conv.csv');

export interface SimulateFlags {
  trace: string;
  format?: 'azure' | 'mooncake';
  diurnal?: boolean;
  lengths?: 'preset' | 'trace';
  envelope?: string;
  peakRps: number;
  hours: number;
  startHour: number;
  timeScale: number;
  rateScale: number;
  service: string;
  fleet: string;
  ratio?: { prefill: number; decode: number };
  policies: PolicyName[];
  coldStart: number;
  seed: number;
  json?: string;
  html?: string;
  serveMetrics?: boolean;
  port: number;
  speed: number;
  flavour: Flavour;
  rps: number;
  rules?: string;
  rulesService?: string;
  sloTtft?: number;
  sloTbt?: number;
  followAdapter?: string;
  adapterCaFile?: string;
  adapterCertFile?: string;
  adapterKeyFile?: string;
  adapterInsecure?: boolean;
}

/** Options of one mode only: given in another, they are refused, never ignored. */
const REPLAY_ONLY = ['diurnal', 'lengths', 'envelope', 'peakRps', 'hours', 'startHour', 'timeScale', 'rateScale', 'json', 'html', 'policies'] as const;
const SERVE_ONLY = ['port', 'speed', 'rps', 'flavour', 'followAdapter', 'adapterCaFile', 'adapterCertFile', 'adapterKeyFile', 'adapterInsecure'] as const;
const flagName = (k: string): string => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

function refuseGiven(self: Command, keys: readonly string[], why: string): void {
  for (const k of keys) if (self.getOptionValueSource(k) === 'cli') throw new Error(`${flagName(k)} ${why}`);
}

/** Workload and fleet options shared by `simulate` and `demo`. */
export function addScenarioOptions(cmd: Command): Command {
  return cmd
    .option('--trace <file>', 'request trace (Azure CSV or Mooncake JSONL)', DEFAULT_TRACE)
    .addOption(new Option('--format <format>', 'trace format (default: from the file)').choices(['azure', 'mooncake']))
    .option('--diurnal', "synthesize a day: request mix from the trace, rate from the paper's normalized day", false)
    .option('--envelope <csv>', 'rate envelope CSV (window_start_seconds,requests_per_second) instead of the paper day')
    .option('--peak-rps <n>', 'diurnal: requests/s at the envelope peak', positiveNumber('--peak-rps'), 200)
    .option('--hours <h>', 'diurnal: hours to simulate', positiveNumber('--hours'), 24)
    .option('--start-hour <h>', 'diurnal: hour of day the run starts', nonNegativeNumber('--start-hour'), 0)
    .addOption(new Option('--lengths <source>', "diurnal: request lengths rescaled to the service preset's means, or the trace's own").choices(['preset', 'trace']).default('preset'))
    .option('--time-scale <x>', 'replay: stretch time by x', positiveNumber('--time-scale'), 1)
    .option('--rate-scale <x>', 'replay: multiply the arrival rate by x', positiveNumber('--rate-scale'), 1)
    .option('--service <name>', 'service preset: A (3000/350 tokens, TTFT 1 s, TBT 40 ms) or B (7800/700, 1 s, 20 ms)', 'A')
    .option('--fleet <fleet>', "'heterogeneous' (prefill H100, decode H20 + H200) or 'homogeneous[:GPU]'", 'heterogeneous')
    .option('--ratio <P:D>', 'P:D ratio for the coordinated policy (default: from per-instance capacity)', ratio)
    .option('--cold-start <s>', 'seconds before a new instance serves', nonNegativeNumber('--cold-start'), 120)
    .option('--seed <n>', 'random seed', integer('--seed'), 7)
    .option('--slo-ttft <latency>', "TTFT SLO to judge attainment against (1.5, 1.5s, 800ms); default: the rule's ttft guard, else the service preset's", latency('--slo-ttft'))
    .option('--slo-tbt <latency>', "TBT SLO to judge attainment against (0.03, 30ms); default: the rule's tbt/itl guard, else the service preset's", latency('--slo-tbt'));
}

export function specFrom(f: SimulateFlags, policies: PolicyName[]): ScenarioSpec {
  const preset = servicePreset(f.service); // fail early with the list of presets
  const workload: ScenarioSpec['workload'] = {
    trace: f.trace,
    diurnal: f.diurnal === true,
    peakRps: f.peakRps,
    startHour: f.startHour,
    hours: f.hours,
    timeScale: f.timeScale,
    rateScale: f.rateScale,
    seed: f.seed,
  };
  if (f.format) workload.format = f.format;
  if (f.lengths === 'trace') {
    if (!f.diurnal) throw new Error('--lengths applies to --diurnal (a replay keeps the trace as it is)');
    workload.lengths = 'trace';
  }
  if (f.envelope) workload.envelopeCsv = f.envelope;
  const service = f.sloTtft !== undefined || f.sloTbt !== undefined
    ? withSlo(preset, { ttftS: f.sloTtft ?? preset.sloTtftS, tbtS: f.sloTbt ?? preset.sloTbtS })
    : f.service;
  const spec: ScenarioSpec = { service, fleet: f.fleet, workload, policies, coldStartS: f.coldStart };
  if (f.ratio) spec.ratio = f.ratio;
  return spec;
}

/** The report's workload line: what was replayed or synthesized, and how its lengths were treated. */
function workloadSource(spec: ScenarioSpec): string {
  return buildWorkload(spec.workload, servicePreset(spec.service)).describe;
}

export async function runAndReport(spec: ScenarioSpec, f: Pick<SimulateFlags, 'json' | 'html'>, source: string): Promise<ScenarioResult> {
  const progress = createProgress(spec.policies);
  let result: ScenarioResult;
  try {
    result = await runSpecParallel(spec, (p, x) => progress.update(p, x));
  } finally {
    progress.stop();
  }
  const svc = servicePreset(spec.service);
  const meta: ReportMeta = { service: svc, startS: spec.workload.diurnal ? spec.workload.startHour * 3600 : 0, durationS: spec.workload.diurnal ? spec.workload.hours * 3600 : Object.values(result.results)[0]?.timeline.at(-1)?.t ?? 1, source };
  console.log(formatTable(result, { meta }));
  if (f.json) {
    writeFileSync(f.json, JSON.stringify(toJson(result, meta), null, 2));
    console.log(`JSON written to ${f.json}`);
  }
  if (f.html) {
    writeFileSync(f.html, renderHtml(result, meta));
    console.log(`HTML report written to ${f.html}`);
  }
  return result;
}

export function simulateCommand(): Command {
  const cmd = new Command('simulate')
    .description('replay a trace or a diurnal day through the P/D fleet simulator under each policy, side by side')
    .option('--policies <list>', `comma-separated: ${POLICY_NAMES.join(', ')}`, listOf('--policies', POLICY_NAMES), [...POLICY_NAMES])
    .option('--json <file>', 'write the figures as JSON (policies.<name>.gpuHours, .sloAttainment, …)')
    .option('--html <file>', 'write a self-contained HTML report with charts')
    .option('--serve-metrics', 'run live instead: expose every simulated pod\'s /metrics (vLLM/SGLang names) for Prometheus', false)
    .option('--port <n>', 'serve-metrics: port on 127.0.0.1 (0 = free)', integer('--port'), 9400)
    .option('--speed <x>', 'serve-metrics: simulated seconds per wall second', positiveNumber('--speed'), 1)
    .option('--rps <n>', 'serve-metrics: initial requests/s (change it live with POST /load)', positiveNumber('--rps'), 10)
    .addOption(new Option('--flavour <engine>', 'serve-metrics: metric names (dynamo, llm-d: vLLM pods plus the router page their presets read)').choices([...FLAVOURS]).default('vllm'))
    .option('--rules <file|dir>', "replay a rule file's service as the coordinated policy (its ratio, target, guards, stability, pools by gpuType); with --serve-metrics, serve that service's metrics")
    .option('--rules-service <name>', '--rules: which service of the file (needed when it has several)')
    .option('--follow-adapter <url>', 'serve-metrics --rules: closed loop, the fleet follows what this running adapter publishes (https://127.0.0.1:6443)')
    .option('--adapter-ca-file <file>', "--follow-adapter: CA that signed the adapter's serving certificate")
    .option('--adapter-cert-file <file>', '--follow-adapter: client certificate (PEM)')
    .option('--adapter-key-file <file>', '--follow-adapter: client key (PEM)')
    .option('--adapter-insecure', "--follow-adapter: do not verify the adapter's certificate (a --self-signed development adapter)");
  addScenarioOptions(cmd);
  return cmd.action(async (f: SimulateFlags, self: Command) => {
    if (f.serveMetrics) {
      refuseGiven(self, REPLAY_ONLY.filter((k) => !(k === 'policies' && !f.rules)), 'does not apply to --serve-metrics (a live fleet at --rps, changed with POST /load)');
      if (f.rules) {
        refuseGiven(self, ['fleet', 'ratio'], "cannot be combined with --rules: the rule's pools and ratio are served");
        await serveRule(f, self.getOptionValueSource('flavour') === 'cli');
        return;
      }
      refuseGiven(self, ['followAdapter', 'adapterCaFile', 'adapterCertFile', 'adapterKeyFile', 'adapterInsecure'], "needs --rules: the adapter serves a rule's service, which the simulator then serves");
      const policy = f.policies.length === 1 ? f.policies[0]! : 'coordinated';
      await serveMetricsCommandAction({
        service: specFrom(f, []).service, pools: fleetPools(f.fleet), policy, rps: f.rps, port: f.port, speed: f.speed, flavour: f.flavour, trace: f.trace, coldStartS: f.coldStart, seed: f.seed,
        ...(f.ratio ? { ratio: f.ratio } : {}),
      });
      return;
    }
    refuseGiven(self, SERVE_ONLY, 'applies only with --serve-metrics');
    if (f.rules) {
      await simulateRules(f, self);
      return;
    }
    const spec = specFrom(f, f.policies);
    await runAndReport(spec, f, workloadSource(spec));
  });
}

/** `--serve-metrics --rules`: the user's own service, live, for a real Prometheus (and an adapter) to read. */
async function serveRule(f: SimulateFlags, flavourGiven: boolean): Promise<void> {
  const rule = await loadRuleService(f.rules!, f.rulesService);
  const follow: FollowAdapterOptions | undefined = f.followAdapter
    ? {
        url: f.followAdapter, log: (l) => console.error(l),
        ...(f.adapterCaFile ? { caFile: f.adapterCaFile } : {}), ...(f.adapterCertFile ? { certFile: f.adapterCertFile } : {}),
        ...(f.adapterKeyFile ? { keyFile: f.adapterKeyFile } : {}), ...(f.adapterInsecure ? { insecure: true } : {}),
      }
    : undefined;
  const plan = ruleExporterPlan(rule, {
    service: f.service,
    ...(flavourGiven || rule.engine === undefined ? { flavour: f.flavour } : {}),
    slo: { ...(f.sloTtft !== undefined ? { ttftS: f.sloTtft } : {}), ...(f.sloTbt !== undefined ? { tbtS: f.sloTbt } : {}) },
    ...(follow ? { follow } : {}),
  });
  await plan.follower?.start();
  try {
    await serveMetricsCommandAction({
      ...plan.options, rps: f.rps, port: f.port, speed: f.speed, trace: f.trace, coldStartS: f.coldStart, seed: f.seed,
      banner: [`rules: service "${rule.name}" from ${f.rules}`, formatRuleSlo(plan.slo), ...plan.notes],
    });
  } finally {
    plan.follower?.stop();
  }
}

/** `--rules`: the fleet and the ratio come from the rule, so --fleet and --ratio do not apply. */
async function simulateRules(f: SimulateFlags, self: Command): Promise<void> {
  refuseGiven(self, ['fleet', 'ratio'], "cannot be combined with --rules: the rule's pools and ratio are replayed");
  const spec = specFrom(f, f.policies);
  await runRulesAndReport(spec, f.rules!, f.rulesService, f, workloadSource(spec));
}
