// Exporter mode (`baton simulate --serve-metrics`): a simulated P/D fleet whose pods expose real engine metrics.
import { dataFile } from '../paths.js';
import {
  buildOracle, buildPolicy, heterogeneousPools, planScenario, POLICY_NAMES, simulationConfig,
  type PolicyName, type PoolPlan, type ScenarioOptions, type ScenarioPlan,
} from '../scenario.js';
import type { SimPolicy } from '../policy.js';
import { policyConfigOf, type ServiceRule } from '../../rules/types.js';
import { servicePreset, type ServicePreset } from '../service.js';
import { createSimulation } from '../simulate.js';
import { loadTrace, type TraceFormat } from '../workload/index.js';
import type { Flavour } from './families.js';
import { startExporter, type ExporterOptions, type RunningExporter } from './server.js';
import { steerableArrivals, type LengthSample, type SteerableArrivals } from './steerable.js';

export { FLAVOURS, flavourSpec, GPU_UTIL_METRIC, type Flavour, type FlavourSpec, type Family } from './families.js';
export { BucketHistogram, formatLe } from './histogram.js';
export { DEFAULT_MODEL_NAME, FleetMetrics, type FleetMetricsOptions, type LastControl } from './metrics.js';
export { PodMetrics } from './pod.js';
export { EXPOSITION_CONTENT_TYPE, renderExposition } from './render.js';
export { startExporter, type ExporterOptions, type RateControl, type RunningExporter } from './server.js';
export { SteerableArrivals, steerableArrivals, type LengthSample, type SteerableOptions } from './steerable.js';

/** The oracle (and the static policy's peak) is sized on this much of the initial load: live load has no foresight. */
const ORACLE_HORIZON_S = 600;

export interface ExporterScenarioOptions {
  /** Preset name (`A`, `B`) or a preset. Default A. */
  service?: string | ServicePreset;
  /** Default: the heterogeneous fleet (prefill H100, decode H20 + H200). */
  pools?: PoolPlan[];
  /**
   * Default `coordinated`. `oracle` needs foresight of the whole run and is refused. A SimPolicy runs as given, e.g.
   * `new StaticPolicy({ 'prefill-h100': 4, 'decode-h100': 3 })` for a fixed fleet whose load alone changes.
   */
  policy?: PolicyName | SimPolicy;
  /** Initial requests per simulated second. Default 10. */
  rps?: number;
  /** Request lengths to draw from; default the trace below. */
  mix?: readonly LengthSample[];
  /** Trace whose lengths make the mix. Default the bundled Azure conversation trace. */
  trace?: string;
  traceFormat?: TraceFormat;
  /** `service` (default): scale the mix to the preset's mean input/output; `trace`: keep its lengths. */
  lengths?: 'service' | 'trace';
  /** Simulated start time (seconds since midnight). Default 0. */
  startS?: number;
  /** Simulated run length; default endless. */
  durationS?: number;
  coldStartS?: number;
  tickS?: number;
  windowS?: number;
  seed?: number;
  ratio?: { prefill: number; decode: number };
  /** A rule's service: the plan takes its ratio, units per replica and policy configuration (as `simulate --rules`). */
  rule?: ServiceRule;
  // Exporter.
  host?: string;
  port?: number;
  speed?: number;
  flavour?: Flavour;
  namespace?: string;
  modelName?: string;
  labels?: Record<string, string>;
  poolLabel?: { name: string; values: Record<string, string> };
  /** The `service` label on every pod (default the service preset's name). */
  serviceLabel?: string;
  stepMs?: number;
  ratesPerSimSecond?: boolean;
}

export interface ExporterScenario extends RunningExporter {
  arrivals: SteerableArrivals;
  plan: ScenarioPlan;
  setRate(rps: number): void;
  setLoadFactor(x: number): void;
}

