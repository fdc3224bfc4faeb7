// Every simulated pod's engine metrics. Create a FleetMetrics first and hand its `observer` to createSimulation (the
// latency histograms are filled from the simulation's hooks); call `sync(fleet, now)` after advancing the simulation.
import type { Fleet } from '../fleet/fleet.js';
import { DecodeInstance } from '../fleet/decode.js';
import type { Instance } from '../fleet/instance.js';
import type { SimObserver } from '../simulate.js';
import type { Signals } from '../signals.js';
import { flavourSpec, type Flavour, type FlavourSpec } from './families.js';
import { PodMetrics } from './pod.js';
import { renderExposition, renderLabels } from './render.js';
import { RouterMetrics } from './router.js';

export interface FleetMetricsOptions {
  flavour?: Flavour;
  /** The `service` label and the prefix of pod names. Default `sim`. */
  service?: string;
  namespace?: string;
  /** The engines' `model_name` label. */
  modelName?: string;
  /** Extra labels on every pod's series in /metrics and every /sd target. */
  labels?: Record<string, string>;
  /**
   * A rule's pool label: every pod also carries `name="value"` (value per simulated pool, default the pool's name), so a
   * rule whose pools are told apart by another label (`poolLabel`, `poolLabelValue`) finds its series.
   */
  poolLabel?: { name: string; values: Record<string, string> };
}

export interface LastControl {
  t: number;
  signals: Signals;
  replicas: Record<string, number>;
  reasons: string[];
}

export const DEFAULT_MODEL_NAME = 'meta-llama/Llama-3.1-8B-Instruct';

export class FleetMetrics {
  readonly spec: FlavourSpec;
  readonly service: string;
  readonly namespace: string;
  readonly modelName: string;
  readonly labels: Record<string, string>;
  readonly observer: SimObserver;
  /** The router in front of the pods, for flavours that scale on it (Dynamo's frontend, llm-d's endpoint picker). */
  readonly router: RouterMetrics | undefined;
  private readonly poolLabel: FleetMetricsOptions['poolLabel'];
  lastControl: LastControl | undefined;
  private readonly pods = new Map<Instance, PodMetrics>();
  private serving: PodMetrics[] = [];
  private servingByName = new Map<string, PodMetrics>();

  constructor(o: FleetMetricsOptions = {}) {
    this.spec = flavourSpec(o.flavour ?? 'vllm');
    this.service = o.service ?? 'sim';
    this.namespace = o.namespace ?? 'default';
    this.modelName = o.modelName ?? DEFAULT_MODEL_NAME;
    this.labels = { ...(o.labels ?? {}) };
    for (const k of ['pod', 'service', 'role', 'pool', 'namespace']) {
      if (k in this.labels) throw new Error(`exporter labels: '${k}' is set per pod and cannot be overridden`);
    }
    renderLabels(this.labels); // validates names early
    if (o.poolLabel && ['pod', 'service', 'role', 'namespace'].includes(o.poolLabel.name)) throw new Error(`exporter pool label '${o.poolLabel.name}' is set per pod for another purpose`);
    this.poolLabel = o.poolLabel;
    this.router = this.spec.router ? new RouterMetrics(this.spec.router) : undefined;
    const router = this.router;
    this.observer = {
      arrived: () => {
        if (router) router.arrived++;
      },
      prefillDone: (req, p) => {
        // What a prefill engine reports: arrival to its first token (queue + prefill), before the KV transfer.
        this.podFor(p).ttft.observe(req.prefillDone - req.arrival);
        if (router) router.firstTokens++;
      },
      requestDone: (req, ttftS, tbtS, d) => {
        // The router sees the whole request: arrival to the first token streamed back (after the KV transfer).
        if (router) router.requestDone(ttftS, tbtS, req.output);
        const pod = this.podFor(d);
        pod.requestsFinished++;
        // Every generated token after the first is one inter-token gap; the request's mean gap stands for each.
        if (req.output > 1) pod.itl.observe(tbtS, req.output - 1);
        pod.tpot.observe(tbtS);
        pod.e2e.observe(ttftS + tbtS * req.output);
      },
      control: (now, signals, out) => {
        this.lastControl = { t: now, signals: { ...signals }, replicas: { ...out.replicas }, reasons: (out.reasons ?? []).map((r) => r.code) };
      },
    };
  }

