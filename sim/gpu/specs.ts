// Datasheet figures (workloads.md §3.1, dense bf16) and the price assumed for each GPU type.
// Every GPU is modelled as one instance = one GPU at TP1: no tensor parallelism, so PCIe-only cards (L20, L40S)
// pay no all-reduce cost here and P→D KV transfer is not part of this model.

export interface GpuSpec {
  type: string;
  /** Marketed memory, GB as NVIDIA quotes it. */
  memGB: number;
  bandwidthTBs: number;
  bf16Tflops: number;
  /** $ per GPU-hour; see `priceNote`. */
  pricePerHour: number;
  priceNote: string;
  /** Bundled profile measured on this GPU, if any (sim/data/gpu-profiles). */
  profile?: string;
}

/**
 * Usable memory as a share of marketed memory: the driver reported 79.18 GiB on an "80 GB" H100 (0.990) and
 * 139.80 GiB on a "141 GB" H200 (0.991). Applied to datasheet-only GPUs.
 */
export const USABLE_MEMORY_FRACTION = 0.99;

/** The GPU whose measured fit is scaled to datasheet-only GPUs. */
export const REFERENCE_GPU = 'H100';

export const GPU_SPECS: Readonly<Record<string, GpuSpec>> = Object.freeze({
  H100: {
    type: 'H100', memGB: 80, bandwidthTBs: 3.35, bf16Tflops: 989, profile: 'h100-llama3-8b-shape.jsonl',
    pricePerHour: 2.99, priceNote: 'Lambda on-demand H100 SXM (workloads.md §3.1; AWS P5 ~3.93)',
  },
  H200: {
    type: 'H200', memGB: 141, bandwidthTBs: 4.8, bf16Tflops: 989, profile: 'h200-llama3-8b-shape.jsonl',
    pricePerHour: 3.29, priceNote: 'Lambda on-demand H200 SXM (workloads.md §3.1)',
  },
  H800: {
    type: 'H800', memGB: 80, bandwidthTBs: 3.35, bf16Tflops: 989,
    pricePerHour: 2.99,
    priceNote: 'ASSUMED = H100: same die and memory, only NVLink is cut (400 GB/s), which TP1 never uses; no public price',
  },
  H20: {
    type: 'H20', memGB: 96, bandwidthTBs: 4.0, bf16Tflops: 148,
    pricePerHour: 2.2,
    priceNote: 'ASSUMED ≈ 0.74 × H100: no public rental price; quotes are "close to H100" yet it has 15 % of the compute, '
      + 'so we take a price between A100 and H100',
  },
  A100: {
    type: 'A100', memGB: 80, bandwidthTBs: 2.04, bf16Tflops: 312,
    pricePerHour: 1.79, priceNote: 'Lambda on-demand A100 SXM 80GB (workloads.md §3.1; Mélange uses 3.67)',
  },
  L40S: {
    type: 'L40S', memGB: 48, bandwidthTBs: 0.864, bf16Tflops: 362,
    pricePerHour: 1.5, priceNote: 'ASSUMED: midpoint of the unverified ~1–2 $/h in workloads.md §3.1',
  },
  L20: {
    type: 'L20', memGB: 48, bandwidthTBs: 0.864, bf16Tflops: 119.5,
    pricePerHour: 1.0,
    priceNote: 'ASSUMED ≈ 2/3 of L40S: same memory and bandwidth, about a third of the compute, China-market part; no public price',
  },
});
