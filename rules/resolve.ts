// From a schema-valid raw service to a ServiceRule: references checked, presets expanded, defaults filled, every
// PromQL parsed. Errors carry the file position of the offending field.
import { parseTimeOfDay } from '../engine/core/periodic.js';
import {
  DEFAULT_DRAIN_WAIT_S, DEFAULT_IDLE_S, DEFAULT_MAX_STALENESS_S, DEFAULT_METRIC_NAME, DEFAULT_POOL_LABEL, DEFAULT_QUERY_INTERVAL_S, DEFAULT_STABILITY, DEFAULT_WINDOW,
  RESERVED_LABELS,
} from './defaults.js';
import { type PathKey, PositionFinder, pathText } from './positions.js';
import { REPLICA_INDEX_LABEL } from '../engine/placement/identity.js';
import { isPresetGuardName, presetDecodeTps, presetDrainPromql, presetGuardPromql, presetWakePromql, type PresetContext } from './presets.js';
import { parseDuration, promqlSyntaxError, widestRangeSeconds } from './promql.js';
import { promqlTypeError } from './promql-types.js';
import type { RawQuery, RawService } from './raw.js';
import type { QuerySpec, RuleError, RuleGuard, RulePool, ServiceRule } from './types.js';
import { whenProblem } from './when.js';

export class ErrorSink {
  readonly errors: RuleError[] = [];
  constructor(readonly finder: PositionFinder) {}

  at(path: readonly PathKey[], message: string): void {
    const { line, col } = this.finder.pos(path);
    this.errors.push({ file: this.finder.file, line, col, path: pathText(path), message });
  }

  atPos(path: readonly PathKey[], pos: { line: number; col: number }, message: string): void {
    this.errors.push({ file: this.finder.file, line: pos.line, col: pos.col, path: pathText(path), message });
  }
}

