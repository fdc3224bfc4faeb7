// The simulated fleet of one service: pools of instances per role, the P/D router, scale-out with cold start and
// drain on scale-in, switch placement and GPU-hour accounting. Mechanics only: decisions come from a policy.
import type { Role } from '../../engine/core/types.js';
import { gpuModel, type GpuModel, type ModelShape } from '../gpu/index.js';
import { DecodeInstance } from './decode.js';
import type { Instance } from './instance.js';
import { EnginePlacement, type EnginePlacementOptions, type Placement } from './placement.js';
import { PrefillInstance } from './prefill.js';
import type { FlightRequest } from './request.js';

export interface SimPool {
  name: string;
  role: Role;
  gpuType: string;
  /** GPUs per instance (tensor parallel degree). */
  gpusPerInstance: number;
  /** Most instances the pool can hold (its share of the cluster). */
  maxInstances: number;
  /** Capacity of one instance in role units (the policy core's unitsPerReplica). */
  units: number;
}

export interface NetworkConfig {
  /** S1 switch domains the service's instances spread over. */
  switches: number;
  /** KV transfer bandwidth between a prefill and a decode instance under one switch (bytes/s). */
  sameSwitchBytesPerS: number;
  /** Cross-switch bandwidth as a share of same-switch (HeteroScale: ~20 % lower). */
  crossSwitchFactor: number;
  /**
   * `affine`: P and D of the service are spread evenly over switches so pairs share one; `random`: no affinity;
   * `engine`: the sidecar engine's placement code (engine/placement) decides each new instance's node and switch.
   */
  placement: 'affine' | 'random' | 'engine';
  /** With `engine`: group affinity (default s1), node size, ratio (sim/fleet/placement.ts). */
  engine?: Omit<EnginePlacementOptions, 'switches'>;
}

export const DEFAULT_NETWORK: NetworkConfig = {
  switches: 4,
  // 400 Gb/s RDMA NIC per instance.
  sameSwitchBytesPerS: 50e9,
  crossSwitchFactor: 0.8,
  placement: 'affine',
};

export interface FleetConfig {
  pools: SimPool[];
  shape: ModelShape;
  coldStartS: number;
  network: NetworkConfig;
  /** Deterministic randomness for `random` placement. */
  random: () => number;
}

export interface PoolCounts {
  /** Instances the Deployment wants (spec.replicas). */
  spec: number;
  /** Instances that exist and are not draining (status.replicas). */
  current: number;
  ready: number;
}

export class Fleet {
  readonly pools: SimPool[];
  private readonly gpus = new Map<string, GpuModel>();
  readonly instances: Instance[] = [];
  private readonly live = new Map<string, Instance[]>();
  private nextId = 0;
  /** Requests waiting for any accepting instance of a role (nothing ready yet). */
  readonly pendingPrefill: FlightRequest[] = [];
  readonly pendingDecode: FlightRequest[] = [];
  private retiredDecodeTokens = 0;
  /** Busy seconds of instances already gone, per role (utilization windows must not lose them). */
  readonly retiredBusy: Record<Role, number> = { prefill: 0, decode: 0 };
  prefillTokensTotal = 0;
  crossSwitchTransfers = 0;
  transfers = 0;
  /** Set with `network.placement: 'engine'`. */
  readonly placement: EnginePlacement | undefined;

  constructor(readonly cfg: FleetConfig) {
    this.pools = cfg.pools;
    for (const p of cfg.pools) {
      this.gpus.set(p.name, gpuModel(p.gpuType, cfg.shape));
      this.live.set(p.name, []);
    }
    if (cfg.network.placement === 'engine') this.placement = new EnginePlacement(cfg.pools, { ...cfg.network.engine, switches: cfg.network.switches });
  }

  gpuOf(pool: string): GpuModel {
    const g = this.gpus.get(pool);
    if (!g) throw new Error(`unknown pool ${pool}`);
    return g;
  }

  poolInstances(pool: string): Instance[] {
    return this.live.get(pool) ?? [];
  }

  counts(pool: string): PoolCounts {
    let current = 0;
    let ready = 0;
    for (const i of this.poolInstances(pool)) {
      if (i.state === 'starting' || i.state === 'ready') current++;
      if (i.state === 'ready') ready++;
    }
    return { spec: current, current, ready };
  }

