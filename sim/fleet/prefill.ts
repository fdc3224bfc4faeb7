// Prefill is compute-bound: one prompt at a time at the GPU's calibrated rate, first come first served. Batching
// prompts would not raise a compute-bound GPU's token rate, so a FIFO single server is the faithful model.
import { Instance } from './instance.js';
import type { FlightRequest } from './request.js';

export class PrefillInstance extends Instance {
  /** When the last queued prompt finishes. */
  busyUntil = 0;
  queued = 0;
  tokens = 0;

  get inFlight(): number {
    return this.queued;
  }

  /** Outstanding work in seconds, what the router balances on. */
  backlog(now: number): number {
    return Math.max(0, this.busyUntil - now);
  }

  /** Queues a prompt and returns when its prefill completes. */
  enqueue(req: FlightRequest, now: number): number {
    const service = this.gpu.prefillSeconds(req.input) / this.gpus;
    const start = Math.max(now, this.busyUntil);
    this.busyUntil = start + service;
    this.busyS += service;
    this.queued++;
    return this.busyUntil;
  }

  complete(req: FlightRequest): void {
    this.queued--;
    this.tokens += req.input;
  }
}