export function resolveService(raw: RawService, index: number, sink: ErrorSink): ServiceRule | undefined {
  const before = sink.errors.length;
  const base: PathKey[] = ['services', index];
  const p = (...rest: PathKey[]): PathKey[] => [...base, ...rest];

  const pools = resolvePools(raw, p, sink);
  const poolLabel = raw.poolLabel ?? DEFAULT_POOL_LABEL;
  const window = raw.window ?? DEFAULT_WINDOW;
  const preset: PresetContext | undefined = raw.engine
    ? { engine: raw.engine, match: raw.match ?? {}, poolLabel, window, decodePoolValues: pools.filter((x) => x.role === 'decode').map((x) => x.poolLabelValue) }
    : undefined;
  if (raw.match && !raw.engine) sink.at(p('match'), '"match" only applies with an "engine" preset; write the selector into your PromQL instead');

  let decodeTps: QuerySpec | undefined;
  if (raw.decodeTps !== undefined) decodeTps = querySpec(raw.decodeTps, p('decodeTps'), sink);
  else if (preset) decodeTps = presetDecodeTps(preset);
  else sink.at(base, 'missing "decodeTps" (a PromQL query); or set "engine" to use a preset');
  if (decodeTps?.by !== undefined && raw.decodeTps !== undefined && typeof raw.decodeTps !== 'string') checkByLabel(decodeTps.by, p('decodeTps', 'by'), sink);

  const guards = resolveGuards(raw, p, preset, sink);
  const replicas = raw.replicas !== undefined ? querySpec(raw.replicas, p('replicas'), sink) : undefined;
  if (replicas && replicas.by === undefined) sink.at(p('replicas'), 'the replicas query must be keyed by the pool label: write {promql: ..., by: <label>}');

  const wake = resolveWake(raw, pools, p, preset, sink);
  const drain = resolveDrain(raw, p, preset, sink);

  const metricLabels = raw.metric?.labels ?? {};
  for (const k of RESERVED_LABELS) if (k in metricLabels) sink.at(p('metric', 'labels', k), `label "${k}" is set by Baton and cannot be overridden`);

  const intervalS = raw.queryIntervalSeconds ?? DEFAULT_QUERY_INTERVAL_S;
  const maxStalenessS = raw.maxStalenessSeconds ?? DEFAULT_MAX_STALENESS_S;
  if (maxStalenessS < intervalS) sink.at(p('maxStalenessSeconds'), `maxStalenessSeconds ${maxStalenessS} is shorter than queryIntervalSeconds ${intervalS}: every value would be stale before the next query`);

  const periodic = raw.periodic;
  if (periodic) {
    const seen = new Set<number>();
    periodic.entries.forEach((e, i) => {
      const t = parseTimeOfDay(e.from);
      if (seen.has(t)) sink.at(p('periodic', 'entries', i, 'from'), `duplicate periodic entry time ${e.from}`);
      seen.add(t);
    });
    if (periodic.when) checkWhen(periodic.when, p('periodic', 'when'), sink);
  }

  if (sink.errors.length > before || !decodeTps) return undefined;
  const windowS = raw.window ? parseDuration(raw.window) : widestRangeSeconds(decodeTps.promql);
  const pos = sink.finder.pos(base);
  const rule: ServiceRule = {
    name: raw.name,
    pools,
    ratio: { ...raw.ratio },
    decodeTpsPerUnit: raw.decodeTpsPerUnit,
    decodeTps,
    guards,
    // After a signal outage, no scale-in until the rate window has refilled (plus two evaluations), unless set.
    stability: { ...DEFAULT_STABILITY, signalRecoveryS: (windowS ?? 60) + 2 * intervalS, ...raw.stability },
    metric: { name: raw.metric?.name ?? DEFAULT_METRIC_NAME, labels: { ...metricLabels } },
    maxStalenessS,
    queryIntervalS: intervalS,
    utcOffsetS: raw.utcOffsetSeconds ?? periodic?.utcOffsetS ?? 0,
    source: { file: sink.finder.file, line: pos.line, col: pos.col },
  };
  if (raw.namespaces) rule.namespaces = [...raw.namespaces];
  if (raw.engine) rule.engine = raw.engine;
  rule.querySources = querySourcesOf(raw, base, sink.finder);
  if (preset) rule.selects = { match: { ...preset.match }, poolLabel: preset.poolLabel };
  if (periodic) rule.periodic = { ...periodic, entries: periodic.entries.map((e) => ({ ...e })) };
  if (replicas) rule.replicas = replicas;
  if (wake) rule.wake = wake;
  if (drain) rule.drain = drain;
  if (windowS !== undefined) rule.windowS = windowS;
  return rule;
}

function querySourcesOf(raw: RawService, base: PathKey[], finder: PositionFinder): NonNullable<ServiceRule['querySources']> {
  const at = (name: string, path: PathKey[]) => {
    const pos = finder.pos(path);
    return [name, { file: finder.file, line: pos.line, col: pos.col, path: pathText(path) }] as const;
  };
  const promqlPath = (q: RawQuery, path: PathKey[]): PathKey[] => (typeof q === 'string' ? path : [...path, 'promql']);
  const entries = [at('decodeTps', raw.decodeTps !== undefined ? promqlPath(raw.decodeTps, [...base, 'decodeTps']) : [...base, 'engine'])];
  (raw.guards ?? []).forEach((g, i) => entries.push(at(`guard:${g.name}`, g.promql !== undefined ? [...base, 'guards', i, 'promql'] : [...base, 'guards', i])));
  if (raw.replicas !== undefined) entries.push(at('replicas', promqlPath(raw.replicas, [...base, 'replicas'])));
  if (raw.wake) entries.push(at('wake', raw.wake.promql !== undefined ? [...base, 'wake', 'promql'] : [...base, 'wake']));
  return Object.fromEntries(entries);
}