  *accepting(role: Role): Iterable<Instance> {
    for (const p of this.pools) {
      if (p.role !== role) continue;
      for (const i of this.poolInstances(p.name)) if (i.state === 'ready') yield i;
    }
  }

  /**
   * Sets a pool's instance count. New instances start cold (ready after coldStartS, or at once when `instant`);
   * removal takes instances that never became ready first, then the least busy ready ones, which drain.
   * Returns instances created (the caller schedules their ready events).
   */
  scale(pool: string, target: number, now: number, instant: boolean): Instance[] {
    const spec = this.cfg.pools.find((p) => p.name === pool);
    if (!spec) throw new Error(`unknown pool ${pool}`);
    const want = Math.max(0, Math.min(spec.maxInstances, Math.floor(target)));
    const list = this.poolInstances(pool);
    const active = list.filter((i) => i.state === 'starting' || i.state === 'ready');
    const created: Instance[] = [];
    this.readyCache = undefined;
    if (want > active.length) {
      const where = this.placement?.place(pool, want - active.length, this.pools.flatMap((p) => this.poolInstances(p.name)), (r) => this.leastLoadedSwitch(r));
      for (let k = active.length; k < want; k++) created.push(this.create(spec, now, instant, where?.[k - active.length]));
    } else if (want < active.length) {
      let excess = active.length - want;
      // With engine placement, the instances on the slots the plan releases go first (as pod-deletion-cost does).
      const drain = this.placement?.shrink(pool, want, this.pools.flatMap((p) => this.poolInstances(p.name)));
      const first = (a: Instance, b: Instance): number => (drain ? Number(drain.has(b.id)) - Number(drain.has(a.id)) : 0);
      const starting = active.filter((i) => i.state === 'starting').reverse().sort(first);
      for (const i of starting) {
        if (excess === 0) break;
        this.retire(i, now);
        excess--;
      }
      const ready = active.filter((i) => i.state === 'ready').sort((a, b) => first(a, b) || a.inFlight - b.inFlight || b.id - a.id);
      for (const i of ready) {
        if (excess === 0) break;
        i.state = 'draining';
        if (i.inFlight === 0) this.retire(i, now);
        excess--;
      }
    }
    return created;
  }

  private create(spec: SimPool, now: number, instant: boolean, where?: Placement): Instance {
    const gpu = this.gpuOf(spec.name);
    const switchId = where ? where.switchId : this.placeOnSwitch(spec.role);
    const readyAt = instant ? now : now + this.cfg.coldStartS;
    const id = this.nextId++;
    let inst: Instance;
    if (spec.role === 'prefill') {
      inst = new PrefillInstance(id, spec.name, 'prefill', gpu, spec.gpusPerInstance, switchId, now, readyAt);
    } else {
      const d = new DecodeInstance(id, spec.name, 'decode', gpu, spec.gpusPerInstance, switchId, now, readyAt);
      d.kvCap = gpu.kvCapacityTokens * spec.gpusPerInstance;
      inst = d;
    }
    if (instant) inst.state = 'ready';
    if (where) this.placement?.bind(inst, where);
    this.instances.push(inst);
    this.live.get(spec.name)!.push(inst);
    return inst;
  }

  /** Affine placement keeps each role evenly spread over switches, so every switch holds P and D at the ratio. */
  private placeOnSwitch(role: Role): number {
    const n = this.cfg.network.switches;
    if (n <= 1) return 0;
    if (this.cfg.network.placement === 'random') return Math.floor(this.cfg.random() * n);
    return this.leastLoadedSwitch(role);
  }

  private leastLoadedSwitch(role: Role): number {
    const n = Math.max(1, this.cfg.network.switches);
    const perSwitch = new Array<number>(n).fill(0);
    for (const i of this.accepting(role)) perSwitch[i.switchId]!++;
    for (const p of this.pools) {
      if (p.role !== role) continue;
      for (const i of this.poolInstances(p.name)) if (i.state === 'starting') perSwitch[i.switchId]!++;
    }
    let best = 0;
    for (let s = 1; s < n; s++) if (perSwitch[s]! < perSwitch[best]!) best = s;
    return best;
  }

  retire(i: Instance, now: number): void {
    if (i.state === 'gone') return;
    i.state = 'gone';
    this.placement?.release(i);
    this.readyCache = undefined;
    i.goneAt = now;
    if (i instanceof DecodeInstance) {
      i.advance(now);
      this.retiredDecodeTokens += i.generatedTokens;
    }
    this.retiredBusy[i.role] += i.busyS;
    const list = this.live.get(i.pool)!;
    const at = list.indexOf(i);
    if (at >= 0) list.splice(at, 1);
  }

