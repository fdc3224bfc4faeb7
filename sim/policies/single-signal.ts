// The metric study (paper Fig. 6): one signal sizes both roles at the fixed ratio, through the same HPA recipe as Baton.
// Throughput signals are proportional (total ÷ per-instance target); utilization, SM activity and latency are
// ratio-to-target like an HPA on a per-pod metric (current × observed ÷ target).
import { initialHpaState, stepHpa, type HpaSpec, type HpaState } from '../../engine/core/hpa/index.js';
import type { SimPool } from '../fleet/fleet.js';
import type { ControlInput, ControlOutput, SimPolicy } from '../policy.js';
import type { SignalName } from '../signals.js';
import { BATON_HPA_RECIPE } from './coordinated.js';

export interface SingleSignalOptions {
  signal: SignalName;
  /** Per-instance target for throughput signals; the set point for the others (fraction, or seconds for latency). */
  target: number;
  ratio: { prefill: number; decode: number };
  prefillPool: string;
  decodePool: string;
  initial: { prefill: number; decode: number };
  max: number;
}

export class SingleSignalPolicy implements SimPolicy {
  readonly name: string;
  private readonly hpa = new Map<string, { spec: HpaSpec; state: HpaState }>();

  constructor(private readonly o: SingleSignalOptions) {
    this.name = `signal:${o.signal}`;
    for (const pool of [o.prefillPool, o.decodePool]) {
      this.hpa.set(pool, {
        spec: { minReplicas: 1, maxReplicas: o.max, metrics: [{ type: 'External', name: 'desired', target: { type: 'AverageValue', averageValue: 1 } }], behavior: BATON_HPA_RECIPE.behavior! },
        state: initialHpaState(),
      });
    }
  }

  initial(_pools: readonly SimPool[]): Record<string, number> {
    return { [this.o.prefillPool]: this.o.initial.prefill, [this.o.decodePool]: this.o.initial.decode };
  }

  control(input: ControlInput): ControlOutput {
    const s = input.signals;
    const view = (pool: string) => input.pools.find((v) => v.pool.name === pool)!;
    const p = view(this.o.prefillPool);
    const d = view(this.o.decodePool);
    const perDecode = this.o.ratio.prefill / this.o.ratio.decode;
    let decode: number;
    const v = s[this.o.signal];
    switch (this.o.signal) {
      case 'decodeTps':
        decode = s.decodeTps / this.o.target;
        break;
      case 'prefillTps':
        decode = s.prefillTps / this.o.target / perDecode;
        break;
      case 'prefillGpuUtil':
      case 'prefillSmActivity':
        decode = (p.spec * (v ?? 0)) / this.o.target / perDecode;
        break;
      default:
        // Missing latency (no requests finished) holds the current size.
        decode = v === undefined ? d.spec : (d.spec * v) / this.o.target;
    }
    const dWant = Math.max(1, Math.ceil(decode - 1e-9));
    const want: Record<string, number> = { [this.o.decodePool]: dWant, [this.o.prefillPool]: Math.max(1, Math.ceil(dWant * perDecode - 1e-9)) };
    const out: Record<string, number> = {};
    for (const [pool, h] of this.hpa) {
      const v2 = view(pool);
      const step = stepHpa(h.spec, BATON_HPA_RECIPE.controller, h.state, { now: input.now, specReplicas: v2.spec, statusReplicas: v2.current, readyPods: v2.ready, metrics: [want[pool]!] });
      h.state = step.state;
      out[pool] = step.desiredReplicas;
    }
    return { replicas: out };
  }
}
