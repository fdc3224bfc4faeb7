// GPU capacity models for the fleet simulator: H100/H200 fitted to measured profiles, others scaled from the H100 fit.
import {
  decodeStepSecondsWith, fitCalibration, prefillCoefficients, profileErrors,
  type Calibration, type PointError,
} from './calibration.js';
import { loadProfile, type MeasuredProfile } from './profiles.js';
import { bytesToGiB, gibToBytes, LLAMA3_8B, type ModelShape } from './shape.js';
import { GPU_SPECS, REFERENCE_GPU, USABLE_MEMORY_FRACTION, type GpuSpec } from './specs.js';

/**
 * Share of device memory the engine may use for weights + KV (vLLM's default gpu_memory_utilization); the rest
 * covers activations, CUDA graphs and allocator slack. Consistent with the H100 profile: 128 × 2048 tokens (32 GiB
 * of KV) ran, 256 × 2048 (64 GiB + 15 GiB weights) ran out of memory.
 */
export const KV_MEMORY_FRACTION = 0.9;

export interface GpuModel {
  /** Upper case: 'H100', 'H200', 'H800', 'H20', 'A100', 'L40S', 'L20'. */
  type: string;
  memGiB: number;
  /** Datasheet figures (not the fitted effective ones; those are in `calibration`). */
  bandwidthTBs: number;
  bf16Tflops: number;
  /** $ per GPU-hour; assumptions in specs.ts. */
  pricePerHour: number;
  source: 'measured' | 'datasheet';
  shape: ModelShape;
  calibration: Calibration;
  /** Prefill of one prompt on one instance (1 GPU, TP1). */
  prefillSeconds(promptTokens: number): number;
  /** promptTokens / prefillSeconds(promptTokens). */
  prefillTokensPerSecond(promptTokens: number): number;
  /** One decode step: `batch` sequences holding kvTokens context tokens in total. 0 for an empty batch. */
  decodeStepSeconds(batch: number, kvTokens: number): number;
  /** KV tokens that fit beside the weights in KV_MEMORY_FRACTION of memory. */
  kvCapacityTokens: number;
}

export const GPU_TYPES: readonly string[] = Object.freeze(Object.keys(GPU_SPECS));

interface MeasuredFit {
  profile: MeasuredProfile;
  calibration: Calibration;
}

// Profiles are read and fitted once, on first use (they were all measured with the LLAMA3_8B shape).
const fits = new Map<string, MeasuredFit>();

/** The fit of a GPU with a bundled profile; undefined for datasheet-only GPUs. */
function measuredFit(spec: GpuSpec): MeasuredFit | undefined {
  if (spec.profile === undefined) return undefined;
  let fit = fits.get(spec.type);
  if (!fit) {
    const profile = loadProfile(spec.profile);
    fit = { profile, calibration: fitCalibration(profile, LLAMA3_8B) };
    fits.set(spec.type, fit);
  }
  return fit;
}

function specFor(type: string): GpuSpec {
  const key = type.trim().toUpperCase();
  const spec = GPU_SPECS[key];
  if (!spec) throw new Error(`unknown GPU type '${type}'; known types: ${GPU_TYPES.join(', ')}`);
  return spec;
}

/**
 * Datasheet-only GPUs reuse the H100 fit, scaled:
 *  - prefill: the H100's effective FLOP/s as a share of its 989 TFLOP/s peak (≈ 0.68 on the linear part) applied to
 *    the other GPU's peak. Assumes the same kernel efficiency on Ampere/Ada as on Hopper — optimistic for Ada (L20,
 *    L40S), whose GEMMs often measure well below peak.
 *  - decode: H100 fitted effective bandwidth / H100 datasheet bandwidth (≈ 0.89) applied to the other GPU's
 *    bandwidth; GDDR6 (L20, L40S) is assumed to reach the same share as HBM.
 *  - the per-step overhead c (kernel launches, CUDA graphs replay) is taken unchanged.
 */