/** Plans a scenario like `baton simulate` does, runs its policy live and serves the fleet's metrics. */
export async function startExporterScenario(o: ExporterScenarioOptions = {}): Promise<ExporterScenario> {
  const svc = typeof o.service === 'object' ? o.service : servicePreset(o.service ?? 'A');
  const policyName = typeof o.policy === 'object' ? undefined : o.policy ?? 'coordinated';
  if (policyName !== undefined && !(POLICY_NAMES as readonly string[]).includes(policyName)) {
    throw new Error(`exporter mode: unknown policy '${policyName}'; known: ${POLICY_NAMES.filter((n) => n !== 'oracle').join(', ')}`);
  }
  if (policyName === 'oracle') throw new Error("exporter mode: policy 'oracle' needs foresight of the whole run; use coordinated, static, hpa-util or per-role-tps");
  const mix = o.mix ?? loadTrace(o.trace ?? dataFile('traces', 'azure-llm-2023-conv.csv'), o.traceFormat);
  const scaleToService = (o.lengths ?? 'service') === 'service';
  const arrivals = steerableArrivals({
    rps: o.rps ?? 10,
    mix,
    seed: o.seed ?? 1,
    ...(o.durationS !== undefined ? { durationS: o.durationS } : {}),
    ...(scaleToService ? { meanInput: svc.meanInput, meanOutput: svc.meanOutput } : {}),
  });
  const scenario: ScenarioOptions = {
    service: svc,
    pools: o.pools ?? heterogeneousPools(),
    // Planning (mix sample, oracle sizing) reads the initial rate; the live run follows the steered one.
    requests: () => arrivals.snapshot(Infinity),
    startS: o.startS ?? 0,
    durationS: o.durationS ?? Infinity,
    policies: policyName ? [policyName] : [],
  };
  for (const k of ['coldStartS', 'tickS', 'windowS', 'seed', 'ratio'] as const) if (o[k] !== undefined) (scenario as unknown as Record<string, unknown>)[k] = o[k];
  const measured = planScenario(scenario);
  const rule = o.rule;
  const plan: ScenarioPlan = rule
    ? { ...measured, ratio: { ...rule.ratio }, policyConfig: policyConfigOf(rule), simPools: measured.simPools.map((p) => ({ ...p, units: rule.pools.find((r) => r.name === p.name)?.unitsPerReplica ?? p.units })) }
    : measured;
  let policy: SimPolicy;
  if (typeof o.policy === 'object') policy = o.policy;
  else {
    const oracle = buildOracle({ ...scenario, durationS: Math.min(scenario.durationS, ORACLE_HORIZON_S) }, plan);
    policy = buildPolicy(policyName!, scenario, plan, oracle);
  }
  const cfg = simulationConfig(scenario, plan);

  const exporterOptions: ExporterOptions = {
    simulation: (observer) => createSimulation(cfg, arrivals, policy, observer),
    service: o.serviceLabel ?? svc.name,
    load: arrivals,
  };
  for (const k of ['host', 'port', 'speed', 'flavour', 'namespace', 'modelName', 'labels', 'poolLabel', 'stepMs', 'ratesPerSimSecond'] as const) {
    if (o[k] !== undefined) (exporterOptions as unknown as Record<string, unknown>)[k] = o[k];
  }
  const running = await startExporter(exporterOptions);
  return { ...running, arrivals, plan, setRate: running.setRate!, setLoadFactor: running.setLoadFactor! };
}

export interface ServeMetricsOptions extends ExporterScenarioOptions {
  /** Lines printed first (what is served, and how it was mapped). */
  banner?: string[];
  /** Where to write the banner (default console.log). */
  log?: (line: string) => void;
  /** Stops the server like SIGINT does (tests, embedding). */
  signal?: AbortSignal;
}

/** `baton simulate --serve-metrics`: starts the exporter, prints where to scrape, resolves after SIGINT/SIGTERM. */
export async function serveMetricsCommandAction(o: ServeMetricsOptions = {}): Promise<void> {
  const log = o.log ?? ((line: string) => console.log(line));
  const run = await startExporterScenario(o);
  const u = run.url;
  for (const line of o.banner ?? []) log(line);
  log(`baton simulate --serve-metrics: ${run.metrics.service}, policy ${run.simulation.policy.name}, ${run.arrivals.rps} req/s, ` +
    `speed ${o.speed ?? 1}×, ${run.metrics.flavour} metrics${o.ratesPerSimSecond ? ' (rates per simulated second)' : ''}`);
  log(`  all pods      ${u}/metrics`);
  log(`  discovery     ${u}/sd   (Prometheus http_sd_configs; per pod ${u}/pods/<pod>/metrics)`);
  log(`  state         ${u}/state`);
  log(`  change load   curl -X POST -d '{"rps": 20}' ${u}/load`);
  log('  scrape config:');
  log('    - job_name: baton-sim');
  log('      scrape_interval: 1s');
  log(`      http_sd_configs: [{ url: "${u}/sd", refresh_interval: 5s }]`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      o.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (o.signal?.aborted) stop();
    else o.signal?.addEventListener('abort', stop, { once: true });
  });
  await run.close();
  log('exporter stopped');
}
