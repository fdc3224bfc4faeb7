// The shape of a rule file after JSON Schema validation (before presets and defaults).
import type { EngineName } from './presets.js';
import type { PrometheusFileSettings } from './prometheus-settings.js';
import type { WhenCondition } from './types.js';

export type RawQuery = string | { promql: string; by?: string };

export interface RawPool {
  name: string;
  role: 'prefill' | 'decode';
  gpuType?: string;
  unitsPerReplica?: number;
  preference?: number;
  minReplicas?: number;
  maxReplicas: number;
  poolLabelValue?: string;
  labels?: Record<string, string>;
}

export interface RawGuard {
  name: string;
  promql?: string;
  slo: number;
  tiers: { above: number; scaleOut: number }[];
  roles?: ('prefill' | 'decode')[];
  when?: WhenCondition;
}

export interface RawService {
  name: string;
  namespaces?: string[];
  engine?: EngineName;
  match?: Record<string, string>;
  poolLabel?: string;
  window?: string;
  ratio: { prefill: number; decode: number };
  decodeTpsPerUnit: number;
  pools: RawPool[];
  decodeTps?: RawQuery;
  guards?: RawGuard[];
  stability?: { scaleUpCooldownS?: number; scaleDownCooldownS?: number; scaleInHysteresis?: number; scaleInDamping?: number; scaleInWindowS?: number; guardCeiling?: number };
  periodic?: { mode: 'floor' | 'only'; utcOffsetS?: number; entries: { from: string; prefill: number; decode: number }[]; when?: WhenCondition };
  replicas?: RawQuery;
  /** Scale to and from zero: the wake signal (demand that exists without pods) and the idle window. */
  wake?: { promql?: string; above?: number; idleSeconds?: number };
  /** Drain-aware scale-in: requests running per pod, and how long a scale-in may wait for the pods that go. */
  drain?: { promql?: string; by?: string; indexLabel?: string; maxWaitSeconds?: number };
  metric?: { name?: string; labels?: Record<string, string> };
  maxStalenessSeconds?: number;
  queryIntervalSeconds?: number;
  utcOffsetSeconds?: number;
}

/** As loaded (rules/prometheus-settings.ts), but the timeout is still its duration text. */
export type RawPrometheusSettings = Omit<PrometheusFileSettings, 'timeoutMs'> & { timeout?: string };

export interface RawRuleFile {
  prometheus?: RawPrometheusSettings;
  services: RawService[];
}