function resolvePools(raw: RawService, p: (...k: PathKey[]) => PathKey[], sink: ErrorSink): RulePool[] {
  const names = new Map<string, number>();
  const labelValues = new Map<string, number>();
  const pools: RulePool[] = raw.pools.map((rp, i) => {
    const prev = names.get(rp.name);
    if (prev !== undefined) sink.at(p('pools', i, 'name'), `duplicate pool name "${rp.name}" (also pools[${prev}])`);
    names.set(rp.name, i);
    const labelValue = rp.poolLabelValue ?? rp.name;
    const prevLabel = labelValues.get(labelValue);
    if (prevLabel !== undefined && prev === undefined) sink.at(p('pools', i, 'poolLabelValue'), `pool label value "${labelValue}" is used by pools[${prevLabel}] too`);
    labelValues.set(labelValue, i);
    const minReplicas = rp.minReplicas ?? 1;
    if (minReplicas > rp.maxReplicas) sink.at(p('pools', i, 'minReplicas'), `minReplicas ${minReplicas} is above maxReplicas ${rp.maxReplicas}`);
    for (const k of RESERVED_LABELS) if (rp.labels && k in rp.labels) sink.at(p('pools', i, 'labels', k), `label "${k}" is set by Baton and cannot be overridden`);
    return {
      name: rp.name,
      role: rp.role,
      gpuType: rp.gpuType ?? 'default',
      unitsPerReplica: rp.unitsPerReplica ?? 1,
      preference: rp.preference ?? 0,
      minReplicas,
      maxReplicas: rp.maxReplicas,
      poolLabelValue: labelValue,
      labels: { ...(rp.labels ?? {}) },
    };
  });
  for (const role of ['prefill', 'decode'] as const) {
    if (!pools.some((x) => x.role === role)) sink.at(p('pools'), `no pool with role "${role}": a service needs at least one pool per role`);
  }
  return pools;
}

function resolveGuards(raw: RawService, p: (...k: PathKey[]) => PathKey[], preset: PresetContext | undefined, sink: ErrorSink): RuleGuard[] {
  const seen = new Map<string, number>();
  const out: RuleGuard[] = [];
  (raw.guards ?? []).forEach((g, i) => {
    const prev = seen.get(g.name);
    if (prev !== undefined) sink.at(p('guards', i, 'name'), `duplicate guard name "${g.name}" (also guards[${prev}])`);
    seen.set(g.name, i);
    g.tiers.forEach((t, j) => {
      const before = g.tiers[j - 1];
      if (before && t.above <= before.above) sink.at(p('guards', i, 'tiers', j, 'above'), `tiers must ascend: above ${t.above} is not greater than the previous tier's ${before.above}`);
      if (before && t.scaleOut < before.scaleOut) sink.at(p('guards', i, 'tiers', j, 'scaleOut'), `a higher tier must not scale out less: ${t.scaleOut} < ${before.scaleOut}`);
    });
    if (g.when) checkWhen(g.when, p('guards', i, 'when'), sink);
    let promql = g.promql;
    if (promql === undefined) {
      if (!preset) sink.at(p('guards', i), `guard "${g.name}" has no "promql" and the service has no "engine" preset`);
      else if (!isPresetGuardName(g.name)) sink.at(p('guards', i, 'name'), `guard "${g.name}" has no "promql" and is not a preset guard (tbt_pNN, itl_pNN, ttft_pNN, queue)`);
      else promql = presetGuardPromql(preset, g.name);
    } else {
      checkPromql(promql, p('guards', i, 'promql'), sink);
    }
    if (promql === undefined) return;
    const guard: RuleGuard = { name: g.name, query: { promql }, slo: g.slo, tiers: g.tiers.map((t) => ({ ...t })) };
    if (g.roles) guard.roles = [...g.roles];
    if (g.when) guard.when = g.when;
    out.push(guard);
  });
  return out;
}

/**
 * Scale to zero. The wake signal must exist without pods (a router, gateway or frontend metric), so an engine preset
 * supplies one only where its metrics come from such a component; and zero must be reachable: every pool at minimum 0.
 */
