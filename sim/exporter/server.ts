// Exporter mode: a simulation advanced with the wall clock (× speed), serving each simulated pod's engine metrics so a
// real Prometheus can scrape them, plus Prometheus HTTP service discovery so pods are found as they come and go.
//   GET /metrics                 every serving pod, with pod/service/role/pool/namespace labels (one static target)
//   GET /pods/<pod>/metrics      one pod's page as its engine serves it (engine labels only)
//   GET /sd                      http_sd_configs targets: one per pod, __metrics_path__ = /pods/<pod>/metrics, plus
//                                the router (/router/metrics) for the dynamo and llm-d flavours
//   GET /router/metrics          the router's page (dynamo: Dynamo's frontend; llm-d: the endpoint picker)
//   GET /healthz, GET /state     liveness; sim time, replicas per pool, last signals and decision
//   POST /load {"rps": n} | {"factor": x}   steer the request source (when it is steerable)
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { SimObserver, Simulation } from '../simulate.js';
import type { Flavour } from './families.js';
import { FleetMetrics } from './metrics.js';
import { EXPOSITION_CONTENT_TYPE } from './render.js';

/** What /load and setLoadFactor steer: a SteerableArrivals, or anything with a settable rate. */
export interface RateControl {
  readonly rps: number;
  setRate(rps: number): void;
}

export interface ExporterOptions {
  /** A simulation created with `metrics.observer`, or a factory that gets the observer to pass to createSimulation. */
  simulation: Simulation | ((observer: SimObserver) => Simulation);
  /** Required with a ready-made simulation (its observer must be the one the simulation was created with). */
  metrics?: FleetMetrics;
  host?: string;
  /** 0 = a free port. */
  port?: number;
  /** Simulated seconds per wall-clock second. Default 1. */
  speed?: number;
  flavour?: Flavour;
  service?: string;
  namespace?: string;
  modelName?: string;
  labels?: Record<string, string>;
  poolLabel?: { name: string; values: Record<string, string> };
  /** How often the simulation is advanced (ms). Default 200. */
  stepMs?: number;
  /**
   * Divide counters and histogram counts/sums by `speed`, so Prometheus' rate() over wall-clock time reads simulated
   * per-second rates (TPS targets stay valid at any speed). Default false: real counts, rates are speed × simulated.
   */
  ratesPerSimSecond?: boolean;
  /** The request source, for /load and setLoadFactor. */
  load?: RateControl;
}

export interface RunningExporter {
  url: string;
  port: number;
  simulation: Simulation;
  metrics: FleetMetrics;
  /** Advances the simulation to the wall clock now (also done on a timer and before every response). */
  step(): void;
  /** Simulated seconds since the exporter started. */
  elapsedSimS(): number;
  /** Sets the request rate (needs `load`). */
  setRate?(rps: number): void;
  /** Multiplies the request rate the exporter started with (needs `load`). */
  setLoadFactor?(x: number): void;
  close(): Promise<void>;
}

function checkNumber(name: string, v: number, min: number, inclusive: boolean): void {
  if (!Number.isFinite(v) || (inclusive ? v < min : v <= min)) throw new Error(`startExporter: ${name} must be a finite number ${inclusive ? '>=' : '>'} ${min}, got ${v}`);
}

