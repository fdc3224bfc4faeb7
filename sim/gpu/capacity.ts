// Pure helpers the fleet simulator uses to size decode instances.
import type { GpuModel } from './model.js';

function checkPositive(value: number, what: string): void {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${what} must be a finite number > 0, got ${value}`);
}

/**
 * Largest batch of sequences, each holding `ctxTokensPerSeq` context tokens, whose decode step stays within
 * `tbtSloS` (time between tokens) and whose KV fits in `model.kvCapacityTokens`. 0 when even one sequence misses
 * the SLO or does not fit. Assumes step time does not fall as the batch grows (true of every GpuModel here).
 */
export function maxDecodeBatch(model: GpuModel, ctxTokensPerSeq: number, tbtSloS: number): number {
  checkPositive(ctxTokensPerSeq, 'maxDecodeBatch: ctxTokensPerSeq');
  checkPositive(tbtSloS, 'maxDecodeBatch: tbtSloS');
  const meetsSlo = (batch: number): boolean => model.decodeStepSeconds(batch, batch * ctxTokensPerSeq) <= tbtSloS;
  const kvLimit = Math.floor(model.kvCapacityTokens / ctxTokensPerSeq);
  if (kvLimit === 0 || !meetsSlo(1)) return 0;
  if (meetsSlo(kvLimit)) return kvLimit;
  let lo = 1; // meets the SLO
  let hi = kvLimit; // misses it
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (meetsSlo(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * Decode tokens per second of one instance running `batch` sequences of `ctxTokensPerSeq` context tokens each
 * (one token per sequence per step). Throws when that KV does not fit: cap the batch with maxDecodeBatch first.
 */
export function decodeTpsAt(model: GpuModel, batch: number, ctxTokensPerSeq: number): number {
  if (!Number.isFinite(batch) || batch < 0) throw new RangeError(`decodeTpsAt: batch must be a finite number ≥ 0, got ${batch}`);
  if (!Number.isFinite(ctxTokensPerSeq) || ctxTokensPerSeq < 0) {
    throw new RangeError(`decodeTpsAt: ctxTokensPerSeq must be a finite number ≥ 0, got ${ctxTokensPerSeq}`);
  }
  if (batch === 0) return 0;
  const kvTokens = batch * ctxTokensPerSeq;
  if (kvTokens > model.kvCapacityTokens) {
    throw new RangeError(`decodeTpsAt: ${model.type} holds ${model.kvCapacityTokens} KV tokens, `
      + `batch ${batch} × ${ctxTokensPerSeq} = ${kvTokens} does not fit`);
  }
  return batch / model.decodeStepSeconds(batch, kvTokens);
}