function resolveWake(raw: RawService, pools: RulePool[], p: (...k: PathKey[]) => PathKey[], preset: PresetContext | undefined, sink: ErrorSink): ServiceRule['wake'] {
  const w = raw.wake;
  if (!w) return undefined;
  for (const [i, pool] of pools.entries()) {
    if (pool.minReplicas > 0) sink.at(p('pools', i, 'minReplicas'), `"wake" scales the service to zero, so every pool needs minReplicas 0; pool "${pool.name}" has ${pool.minReplicas}${raw.pools[i]!.minReplicas === undefined ? ' (the default)' : ''}`);
  }
  let promql = w.promql;
  if (promql === undefined) {
    promql = preset ? presetWakePromql(preset) : undefined;
    if (promql === undefined) {
      sink.at(p('wake'), preset
        ? `"wake" needs "promql": the ${preset.engine} preset's metrics come from the engine pods, which do not exist at zero; use a router, gateway or frontend metric (requests arriving, queue depth)`
        : '"wake" needs "promql": a signal that exists without pods (router or gateway queue, requests arriving at a frontend)');
      return undefined;
    }
  } else {
    checkPromql(promql, p('wake', 'promql'), sink);
  }
  return { query: { promql }, above: w.above ?? 0, idleS: w.idleSeconds ?? DEFAULT_IDLE_S };
}

/**
 * Drain-aware scale-in. With an engine preset the query is the engine's running-requests gauge by pool and replica index
 * (the PodMonitor's `replica_index`); otherwise it is written, and must keep the pool label and the index label.
 */
function resolveDrain(raw: RawService, p: (...k: PathKey[]) => PathKey[], preset: PresetContext | undefined, sink: ErrorSink): ServiceRule['drain'] {
  const d = raw.drain;
  if (!d) return undefined;
  const indexLabel = d.indexLabel ?? REPLICA_INDEX_LABEL;
  const by = d.by ?? preset?.poolLabel ?? 'pool';
  let promql = d.promql;
  if (promql === undefined) {
    promql = preset ? presetDrainPromql(preset, indexLabel) : undefined;
    if (promql === undefined) {
      sink.at(p('drain'), preset
        ? `"drain" needs "promql": the ${preset.engine} preset reads a router, which does not see the pods; give requests running per pod, by ${by} and ${indexLabel}`
        : `"drain" needs "promql": requests running per pod, by the pool label (${by}) and the replica index (${indexLabel})`);
      return undefined;
    }
  } else {
    checkPromql(promql, p('drain', 'promql'), sink);
  }
  return { query: { promql, by }, indexLabel, maxWaitS: d.maxWaitSeconds ?? DEFAULT_DRAIN_WAIT_S };
}

function querySpec(raw: RawQuery, path: PathKey[], sink: ErrorSink): QuerySpec {
  if (typeof raw === 'string') {
    checkPromql(raw, path, sink);
    return { promql: raw };
  }
  checkPromql(raw.promql, [...path, 'promql'], sink);
  return raw.by !== undefined ? { promql: raw.promql, by: raw.by } : { promql: raw.promql };
}

function checkPromql(promql: string, path: PathKey[], sink: ErrorSink): void {
  // Syntax first; a query that parses must also type-check (Prometheus' own checks), or it fails at every evaluation.
  const err = promqlSyntaxError(promql) ?? promqlTypeError(promql);
  if (err) sink.atPos(path, sink.finder.posInString(path, err.offset), err.message);
}

function checkByLabel(label: string, path: PathKey[], sink: ErrorSink): void {
  if (label === '__name__') sink.at(path, '"by" cannot be __name__');
}

function checkWhen(cond: unknown, path: PathKey[], sink: ErrorSink): void {
  const problem = whenProblem(cond);
  if (problem) sink.at(path, `"when" ${problem}`);
}
