// Engine presets: the common case is "engine + a service selector + pool names", not hand-written PromQL.
// Metric names from workloads.md §2 and ecosystem-2026.md (vLLM v1/v0, SGLang, TensorRT-LLM trtllm-serve, NVIDIA Dynamo's
// frontend, the llm-d router's endpoint picker); each is checked against an upstream exposition sample at a pinned
// version in test/rules/upstream-samples/.
import { DELETION_COST_LABEL } from '../engine/placement/identity.js';
import type { QuerySpec } from './types.js';

export const ENGINE_NAMES = ['vllm', 'vllm-v0', 'sglang', 'trtllm', 'dynamo', 'llm-d'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

interface EngineMetrics {
  /**
   * Where the series come from: the engine pods (one series per pod, told apart by the pool label), or a router or
   * frontend in front of them (Dynamo's frontend, llm-d's endpoint picker): one service-wide value, no pools, and a
   * wake signal that survives the pods (scale to zero).
   */
  source: 'engine' | 'router';
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
  /**
   * Older names the same component still emits beside the current ones (llm-d's EPP keeps its deprecated
   * `inference_objective_*` series): read only where the current name has no series (`current or older`), never summed
   * with it, which would count twice.
   */
  older?: Partial<Record<'generationTokens' | 'interToken' | 'timeToFirstToken', string>>;
  /** Router presets: demand seen without pods, for scale to zero: gauges (queued, in flight) and counters (arrivals). */
  wake?: { gauges: string[]; counters: string[] };
  /**
   * Requests waiting, for the `queue` guard: a backlog signal that stays right when the fleet saturates (served TPS
   * then stays flat). `selector` extra matchers narrow it (vLLM: waiting for KV capacity, not deferred); `fallback` is
   * read where the gauge has no series (vLLM before `_by_reason`).
   */
  waiting: { gauge: string; matchers?: string[]; fallback?: string };
  /** Requests running on one engine pod, for drain-aware scale-in (engine presets only: a router does not see pods). */
  running?: string;
}

export const ENGINE_METRICS: Readonly<Record<EngineName, EngineMetrics>> = {
  vllm: {
    source: 'engine',
    waiting: { gauge: 'vllm:num_requests_waiting_by_reason', matchers: ['reason="capacity"'], fallback: 'vllm:num_requests_waiting' },
    running: 'vllm:num_requests_running',
    generationTokens: 'vllm:generation_tokens_total',
    interToken: 'vllm:inter_token_latency_seconds',
    timeToFirstToken: 'vllm:time_to_first_token_seconds',
  },
  // v0 had no inter_token_latency histogram; its per-token latency was time_per_output_token_seconds.
  'vllm-v0': {
    source: 'engine',
    waiting: { gauge: 'vllm:num_requests_waiting' },
    running: 'vllm:num_requests_running',
    generationTokens: 'vllm:generation_tokens_total',
    interToken: 'vllm:time_per_output_token_seconds',
    timeToFirstToken: 'vllm:time_to_first_token_seconds',
  },
  sglang: {
    source: 'engine',
    waiting: { gauge: 'sglang:num_queue_reqs' },
    running: 'sglang:num_running_reqs',
    spellings: { prefix: 'sglang:', other: 'sglang_' },
    generationTokens: 'sglang:generation_tokens_total',
    interToken: 'sglang:inter_token_latency_seconds',
    timeToFirstToken: 'sglang:time_to_first_token_seconds',
  },
  trtllm: {
    source: 'engine',
    waiting: { gauge: 'trtllm_num_requests_waiting' },
    running: 'trtllm_num_requests_running',
    spellings: { prefix: 'trtllm_', other: 'trtllm:' },
    generationTokens: 'trtllm_generation_tokens_total',
    interToken: 'trtllm_time_per_output_token_seconds',
    timeToFirstToken: 'trtllm_time_to_first_token_seconds',
  },
  // NVIDIA Dynamo's HTTP frontend (ai-dynamo/dynamo lib/runtime/src/metrics/prometheus_names.rs, frontend_service):
  // one frontend per deployment, labelled with the `model`; it stays up when the workers are scaled to zero.
  dynamo: {
    source: 'router',
    waiting: { gauge: 'dynamo_frontend_queued_requests' },
    generationTokens: 'dynamo_frontend_output_tokens_total',
    interToken: 'dynamo_frontend_inter_token_latency_seconds',
    timeToFirstToken: 'dynamo_frontend_time_to_first_token_seconds',
    wake: { gauges: ['dynamo_frontend_queued_requests', 'dynamo_frontend_inflight_requests'], counters: ['dynamo_frontend_requests_total'] },
  },
  // llm-d's router, the endpoint picker (llm-d/llm-d-inference-scheduler pkg/epp/metrics): `llm_d_epp_*`, with the
  // Gateway API Inference Extension's older `inference_objective_*` names still emitted (deprecated) beside them.
  // Output tokens are a per-request histogram: its `_sum` counts tokens as requests finish. The older EPP had no
  // streaming inter-token histogram; its per-request TPOT stands in.
  'llm-d': {
    source: 'router',
    waiting: { gauge: 'llm_d_epp_flow_control_queue_size' },
    generationTokens: 'llm_d_epp_request_output_tokens_sum',
    interToken: 'llm_d_epp_request_streaming_itl_seconds',
    timeToFirstToken: 'llm_d_epp_request_ttft_seconds',
    older: {
      generationTokens: 'inference_objective_output_tokens_sum',
      interToken: 'inference_objective_request_tpot_seconds',
      timeToFirstToken: 'inference_objective_request_ttft_seconds',
    },
    wake: { gauges: ['llm_d_epp_flow_control_queue_size'], counters: ['llm_d_epp_request_total', 'inference_objective_request_total'] },
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
  if (m.source === 'router') return { promql: routerDecodeTps(ctx, m) };
  const tokens = series(ctx.engine, m.generationTokens, ctx.match, [decodePools(ctx)]);
  return {
    promql: `sum by (${ctx.poolLabel}) (rate(${tokens}[${ctx.window}]))` +
      ` unless on() (count(up${selector(ctx.match)} == 0 and on(instance) rate(${tokens}[${ctx.window}])) > 0)`,
    by: ctx.poolLabel,
  };
}

/**
 * A router's decode TPS: one service-wide value (the router does not know the rule's pools). While one of the service's
 * router targets fails its scrapes but its counter still has samples in the window, it answers nothing (hold), as the
 * engine presets do; `up` carries the target's labels, not the series' (`model`), so it is joined by instance only.
 */
function routerDecodeTps(ctx: PresetContext, m: EngineMetrics): string {
  const rate = (name: string) => `rate(${name}${selector(ctx.match)}[${ctx.window}])`;
  const current = `sum(${rate(m.generationTokens)})`;
  const value = m.older?.generationTokens ? `(${current} or sum(${rate(m.older.generationTokens)}))` : current;
  return `${value} unless on() (count(up == 0 and on(instance) ${rate(m.generationTokens)}) > 0)`;
}

/**
 * The wake signal a preset offers for scale to zero, or undefined: engine metrics vanish with the engine's pods, so only
 * presets whose series come from a router or frontend (which stays up at zero) have one. Requests queued or in flight
 * plus requests arriving per second; each part alone when the other has no series (a missing gauge must not hide
 * arrivals).
 */
export function presetWakePromql(ctx: PresetContext): string | undefined {
  const w = ENGINE_METRICS[ctx.engine].wake;
  if (!w) return undefined;
  // Gauges of different names sum in one selector (aggregation drops the names); counters are rated one name at a time,
  // the older name only where the current one has no series (rate() drops the name, and a current and an older series
  // with the same labels would collide).
  const queued = `sum(${w.gauges.length === 1 ? `${w.gauges[0]}${selector(ctx.match)}` : selector(ctx.match, [`__name__=~${promqlString(w.gauges.map(escapeRegex).join('|'))}`])})`;
  const rates = w.counters.map((c) => `sum(rate(${c}${selector(ctx.match)}[${ctx.window}]))`);
  const arriving = rates.length === 1 ? rates[0]! : `(${rates.join(' or ')})`;
  return `(${queued} + ${arriving}) or ${queued} or ${arriving}`;
}

const GUARD_NAME = /^(tbt|itl|ttft)_p(\d{2,3})$/;
export const QUEUE_GUARD = 'queue';

/**
 * Guard names a preset knows: tbt_pNN / itl_pNN (inter-token latency on decode pools), ttft_pNN, and `queue`
 * (requests waiting on the decode pools, or at the router; its SLO is a request count).
 */
export function isPresetGuardName(name: string): boolean {
  return GUARD_NAME.test(name) || name === QUEUE_GUARD;
}

/** Requests waiting: on the decode pools (engine presets; they queue when KV capacity runs out), or at the router. */
function queuePromql(ctx: PresetContext, m: EngineMetrics): string {
  const w = m.waiting;
  const pools = m.source === 'engine' ? [decodePools(ctx)] : [];
  const main = `sum(${series(ctx.engine, w.gauge, ctx.match, [...(w.matchers ?? []), ...pools])})`;
  return w.fallback ? `${main} or sum(${series(ctx.engine, w.fallback, ctx.match, pools)})` : main;
}

/** PromQL for a preset guard (a latency quantile in seconds), or undefined when the name is not a preset. */
export function presetGuardPromql(ctx: PresetContext, guardName: string): string | undefined {
  if (guardName === QUEUE_GUARD) return queuePromql(ctx, ENGINE_METRICS[ctx.engine]);
  const g = GUARD_NAME.exec(guardName);
  if (!g) return undefined;
  const digits = g[2]!;
  const q = Number(`0.${digits}`);
  const m = ENGINE_METRICS[ctx.engine];
  const isTtft = g[1] === 'ttft';
  const histogram = isTtft ? m.timeToFirstToken : m.interToken;
  if (m.source === 'router') {
    const rate = (name: string) => `sum by (le) (rate(${name}_bucket${selector(ctx.match)}[${ctx.window}]))`;
    const older = m.older?.[isTtft ? 'timeToFirstToken' : 'interToken'];
    return `histogram_quantile(${q}, ${older ? `${rate(histogram)} or ${rate(older)}` : rate(histogram)})`;
  }
  const buckets = series(ctx.engine, `${histogram}_bucket`, ctx.match, isTtft ? [] : [decodePools(ctx)]);
  return `histogram_quantile(${q}, sum by (le) (rate(${buckets}[${ctx.window}])))`;
}

/**
 * Requests running per pod for drain-aware scale-in, keyed by pool and replica index (the labels the PodMonitor gives
 * engine series), or undefined for router presets, which see no pods.
 */
export function presetDrainPromql(ctx: PresetContext, indexLabel: string): string | undefined {
  const running = ENGINE_METRICS[ctx.engine].running;
  if (!running) return undefined;
  return `sum by (${ctx.poolLabel}, pod, ${indexLabel}, ${DELETION_COST_LABEL}) (${series(ctx.engine, running, ctx.match)})`;
}