  // Ready instances per role, rebuilt only when an instance changes state; routing scans them every request.
  private readyCache: Record<Role, Instance[]> | undefined;
  private rr: Record<Role, number> = { prefill: 0, decode: 0 };

  /** Call whenever an instance's state changes outside `scale`/`retire` (e.g. it finished its cold start). */
  markReady(i: Instance): void {
    if (i.state === 'starting') i.state = 'ready';
    this.readyCache = undefined;
  }

  private ready(role: Role): Instance[] {
    if (!this.readyCache) {
      const c: Record<Role, Instance[]> = { prefill: [], decode: [] };
      for (const p of this.pools) for (const i of this.poolInstances(p.name)) if (i.state === 'ready') c[i.role].push(i);
      this.readyCache = c;
    }
    return this.readyCache[role];
  }

  /**
   * The prefill instance with the least outstanding work, or undefined when none is ready. Scans start at a rotating
   * offset so ties (idle instances at light load) spread round-robin instead of piling onto the first instance.
   */
  routePrefill(now: number): PrefillInstance | undefined {
    const list = this.ready('prefill');
    const n = list.length;
    if (n === 0) return undefined;
    const start = this.rr.prefill++ % n;
    let best: PrefillInstance | undefined;
    let bestBacklog = Infinity;
    for (let j = 0; j < n; j++) {
      const i = list[(start + j) % n] as PrefillInstance;
      const b = i.backlog(now);
      if (b < bestBacklog) {
        bestBacklog = b;
        best = i;
      }
    }
    return best;
  }

  /** The least loaded decode instance, preferring the prefill instance's switch unless it is much busier. */
  routeDecode(from: Instance | undefined): DecodeInstance | undefined {
    const list = this.ready('decode');
    const n = list.length;
    if (n === 0) return undefined;
    const start = this.rr.decode++ % n;
    let best: DecodeInstance | undefined;
    let bestScore = Infinity;
    for (let j = 0; j < n; j++) {
      const d = list[(start + j) % n] as DecodeInstance;
      const score = d.load() + (from && d.switchId !== from.switchId ? 0.15 : 0);
      if (score < bestScore) {
        bestScore = score;
        best = d;
      }
    }
    return best;
  }

  /** Seconds to move a prompt's KV cache from `from` to `to`. */
  transferSeconds(req: FlightRequest, from: Instance | undefined, to: DecodeInstance): number {
    const net = this.cfg.network;
    const cross = from !== undefined && from.switchId !== to.switchId;
    req.crossSwitch = cross;
    this.transfers++;
    if (cross) this.crossSwitchTransfers++;
    const bw = net.sameSwitchBytesPerS * (cross ? net.crossSwitchFactor : 1);
    return (req.input * this.cfg.shape.kvBytesPerToken) / bw;
  }

  /** Busy seconds of a role so far, live and gone instances. */
  busySeconds(role: Role): number {
    let b = this.retiredBusy[role];
    for (const p of this.pools) if (p.role === role) for (const i of this.poolInstances(p.name)) b += i.busyS;
    return b;
  }

  /** Decode tokens generated so far by every instance, live or gone. */
  decodeTokensTotal(now: number): number {
    let total = this.retiredDecodeTokens;
    for (const p of this.pools) {
      if (p.role !== 'decode') continue;
      for (const i of this.poolInstances(p.name)) {
        const d = i as DecodeInstance;
        d.advance(now);
        total += d.generatedTokens;
      }
    }
    return total;
  }

  /** GPU-hours and cost per pool up to `now`: an instance counts from creation (cold start included) until gone. */
  usage(now: number): Record<string, { gpuHours: number; cost: number }> {
    const out: Record<string, { gpuHours: number; cost: number }> = {};
    for (const p of this.pools) out[p.name] = { gpuHours: 0, cost: 0 };
    for (const i of this.instances) {
      const end = Math.min(i.goneAt, now);
      const h = (Math.max(0, end - i.createdAt) * i.gpus) / 3600;
      const u = out[i.pool]!;
      u.gpuHours += h;
      u.cost += h * i.gpu.pricePerHour;
    }
    return out;
  }
}
