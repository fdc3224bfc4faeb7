// From command-line choices to a replayable request stream: a trace replayed as is (scaled in time and rate), or a
// diurnal day whose request mix comes from the trace and whose rate follows an envelope.
import type { ServicePreset } from '../service.js';
import { loadTrace } from './detect.js';
import { csvEnvelope, paperDayEnvelope } from './envelope.js';
import { replay } from './replay.js';
import { synthesize } from './synthesize.js';
import type { SimRequest, TraceFormat } from './types.js';

export interface WorkloadChoice {
  trace: string;
  format?: TraceFormat;
  /** Diurnal synthesis instead of a plain replay. */
  diurnal: boolean;
  /**
   * Diurnal: request lengths rescaled to the service preset's means (`preset`, the default), or the trace's own
   * (`trace`). Either way the workload description says which, with both means.
   */
  lengths?: 'preset' | 'trace';
  /** CSV rate envelope (ServeGen format) instead of the paper's normalized day. */
  envelopeCsv?: string;
  /** Diurnal: arrival rate at the envelope's peak. */
  peakRps: number;
  /** Diurnal: where in the day the run starts (hours since midnight) and how long it lasts. */
  startHour: number;
  hours: number;
  /** Replay: stretch time and multiply the rate. */
  timeScale: number;
  rateScale: number;
  seed: number;
}

export interface Workload {
  /** A fresh identical stream on every call. */
  requests: () => Iterable<SimRequest>;
  startS: number;
  durationS: number;
  describe: string;
}

export function buildWorkload(c: WorkloadChoice, service: ServicePreset): Workload {
  const trace = loadTrace(c.trace, c.format);
  if (trace.length === 0) throw new Error(`trace ${c.trace} holds no requests`);
  if (c.diurnal) {
    const envelope = c.envelopeCsv ? csvEnvelope(c.envelopeCsv) : paperDayEnvelope();
    const startS = c.startHour * 3600;
    const durationS = c.hours * 3600;
    const own = `${Math.round(meanOf(trace, (r) => r.input))}/${Math.round(meanOf(trace, (r) => r.output))}`;
    const native = c.lengths === 'trace';
    const scale = native ? {} : { meanInput: service.meanInput, meanOutput: service.meanOutput };
    const mix = native
      ? `request mix from ${c.trace} at its own lengths (mean ${own} tokens in/out)`
      : `request mix from ${c.trace} rescaled to the ${service.name} preset's mean lengths ${service.meanInput}/${service.meanOutput} tokens (the trace's own: ${own}; --lengths trace keeps them)`;
    return {
      requests: () => synthesize({ lengths: trace, envelope, peakRps: c.peakRps, durationS, startS, seed: c.seed, ...scale }),
      startS,
      durationS,
      describe: `diurnal ${c.hours} h from ${String(c.startHour).padStart(2, '0')}:00, peak ${c.peakRps} req/s, ${c.envelopeCsv ? `envelope ${c.envelopeCsv}` : "the paper's day"}, ${mix}`,
    };
  }
  const last = trace[trace.length - 1]!.arrival;
  const durationS = Math.ceil(last * c.timeScale) + 60;
  return {
    requests: () => replay(trace, { timeScale: c.timeScale, rateScale: c.rateScale, seed: c.seed }),
    startS: 0,
    durationS,
    describe: `replay of ${c.trace} (${trace.length} requests, time ×${c.timeScale}, rate ×${c.rateScale})`,
  };
}

function meanOf(xs: readonly SimRequest[], pick: (r: SimRequest) => number): number {
  let sum = 0;
  for (const x of xs) sum += pick(x);
  return xs.length ? sum / xs.length : 0;
}