function scaledCalibration(spec: GpuSpec): Calibration {
  const refSpec = specFor(REFERENCE_GPU);
  const refFit = measuredFit(refSpec);
  if (!refFit) throw new Error(`reference GPU ${REFERENCE_GPU} has no measured profile`);
  const ref = refFit.calibration;
  const computeScale = spec.bf16Tflops / refSpec.bf16Tflops;
  return {
    overheadS: ref.overheadS,
    effectiveBandwidthBytesPerS: ref.effectiveBandwidthBytesPerS * (spec.bandwidthTBs / refSpec.bandwidthTBs),
    prefillLinearFlopsPerS: ref.prefillLinearFlopsPerS * computeScale,
    prefillAttentionFlopsPerS: ref.prefillAttentionFlopsPerS * computeScale,
  };
}

function checkNonNegative(value: number, what: string): void {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${what} must be a finite number ≥ 0, got ${value}`);
}

/**
 * Capacity model of one GPU type serving `shape` (default LLAMA3_8B) at TP1. Other shapes reuse the GPU's effective
 * FLOP/s and bandwidth with their own FLOPs, weight bytes and KV bytes: an extrapolation, exact only for the
 * profiled shape. Throws for an unknown type, or when the weights leave no room for KV.
 */
export function gpuModel(type: string, shape: ModelShape = LLAMA3_8B): GpuModel {
  const spec = specFor(type);
  const fit = measuredFit(spec);
  const measured = fit !== undefined;
  const calibration = fit ? fit.calibration : scaledCalibration(spec);
  // Measured GPUs use the memory the driver reported; others the marketed size times the observed usable share.
  const memGiB = fit ? fit.profile.deviceMemGiB : spec.memGB * USABLE_MEMORY_FRACTION;
  const kvBytes = KV_MEMORY_FRACTION * gibToBytes(memGiB) - shape.weightBytes;
  if (kvBytes <= 0) {
    throw new Error(`${spec.type}: ${shape.name} weights (${bytesToGiB(shape.weightBytes).toFixed(2)} GiB) do not fit in `
      + `${KV_MEMORY_FRACTION} × ${memGiB.toFixed(2)} GiB at TP1`);
  }
  const { a, b } = prefillCoefficients(calibration, shape);
  const prefillSeconds = (promptTokens: number): number => {
    checkNonNegative(promptTokens, `${spec.type} prefillSeconds: promptTokens`);
    return promptTokens * (a + b * promptTokens);
  };
  return Object.freeze({
    type: spec.type,
    memGiB,
    bandwidthTBs: spec.bandwidthTBs,
    bf16Tflops: spec.bf16Tflops,
    pricePerHour: spec.pricePerHour,
    source: measured ? 'measured' as const : 'datasheet' as const,
    shape,
    calibration: Object.freeze({ ...calibration }),
    prefillSeconds,
    prefillTokensPerSecond(promptTokens: number): number {
      if (!(promptTokens > 0)) throw new RangeError(`${spec.type} prefillTokensPerSecond: promptTokens must be > 0, got ${promptTokens}`);
      return promptTokens / prefillSeconds(promptTokens);
    },
    decodeStepSeconds(batch: number, kvTokens: number): number {
      checkNonNegative(batch, `${spec.type} decodeStepSeconds: batch`);
      checkNonNegative(kvTokens, `${spec.type} decodeStepSeconds: kvTokens`);
      if (batch === 0) return 0;
      return decodeStepSecondsWith(calibration, shape, kvTokens);
    },
    kvCapacityTokens: Math.floor(kvBytes / shape.kvBytesPerToken),
  });
}

/** How well a measured GPU's fit reproduces its own profile (for reports and tests); throws for datasheet GPUs. */
export function measuredFitReport(type: string): { calibration: Calibration; errors: PointError[] } {
  const spec = specFor(type);
  const fit = measuredFit(spec);
  if (!fit) {
    const withProfiles = GPU_TYPES.filter((t) => GPU_SPECS[t]?.profile !== undefined);
    throw new Error(`${spec.type} has no measured profile; measured types: ${withProfiles.join(', ')}`);
  }
  return { calibration: fit.calibration, errors: profileErrors(fit.calibration, fit.profile, LLAMA3_8B) };
}
