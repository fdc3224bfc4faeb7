// `baton rules check FILES [--prometheus URL]`: validate rule files and, given a Prometheus, run each query once and
// show the shape of what came back, so a wrong selector is found before an HPA sees "no metrics".
import { loadRuleFiles } from './load.js';
import { PrometheusClient, type PrometheusClientOptions, type QueryResult } from './prometheus.js';
import { readPerPool, readSingle } from './results.js';
import { formatRuleError, queryFamiliesOf, type QuerySpec, type RuleError, type ServiceRule } from './types.js';

export type ResultShape =
  | { kind: 'vector'; series: number; labelSets: Record<string, string>[]; values: number[] }
  | { kind: 'scalar'; value: number }
  | { kind: 'empty' }
  | { kind: 'matrix'; series: number }
  | { kind: 'string'; value: string };

export interface QueryCheck {
  service: string;
  /** decodeTps, replicas or guard:<name> */
  name: string;
  promql: string;
  shape?: ResultShape;
  /** What the evaluator would make of it: a usable value, or why not. */
  verdict?: string;
  error?: string;
  durationMs?: number;
}

export interface CheckReport {
  ok: boolean;
  files: string[];
  services: { name: string; file: string; line: number; metric: string; pools: string[]; queries: { name: string; promql: string }[] }[];
  errors: RuleError[];
  queries: QueryCheck[];
}

export interface CheckOptions {
  prometheus?: PrometheusClientOptions;
}

export async function checkRules(files: readonly string[], opts: CheckOptions = {}): Promise<CheckReport> {
  const loaded = await loadRuleFiles(files);
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
  };
  if (!opts.prometheus || !loaded.ruleSet) return report;
  const client = new PrometheusClient(opts.prometheus);
  try {
    for (const s of services) {
      for (const f of queryFamiliesOf(s)) {
        const started = performance.now();
        const check: QueryCheck = { service: s.name, name: f.name, promql: f.spec.promql };
        try {
          const result = await client.query(f.spec.promql);
          check.shape = shapeOf(result);
          check.verdict = verdictOf(s, f.name, f.spec, result);
        } catch (e) {
          check.error = (e as Error).message;
          report.ok = false;
        }
        check.durationMs = Math.round((performance.now() - started) * 10) / 10;
        report.queries.push(check);
      }
    }
  } finally {
    client.close();
  }
  return report;
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

function verdictOf(s: ServiceRule, name: string, spec: QuerySpec, result: QueryResult): string {
  // Without live replica counts, a pool without series is reported rather than assumed empty.
  const reading = spec.by
    ? readPerPool(result, { by: spec.by, pools: name === 'decodeTps' ? s.pools.filter((p) => p.role === 'decode') : s.pools, required: 'all' })
    : readSingle(result);
  if (!reading.ok) return `unusable (${reading.kind}): ${reading.problem}`;
  const per = reading.perPool ? ` (${Object.entries(reading.perPool).map(([k, v]) => `${k}=${fmt(v)}`).join(', ')})` : '';
  return `usable: ${fmt(reading.value)}${per}`;
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
  }
  for (const q of r.queries) {
    lines.push(`  ${q.service}/${q.name}: ${q.promql}`);
    if (q.error) {
      lines.push(`    error: ${q.error}`);
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
  }
  lines.push(r.ok ? `OK: ${r.services.length} service(s) in ${r.files.length} file(s)` : `FAILED: ${r.errors.length} error(s)${r.queries.some((q) => q.error) ? ', query errors' : ''}`);
  return lines.join('\n');
}
