// Baton's coordinated policy exactly as it runs in production: the policy core decides desired replicas per pool every
// rule interval, the adapter publishes them, and one stock HPA per pool (External metric, AverageValue 1) moves the
// Deployment. The same `decide` and the same HPA model the rest of Baton uses; nothing is re-implemented here.
import { decide } from '../../engine/core/decide.js';
import { initialHpaState, stepHpa, type HpaBehavior, type HpaControllerConfig, type HpaSpec, type HpaState } from '../../engine/core/hpa/index.js';
import type { PolicyState, ServicePolicyConfig } from '../../engine/core/types.js';
import type { SimPool } from '../fleet/fleet.js';
import type { ControlInput, ControlOutput, SimPolicy } from '../policy.js';

export interface HpaRecipe {
  controller: Partial<HpaControllerConfig>;
  behavior?: HpaBehavior;
}

/** Baton's HPA recipe: follow the published number exactly (tolerance 0), no second stabilization on top of Baton's. */
export const BATON_HPA_RECIPE: HpaRecipe = {
  controller: { syncPeriodS: 15 },
  behavior: {
    scaleUp: { tolerance: 0, stabilizationWindowSeconds: 0 },
    scaleDown: { tolerance: 0, stabilizationWindowSeconds: 0 },
  },
};

export interface CoordinatedOptions {
  /** How often the adapter evaluates rules (s). */
  evalIntervalS: number;
  hpa: HpaRecipe;
}

export class CoordinatedPolicy implements SimPolicy {
  readonly name: string;
  private state: PolicyState = {};
  private published: Record<string, number> = {};
  private lastEval = -Infinity;
  private readonly hpaStates = new Map<string, HpaState>();
  private readonly hpaSpecs = new Map<string, HpaSpec>();

  constructor(private readonly cfg: ServicePolicyConfig, private readonly opts: CoordinatedOptions, name = 'coordinated') {
    this.name = name;
    for (const p of cfg.pools) {
      const spec: HpaSpec = {
        minReplicas: p.minReplicas,
        maxReplicas: p.maxReplicas,
        metrics: [{ type: 'External', name: 'baton_desired_replicas', selector: `service=${cfg.service},pool=${p.name}`, target: { type: 'AverageValue', averageValue: 1 } }],
      };
      if (opts.hpa.behavior) spec.behavior = opts.hpa.behavior;
      this.hpaSpecs.set(p.name, spec);
      this.hpaStates.set(p.name, initialHpaState());
    }
  }

  /** Start from `start` replicas (the fleet as it stood when the run begins), never below the pools' minimum. */
  private start: Record<string, number> = {};

  startFrom(replicas: Record<string, number>): this {
    this.start = { ...replicas };
    return this;
  }

  initial(pools: readonly SimPool[]): Record<string, number> {
    const out: Record<string, number> = {};
    for (const p of pools) out[p.name] = Math.max(this.start[p.name] ?? 0, this.cfg.pools.find((c) => c.name === p.name)?.minReplicas ?? 1);
    return out;
  }

  control(input: ControlInput): ControlOutput {
    const { now, signals } = input;
    const reasons = [];
    const replicas: Record<string, number> = {};
    const ready: Record<string, number> = {};
    for (const v of input.pools) {
      replicas[v.pool.name] = v.spec;
      ready[v.pool.name] = v.ready;
    }
    if (now - this.lastEval >= this.opts.evalIntervalS - 1e-9) {
      this.lastEval = now;
      const d = decide(this.cfg, {
        now,
        decodeTps: signals.decodeTps,
        guards: { tbt_p99: signals.tbtP99, ttft_p99: signals.ttftP99 },
        replicas,
        ready,
        // A scale-to-zero rule's wake signal, as a router would count it: requests arriving, pods or not.
        ...(this.cfg.scaleToZero ? { wake: signals.arrivalsPerS } : {}),
      }, this.state);
      this.state = d.state;
      this.published = { ...d.prefill.pools, ...d.decode.pools };
      if (d.direction !== 'hold') reasons.push(...d.reasons);
    }
    const out: Record<string, number> = {};
    for (const v of input.pools) {
      const name = v.pool.name;
      const value = this.published[name];
      const step = stepHpa(this.hpaSpecs.get(name)!, this.opts.hpa.controller, this.hpaStates.get(name)!, {
        now, specReplicas: v.spec, statusReplicas: v.current, readyPods: v.ready,
        metrics: [value === undefined ? { error: 'no metric published yet' } : value],
      });
      this.hpaStates.set(name, step.state);
      out[name] = step.desiredReplicas;
    }
    return { replicas: out, reasons };
  }
}
