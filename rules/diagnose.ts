// Why a query came back empty, asked of Prometheus itself: each selector of the query on its own, then its matchers
// one at a time, so `rules check` can say "vllm:generation_tokens_total exists, but not with service="coder": it exists
// with service="service-a"" instead of "empty result". Selectors on the right of `unless` are skipped: their being
// empty cannot empty the result.
import type { SyntaxNode } from '@lezer/common';
import { parser } from '@prometheus-io/lezer-promql';
import type { QueryResult } from './prometheus.js';
import { ENGINE_METRICS, metricSpellings, type EngineName } from './presets.js';
import { unquoteLiteral } from './promql-types.js';

export type InstantQueryFn = (promql: string) => Promise<QueryResult>;

export interface SelectorPart {
  /** The selector's text as written (without a range). */
  text: string;
  /** Metric name; '' when the selector names none (`{__name__=~"…"}`). */
  metric: string;
  matchers: { label: string; op: string; value: string; text: string }[];
}

export type EmptyCause =
  | { kind: 'metric-missing'; selector: string; metric: string; seenAs?: string }
  | { kind: 'matcher-drops'; selector: string; metric: string; matcher: string; label: string; seen: string[] }
  | { kind: 'unless-removes'; clause: string }
  | { kind: 'expression'; selectors: number };

/** The vector selectors a query reads, in text order, except those on the right of `unless`. */
export function selectorsOf(promql: string): SelectorPart[] {
  const tree = parser.parse(promql);
  const out: SelectorPart[] = [];
  const seen = new Set<string>();
  const text = (n: SyntaxNode): string => promql.slice(n.from, n.to);
  const visit = (n: SyntaxNode): void => {
    if (n.name === 'VectorSelector') {
      const t = text(n);
      if (seen.has(t)) return;
      seen.add(t);
      const metric = n.getChild('Identifier');
      const matchers: SelectorPart['matchers'] = [];
      const list = n.getChild('LabelMatchers');
      for (let m = list?.firstChild; m; m = m.nextSibling) {
        const label = m.getChild('LabelName') ?? m.getChild('QuotedLabelName');
        const op = m.getChild('MatchOp');
        const value = m.getChild('StringLiteral');
        if (!label || !op || !value) continue;
        matchers.push({ label: text(label).replace(/^"|"$/g, ''), op: text(op), value: unquoteLiteral(text(value)), text: text(m) });
      }
      out.push({ text: t, metric: metric ? text(metric) : '', matchers });
      return;
    }
    if (n.name === 'BinaryExpr' && n.getChild('Unless')) {
      if (n.firstChild) visit(n.firstChild);
      return;
    }
    for (let c = n.firstChild; c; c = c.nextSibling) visit(c);
  };
  visit(tree.topNode);
  return out;
}

function selectorText(metric: string, matchers: readonly SelectorPart['matchers'][number][]): string {
  const list = matchers.map((m) => m.text).join(', ');
  return metric ? (list ? `${metric}{${list}}` : metric) : `{${list}}`;
}

async function seriesCount(query: InstantQueryFn, selector: string): Promise<number> {
  const r = await query(`count(${selector})`);
  return r.kind === 'vector' ? (r.series[0]?.value ?? 0) : 0;
}

/** The top-level `A unless B` of a query, when it has one. */
function topUnless(promql: string): { lhs: string; clause: string } | undefined {
  let n: SyntaxNode | null = parser.parse(promql).topNode.firstChild;
  while (n && n.name === 'ParenExpr') n = n.firstChild?.nextSibling ?? null;
  if (!n || n.name !== 'BinaryExpr' || !n.getChild('Unless')) return undefined;
  const lhs = n.firstChild!;
  const op = n.getChild('Unless')!;
  return { lhs: promql.slice(lhs.from, lhs.to), clause: promql.slice(op.from, n.to) };
}

