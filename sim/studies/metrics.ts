// The metric study (paper §4, Fig. 6): the same 8-hour replay scaled by each of the eight signals in turn. Shows which
// signals track load both ways (throughput), which ratchet up and never come down (decode utilization), and which are
// too coarse (latency).
import { SingleSignalPolicy } from '../policies/single-signal.js';
import { buildOracle, planScenario, simulationConfig, type ScenarioOptions } from '../scenario.js';
import { SIGNAL_NAMES, type SignalName } from '../signals.js';
import { simulate, type SimResult } from '../simulate.js';

export interface SignalOutcome {
  signal: SignalName;
  target: number;
  result: SimResult;
  /** Whether the fleet ever came down by ≥ 20 % from an earlier high (it follows load down, not only up). */
  scaledIn: boolean;
  /** Correlation of total replicas with the arrival rate over the run. */
  tracking: number;
}

/** Set points that a reasonable operator would pick for each signal. */
export function signalTargets(o: ScenarioOptions): Record<SignalName, number> {
  const plan = planScenario(o);
  const refP = o.pools.find((p) => p.role === 'prefill')!;
  const refD = o.pools.find((p) => p.role === 'decode')!;
  return {
    prefillTps: plan.capacity[refP.name]!.tps,
    decodeTps: plan.capacity[refD.name]!.tps,
    prefillGpuUtil: 0.7,
    decodeGpuUtil: 0.7,
    prefillSmActivity: 0.55,
    decodeSmActivity: 0.5,
    ttftP99: o.service.sloTtftS * 0.5,
    tbtP99: o.service.sloTbtS * 0.5,
  };
}

export function metricStudy(o: ScenarioOptions, signals: readonly SignalName[] = SIGNAL_NAMES, onProgress?: (signal: string, f: number) => void): SignalOutcome[] {
  const plan = planScenario(o);
  const base = simulationConfig(o, plan);
  const start = buildOracle(o, plan).initial(plan.simPools, o.startS);
  const refP = o.pools.find((p) => p.role === 'prefill')!;
  const refD = o.pools.find((p) => p.role === 'decode')!;
  const targets = signalTargets(o);
  return signals.map((signal) => {
    const policy = new SingleSignalPolicy({
      signal, target: targets[signal], ratio: plan.ratio, prefillPool: refP.name, decodePool: refD.name,
      initial: { prefill: start[refP.name] ?? 1, decode: start[refD.name] ?? 1 }, max: refD.maxInstances,
    });
    const cfg = { ...base };
    if (onProgress) cfg.onProgress = (f: number) => onProgress(signal, f);
    const result = simulate(cfg, o.requests(), policy);
    const total = result.timeline.map((p) => p.replicas.prefill + p.replicas.decode);
    let high = 0;
    let scaledIn = false;
    for (const n of total) {
      high = Math.max(high, n);
      if (n <= 0.8 * high) scaledIn = true;
    }
    return { signal, target: targets[signal], result, scaledIn, tracking: correlation(result.timeline.map((p) => p.arrivalsPerS), total) };
  });
}

export function correlation(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  if (n < 2) return 0;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let cov = 0;
  let va = 0;
  let vb = 0;
  for (let i = 0; i < n; i++) {
    cov += (a[i]! - ma) * (b[i]! - mb);
    va += (a[i]! - ma) ** 2;
    vb += (b[i]! - mb) ** 2;
  }
  return va > 0 && vb > 0 ? cov / Math.sqrt(va * vb) : 0;
}
