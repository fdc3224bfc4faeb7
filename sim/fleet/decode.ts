// Decode is memory-bandwidth-bound continuous batching. All running sequences advance one token per step, so instead of
// simulating steps we keep a per-instance progress counter G (tokens each running sequence has gained since the instance
// started) that grows at 1/stepTime; a request finishes when G reaches its admission mark plus its output length.
// Step time is re-read from the calibrated GPU model whenever the batch or the resident KV changes (at every event).
// KV grows as sequences generate; when it would overflow, the newest sequence is preempted (vLLM's recompute policy).
import { MinHeap } from '../heap.js';
import { Instance } from './instance.js';
import type { FlightRequest } from './request.js';

interface Slot {
  req: FlightRequest;
  admission: number;
}

/** Admit a new sequence only while this share of the KV cache stays free (vLLM keeps a watermark too). */
const KV_ADMIT_WATERMARK = 0.04;

export class DecodeInstance extends Instance {
  G = 0;
  private t0 = 0;
  private step = 0;
  kvTokens = 0;
  readonly running = new Set<FlightRequest>();
  private readonly slots = new MinHeap<Slot>();
  private readonly admissionOf = new Map<FlightRequest, number>();
  private waiting: FlightRequest[] = [];
  private waitHead = 0;
  private waitingTokens = 0;
  private admissions = 0;
  /** Bumped at every reschedule; a scheduled event carrying an older version is stale. */
  version = 0;
  generatedTokens = 0;
  preemptions = 0;
  kvCap = 0;
  maxBatch = 256;

  get inFlight(): number {
    return this.running.size + this.waiting.length - this.waitHead;
  }

  get waitingCount(): number {
    return this.waiting.length - this.waitHead;
  }

  get stepSeconds(): number {
    return this.step;
  }

  /** Share of the KV cache in use, what vllm:kv_cache_usage_perc reports. */
  get kvUsage(): number {
    return this.kvCap > 0 ? Math.min(1, this.kvTokens / this.kvCap) : 0;
  }

  /** Load the router balances on: resident plus waiting tokens relative to capacity. */
  load(): number {
    return (this.kvTokens + this.waitingTokens) / this.kvCap;
  }

  /** Brings counters up to `now` at the step time in force since the last event. */
  advance(now: number): void {
    const dt = now - this.t0;
    if (dt > 0 && this.running.size > 0 && this.step > 0) {
      const dG = dt / this.step;
      const n = this.running.size;
      this.G += dG;
      this.kvTokens += n * dG;
      this.generatedTokens += n * dG;
      this.busyS += dt;
    }
    this.t0 = now;
  }

  accept(req: FlightRequest): void {
    this.waiting.push(req);
    this.waitingTokens += req.input + req.generated;
  }

  /** Handles completions, KV overflow and admissions at `now`; returns finished requests. */
  settle(now: number, finished: FlightRequest[]): void {
    this.advance(now);
    const eps = 1e-7;
    while (this.slots.size > 0 && this.slots.peekKey() <= this.G + eps) {
      const slot = this.slots.pop()!;
      if (this.admissionOf.get(slot.req) !== slot.admission) continue; // preempted since
      this.admissionOf.delete(slot.req);
      this.running.delete(slot.req);
      this.kvTokens -= slot.req.input + slot.req.output;
      slot.req.generated = slot.req.output;
      finished.push(slot.req);
    }
    if (this.kvTokens < 0) this.kvTokens = 0;
    // Full (or past full through float drift): the newest sequence gives its blocks back.
    while (this.kvTokens >= this.kvCap - eps && this.running.size > 1) this.preemptNewest();
    this.admit();
  }

  private preemptNewest(): void {
    let newest: FlightRequest | undefined;
    for (const r of this.running) newest = r;
    if (!newest) return;
    const generated = this.G - newest.g0;
    newest.generated = Math.max(0, Math.floor(generated));
    this.kvTokens -= newest.input + generated;
    this.running.delete(newest);
    this.admissionOf.delete(newest);
    newest.preemptions++;
    this.preemptions++;
    // Back to the head of the queue: it is recomputed before newer arrivals.
    if (this.waitHead > 0) this.waiting[--this.waitHead] = newest;
    else this.waiting.unshift(newest);
    this.waitingTokens += newest.input + newest.generated;
  }

  private admit(): void {
    const limit = this.kvCap * (1 - KV_ADMIT_WATERMARK);
    while (this.waitHead < this.waiting.length && this.running.size < this.maxBatch) {
      const req = this.waiting[this.waitHead]!;
      const need = req.input + req.generated;
      if (this.running.size > 0 && this.kvTokens + need > limit) break;
      this.waitHead++;
      this.waitingTokens -= need;
      req.g0 = this.G - req.generated;
      this.kvTokens += need;
      this.running.add(req);
      const admission = ++this.admissions;
      this.admissionOf.set(req, admission);
      this.slots.push(req.g0 + req.output, { req, admission });
    }
    if (this.waitHead > 1024 && this.waitHead * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.waitHead);
      this.waitHead = 0;
    }
  }

  /** Re-reads the step time and returns when the next completion or KV overflow happens (Infinity when idle). */
  reschedule(now: number): number {
    this.version++;
    const n = this.running.size;
    if (n === 0) {
      this.step = 0;
      return Infinity;
    }
    this.step = this.gpu.decodeStepSeconds(n, this.kvTokens) / this.gpus;
    const toFinish = Math.max(0, this.slots.peekKey() - this.G) * this.step;
    const room = this.kvCap - this.kvTokens;
    const toFull = n > 1 && room > 0 ? (room / n) * this.step : Infinity;
    return now + Math.min(toFinish, toFull);
  }
}
