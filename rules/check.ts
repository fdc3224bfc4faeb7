// `baton rules check FILES [--prometheus URL]`: validate rule files and, given a Prometheus, run each query once and
// show the shape of what came back, so a wrong selector is found before an HPA sees "no metrics".
import { loadRuleFiles, ruleFilesOf } from './load.js';
import { withFileSettings } from './prometheus-settings.js';
import { PrometheusClient, type PrometheusClientOptions, type QueryResult } from './prometheus.js';
import { diagnoseEmpty, formatEmptyCause, formatLivePreset, formatStale, livePresets, otherEngineHint, staleSelectors, type LivePreset } from './diagnose.js';
import { readPerPool, readSingle, type Reading } from './results.js';
import { formatRuleError, queryFamiliesOf, type QuerySpec, type RuleError, type ServiceRule } from './types.js';

export type ResultShape =
  | { kind: 'vector'; series: number; labelSets: Record<string, string>[]; values: number[] }
  | { kind: 'scalar'; value: number }
  | { kind: 'empty' }
  | { kind: 'matrix'; series: number }
  | { kind: 'string'; value: string };

export type QueryStatus = 'ok' | 'idle' | 'empty' | 'stale' | 'unusable' | 'error';

export interface QueryCheck {
  service: string;
  /** decodeTps, replicas or guard:<name> */
  name: string;
  promql: string;
  /** Where the query was written (its PromQL field, or the preset field that made it). */
  source?: { file: string; line: number; col: number; path: string };
  /** ok: the evaluator gets a value; idle: a guard with no finished requests (reads as idle); the rest fail the check. */
  status?: QueryStatus;
  shape?: ResultShape;
  /** What the evaluator would make of it: a usable value, or why not. */
  verdict?: string;
  /** For an empty result: why, found by asking Prometheus about each selector and matcher. */
  diagnosis?: string;
  error?: string;
  durationMs?: number;
}

export interface CheckReport {
  ok: boolean;
  files: string[];
  services: {
    name: string; file: string; line: number; metric: string; pools: string[]; queries: { name: string; promql: string }[];
    /** With a Prometheus: the presets whose series exist for the service's labels (live and stale), and the one to use. */
    presets?: { labels: Record<string, string>; live: LivePreset[]; suggestion?: string };
  }[];
  errors: RuleError[];
  queries: QueryCheck[];
  /** Empty signals and guards are accepted (reported, not failed). */
  allowEmpty: boolean;
}

export interface CheckOptions {
  prometheus?: PrometheusClientOptions;
  /** Accept empty signals and guards (a service not deployed yet, a guard with no traffic). Default: they fail. */
  allowEmpty?: boolean;
  /** The scrape interval of the engines' targets (s): a series with no sample in twice this is stale. Default 30. */
  scrapeIntervalS?: number;
}

