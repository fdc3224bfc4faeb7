// The component in front of the engine pods that some stacks scale on: NVIDIA Dynamo's HTTP frontend and llm-d's router
// (the endpoint picker). One per service; it sees every request (arrivals, queued before a first token, in flight,
// finished) and stays up when the pods are gone, which is what a wake signal needs. Names, types and labels as in
// rules/presets.ts and test/rules/upstream-samples/ (dynamo-frontend.prom, llm-d-epp.prom).
import { escapeLabelValue } from './render.js';
import { BucketHistogram, formatLe } from './histogram.js';

export const ROUTER_FLAVOURS = ['dynamo', 'llm-d'] as const;
export type RouterFlavour = (typeof ROUTER_FLAVOURS)[number];

// Dynamo frontend buckets (lib/llm/src/http/service/metrics.rs) and the EPP's (pkg/epp/metrics).
const DYNAMO_TTFT = [0, 0.0022, 0.0047, 0.01, 0.022, 0.047, 0.1, 0.22, 0.47, 1, 2.2, 4.7, 10, 22, 48, 100, 220, 480];
const DYNAMO_ITL = [0, 0.0019, 0.0035, 0.0067, 0.013, 0.024, 0.045, 0.084, 0.16, 0.3, 0.56, 1.1, 2];
const EPP_LATENCY = [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600];
const EPP_TPOT = [0.0005, 0.00205, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.125, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1, 1.5, 2, 3, 4.5, 6, 12, 18, 24, 30, 36, 48, 60, 90, 120, 180, 270, 360];
const EPP_OUTPUT_TOKENS = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192];

export class RouterMetrics {
  arrived = 0;
  firstTokens = 0;
  finished = 0;
  /** Generated tokens of pods that are gone (the live pods' counts are added at render time). */
  retiredTokens = 0;
  readonly ttft: BucketHistogram;
  readonly itl: BucketHistogram;
  /** Output tokens per finished request (llm-d counts tokens when a request finishes). */
  readonly outputTokens = new BucketHistogram(EPP_OUTPUT_TOKENS);

  constructor(readonly flavour: RouterFlavour) {
    this.ttft = new BucketHistogram(flavour === 'dynamo' ? DYNAMO_TTFT : EPP_LATENCY);
    this.itl = new BucketHistogram(flavour === 'dynamo' ? DYNAMO_ITL : EPP_TPOT);
  }

  requestDone(ttftS: number, tbtS: number, output: number): void {
    this.finished++;
    this.ttft.observe(ttftS);
    if (output > 1) this.itl.observe(tbtS, output - 1);
    this.outputTokens.observe(output);
  }

  /**
   * The router's page. `labels`: its own labels on every series (the model); `targetLabels`: what discovery attaches,
   * for the aggregated page; `liveTokens`: tokens the serving decode pods generated so far; counts are scaled by
   * `countScale` like the pods'.
   */
  render(o: { model: string; targetLabels?: string; liveTokens: number; countScale: number }): string {
    const s = o.countScale;
    const own = this.flavour === 'dynamo' ? `model="${escapeLabelValue(o.model)}"` : `model_name="${escapeLabelValue(o.model)}",target_model_name="${escapeLabelValue(o.model)}"`;
    const l = o.targetLabels ? `${own},${o.targetLabels}` : own;
    const queued = Math.max(0, this.arrived - this.firstTokens);
    const inflight = Math.max(0, this.arrived - this.finished);
    const out: string[] = [];
    const scalar = (kind: 'counter' | 'gauge', name: string, help: string, v: number, extra = '') =>
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${kind}`, `${name}{${l}${extra}} ${v}`);
    const histogram = (name: string, help: string, h: BucketHistogram) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
      let cum = 0;
      for (let b = 0; b < h.bounds.length; b++) {
        cum += h.counts[b]!;
        out.push(`${name}_bucket{${l},le="${formatLe(h.bounds[b]!)}"} ${cum * s}`);
      }
      out.push(`${name}_bucket{${l},le="+Inf"} ${h.count * s}`, `${name}_sum{${l}} ${h.sum * s}`, `${name}_count{${l}} ${h.count * s}`);
    };
    if (this.flavour === 'dynamo') {
      scalar('counter', 'dynamo_frontend_requests_total', 'Total number of LLM requests processed', this.arrived * s, ',endpoint="chat_completions",request_type="stream",status="success"');
      scalar('gauge', 'dynamo_frontend_queued_requests', 'Number of requests in HTTP processing queue', queued);
      scalar('gauge', 'dynamo_frontend_inflight_requests', 'Number of inflight requests', inflight);
      scalar('counter', 'dynamo_frontend_output_tokens_total', 'Total number of output tokens generated (updates in real-time)', Math.floor(this.retiredTokens + o.liveTokens) * s);
      histogram('dynamo_frontend_time_to_first_token_seconds', 'Time to first token in seconds', this.ttft);
      histogram('dynamo_frontend_inter_token_latency_seconds', 'Inter-token latency in seconds', this.itl);
    } else {
      scalar('counter', 'llm_d_epp_request_total', 'Counter of requests broken out for each model and target model.', this.arrived * s, ',priority="0"');
      scalar('gauge', 'llm_d_epp_flow_control_queue_size', 'Current number of requests in the flow control queues.', queued, ',fairness_id="default",priority="0"');
      histogram('llm_d_epp_request_output_tokens', 'Output token count distribution for requests in each model.', this.outputTokens);
      histogram('llm_d_epp_request_ttft_seconds', 'TTFT distribution in seconds for each model and target model.', this.ttft);
      histogram('llm_d_epp_request_streaming_itl_seconds', 'Streaming inter-token latency distribution in seconds for each model and target model.', this.itl);
    }
    return out.join('\n') + '\n';
  }
}