/** Finds why `promql` answered no series. Each step is one small `count(…)` query. */
export async function diagnoseEmpty(query: InstantQueryFn, promql: string): Promise<EmptyCause> {
  const selectors = selectorsOf(promql);
  for (const s of selectors) {
    const nameMatchers = s.metric ? [] : s.matchers.filter((m) => m.label === '__name__');
    const rest = s.metric ? s.matchers : s.matchers.filter((m) => m.label !== '__name__');
    const base = s.metric || selectorText('', nameMatchers);
    const metricName = s.metric || nameMatchers.map((m) => (m.op === '=~' ? `${m.value} (regex)` : m.value)).join(', ');
    if ((await seriesCount(query, base)) === 0) {
      const cause: EmptyCause = { kind: 'metric-missing', selector: s.text, metric: metricName };
      // Prometheus stores `sglang:x` as `sglang_x` when a scrape negotiates underscore escaping.
      if (s.metric && /[:]/.test(s.metric) && (await seriesCount(query, s.metric.replace(/:/g, '_'))) > 0) cause.seenAs = s.metric.replace(/:/g, '_');
      return cause;
    }
    for (let k = 0; k < rest.length; k++) {
      const m = rest[k]!;
      const kept = [...nameMatchers, ...rest.slice(0, k)];
      if ((await seriesCount(query, selectorText(s.metric, [...kept, m]))) > 0) continue;
      const r = await query(`count by (${m.label}) (${selectorText(s.metric, kept)})`);
      const seen = r.kind === 'vector' ? r.series.map((x) => x.labels[m.label]).filter((v): v is string => v !== undefined && v !== '').sort() : [];
      return { kind: 'matcher-drops', selector: s.text, metric: metricName, matcher: m.text, label: m.label, seen };
    }
  }
  const unless = topUnless(promql);
  if (unless) {
    const lhs = await query(unless.lhs);
    if (lhs.kind === 'vector' && lhs.series.length > 0) return { kind: 'unless-removes', clause: unless.clause };
  }
  return { kind: 'expression', selectors: selectors.length };
}

export function formatEmptyCause(c: EmptyCause): string {
  switch (c.kind) {
    case 'metric-missing':
      return c.seenAs
        ? `metric ${c.metric} has no series; it exists as ${c.seenAs} (underscore-escaped names: write the metric that way)`
        : `metric ${c.metric} has no series in Prometheus (not scraped, or another name)`;
    case 'matcher-drops': {
      const shown = c.seen.slice(0, 5).map((v) => `${c.label}=${JSON.stringify(v)}`).join(', ');
      const more = c.seen.length > 5 ? ` and ${c.seen.length - 5} more` : '';
      return c.seen.length
        ? `${c.metric} exists, but no series matches ${c.matcher}: it exists with ${shown}${more}`
        : `${c.metric} exists, but no series matches ${c.matcher}: none of its series has a label ${c.label}`;
    }
    case 'unless-removes':
      return `every selector has series and the left of \`unless\` has a value: the clause \`${c.clause.slice(0, 120)}\` removes it (the preset's scrape-outage clause does this while a target of the service is down: up == 0)`;
    case 'expression':
      return `all ${c.selectors} selector(s) have series: the expression empties them (label matching across an operator, a comparison filter, or a rate window with fewer than two samples)`;
  }
}

export interface StaleSelector {
  selector: string;
  total: number;
  stale: number;
  maxAgeS: number;
}

/**
 * Series a query reads that have no sample newer than `maxAgeS` (twice the scrape interval) though Prometheus still
 * returns them (inside its 5 m lookback): a target gone without staleness markers, or samples with old timestamps.
 * Their last values stay in every sum() and froze other autoscalers' scale-down.
 */
