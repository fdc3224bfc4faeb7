// Engine presets: the common case is "engine + a service selector + pool names", not hand-written PromQL.
// Metric names from workloads.md §2 (vLLM v1/v0, SGLang, TensorRT-LLM trtllm-serve).
import type { QuerySpec } from './types.js';

export type EngineName = 'vllm' | 'vllm-v0' | 'sglang' | 'trtllm';

interface EngineMetrics {
  /**
   * The engine's metric-name prefix and the other spelling the same metrics are seen under: SGLang's `sglang:` is stored
   * as `sglang_` by some stacks (underscore-escaping scrapes), TensorRT-LLM's `trtllm_` appears as `trtllm:` in others.
   * The preset's selectors match both (`{__name__=~"sglang[:_]…"}`); an engine without it matches its names exactly.
   */
  spellings?: { prefix: string; other: string };
  /** Counter of generated (decode) tokens: decode TPS = rate(). */
  generationTokens: string;
  /** Histogram (base name, `_bucket` is appended) of time between output tokens. */
  interToken: string;
  /** Histogram of time to first token. */
  timeToFirstToken: string;
}

export const ENGINE_METRICS: Readonly<Record<EngineName, EngineMetrics>> = {
  vllm: {
    generationTokens: 'vllm:generation_tokens_total',
    interToken: 'vllm:inter_token_latency_seconds',
    timeToFirstToken: 'vllm:time_to_first_token_seconds',
  },
  // v0 had no inter_token_latency histogram; its per-token latency was time_per_output_token_seconds.
  'vllm-v0': {
    generationTokens: 'vllm:generation_tokens_total',
    interToken: 'vllm:time_per_output_token_seconds',
    timeToFirstToken: 'vllm:time_to_first_token_seconds',
  },
  sglang: {
    spellings: { prefix: 'sglang:', other: 'sglang_' },
    generationTokens: 'sglang:generation_tokens_total',
    interToken: 'sglang:inter_token_latency_seconds',
    timeToFirstToken: 'sglang:time_to_first_token_seconds',
  },
  trtllm: {
    spellings: { prefix: 'trtllm_', other: 'trtllm:' },
    generationTokens: 'trtllm_generation_tokens_total',
    interToken: 'trtllm_time_per_output_token_seconds',
    timeToFirstToken: 'trtllm_time_to_first_token_seconds',
  },
};

export interface PresetContext {
  engine: EngineName;
  /** Label matchers selecting the service's series, e.g. {service: "chat"}. */
  match: Record<string, string>;
  /** Label that names the pool of a series. */
  poolLabel: string;
  /** Values of poolLabel for the decode pools. */
  decodePoolValues: string[];
  /** Range window, e.g. "1m". */
  window: string;
}

/** A PromQL double-quoted string literal. */
export function promqlString(s: string): string {
  return JSON.stringify(s);
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function selector(match: Record<string, string>, extra: string[] = []): string {
  const parts = Object.entries(match).map(([k, v]) => `${k}=${promqlString(v)}`);
  return `{${[...parts, ...extra].join(',')}}`;
}

/** `name{…}`, or for an engine seen under two spellings `{__name__=~"sglang[:_]name_rest",…}`. */
function series(engine: EngineName, name: string, match: Record<string, string>, extra: string[] = []): string {
  const sp = ENGINE_METRICS[engine].spellings;
  if (!sp || !name.startsWith(sp.prefix)) return `${name}${selector(match, extra)}`;
  const rest = name.slice(sp.prefix.length);
  const common = sp.prefix.slice(0, -1);
  const seps = [sp.prefix.at(-1)!, sp.other.at(-1)!].sort().join('');
  return selector({}, [`__name__=~${promqlString(`${escapeRegex(common)}[${seps}]${escapeRegex(rest)}`)}`, ...Object.entries(match).map(([k, v]) => `${k}=${promqlString(v)}`), ...extra]);
}

/** Every name an engine's metric is seen under (the preset's spelling first). */
export function metricSpellings(engine: EngineName, name: string): string[] {
  const sp = ENGINE_METRICS[engine].spellings;
  return sp && name.startsWith(sp.prefix) ? [name, sp.other + name.slice(sp.prefix.length)] : [name];
}

function decodePools(ctx: PresetContext): string {
  return `${ctx.poolLabel}=~${promqlString(ctx.decodePoolValues.map(escapeRegex).join('|'))}`;
}

/**
 * Decode TPS per decode pool, one query for the whole service. While a target of the service fails its scrapes but its
 * counter still has samples in the rate window, the query answers nothing: the dead target's tokens would otherwise
 * fade out of the sum and read as a load drop (a monitoring fault must not scale in), and an empty answer makes the
 * adapter hold its last good value. Pods still starting (no samples yet) do not hold it.
 */
export function presetDecodeTps(ctx: PresetContext): QuerySpec {
  const m = ENGINE_METRICS[ctx.engine];
  const tokens = series(ctx.engine, m.generationTokens, ctx.match, [decodePools(ctx)]);
  return {
    promql: `sum by (${ctx.poolLabel}) (rate(${tokens}[${ctx.window}]))` +
      ` unless on() (count(up${selector(ctx.match)} == 0 and on(instance) rate(${tokens}[${ctx.window}])) > 0)`,
    by: ctx.poolLabel,
  };
}

/**
 * The wake signal a preset offers for scale to zero, or undefined: engine metrics vanish with the engine's pods, so only
 * presets whose series come from a router or frontend (which stays up at zero) have one.
 */
export function presetWakePromql(_ctx: PresetContext): string | undefined {
  return undefined;
}

const GUARD_NAME = /^(tbt|itl|ttft)_p(\d{2,3})$/;

/** Guard names a preset knows: tbt_pNN / itl_pNN (inter-token latency on decode pools), ttft_pNN. */
export function isPresetGuardName(name: string): boolean {
  return GUARD_NAME.test(name);
}

/** PromQL for a preset guard (a latency quantile in seconds), or undefined when the name is not a preset. */
export function presetGuardPromql(ctx: PresetContext, guardName: string): string | undefined {
  const g = GUARD_NAME.exec(guardName);
  if (!g) return undefined;
  const digits = g[2]!;
  const q = Number(`0.${digits}`);
  const m = ENGINE_METRICS[ctx.engine];
  const isTtft = g[1] === 'ttft';
  const histogram = isTtft ? m.timeToFirstToken : m.interToken;
  const buckets = series(ctx.engine, `${histogram}_bucket`, ctx.match, isTtft ? [] : [decodePools(ctx)]);
  return `histogram_quantile(${q}, sum by (le) (rate(${buckets}[${ctx.window}])))`;
}
