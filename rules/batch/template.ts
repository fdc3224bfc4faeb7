// Query templates, found on the PromQL syntax tree (the official lezer grammar): queries that differ only in the values
// of equality matchers (`{service="svc-1"}` vs `{service="svc-2"}`) are one template, and can run as one query that
// matches the set of values and keeps the distinguishing labels through every aggregation and vector match, so its
// answer splits exactly into each query's own answer (Prometheus evaluates each value's series independently).
//
// A label is a parameter of a query only where that is provably so: every vector selector has exactly one matcher on
// it, `label="value"` with the same non-empty plain value, and nothing in the query can drop, rename or merge it
// (`without`/`ignoring` it, label_replace, absent, scalar, vector, count_values, an unknown function). Anything else
// stays literal, and a query without parameters is never merged.
import type { SyntaxNode, Tree } from '@lezer/common';
import { parser } from '@prometheus-io/lezer-promql';

/**
 * Functions that act on each series alone (or on scalars): the answer for one parameter value ignores the others. Any
 * other function refuses the merge: absent, absent_over_time, scalar, vector, label_replace, label_join and info do
 * not keep each input series' labels apart, and an unknown one is not proven to.
 */
const SERIESWISE_FUNCTIONS = new Set([
  'abs', 'acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh', 'avg_over_time', 'ceil', 'changes', 'clamp', 'clamp_max',
  'clamp_min', 'cos', 'cosh', 'count_over_time', 'days_in_month', 'day_of_month', 'day_of_week', 'day_of_year', 'deg',
  'delta', 'deriv', 'exp', 'floor', 'histogram_avg', 'histogram_count', 'histogram_fraction', 'histogram_quantile',
  'histogram_sum', 'histogram_stddev', 'histogram_stdvar', 'double_exponential_smoothing', 'holt_winters', 'hour',
  'idelta', 'increase', 'irate', 'last_over_time', 'first_over_time', 'ln', 'log10', 'log2', 'mad_over_time',
  'max_over_time', 'min_over_time', 'minute', 'month', 'pi', 'predict_linear', 'present_over_time', 'quantile_over_time',
  'rad', 'rate', 'resets', 'round', 'sgn', 'sin', 'sinh', 'sort', 'sort_desc', 'sort_by_label', 'sort_by_label_desc',
  'sqrt', 'stddev_over_time', 'stdvar_over_time', 'sum_over_time', 'tan', 'tanh', 'time', 'timestamp', 'year',
]);

interface Span {
  from: number;
  to: number;
}

interface Matcher {
  label: string;
  op: string;
  /** The matcher from its operator to the end of its value (what a merge rewrites). */
  opAndValue: Span;
  valueNode: Span;
  /** The plain value, or undefined when the literal has escapes (never a parameter). */
  value: string | undefined;
}

interface Grouping {
  kind: 'by' | 'without' | 'on' | 'ignoring' | 'none';
  /** The `( … )` label list (absent for an aggregation without a modifier). */
  labels?: Span;
  names: string[];
  /** Where ` by (…)` goes when an aggregation has no modifier: right after its operator. */
  insertAt?: number;
  /** Labels copied by group_left(…)/group_right(…). */
  copied: string[];
}

/** What a merge needs to know about one query. */
export interface QueryShape {
  promql: string;
  /** Structure and text of the query with each parameter's value replaced by a placeholder naming its label. */
  key: string;
  /** Parameter labels and this query's value of each. */
  params: ReadonlyMap<string, string>;
  selectors: Matcher[][];
  groupings: Grouping[];
}

/** A node's position as plain data (a node's from/to are getters, which spreading would lose). */
function span(n: SyntaxNode): Span {
  return { from: n.from, to: n.to };
}

function text(q: string, n: Span): string {
  return q.slice(n.from, n.to);
}

/** The plain value of a PromQL string literal without escapes; undefined otherwise. */
function plainString(lit: string): string | undefined {
  const m = /^"([^"\\]*)"$/.exec(lit) ?? /^'([^'\\]*)'$/.exec(lit) ?? /^`([^`]*)`$/.exec(lit);
  return m ? m[1] : undefined;
}

function labelNames(q: string, grouping: SyntaxNode | null): string[] {
  const out: string[] = [];
  for (let c = grouping?.firstChild ?? null; c; c = c.nextSibling) if (c.name === 'LabelName') out.push(text(q, c));
  return out;
}

