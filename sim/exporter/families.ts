// The metric families a simulated pod exports, with the real engines' names, types, help texts and bucket bounds
// (vLLM v1 `vllm/v1/metrics/loggers.py`, SGLang `python/sglang/srt/metrics/collector.py`; see
// ../shared/reference/workloads.md §2), plus DCGM's GPU utilization gauge.
import type { BucketHistogram } from './histogram.js';
import type { RouterFlavour } from './router.js';
import type { HistogramBounds, PodMetrics } from './pod.js';

export const FLAVOURS = ['vllm', 'sglang', 'trtllm', 'dynamo', 'llm-d'] as const;
export type Flavour = (typeof FLAVOURS)[number];

export interface ScalarFamily {
  kind: 'counter' | 'gauge';
  name: string;
  help: string;
  /** Labels this family adds to every series, rendered (`finished_reason="stop"`). */
  labels?: string;
  /** Whether the value is a count of events (scaled with the counters when rates are made per simulated second). */
  countsEvents: boolean;
  value(p: PodMetrics): number;
}

export interface HistogramFamily {
  kind: 'histogram';
  name: string;
  help: string;
  pick(p: PodMetrics): BucketHistogram;
}

export type Family = ScalarFamily | HistogramFamily;

export interface FlavourSpec {
  flavour: Flavour;
  /** Stacks whose scaling signals come from a router in front of the pods (Dynamo, llm-d): it serves its own page. */
  router?: RouterFlavour;
  bounds: HistogramBounds;
  families: Family[];
  /** The engine's own labels for a pod of `role` (before discovery labels). */
  engineLabels(modelName: string, role: 'prefill' | 'decode'): Record<string, string>;
}

// vLLM v1 buckets.
const VLLM_TTFT = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];
const VLLM_ITL = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0];
const VLLM_E2E = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0];
// SGLang tokenizer-manager buckets.
const SGLANG_TTFT = [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400];
const SGLANG_ITL = [0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.06, 0.08, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8];
const SGLANG_E2E = [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400, 800];

/** DCGM exporter's GPU utilization (percent), one series per GPU of the pod. Rendered separately (per-GPU label). */
export const GPU_UTIL_METRIC = 'DCGM_FI_DEV_GPU_UTIL';
export const GPU_UTIL_HELP = 'GPU utilization (in %).';
/** DCGM profiling metric: share of time at least one warp was active on an SM, averaged over SMs (ratio). */
export const SM_ACTIVE_METRIC = 'DCGM_FI_PROF_SM_ACTIVE';
export const SM_ACTIVE_HELP = 'The ratio of cycles an SM has at least 1 warp assigned.';

const counter = (name: string, help: string, value: (p: PodMetrics) => number, labels?: string): ScalarFamily =>
  ({ kind: 'counter', name, help, value, countsEvents: true, ...(labels ? { labels } : {}) });
const gauge = (name: string, help: string, value: (p: PodMetrics) => number, labels?: string): ScalarFamily =>
  ({ kind: 'gauge', name, help, value, countsEvents: false, ...(labels ? { labels } : {}) });
const histogram = (name: string, help: string, pick: (p: PodMetrics) => BucketHistogram): HistogramFamily =>
  ({ kind: 'histogram', name, help, pick });

const VLLM: FlavourSpec = {
  flavour: 'vllm',
  bounds: { ttft: VLLM_TTFT, itl: VLLM_ITL, tpot: VLLM_ITL, e2e: VLLM_E2E },
  engineLabels: (modelName) => ({ model_name: modelName, engine: '0' }),
  families: [
    counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.', (p) => p.promptTokens()),
    counter('vllm:generation_tokens_total', 'Number of generation tokens processed.', (p) => p.generationTokens()),
    counter('vllm:num_preemptions_total', 'Cumulative number of preemption from the engine.', (p) => p.preemptions()),
    counter('vllm:request_success_total', 'Count of successfully processed requests.', (p) => p.requestsFinished, 'finished_reason="stop"'),
    gauge('vllm:num_requests_running', 'Number of requests in model execution batches.', (p) => p.running()),
    gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', (p) => p.waiting()),
    // The simulator's waiting requests wait for capacity (a free prefill slot, KV space); none is deferred.
    gauge('vllm:num_requests_waiting_by_reason', 'Number of requests waiting to be processed, by the reason they wait.', (p) => p.waiting(), 'reason="capacity"'),
    gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', (p) => p.kvUsage()),
    histogram('vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', (p) => p.ttft),
    histogram('vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', (p) => p.itl),
    histogram('vllm:request_time_per_output_token_seconds', 'Histogram of time_per_output_token_seconds per request.', (p) => p.tpot),
    histogram('vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', (p) => p.e2e),
  ],
};