export async function checkRules(files: readonly string[], opts: CheckOptions = {}): Promise<CheckReport> {
  const loaded = await loadRuleFiles(await ruleFilesOf(files));
  const services = loaded.ruleSet?.services ?? [];
  const report: CheckReport = {
    ok: loaded.errors.length === 0,
    files: [...files],
    services: services.map((s) => ({
      name: s.name,
      file: s.source.file,
      line: s.source.line,
      metric: s.metric.name,
      pools: s.pools.map((p) => `${p.name} (${p.role})`),
      queries: queryFamiliesOf(s).map((f) => ({ name: f.name, promql: f.spec.promql })),
    })),
    errors: loaded.errors,
    queries: [],
    allowEmpty: opts.allowEmpty === true,
  };
  if (!opts.prometheus || !loaded.ruleSet) return report;
  const client = new PrometheusClient(withFileSettings(opts.prometheus, loaded.ruleSet.prometheus));
  try {
    for (const [i, s] of services.entries()) {
      // Which presets' series are there for this service: its `match` labels, or service="<name>" without a preset.
      const labels = s.selects?.match ?? { service: s.name };
      const live = await livePresets(client.query, labels, 2 * (opts.scrapeIntervalS ?? 30));
      const fresh = live.filter((p) => p.stale < p.series);
      const entry: NonNullable<CheckReport['services'][number]['presets']> = { labels, live };
      if (fresh.length && !fresh.some((p) => p.engines.includes(s.engine ?? ''))) {
        entry.suggestion = `engine: ${fresh[0]!.engines[0]}${s.engine ? ` (the rule says ${s.engine})` : ' writes the signal and guards for you'}`;
      }
      report.services[i]!.presets = entry;
      // The replicas the evaluator would assume: the rule's replicas query when it has one, else each pool's
      // minReplicas (the default replica source before a first decision). A pool at 0 replicas may have no series.
      let replicas: Record<string, number> = Object.fromEntries(s.pools.map((p) => [p.name, p.minReplicas]));
      const families = [...queryFamiliesOf(s)].sort((a, b) => Number(b.name === 'replicas') - Number(a.name === 'replicas'));
      for (const f of families) {
        const started = performance.now();
        const check: QueryCheck = { service: s.name, name: f.name, promql: f.spec.promql };
        const source = s.querySources?.[f.name];
        if (source) check.source = source;
        try {
          const result = await client.query(f.spec.promql);
          check.shape = shapeOf(result);
          const reading = readingOf(s, f.name, f.spec, result, replicas);
          const stale = result.kind === 'vector' && result.series.length > 0 ? await staleSelectors(client.query, f.spec.promql, 2 * (opts.scrapeIntervalS ?? 30)) : [];
          if (stale.length) {
            check.status = 'stale';
            check.verdict = `stale series: ${stale.map(formatStale).join('; ')}`;
          } else if (reading.ok) {
            check.status = 'ok';
            check.verdict = `usable: ${fmt(reading.value)}${reading.perPool ? ` (${Object.entries(reading.perPool).map(([k, v]) => `${k}=${fmt(v)}`).join(', ')})` : ''}`;
            if (f.name === 'replicas' && reading.perPool) replicas = { ...replicas, ...reading.perPool };
          } else if (reading.kind === 'empty') {
            check.status = 'empty';
            check.verdict = f.name.startsWith('guard:')
              ? 'empty: the guard reads as idle at every evaluation, so it never fires'
              : f.name === 'wake'
                ? 'empty: the wake signal reads as no demand, so a service at zero would never wake on it'
                : `unusable (empty): ${reading.problem}; the service holds`;
            check.diagnosis = formatEmptyCause(await diagnoseEmpty(client.query, f.spec.promql));
            const hint = f.name === 'decodeTps' && s.selects ? await otherEngineHint(client.query, s.engine, s.selects.match) : undefined;
            if (hint) check.diagnosis += `; ${hint}`;
          } else if (reading.kind === 'nan' && f.name.startsWith('guard:')) {
            check.status = 'idle';
            check.verdict = 'NaN: no request finished in the window; the guard reads as idle until traffic arrives';
          } else {
            check.status = 'unusable';
            check.verdict = `unusable (${reading.kind}): ${reading.problem}`;
          }
        } catch (e) {
          check.status = 'error';
          check.error = (e as Error).message;
        }
        check.durationMs = Math.round((performance.now() - started) * 10) / 10;
        report.queries.push(check);
      }
    }
  } finally {
    client.close();
  }
  report.ok = report.ok && report.queries.every((q) => !failed(q, report.allowEmpty));
  return report;
}

function failed(q: QueryCheck, allowEmpty: boolean): boolean {
  return q.status === 'error' || q.status === 'unusable' || q.status === 'stale' || (q.status === 'empty' && !allowEmpty);
}

export function shapeOf(r: QueryResult): ResultShape {
  switch (r.kind) {
    case 'vector':
      return r.series.length === 0 ? { kind: 'empty' } : { kind: 'vector', series: r.series.length, labelSets: r.series.map((s) => s.labels), values: r.series.map((s) => s.value) };
    case 'scalar':
      return { kind: 'scalar', value: r.value };
    case 'matrix':
      return { kind: 'matrix', series: r.seriesCount };
    case 'string':
      return { kind: 'string', value: r.value };
  }
}