/** The shape of a query, or undefined when it does not parse. A query may have no parameters (then it never merges). */
export function shapeOf(promql: string): QueryShape | undefined {
  const tree: Tree = parser.parse(promql);
  const selectors: Matcher[][] = [];
  const groupings: Grouping[] = [];
  let unsafe = false;
  let broken = false;
  tree.iterate({
    enter: (ref) => {
      const n = ref.node;
      if (n.type.isError) broken = true;
      switch (n.name) {
        case 'QuotedLabelMatcher':
        case 'QuotedLabelName':
        case 'CountValues':
          unsafe = true; // UTF-8 label names and count_values' new label: not worth proving safe
          break;
        case 'FunctionIdentifier': {
          const name = text(promql, n);
          if (!SERIESWISE_FUNCTIONS.has(name)) unsafe = true;
          break;
        }
        case 'VectorSelector': {
          const ms: Matcher[] = [];
          const list = n.getChild('LabelMatchers');
          for (let c = list?.firstChild ?? null; c; c = c.nextSibling) {
            if (c.name !== 'UnquotedLabelMatcher') {
              if (c.name === 'QuotedLabelMatcher' || c.name === 'QuotedLabelName') unsafe = true;
              continue;
            }
            const label = c.getChild('LabelName');
            const op = c.getChild('MatchOp');
            const value = c.getChild('StringLiteral');
            if (!label || !op || !value) continue;
            ms.push({
              label: text(promql, label), op: text(promql, op), opAndValue: { from: op.from, to: value.to },
              valueNode: span(value), value: plainString(text(promql, value)),
            });
          }
          selectors.push(ms);
          break;
        }
        case 'AggregateExpr': {
          const mod = n.getChild('AggregateModifier');
          const op = n.getChild('AggregateOp');
          if (!mod) {
            groupings.push({ kind: 'none', names: [], insertAt: op?.to ?? n.from, copied: [] });
            break;
          }
          const g = mod.getChild('GroupingLabels');
          groupings.push({ kind: mod.getChild('Without') ? 'without' : 'by', names: labelNames(promql, g), copied: [], ...(g ? { labels: span(g) } : {}) });
          break;
        }
        case 'MatchingModifierClause': {
          const g = n.getChild('GroupingLabels');
          const copiedList = n.getChild('GroupLeft') ?? n.getChild('GroupRight') ? n.getChildren('GroupingLabels')[1] ?? null : null;
          groupings.push({ kind: n.getChild('Ignoring') ? 'ignoring' : 'on', names: labelNames(promql, g), copied: labelNames(promql, copiedList), ...(g ? { labels: span(g) } : {}) });
          break;
        }
      }
      return undefined;
    },
  });
  if (broken) return undefined;

  const params = new Map<string, string>();
  if (!unsafe && selectors.length > 0) {
    for (const m of selectors[0]!) {
      if (m.label === '__name__' || m.op !== '=' || !m.value) continue;
      const everywhere = selectors.every((ms) => {
        const on = ms.filter((x) => x.label === m.label);
        return on.length === 1 && on[0]!.op === '=' && on[0]!.value === m.value;
      });
      const dropped = groupings.some((g) => ((g.kind === 'without' || g.kind === 'ignoring') && g.names.includes(m.label)) || g.copied.includes(m.label));
      if (everywhere && !dropped) params.set(m.label, m.value);
    }
  }
  const placeholders = new Map<number, string>();
  for (const ms of selectors) for (const m of ms) if (params.has(m.label)) placeholders.set(m.valueNode.from, m.label);
  return { promql, key: keyOf(promql, tree, placeholders), params, selectors, groupings };
}

/** The tree as nested names with each leaf's text (whitespace-insensitive, unambiguous), placeholders for parameters. */
function keyOf(q: string, tree: Tree, placeholders: ReadonlyMap<number, string>): string {
  const parts: string[] = [];
  tree.iterate({
    enter: (ref) => {
      const label = placeholders.get(ref.from);
      if (label !== undefined && ref.name === 'StringLiteral') {
        parts.push(`§${JSON.stringify(label)}`);
        return false;
      }
      parts.push(ref.node.firstChild ? `${ref.name}(` : `${ref.name}=${JSON.stringify(q.slice(ref.from, ref.to))}`);
      return undefined;
    },
    leave: (ref) => {
      if (ref.node.firstChild) parts.push(')');
    },
  });
  return parts.join('');
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The one query for several shapes of one template, grouped by the labels whose values differ (`by`): each of those
 * labels' matchers matches the set of values, and every aggregation and `on(…)` match keeps them. The shapes must share
 * `key`, and `by` must be parameters of them.
 */
export function mergedPromql(shapes: readonly QueryShape[], by: readonly string[]): string {
  const first = shapes[0]!;
  const q = first.promql;
  const edits: { from: number; to: number; text: string }[] = [];
  const values = new Map(by.map((l) => [l, [...new Set(shapes.map((s) => s.params.get(l)!))].sort()]));
  for (const ms of first.selectors) {
    for (const m of ms) {
      const vs = values.get(m.label);
      if (vs) edits.push({ ...m.opAndValue, text: `=~${JSON.stringify(vs.map(escapeRegex).join('|'))}` });
    }
  }
  for (const g of first.groupings) {
    if (g.kind === 'without' || g.kind === 'ignoring') continue;
    const names = [...g.names, ...by.filter((l) => !g.names.includes(l))];
    if (g.labels) edits.push({ ...g.labels, text: `(${names.join(', ')})` });
    else if (g.insertAt !== undefined) edits.push({ from: g.insertAt, to: g.insertAt, text: ` by (${names.join(', ')}) ` });
  }
  edits.sort((a, b) => b.from - a.from);
  let out = q;
  for (const e of edits) out = out.slice(0, e.from) + e.text + out.slice(e.to);
  return out;
}

/** The key of a series in a merged answer: its values of the grouping labels (undefined when one is missing). */
export function sliceKey(labels: Readonly<Record<string, string>>, by: readonly string[]): string | undefined {
  const parts: string[] = [];
  for (const l of by) {
    const v = labels[l];
    if (v === undefined || v === '') return undefined;
    parts.push(v);
  }
  return JSON.stringify(parts);
}
