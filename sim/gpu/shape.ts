// Model shapes: the few numbers that decide FLOPs per token, weight bytes and KV bytes per token.

const GIB = 2 ** 30;

export interface ModelShape {
  readonly name: string;
  readonly layers: number;
  readonly hiddenSize: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Parameter count (not billions). */
  readonly params: number;
  /** Bytes per weight and per KV element (2 = bf16; no quantization modelled). */
  readonly bytesPerElement: number;
  /** params × bytesPerElement. */
  readonly weightBytes: number;
  /** 2 (K and V) × layers × kvHeads × headDim × bytesPerElement. */
  readonly kvBytesPerToken: number;
}

export interface ModelShapeSpec {
  name: string;
  layers: number;
  hiddenSize: number;
  kvHeads: number;
  headDim: number;
  params: number;
  bytesPerElement?: number;
}

/** Builds a shape with derived byte counts, rejecting non-positive or non-finite dimensions. */
export function defineModelShape(spec: ModelShapeSpec): ModelShape {
  const bytesPerElement = spec.bytesPerElement ?? 2;
  const fields: Array<[string, number]> = [
    ['layers', spec.layers], ['hiddenSize', spec.hiddenSize], ['kvHeads', spec.kvHeads],
    ['headDim', spec.headDim], ['params', spec.params], ['bytesPerElement', bytesPerElement],
  ];
  for (const [field, value] of fields) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new RangeError(`model shape '${spec.name}': ${field} must be a positive number, got ${value}`);
    }
  }
  return Object.freeze({
    name: spec.name,
    layers: spec.layers,
    hiddenSize: spec.hiddenSize,
    kvHeads: spec.kvHeads,
    headDim: spec.headDim,
    params: spec.params,
    bytesPerElement,
    weightBytes: spec.params * bytesPerElement,
    kvBytesPerToken: 2 * spec.layers * spec.kvHeads * spec.headDim * bytesPerElement,
  });
}

/**
 * The Llama-3-8B shape used by the measured profiles (sim/data/gpu-profiles): 32 layers, hidden 4096,
 * 8 KV heads × 128 head dim, 8.030257152 B params in bf16 → 14.96 GiB weights, 128 KiB of KV per token.
 */
export const LLAMA3_8B: ModelShape = defineModelShape({
  name: 'llama3-8b',
  layers: 32,
  hiddenSize: 4096,
  kvHeads: 8,
  headDim: 128,
  params: 8.030257152e9,
});

/** Prefill FLOPs per prompt token outside attention (≈ 2 × params: one multiply-add per weight). */
export function linearFlopsPerToken(shape: ModelShape): number {
  return 2 * shape.params;
}

/** Causal-attention FLOPs per prompt token per token of prompt length (§3.3: 2 × layers × d_model × L). */
export function attentionFlopsPerTokenSquared(shape: ModelShape): number {
  return 2 * shape.layers * shape.hiddenSize;
}

export function bytesToGiB(bytes: number): number {
  return bytes / GIB;
}

export function gibToBytes(gib: number): number {
  return gib * GIB;
}