export async function staleSelectors(query: InstantQueryFn, promql: string, maxAgeS: number): Promise<StaleSelector[]> {
  const out: StaleSelector[] = [];
  for (const s of selectorsOf(promql)) {
    const total = await seriesCount(query, s.text);
    if (total === 0) continue;
    let stale = 0;
    for (const one of await oneNameSelectors(query, s)) stale += await seriesCount(query, `time() - timestamp(${one}) > ${maxAgeS}`);
    if (stale > 0) out.push({ selector: s.text, total, stale, maxAgeS });
  }
  return out;
}

/**
 * The selector as selectors of one metric name each. timestamp() gives a sample's own time only for a plain selector
 * (of anything else it gives the evaluation time), and it drops the name: series of a name regex (`{__name__=~"a|b"}`)
 * with the same labels would collide. So a name regex is expanded into the names it matches now.
 */
async function oneNameSelectors(query: InstantQueryFn, s: SelectorPart): Promise<string[]> {
  if (s.metric || !s.matchers.some((m) => m.label === '__name__')) return [s.text];
  const r = await query(`count by (__name__) (${s.text})`);
  if (r.kind !== 'vector') return [s.text];
  const rest = s.matchers.filter((m) => m.label !== '__name__').map((m) => `${m.label}${m.op}${JSON.stringify(m.value)}`);
  return r.series.map((x) => `{${[`__name__=${JSON.stringify(x.labels.__name__ ?? '')}`, ...rest].join(',')}}`);
}

export function formatStale(s: StaleSelector): string {
  return `${s.stale} of ${s.total} series of ${s.selector} have no sample newer than ${s.maxAgeS} s (stale: Prometheus still returns their last value for up to 5 m, so a sum() over them does not fall)`;
}

/** A preset whose decode-token series exist for a service's labels: which name, how many series, how many stale. */
export interface LivePreset {
  /** Engines sharing the counter (vLLM v0 and v1). */
  engines: string[];
  metric: string;
  series: number;
  stale: number;
}

/**
 * The presets whose decode-token counter has series for `match` (every spelling, and the underscore-escaped one), with
 * how many of those series have no sample newer than `maxAgeS` (stale: they froze other autoscalers' scale-down).
 */
export async function livePresets(query: InstantQueryFn, match: Record<string, string>, maxAgeS: number): Promise<LivePreset[]> {
  const labels = Object.entries(match).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',');
  const byMetric = new Map<string, LivePreset>();
  for (const [engine, m] of Object.entries(ENGINE_METRICS)) {
    const spellings = metricSpellings(engine as EngineName, m.generationTokens);
    for (const name of new Set([...spellings, ...spellings.map((n) => n.replace(/:/g, '_'))])) {
      const known = byMetric.get(name);
      if (known) {
        known.engines.push(engine);
        break;
      }
      const selector = `${name}{${labels}}`;
      const series = await seriesCount(query, selector);
      if (series === 0) continue;
      const stale = await seriesCount(query, `time() - timestamp(${selector}) > ${maxAgeS}`);
      byMetric.set(name, { engines: [engine], metric: name, series, stale });
      break;
    }
  }
  return [...byMetric.values()];
}

export function formatLivePreset(p: LivePreset): string {
  return `${p.metric} (engine: ${p.engines.join(' or ')}): ${p.series} series${p.stale ? `, ${p.stale} stale` : ''}`;
}

/**
 * When a rule's engine preset finds nothing: the other engines whose decode-token counter exists for the same `match`
 * labels, as a hint, or undefined. vLLM v0 and v1 share the counter and count as one engine family.
 */
export async function otherEngineHint(query: InstantQueryFn, engine: string | undefined, match: Record<string, string>): Promise<string | undefined> {
  const others = (await livePresets(query, match, Infinity)).filter((p) => !p.engines.includes(engine ?? ''));
  if (others.length === 0) return undefined;
  return `these labels have ${others.map((p) => `${p.metric} (engine: ${p.engines.join(' or ')})`).join(', ')}: the rule's engine preset may be the wrong one`;
}