export async function startExporter(o: ExporterOptions): Promise<RunningExporter> {
  const speed = o.speed ?? 1;
  checkNumber('speed', speed, 0, false);
  const stepMs = o.stepMs ?? 200;
  checkNumber('stepMs', stepMs, 10, true);
  const port = o.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`startExporter: port must be an integer 0..65535, got ${port}`);
  const host = o.host ?? '127.0.0.1';

  let metrics: FleetMetrics;
  let simulation: Simulation;
  if (typeof o.simulation === 'function') {
    if (o.metrics && o.flavour && o.metrics.flavour !== o.flavour) throw new Error(`startExporter: flavour '${o.flavour}' differs from metrics' '${o.metrics.flavour}'`);
    metrics = o.metrics ?? new FleetMetrics(fleetMetricsOptions(o));
    simulation = o.simulation(metrics.observer);
  } else {
    if (!o.metrics) throw new Error('startExporter: a ready-made simulation needs `metrics` (the FleetMetrics whose observer it was created with); or pass a factory (observer) => createSimulation(…, observer)');
    if (o.flavour && o.metrics.flavour !== o.flavour) throw new Error(`startExporter: flavour '${o.flavour}' differs from metrics' '${o.metrics.flavour}'`);
    metrics = o.metrics;
    simulation = o.simulation;
  }
  const countScale = o.ratesPerSimSecond ? 1 / speed : 1;
  const baseRps = o.load?.rps;

  const simStart = simulation.now();
  const wallStart = performance.now();
  let finished = false;
  let failure: Error | undefined;
  let lagS = 0;

  const step = (): void => {
    if (finished || failure) return;
    const target = simStart + ((performance.now() - wallStart) / 1000) * speed;
    try {
      const more = simulation.runUntil(target);
      metrics.sync(simulation.fleet, simulation.now());
      lagS = Math.max(0, target - simulation.now());
      if (!more) finished = true;
    } catch (e) {
      failure = e instanceof Error ? e : new Error(String(e));
    }
  };

  let timer: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    // A chain of timeouts, not an interval: steps never pile up when the simulation is slower than the wall clock.
    timer = setTimeout(() => {
      step();
      if (!finished && !failure) schedule();
    }, stepMs);
  };
  metrics.sync(simulation.fleet, simulation.now());
  schedule();

  const setRate = (rps: number): void => {
    if (!o.load) throw new Error('no steerable request source: start the exporter with `load`');
    step(); // the old rate applies up to now
    o.load.setRate(rps);
  };

  const state = (): Record<string, unknown> => {
    const fleet = simulation.fleet;
    const pools: Record<string, unknown> = {};
    for (const p of fleet.pools) {
      const n = { starting: 0, ready: 0, draining: 0 };
      for (const i of fleet.poolInstances(p.name)) if (i.state !== 'gone') n[i.state]++;
      pools[p.name] = { role: p.role, gpuType: p.gpuType, units: p.units, ...n };
    }
    const c = metrics.lastControl;
    return {
      service: metrics.service,
      flavour: metrics.flavour,
      policy: simulation.policy.name,
      simTimeS: simulation.now(),
      elapsedSimS: simulation.now() - simStart,
      speed,
      ratesPerSimSecond: o.ratesPerSimSecond === true,
      finished,
      error: failure?.message ?? null,
      lagS,
      rps: o.load?.rps ?? null,
      pods: metrics.servingPods().length,
      pools,
      signals: c?.signals ?? null,
      lastControl: c ? { t: c.t, replicas: c.replicas, reasons: c.reasons } : null,
    };
  };

  const send = (res: ServerResponse, status: number, type: string, body: string): void => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  const json = (res: ServerResponse, status: number, v: unknown): void => send(res, status, 'application/json', JSON.stringify(v));

  let selfTarget = '';
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';
    if (path === '/load') {
      if (method !== 'POST') return json(res, 405, { error: 'POST {"rps": n} or {"factor": x}' });
      const body = await readBody(req);
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        return json(res, 400, { error: `/load: body is not JSON: ${body.slice(0, 80)}` });
      }
      const p = parsed as { rps?: unknown; factor?: unknown };
      try {
        if (typeof p.rps === 'number') setRate(p.rps);
        else if (typeof p.factor === 'number' && baseRps !== undefined) setRate(baseRps * p.factor);
        else return json(res, 400, { error: '/load: expected {"rps": number} or {"factor": number}' });
      } catch (e) {
        return json(res, 400, { error: (e as Error).message });
      }
      return json(res, 200, { rps: o.load!.rps });
    }
    if (method !== 'GET' && method !== 'HEAD') return json(res, 405, { error: `${method} not allowed` });
    step();
    if (path === '/metrics') return send(res, 200, EXPOSITION_CONTENT_TYPE, metrics.render(countScale));
    const m = /^\/pods\/([^/]+)\/metrics$/.exec(path);
    if (m) {
      const pod = metrics.pod(decodeURIComponent(m[1]!));
      if (!pod) return send(res, 404, 'text/plain', `no serving pod ${m[1]}\n`);
      return send(res, 200, EXPOSITION_CONTENT_TYPE, metrics.renderPod(pod, countScale));
    }
    if (path === '/router/metrics' && metrics.router) return send(res, 200, EXPOSITION_CONTENT_TYPE, metrics.renderRouter(countScale));
    if (path === '/sd') {
      const targets = metrics.servingPods().map((pod) => ({
        targets: [selfTarget],
        labels: { __metrics_path__: `/pods/${encodeURIComponent(pod.name)}/metrics`, ...metrics.discoveryLabels(pod) } as Record<string, string>,
      }));
      // The router stays a target when every pod is gone: its queue is what wakes a service at zero.
      if (metrics.router) targets.push({ targets: [selfTarget], labels: { __metrics_path__: '/router/metrics', ...metrics.routerDiscoveryLabels() } });
      return json(res, 200, targets);
    }
    if (path === '/healthz') return failure ? send(res, 500, 'text/plain', `simulation failed: ${failure.message}\n`) : send(res, 200, 'text/plain', 'ok\n');
    if (path === '/state') return json(res, 200, state());
    return send(res, 404, 'text/plain', 'not found; try /metrics, /sd, /pods/<pod>/metrics, /state, /healthz\n');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain', `${(e as Error).message}\n`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const hostForUrl = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  selfTarget = `${hostForUrl}:${addr.port}`;

  const running: RunningExporter = {
    url: `http://${selfTarget}`,
    port: addr.port,
    simulation,
    metrics,
    step,
    elapsedSimS: () => simulation.now() - simStart,
    close: async () => {
      if (timer) clearTimeout(timer);
      finished = true;
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  if (o.load && baseRps !== undefined) {
    running.setRate = setRate;
    running.setLoadFactor = (x: number) => setRate(baseRps * x);
  }
  return running;
}

function fleetMetricsOptions(o: ExporterOptions): ConstructorParameters<typeof FleetMetrics>[0] {
  const out: ConstructorParameters<typeof FleetMetrics>[0] = {};
  if (o.flavour !== undefined) out.flavour = o.flavour;
  if (o.service !== undefined) out.service = o.service;
  if (o.namespace !== undefined) out.namespace = o.namespace;
  if (o.modelName !== undefined) out.modelName = o.modelName;
  if (o.labels !== undefined) out.labels = o.labels;
  if (o.poolLabel !== undefined) out.poolLabel = o.poolLabel;
  return out;
}

function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > limit) reject(new Error('request body too large'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}
