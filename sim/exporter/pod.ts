// One simulated pod as its engine would report itself: counters and gauges read straight from the simulated instance,
// latency histograms filled by the simulation's observer hooks, GPU utilization the way DCGM samples it.
import { DecodeInstance } from '../fleet/decode.js';
import type { Instance } from '../fleet/instance.js';
import { PrefillInstance } from '../fleet/prefill.js';
import { DECODE_SM_BASE, DECODE_SM_SPAN, DECODE_UTIL_BUSY, PREFILL_SM_BUSY, UTIL_IDLE } from '../signals.js';
import { BucketHistogram } from './histogram.js';

export interface HistogramBounds {
  ttft: readonly number[];
  itl: readonly number[];
  tpot: readonly number[];
  e2e: readonly number[];
}

/** DCGM averages utilization over its sampling period; we average busy time over at least this much simulated time. */
const UTIL_WINDOW_S = 1;

export class PodMetrics {
  readonly ttft: BucketHistogram;
  readonly itl: BucketHistogram;
  /** Per-request mean time per output token (vllm:request_time_per_output_token_seconds). */
  readonly tpot: BucketHistogram;
  readonly e2e: BucketHistogram;
  requestsFinished = 0;
  /** DCGM_FI_DEV_GPU_UTIL, percent. */
  gpuUtilPct = UTIL_IDLE * 100;
  /** DCGM_FI_PROF_SM_ACTIVE, ratio 0–1 (same model as the simulator's SM-activity signal). */
  smActive = 0;
  private utilMark: { t: number; busy: number } | undefined;

  constructor(
    readonly name: string,
    readonly instance: Instance,
    bounds: HistogramBounds,
    /** Rendered engine labels (`model_name="…",engine="0"`), what the pod's own /metrics carries. */
    readonly engineLabels: string,
    /** Rendered labels Prometheus would attach from discovery (`pod="…",service="…",…`), for the aggregated /metrics. */
    readonly targetLabels: string,
  ) {
    this.ttft = new BucketHistogram(bounds.ttft);
    this.itl = new BucketHistogram(bounds.itl);
    this.tpot = new BucketHistogram(bounds.tpot);
    this.e2e = new BucketHistogram(bounds.e2e);
  }

  get role(): 'prefill' | 'decode' {
    return this.instance.role;
  }

  promptTokens(): number {
    return this.instance instanceof PrefillInstance ? this.instance.tokens : 0;
  }

  /** Whole tokens: the simulator integrates decode progress continuously. */
  generationTokens(): number {
    return this.instance instanceof DecodeInstance ? Math.floor(this.instance.generatedTokens) : 0;
  }

  running(): number {
    const i = this.instance;
    if (i instanceof DecodeInstance) return i.running.size;
    // A prefill instance computes one prompt at a time (FIFO); the rest of its queue waits.
    return i instanceof PrefillInstance ? Math.min(1, i.queued) : 0;
  }

  waiting(): number {
    const i = this.instance;
    if (i instanceof DecodeInstance) return i.waitingCount;
    return i instanceof PrefillInstance ? Math.max(0, i.queued - 1) : 0;
  }

  kvUsage(): number {
    return this.instance instanceof DecodeInstance ? this.instance.kvUsage : 0;
  }

  preemptions(): number {
    return this.instance instanceof DecodeInstance ? this.instance.preemptions : 0;
  }

  /** Busy seconds actually executed by `now` (a prefill instance books a prompt's service time when it queues it). */
  private executedBusy(now: number): number {
    const i = this.instance;
    if (i instanceof PrefillInstance) return i.busyS - i.backlog(now);
    return i.busyS;
  }

  /** Updates the utilization gauge once at least UTIL_WINDOW_S of simulated time has passed since the last update. */
  sampleUtilization(now: number): void {
    const busy = this.executedBusy(now);
    if (!this.utilMark) {
      this.utilMark = { t: now, busy };
      return;
    }
    const dt = now - this.utilMark.t;
    if (dt < UTIL_WINDOW_S) return;
    const frac = Math.max(0, Math.min(1, (busy - this.utilMark.busy) / dt));
    // Decode reads ~86 % whenever a batch runs, whatever its size (measured); prefill is busy or idle.
    const busyUtil = this.role === 'decode' ? DECODE_UTIL_BUSY : 1;
    this.gpuUtilPct = (frac * busyUtil + (1 - frac) * UTIL_IDLE) * 100;
    this.smActive = this.role === 'decode' ? frac * (DECODE_SM_BASE + DECODE_SM_SPAN * this.kvUsage()) : frac * PREFILL_SM_BUSY;
    this.utilMark = { t: now, busy };
  }
}
