// Workload input for the fleet simulator: trace loaders, replay, envelopes, synthesizer.
export type { SimRequest, Envelope, TraceFormat } from './types.js';
export { TraceFormatError } from './trace-error.js';
export { loadAzureTrace, parseAzureTrace, parseAzureTimestamp } from './azure.js';
export { loadMooncakeTrace, parseMooncakeTrace, MOONCAKE_BLOCK_TOKENS } from './mooncake.js';
export { detectFormat, loadTrace, TRACE_FORMATS } from './detect.js';
export { replay, type ReplayOptions } from './replay.js';
export {
  paperDayEnvelope,
  csvEnvelope,
  piecewiseLinearEnvelope,
  envelopeIntegral,
  PAPER_DAY_POINTS_H,
  type CsvEnvelopeOptions,
} from './envelope.js';
export { synthesize, type SynthesizeOptions } from './synthesize.js';
export { summarize, type WorkloadSummary, type LengthStats } from './summarize.js';