const SGLANG: FlavourSpec = {
  flavour: 'sglang',
  bounds: { ttft: SGLANG_TTFT, itl: SGLANG_ITL, tpot: SGLANG_ITL, e2e: SGLANG_E2E },
  engineLabels: (modelName, role) => ({ model_name: modelName, engine_type: role, tp_rank: '0', pp_rank: '0' }),
  families: [
    counter('sglang:prompt_tokens_total', 'Number of prefill tokens processed.', (p) => p.promptTokens()),
    counter('sglang:generation_tokens_total', 'Number of generation tokens processed.', (p) => p.generationTokens()),
    counter('sglang:num_requests_total', 'Number of requests processed.', (p) => p.requestsFinished),
    counter('sglang:num_retracted_requests_total', 'Total number of retracted requests due to kvcache full.', (p) => p.preemptions()),
    gauge('sglang:num_running_reqs', 'The number of running requests.', (p) => p.running()),
    gauge('sglang:num_queue_reqs', 'The number of requests in the waiting queue.', (p) => p.waiting()),
    gauge('sglang:token_usage', 'The token usage.', (p) => p.kvUsage()),
    histogram('sglang:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', (p) => p.ttft),
    histogram('sglang:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', (p) => p.itl),
    histogram('sglang:e2e_request_latency_seconds', 'Histogram of End-to-end request latency in seconds', (p) => p.e2e),
  ],
};

// TensorRT-LLM's trtllm-serve (tensorrt_llm/metrics/collector.py): vLLM's bucket bounds, its own names and labels.
const TRTLLM: FlavourSpec = {
  flavour: 'trtllm',
  bounds: { ttft: VLLM_TTFT, itl: VLLM_ITL, tpot: VLLM_ITL, e2e: VLLM_E2E },
  engineLabels: (modelName) => ({ model_name: modelName, engine_type: 'trtllm' }),
  families: [
    counter('trtllm_prompt_tokens_total', 'Cumulative number of prompt (input) tokens processed.', (p) => p.promptTokens()),
    counter('trtllm_generation_tokens_total', 'Cumulative number of generation (output) tokens produced.', (p) => p.generationTokens()),
    counter('trtllm_request_success_total', 'Count of successfully processed requests.', (p) => p.requestsFinished, 'finished_reason="stop"'),
    gauge('trtllm_num_requests_running', 'Number of active requests', (p) => p.running()),
    gauge('trtllm_num_requests_waiting', 'Number of queued requests', (p) => p.waiting()),
    gauge('trtllm_kv_cache_utilization', 'KV cache utilization', (p) => p.kvUsage()),
    histogram('trtllm_time_to_first_token_seconds', 'Histogram of time to first token in seconds.', (p) => p.ttft),
    // Per request (mean gap), not per gap: what trtllm-serve's histogram holds.
    histogram('trtllm_time_per_output_token_seconds', 'Histogram of time per output token in seconds.', (p) => p.tpot),
    histogram('trtllm_e2e_request_latency_seconds', 'Histogram of end to end request latency in seconds.', (p) => p.e2e),
  ],
};

export function flavourSpec(flavour: Flavour): FlavourSpec {
  switch (flavour) {
    case 'vllm':
      return VLLM;
    case 'sglang':
      return SGLANG;
    case 'trtllm':
      return TRTLLM;
    // Dynamo's workers and llm-d's model servers are vLLM engines here (their pages pass vLLM's names through); the
    // scaling signals come from the router's own page.
    case 'dynamo':
      return { ...VLLM, flavour: 'dynamo', router: 'dynamo' };
    case 'llm-d':
      return { ...VLLM, flavour: 'llm-d', router: 'llm-d' };
    default:
      throw new Error(`unknown metrics flavour '${String(flavour)}'; known: ${FLAVOURS.join(', ')}`);
  }
}