/** The evaluator's reading of a result (rules/results.ts), with the replicas it would assume for each pool. */
function readingOf(s: ServiceRule, name: string, spec: QuerySpec, result: QueryResult, replicas: Record<string, number>): Reading {
  if (!spec.by) return readSingle(result);
  if (name === 'decodeTps') return readPerPool(result, { by: spec.by, pools: s.pools.filter((p) => p.role === 'decode'), required: { replicas } });
  return readPerPool(result, { by: spec.by, pools: s.pools, required: 'all' });
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(6);
}

function labelText(labels: Record<string, string>): string {
  return `{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(', ')}}`;
}

/** Human-readable report for the CLI. */
export function formatCheckReport(r: CheckReport): string {
  const lines: string[] = [];
  for (const e of r.errors) lines.push(`error: ${formatRuleError(e)}`);
  for (const s of r.services) {
    lines.push(`service ${s.name} (${s.file}:${s.line}): metric ${s.metric}, pools ${s.pools.join(', ')}`);
    // Without a Prometheus, still show the PromQL the presets produced.
    if (r.queries.length === 0) for (const q of s.queries) lines.push(`  ${q.name}: ${q.promql}`);
    if (s.presets) {
      const at = labelText(s.presets.labels);
      lines.push(s.presets.live.length ? `  presets with series for ${at}: ${s.presets.live.map(formatLivePreset).join('; ')}` : `  no preset's decode-token series for ${at}`);
      if (s.presets.suggestion) lines.push(`  suggestion: ${s.presets.suggestion}`);
    }
  }
  for (const q of r.queries) {
    lines.push(`  ${q.service}/${q.name}: ${q.promql}`);
    if (q.error) {
      const at = q.source ? `${q.source.file}:${q.source.line}:${q.source.col}: ${q.source.path}: ` : '';
      lines.push(`    error: ${at}${q.error}`);
      continue;
    }
    const sh = q.shape!;
    if (sh.kind === 'vector') {
      lines.push(`    vector with ${sh.series} series (${q.durationMs} ms)`);
      sh.labelSets.slice(0, 20).forEach((l, i) => lines.push(`      ${labelText(l)} ${fmt(sh.values[i]!)}`));
      if (sh.series > 20) lines.push(`      … ${sh.series - 20} more`);
    } else if (sh.kind === 'scalar') lines.push(`    scalar ${fmt(sh.value)} (${q.durationMs} ms)`);
    else if (sh.kind === 'empty') lines.push(`    empty result (${q.durationMs} ms)`);
    else if (sh.kind === 'matrix') lines.push(`    range vector with ${sh.series} series: not usable, the rule needs an instant vector`);
    else lines.push(`    string ${JSON.stringify(sh.value)}`);
    if (q.verdict) lines.push(`    → ${q.verdict}`);
    if (q.diagnosis) lines.push(`    why: ${q.diagnosis}`);
    if (q.status && q.source && failed(q, r.allowEmpty)) lines.push(`    at ${q.source.file}:${q.source.line}:${q.source.col} (${q.source.path})`);
  }
  lines.push(summaryOf(r));
  return lines.join('\n');
}

function summaryOf(r: CheckReport): string {
  const count = (st: QueryStatus) => r.queries.filter((q) => q.status === st).length;
  const live = r.queries.length ? `, ${r.queries.length} quer${r.queries.length === 1 ? 'y' : 'ies'} run` : '';
  if (r.ok) {
    const empty = count('empty');
    const accepted = empty ? ` (${empty} empty, accepted with --allow-empty)` : '';
    return `OK: ${r.services.length} service(s) in ${r.files.length} file(s)${live}${accepted}`;
  }
  const parts: string[] = [];
  if (r.errors.length) parts.push(`${r.errors.length} rule error(s)`);
  if (count('error')) parts.push(`${count('error')} query error(s)`);
  if (count('empty') && !r.allowEmpty) parts.push(`${count('empty')} empty signal/guard quer${count('empty') === 1 ? 'y' : 'ies'} (--allow-empty accepts them)`);
  if (count('unusable')) parts.push(`${count('unusable')} unusable result(s)`);
  if (count('stale')) parts.push(`${count('stale')} quer${count('stale') === 1 ? 'y' : 'ies'} reading stale series`);
  return `FAILED: ${parts.join(', ')}`;
}
