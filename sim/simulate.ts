// The discrete-event fleet simulator: requests arrive, queue for prefill, move their KV cache to a decode instance and
// decode under continuous batching; every control tick a policy sees the signals and sets replicas.
import type { Role } from '../engine/core/types.js';
import type { ModelShape } from './gpu/index.js';
import { DecodeInstance } from './fleet/decode.js';
import { Fleet, type NetworkConfig, type SimPool } from './fleet/fleet.js';
import type { Instance } from './fleet/instance.js';
import { PrefillInstance } from './fleet/prefill.js';
import type { FlightRequest } from './fleet/request.js';
import { MinHeap } from './heap.js';
import { LatencyHistogram } from './histogram.js';
import type { ControlInput, ControlOutput, PoolView, SimPolicy } from './policy.js';
import { Rng } from './rng.js';
import {
  DECODE_SM_BASE, DECODE_SM_SPAN, DECODE_UTIL_BUSY, PREFILL_SM_BUSY, quantile, UTIL_IDLE, type Signals,
} from './signals.js';
import type { SimRequest } from './workload/index.js';

export interface SimServiceSpec {
  name: string;
  sloTtftS: number;
  sloTbtS: number;
  shape: ModelShape;
  /** The pressure-tested P:D ratio, in instances of the reference pools; drift is measured against it. */
  ratio: { prefill: number; decode: number };
}

export interface SimulationConfig {
  service: SimServiceSpec;
  pools: SimPool[];
  network: NetworkConfig;
  coldStartS: number;
  /** Control tick: how often the policy is asked (the adapter's rule interval). */
  tickS: number;
  /** Window of rates (the PromQL rate() range). */
  windowS: number;
  /**
   * Window of latency quantiles (histogram_quantile over rate(…[w])); default 2 × windowS. A p99 over a few dozen
   * requests is noise, and a guard acting on noise flaps.
   */
  latencyWindowS?: number;
  /** Simulated time at which the run starts (seconds since midnight for diurnal runs). */
  startS: number;
  durationS: number;
  seed: number;
  timelineStepS: number;
  onProgress?: (fraction: number) => void;
}

export interface TimelinePoint {
  t: number;
  arrivalsPerS: number;
  prefillTps: number;
  decodeTps: number;
  replicas: Record<Role, number>;
  ready: Record<Role, number>;
  gpus: number;
  ttftP99: number | null;
  tbtP99: number | null;
  prefillUtil: number;
  decodeUtil: number;
}

export interface SimResult {
  policy: string;
  requests: number;
  completed: number;
  unfinished: number;
  sloAttainment: { ttft: number; tbt: number; both: number };
  ttft: { p50: number; p99: number };
  tbt: { p50: number; p99: number };
  gpuHours: number;
  cost: number;
  pools: Record<string, { gpuHours: number; cost: number }>;
  meanGpuUtil: { prefill: number; decode: number };
  /** Mean |ready P:D in units ÷ configured ratio − 1| over the run. */
  ratioDrift: number;
  scaleEvents: number;
  preemptions: number;
  crossSwitchShare: number;
  timeline: TimelinePoint[];
  decisions: { t: number; reasons: string[] }[];
}

const enum Kind {
  Arrival,
  PrefillDone,
  DecodeArrive,
  DecodeEvent,
  Ready,
  Tick,
}

interface Ev {
  kind: Kind;
  inst?: Instance;
  req?: FlightRequest;
  version?: number;
}

interface Bucket {
  ttft: LatencyHistogram;
  tbt: LatencyHistogram;
}

/** Hooks for live views of a run (the exporter mode): called synchronously as things happen. */
export interface SimObserver {
  /** A request reached the service (before any pod has it): what a router in front of the pods counts. */
  arrived?(req: FlightRequest): void;
  requestDone?(req: FlightRequest, ttftS: number, tbtS: number, decode: DecodeInstance): void;
  prefillDone?(req: FlightRequest, prefill: PrefillInstance): void;
  control?(now: number, signals: Signals, out: ControlOutput): void;
}