  get flavour(): Flavour {
    return this.spec.flavour;
  }

  podName(inst: Instance): string {
    return `${this.service}-${inst.pool}-${inst.id}`;
  }

  /** Labels a Prometheus target for this pod carries (service discovery and the aggregated page). */
  discoveryLabels(pod: PodMetrics): Record<string, string> {
    return this.targetLabels(pod.instance);
  }

  private targetLabels(inst: Instance): Record<string, string> {
    const out: Record<string, string> = { ...this.labels, pod: this.podName(inst), service: this.service, role: inst.role, pool: inst.pool, namespace: this.namespace };
    if (this.poolLabel) out[this.poolLabel.name] = this.poolLabel.values[inst.pool] ?? inst.pool;
    return out;
  }

  private podFor(inst: Instance): PodMetrics {
    let pod = this.pods.get(inst);
    if (!pod) {
      const name = this.podName(inst);
      const engine = renderLabels(this.spec.engineLabels(this.modelName, inst.role));
      const target = renderLabels(this.targetLabels(inst));
      pod = new PodMetrics(name, inst, this.spec.bounds, engine, target);
      this.pods.set(inst, pod);
    }
    return pod;
  }

  /**
   * Brings pods up to the simulation's `now` (which must not go backwards): pods appear when their instance is ready
   * (a cold-starting engine serves no metrics yet), stay while draining, and vanish once gone.
   */
  sync(fleet: Fleet, now: number): void {
    const serving: PodMetrics[] = [];
    for (const p of fleet.pools) {
      for (const inst of fleet.poolInstances(p.name)) {
        if (inst.state !== 'ready' && inst.state !== 'draining') continue;
        if (inst instanceof DecodeInstance) inst.advance(now);
        const pod = this.podFor(inst);
        pod.sampleUtilization(now);
        serving.push(pod);
      }
    }
    for (const [inst, pod] of this.pods) {
      if (inst.state !== 'gone') continue;
      // The router's output-token count keeps what a pod generated after the pod is gone.
      if (this.router) this.router.retiredTokens += pod.generationTokens();
      this.pods.delete(inst);
    }
    this.serving = serving;
    this.servingByName = new Map(serving.map((p) => [p.name, p]));
  }

  /** Pods serving metrics as of the last sync, in fleet order. */
  servingPods(): readonly PodMetrics[] {
    return this.serving;
  }

  pod(name: string): PodMetrics | undefined {
    return this.servingByName.get(name);
  }

  /** Every serving pod's series with discovery labels: one page for a single static scrape target. */
  render(countScale = 1): string {
    const pods = renderExposition(this.spec, this.serving, { withTargetLabels: true, countScale });
    return this.router ? pods + this.renderRouter(countScale, true) : pods;
  }

  /** Labels a Prometheus target for the router carries (no pool or role: it serves the whole service). */
  routerDiscoveryLabels(): Record<string, string> {
    return { ...this.labels, pod: `${this.service}-router`, service: this.service, namespace: this.namespace };
  }

  /** The router's page (`withTargetLabels`: with its discovery labels, for the aggregated page). */
  renderRouter(countScale = 1, withTargetLabels = false): string {
    if (!this.router) return '';
    let liveTokens = 0;
    for (const p of this.serving) liveTokens += p.generationTokens();
    return this.router.render({
      model: this.modelName, liveTokens, countScale,
      ...(withTargetLabels ? { targetLabels: renderLabels(this.routerDiscoveryLabels()) } : {}),
    });
  }

  /** One pod's page as its engine serves it (engine labels only; Prometheus adds the target labels). */
  renderPod(pod: PodMetrics, countScale = 1): string {
    return renderExposition(this.spec, [pod], { withTargetLabels: false, countScale });
  }
}
