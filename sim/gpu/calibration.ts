// Fits the two linear models of workloads.md §3.3 to measured profile points and checks them.
import { fitLine } from './least-squares.js';
import type { MeasuredProfile } from './profiles.js';
import {
  attentionFlopsPerTokenSquared, gibToBytes, linearFlopsPerToken, type ModelShape,
} from './shape.js';

/**
 * Shape-independent constants of one GPU (TP1, bf16, bare forward with CUDA graphs: no serving-engine overhead).
 *   decode step     = overheadS + (weightBytes + kvTokens × kvBytesPerToken) / effectiveBandwidthBytesPerS
 *   prefill(prompt) = L × (linearFlopsPerToken / prefillLinearFlopsPerS + attentionFlopsPerTokenSquared × L / prefillAttentionFlopsPerS)
 * The prefill form is L × (a + b·L); storing a and b as effective FLOP/s lets them carry over to other shapes.
 */
export interface Calibration {
  overheadS: number;
  effectiveBandwidthBytesPerS: number;
  prefillLinearFlopsPerS: number;
  prefillAttentionFlopsPerS: number;
}

/** a and b of prefill = L × (a + b·L), in seconds per token and seconds per token², for one shape. */
export function prefillCoefficients(cal: Calibration, shape: ModelShape): { a: number; b: number } {
  return {
    a: linearFlopsPerToken(shape) / cal.prefillLinearFlopsPerS,
    b: attentionFlopsPerTokenSquared(shape) / cal.prefillAttentionFlopsPerS,
  };
}

export function prefillSecondsWith(cal: Calibration, shape: ModelShape, promptTokens: number): number {
  const { a, b } = prefillCoefficients(cal, shape);
  return promptTokens * (a + b * promptTokens);
}

export function decodeStepSecondsWith(cal: Calibration, shape: ModelShape, kvTokens: number): number {
  return cal.overheadS + (shape.weightBytes + kvTokens * shape.kvBytesPerToken) / cal.effectiveBandwidthBytesPerS;
}

/**
 * Least squares on relative residuals (see fitLine): decode step_ms against bytes_per_step_gib, and prefill
 * time per prompt token (ms / batch / prompt_len) against prompt_len. `shape` must be the shape that was profiled.
 */
export function fitCalibration(profile: MeasuredProfile, shape: ModelShape): Calibration {
  const decode = fitLine(
    profile.decode.map((p) => ({ x: gibToBytes(p.bytesPerStepGiB), y: p.stepMs / 1000 })),
    'relative', `${profile.source} decode fit`);
  if (decode.slope <= 0 || decode.intercept < 0) {
    throw new Error(`${profile.source}: decode fit is unphysical (overhead ${decode.intercept} s, ${decode.slope} s/byte)`);
  }
  const prefill = fitLine(
    profile.prefill.map((p) => ({ x: p.promptLen, y: p.ms / 1000 / p.batch / p.promptLen })),
    'relative', `${profile.source} prefill fit`);
  if (prefill.intercept <= 0 || prefill.slope <= 0) {
    throw new Error(`${profile.source}: prefill fit is unphysical (a = ${prefill.intercept} s/token, b = ${prefill.slope} s/token²)`);
  }
  return {
    overheadS: decode.intercept,
    effectiveBandwidthBytesPerS: 1 / decode.slope,
    prefillLinearFlopsPerS: linearFlopsPerToken(shape) / prefill.intercept,
    prefillAttentionFlopsPerS: attentionFlopsPerTokenSquared(shape) / prefill.slope,
  };
}

export interface PointError {
  what: string;
  measured: number;
  modelled: number;
  /** (modelled − measured) / measured */
  relError: number;
}

/** Model vs every measured point: prefill tokens/s and decode step_ms. KV bytes come from the shape, not the record. */
export function profileErrors(cal: Calibration, profile: MeasuredProfile, shape: ModelShape): PointError[] {
  const out: PointError[] = [];
  for (const p of profile.prefill) {
    const modelled = p.promptLen / prefillSecondsWith(cal, shape, p.promptLen);
    out.push({ what: `prefill L=${p.promptLen} tokens/s`, measured: p.tokensPerS, modelled, relError: (modelled - p.tokensPerS) / p.tokensPerS });
  }
  for (const p of profile.decode) {
    const modelled = 1000 * decodeStepSecondsWith(cal, shape, p.batch * p.ctx);
    out.push({ what: `decode B=${p.batch} ctx=${p.ctx} step_ms`, measured: p.stepMs, modelled, relError: (modelled - p.stepMs) / p.stepMs });
  }
  return out;
}

export function worstRelativeError(errors: readonly PointError[]): number {
  return errors.reduce((worst, e) => Math.max(worst, Math.abs(e.relError)), 0);
}