/** A run that can be advanced step by step (exporter mode runs it against the wall clock). */
export interface Simulation {
  readonly fleet: Fleet;
  readonly policy: SimPolicy;
  /** Processes every event up to `t` (capped at the end of the run); returns false once the run is over. */
  runUntil(t: number): boolean;
  now(): number;
  result(): SimResult;
}

export function simulate(cfg: SimulationConfig, requests: Iterable<SimRequest>, policy: SimPolicy): SimResult {
  const run = createSimulation(cfg, requests, policy);
  run.runUntil(Infinity);
  return run.result();
}

export function createSimulation(cfg: SimulationConfig, requests: Iterable<SimRequest>, policy: SimPolicy, observer: SimObserver = {}): Simulation {
  const rng = new Rng(cfg.seed);
  const fleet = new Fleet({
    pools: cfg.pools,
    shape: cfg.service.shape,
    coldStartS: cfg.coldStartS,
    network: cfg.network,
    random: () => rng.next(),
  });
  const heap = new MinHeap<Ev>();
  const end = cfg.startS + cfg.durationS;
  const unitsOf = (p: SimPool): number => p.units;

  // Per-request outcomes.
  const ttfts: number[] = [];
  const tbts: number[] = [];
  let arrived = 0;
  // Arrivals in the final stretch of the run may rightly still be in flight at the end; older ones are late.
  const graceS = 60;
  let arrivedInGrace = 0;
  let metTtft = 0;
  let metTbt = 0;
  let metBoth = 0;

  // Sliding window of latency samples, one bucket per tick.
  const bucketsPerWindow = Math.max(1, Math.round(cfg.windowS / cfg.tickS));
  const latencyBuckets = Math.max(1, Math.round((cfg.latencyWindowS ?? 2 * cfg.windowS) / cfg.tickS));
  const buckets: Bucket[] = [];
  let bucket: Bucket = { ttft: new LatencyHistogram(), tbt: new LatencyHistogram() };
  const windowTtft = new LatencyHistogram();
  const windowTbt = new LatencyHistogram();

  // Counter snapshots per tick for windowed rates.
  interface Snap { t: number; prefillTokens: number; decodeTokens: number; busy: Record<Role, number>; readyS: Record<Role, number>; kvUsageS: number; arrivals: number }
  const snaps: Snap[] = [];
  const readyS: Record<Role, number> = { prefill: 0, decode: 0 };
  let kvUsageS = 0;

  const timeline: TimelinePoint[] = [];
  const decisions: { t: number; reasons: string[] }[] = [];
  let nextTimelineAt = cfg.startS;
  let scaleEvents = 0;
  let ratioDriftSum = 0;
  let ratioDriftN = 0;
  let utilSum: Record<Role, number> = { prefill: 0, decode: 0 };
  let utilN = 0;
  const spec: Record<string, number> = {};

  const iterator = requests[Symbol.iterator]();
  const pullArrival = (): void => {
    const next = iterator.next();
    if (next.done) return;
    const r = next.value;
    const at = cfg.startS + r.arrival;
    if (at > end) return;
    const req: FlightRequest = {
      id: r.id, arrival: at, input: Math.max(1, r.input - (r.prefixHitTokens ?? 0)), output: Math.max(1, r.output),
      prefillDone: 0, decodeArrival: 0, generated: 0, g0: 0, preemptions: 0, crossSwitch: false,
    };
    heap.push(at, { kind: Kind.Arrival, req });
  };

  const record = (req: FlightRequest, now: number): void => {
    const ttft = req.decodeArrival - req.arrival;
    const tbt = (now - req.decodeArrival) / req.output;
    ttfts.push(ttft);
    tbts.push(tbt);
    bucket.ttft.observe(ttft);
    bucket.tbt.observe(tbt);
    if (observer.requestDone) observer.requestDone(req, ttft, tbt, decodeOf.get(req)!);
    const okT = ttft <= cfg.service.sloTtftS;
    const okB = tbt <= cfg.service.sloTbtS;
    if (okT) metTtft++;
    if (okB) metTbt++;
    if (okT && okB) metBoth++;
  };

  const startPrefill = (req: FlightRequest, now: number): void => {
    const p = fleet.routePrefill(now);
    if (!p) {
      fleet.pendingPrefill.push(req);
      return;
    }
    heap.push(p.enqueue(req, now), { kind: Kind.PrefillDone, inst: p, req });
  };

  const sendToDecode = (req: FlightRequest, from: Instance | undefined, now: number): void => {
    const d = fleet.routeDecode(from);
    if (!d) {
      fleet.pendingDecode.push(req);
      return;
    }
    heap.push(now + fleet.transferSeconds(req, from, d), { kind: Kind.DecodeArrive, inst: d, req });
  };

  const finished: FlightRequest[] = [];
  // Only kept when someone observes: which decode instance served a request.
  const decodeOf = new Map<FlightRequest, DecodeInstance>();
  const settleDecode = (d: DecodeInstance, now: number): void => {
    finished.length = 0;
    d.settle(now, finished);
    for (const r of finished) {
      if (observer.requestDone) decodeOf.set(r, d);
      record(r, now);
      decodeOf.delete(r);
    }
    const at = d.reschedule(now);
    if (at !== Infinity) heap.push(at, { kind: Kind.DecodeEvent, inst: d, version: d.version });
    if (d.state === 'draining' && d.inFlight === 0) retire(d, now);
  };

  const retire = (i: Instance, now: number): void => fleet.retire(i, now);

  const applyScale = (replicas: Record<string, number>, now: number): void => {
    for (const p of cfg.pools) {
      const want = replicas[p.name];
      if (want === undefined || !Number.isFinite(want)) continue;
      const n = Math.max(0, Math.min(p.maxInstances, Math.round(want)));
      if (spec[p.name] !== undefined && spec[p.name] !== n) scaleEvents++;
      spec[p.name] = n;
      const created = fleet.scale(p.name, n, now, policy.instantStart === true);
      for (const inst of created) {
        if (inst.state === 'ready') onReady(inst, now);
        else heap.push(inst.readyAt, { kind: Kind.Ready, inst });
      }
    }
  };

  const onReady = (inst: Instance, now: number): void => {
    fleet.markReady(inst);
    if (inst.role === 'prefill' && fleet.pendingPrefill.length) {
      const q = fleet.pendingPrefill.splice(0);
      for (const r of q) startPrefill(r, now);
    }
    if (inst.role === 'decode' && fleet.pendingDecode.length) {
      const q = fleet.pendingDecode.splice(0);
      for (const r of q) sendToDecode(r, undefined, now);
    }
  };

  let lastTickAt = cfg.startS;
  const busyNow = (role: Role): number => fleet.busySeconds(role);

  const tick = (now: number): void => {
    // Integrate ready instance-seconds and KV usage since the last tick.
    const dt = now - lastTickAt;
    let kvSum = 0;
    for (const p of cfg.pools) {
      for (const i of fleet.poolInstances(p.name)) {
        if (i.state !== 'ready' && i.state !== 'draining') continue;
        readyS[i.role] += dt;
        if (i instanceof DecodeInstance) {
          i.advance(now);
          kvSum += i.kvUsage * dt;
        }
      }
    }
    kvUsageS += kvSum;
    lastTickAt = now;
    buckets.push(bucket);
    const recycled = buckets.length > latencyBuckets ? buckets.shift()! : undefined;
    if (recycled) {
      recycled.ttft.clear();
      recycled.tbt.clear();
      bucket = recycled;
    } else {
      bucket = { ttft: new LatencyHistogram(), tbt: new LatencyHistogram() };
    }
    const snap: Snap = {
      t: now,
      prefillTokens: fleet.prefillTokensTotal,
      decodeTokens: fleet.decodeTokensTotal(now),
      busy: { prefill: busyNow('prefill'), decode: busyNow('decode') },
      readyS: { ...readyS },
      kvUsageS,
      arrivals: arrived,
    };
    snaps.push(snap);
    if (snaps.length > bucketsPerWindow + 1) snaps.shift();
    const old = snaps[0]!;
    const signals = windowSignals(old, snap, buckets);
    const pools: PoolView[] = cfg.pools.map((p) => {
      const c = fleet.counts(p.name);
      return { pool: p, spec: spec[p.name] ?? c.current, current: c.current, ready: c.ready };
    });
    const input: ControlInput = { now, signals, pools };
    const out = policy.control(input);
    if (observer.control) observer.control(now, signals, out);
    applyScale(out.replicas, now);
    if (out.reasons?.length) decisions.push({ t: now, reasons: out.reasons.map((r) => r.code) });

    const readyUnits = { prefill: 0, decode: 0 };
    for (const v of pools) readyUnits[v.pool.role] += v.ready * unitsOf(v.pool);
    if (readyUnits.prefill > 0 && readyUnits.decode > 0) {
      const want = cfg.service.ratio.prefill / cfg.service.ratio.decode;
      ratioDriftSum += Math.abs(readyUnits.prefill / readyUnits.decode / want - 1);
      ratioDriftN++;
    }
    utilSum.prefill += signals.prefillGpuUtil;
    utilSum.decode += signals.decodeGpuUtil;
    utilN++;

    if (now >= nextTimelineAt) {
      nextTimelineAt += cfg.timelineStepS;
      const replicas = { prefill: 0, decode: 0 };
      const ready = { prefill: 0, decode: 0 };
      let gpus = 0;
      for (const v of pools) {
        replicas[v.pool.role] += v.current;
        ready[v.pool.role] += v.ready;
        gpus += v.current * v.pool.gpusPerInstance;
      }
      const span = Math.max(1e-9, snap.t - old.t);
      timeline.push({
        t: now, arrivalsPerS: (snap.arrivals - old.arrivals) / span, prefillTps: signals.prefillTps, decodeTps: signals.decodeTps,
        replicas, ready, gpus, ttftP99: signals.ttftP99 ?? null, tbtP99: signals.tbtP99 ?? null,
        prefillUtil: signals.prefillGpuUtil, decodeUtil: signals.decodeGpuUtil,
      });
    }
    if (cfg.onProgress) cfg.onProgress((now - cfg.startS) / cfg.durationS);
  };

  const windowSignals = (a: Snap, b: Snap, bs: Bucket[]): Signals => {
    const span = b.t - a.t;
    const rate = (x: number) => (span > 0 ? x / span : 0);
    const frac = (role: Role) => {
      const avail = b.readyS[role] - a.readyS[role];
      return avail > 0 ? Math.max(0, Math.min(1, (b.busy[role] - a.busy[role]) / avail)) : 0;
    };
    const pBusy = frac('prefill');
    const dBusy = frac('decode');
    const dAvail = b.readyS.decode - a.readyS.decode;
    const kv = dAvail > 0 ? (b.kvUsageS - a.kvUsageS) / dAvail : 0;
    windowTtft.clear();
    windowTbt.clear();
    for (const x of bs) {
      windowTtft.add(x.ttft);
      windowTbt.add(x.tbt);
    }
    return {
      prefillTps: rate(b.prefillTokens - a.prefillTokens),
      decodeTps: rate(b.decodeTokens - a.decodeTokens),
      prefillGpuUtil: pBusy + (1 - pBusy) * UTIL_IDLE,
      decodeGpuUtil: dBusy * DECODE_UTIL_BUSY + (1 - dBusy) * UTIL_IDLE,
      prefillSmActivity: pBusy * PREFILL_SM_BUSY,
      decodeSmActivity: dBusy * (DECODE_SM_BASE + DECODE_SM_SPAN * Math.min(1, kv)),
      ttftP99: windowTtft.quantile(0.99),
      tbtP99: windowTbt.quantile(0.99),
      arrivalsPerS: rate(b.arrivals - a.arrivals),
    };
  };

  // Start: initial replicas are ready (the fleet was running before the window we look at).
  const initial = policy.initial(cfg.pools, cfg.startS);
  for (const p of cfg.pools) {
    const n = Math.max(0, Math.min(p.maxInstances, Math.round(initial[p.name] ?? 0)));
    spec[p.name] = n;
    for (const inst of fleet.scale(p.name, n, cfg.startS, true)) fleet.markReady(inst);
  }
  snaps.push({ t: cfg.startS, prefillTokens: 0, decodeTokens: 0, busy: { prefill: 0, decode: 0 }, readyS: { prefill: 0, decode: 0 }, kvUsageS: 0, arrivals: 0 });
  pullArrival();
  heap.push(cfg.startS + cfg.tickS, { kind: Kind.Tick });

  let now = cfg.startS;
  const runUntil = (limit: number): boolean => {
    const stop = Math.min(limit, end);
    while (heap.size > 0) {
      const t = heap.peekKey();
      if (t > stop) break;
      const ev = heap.pop()!;
      now = t;
      switch (ev.kind) {
        case Kind.Arrival:
          arrived++;
          if (now > end - graceS) arrivedInGrace++;
          if (observer.arrived) observer.arrived(ev.req!);
          startPrefill(ev.req!, now);
          pullArrival();
          break;
        case Kind.PrefillDone: {
          const p = ev.inst as PrefillInstance;
          const req = ev.req!;
          p.complete(req);
          fleet.prefillTokensTotal += req.input;
          req.prefillDone = now;
          if (observer.prefillDone) observer.prefillDone(req, p);
          if (p.state === 'draining' && p.inFlight === 0) retire(p, now);
          sendToDecode(req, p, now);
          break;
        }
        case Kind.DecodeArrive: {
          const d = ev.inst as DecodeInstance;
          const req = ev.req!;
          req.decodeArrival = now;
          if (d.state === 'gone') {
            sendToDecode(req, undefined, now);
            break;
          }
          d.advance(now);
          d.accept(req);
          settleDecode(d, now);
          break;
        }
        case Kind.DecodeEvent: {
          const d = ev.inst as DecodeInstance;
          if (ev.version !== d.version || d.state === 'gone') break;
          settleDecode(d, now);
          break;
        }
        case Kind.Ready:
          if (ev.inst!.state === 'starting') onReady(ev.inst!, now);
          break;
        case Kind.Tick:
          tick(now);
          heap.push(now + cfg.tickS, { kind: Kind.Tick });
          break;
      }
    }
    if (stop > now) now = stop;
    return now < end && heap.size > 0;
  };

  const result = (): SimResult => {
    const usage = fleet.usage(Math.min(end, now));
    let gpuHours = 0;
    let cost = 0;
    for (const u of Object.values(usage)) {
      gpuHours += u.gpuHours;
      cost += u.cost;
    }
    const completed = ttfts.length;
    const unfinished = arrived - completed;
    // Requests still in flight at the end count as misses unless they arrived in the last minute: a queue that ran
    // away must not look better than one that served everything.
    const late = Math.max(0, unfinished - arrivedInGrace);
    const denom = Math.max(1, completed + late);
    return {
      policy: policy.name,
      requests: arrived,
      completed,
      unfinished,
      sloAttainment: { ttft: metTtft / denom, tbt: metTbt / denom, both: metBoth / denom },
      ttft: { p50: quantile(ttfts, 0.5) ?? 0, p99: quantile(ttfts, 0.99) ?? 0 },
      tbt: { p50: quantile(tbts, 0.5) ?? 0, p99: quantile(tbts, 0.99) ?? 0 },
      gpuHours,
      cost,
      pools: usage,
      meanGpuUtil: { prefill: utilN ? utilSum.prefill / utilN : 0, decode: utilN ? utilSum.decode / utilN : 0 },
      ratioDrift: ratioDriftN ? ratioDriftSum / ratioDriftN : 0,
      scaleEvents,
      preemptions: fleet.instances.reduce((s, i) => s + (i instanceof DecodeInstance ? i.preemptions : 0), 0),
      crossSwitchShare: fleet.transfers ? fleet.crossSwitchTransfers / fleet.transfers : 0,
      timeline,
      decisions,
  };
  };

  return { fleet, policy, runUntil, now: () => now, result };
}
