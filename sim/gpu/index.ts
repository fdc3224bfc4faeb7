// GPU capacity models for the fleet simulator (see model.ts).
export { defineModelShape, LLAMA3_8B, type ModelShape, type ModelShapeSpec } from './shape.js';
export { GPU_SPECS, USABLE_MEMORY_FRACTION, REFERENCE_GPU, type GpuSpec } from './specs.js';
export { GPU_TYPES, gpuModel, KV_MEMORY_FRACTION, measuredFitReport, type GpuModel } from './model.js';
export { maxDecodeBatch, decodeTpsAt } from './capacity.js';
export { fitCalibration, profileErrors, worstRelativeError, type Calibration, type PointError } from './calibration.js';
export { parseProfile, loadProfile, type MeasuredProfile } from './profiles.js';
