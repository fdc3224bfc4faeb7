// The evaluator's way to Prometheus: a query that is part of a batch is answered by its slice of the batch's one
// answer; any other query is sent as it is. Sending goes through SharedQueries (one in flight per text, short reuse).
// A member missing from the merged answer gets an empty vector: exactly what its own query would have answered.
import { PrometheusError, type QueryResult, type Series } from '../prometheus.js';
import type { SharedQueries } from '../dedupe.js';
import { MAX_BATCH_MEMBERS, planBatches, type Batch, type BatchPlan } from './plan.js';
import { sliceKey, type QueryShape } from './template.js';

export interface QueryAnswer {
  result: QueryResult;
  /** The batch that answered (absent when the query ran alone). */
  batch?: Batch;
}

/** One query sent in a round: its promise, and its outcome once settled (read synchronously by the evaluations). */
export interface RoundAnswer {
  promise: Promise<QueryResult>;
  settled?: { result: QueryResult } | { error: unknown };
}

/** Results shared by the evaluations of one scheduled round, so a batch is sent once however long the round takes. */
export type RoundResults = Map<string, RoundAnswer>;

/** What `answerNow` gives: an answer, the error it failed with, or nothing yet (the caller awaits `run`). */
export type SettledAnswer = { answer: QueryAnswer } | { error: unknown } | undefined;

export class BatchedQueries {
  private plan: BatchPlan = planBatches([]);
  private readonly slices = new WeakMap<QueryResult, Map<string, Series[]>>();
  /** Templates whose merged query Prometheus refused (too big, too costly): their members run alone until the rules change. */
  private readonly refused = new Set<string>();
  private readonly shapes = new Map<string, QueryShape | undefined>();

  constructor(
    private readonly shared: SharedQueries,
    private readonly log: (message: string) => void,
  ) {}

  /** The queries of the current rule set: re-plans the batches. */
  setQueries(promqls: readonly string[]): void {
    this.plan = planBatches(promqls, MAX_BATCH_MEMBERS, this.shapes);
    this.refused.clear();
    this.shared.retain(new Set([...promqls, ...this.plan.batches.map((b) => b.promql)]));
  }

  get batches(): readonly Batch[] {
    return this.plan.batches;
  }

  batchOf(promql: string): Batch | undefined {
    const b = this.plan.batchOf(promql);
    return b && !this.refused.has(b.template) ? b : undefined;
  }

  /** What the schedule groups a query by: its batch's template, or the query itself. */
  unitOf(promql: string): string {
    return this.plan.unitOf(promql);
  }

  async run(promql: string, round?: RoundResults): Promise<QueryAnswer> {
    const batch = this.batchOf(promql);
    if (!batch) return { result: await this.send(promql, round) };
    let whole: QueryResult;
    try {
      whole = await this.send(batch.promql, round);
    } catch (e) {
      if (!refusal(e)) throw e;
      if (!this.refused.has(batch.template)) this.log(`batched query for ${batch.members.size} queries was refused (${(e as Error).message}); they run one by one until the rules change`);
      this.refused.add(batch.template);
      return { result: await this.send(promql, round) };
    }
    return { result: this.slice(whole, batch, promql), batch };
  }

  /** The text sent to answer `promql`: its batch's merged query, or itself. */
  sentFor(promql: string): string {
    return this.batchOf(promql)?.promql ?? promql;
  }

  /**
   * Sends what `promql` needs in this round (its batch's query, or itself), so that `answerNow` finds it settled;
   * undefined when the round has already sent it. The promise never rejects (the error is the answer).
   */
  prefetch(promql: string, round: RoundResults): Promise<unknown> | undefined {
    const sent = this.sentFor(promql);
    if (round.has(sent)) return undefined;
    return this.send(sent, round).catch(() => undefined);
  }

  /**
   * The answer from this round's settled results without waiting, or undefined when it is not there yet (not sent,
   * in flight, or a refused merge whose members must now run alone): then `run` is the way.
   */
  answerNow(promql: string, round: RoundResults): SettledAnswer {
    const batch = this.batchOf(promql);
    const settled = round.get(batch ? batch.promql : promql)?.settled;
    if (!settled) return undefined;
    if ('error' in settled) return batch && refusal(settled.error) ? undefined : settled;
    return { answer: batch ? { result: this.slice(settled.result, batch, promql), batch } : { result: settled.result } };
  }

  private send(promql: string, round?: RoundResults): Promise<QueryResult> {
    const pending = round?.get(promql);
    if (pending) return pending.promise;
    const p = this.shared.run(promql);
    if (round) {
      const entry: RoundAnswer = { promise: p };
      p.then((result) => (entry.settled = { result }), (error: unknown) => (entry.settled = { error }));
      round.set(promql, entry);
    }
    return p;
  }

  private slice(whole: QueryResult, batch: Batch, member: string): QueryResult {
    if (whole.kind !== 'vector') return whole; // a shape the member's reader refuses, as it would its own answer
    let index = this.slices.get(whole);
    if (!index) {
      index = new Map();
      for (const s of whole.series) {
        const k = sliceKey(s.labels, batch.by);
        if (k === undefined) continue;
        const list = index.get(k);
        if (list) list.push(s);
        else index.set(k, [s]);
      }
      this.slices.set(whole, index);
    }
    return { kind: 'vector', series: index.get(batch.members.get(member)!) ?? [] };
  }
}

/** Prometheus refused the query itself (bad_data, execution limits, an answer over the size limit), not an outage. */
function refusal(e: unknown): boolean {
  if (!(e instanceof PrometheusError)) return false;
  return e.kind === 'size' || e.kind === 'api' || (e.kind === 'http' && (e.status === 400 || e.status === 422));
}
