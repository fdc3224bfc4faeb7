// PromQL type checking on the parsed expression, as Prometheus' parser does after parsing (checkAST): each node's
// value type (scalar, instant vector, range vector, string), function names, arity and argument types, operand types
// of operators, aggregations and subqueries. A query that parses but cannot run (`rate(foo)`, `sum(x[5m])`) is
// refused when the rule loads instead of freezing its HPAs later. Messages follow Prometheus' wording.
import type { SyntaxNode } from '@lezer/common';
import { parser } from '@prometheus-io/lezer-promql';

export type ValueType = 'scalar' | 'vector' | 'matrix' | 'string';
/** `any` where this checker does not know a function's signature (newer or experimental ones): never an error. */
type Inferred = ValueType | 'any';

export interface PromqlTypeError {
  /** 0-based offset of the offending expression in the query. */
  offset: number;
  message: string;
}

const NAMES: Record<ValueType, string> = { scalar: 'scalar', vector: 'instant vector', matrix: 'range vector', string: 'string' };

interface Signature {
  args: ValueType[];
  /** 0: exactly `args`; n > 0: the last n arguments are optional; -1: the last argument repeats (zero or more times). */
  variadic: number;
  returns: ValueType;
}

const sig = (args: ValueType[], returns: ValueType, variadic = 0): Signature => ({ args, variadic, returns });
const V = 'vector' as const;
const M = 'matrix' as const;
const S = 'scalar' as const;
const STR = 'string' as const;

/** Prometheus' function table (promql/parser/functions.go), the stable and widely used part of it. */
const FUNCTIONS: Record<string, Signature> = {
  abs: sig([V], V), absent: sig([V], V), absent_over_time: sig([M], V), acos: sig([V], V), acosh: sig([V], V),
  asin: sig([V], V), asinh: sig([V], V), atan: sig([V], V), atanh: sig([V], V), avg_over_time: sig([M], V),
  ceil: sig([V], V), changes: sig([M], V), clamp: sig([V, S, S], V), clamp_max: sig([V, S], V), clamp_min: sig([V, S], V),
  cos: sig([V], V), cosh: sig([V], V), count_over_time: sig([M], V), days_in_month: sig([V], V, 1), day_of_month: sig([V], V, 1),
  day_of_week: sig([V], V, 1), day_of_year: sig([V], V, 1), deg: sig([V], V), delta: sig([M], V), deriv: sig([M], V),
  exp: sig([V], V), floor: sig([V], V), histogram_avg: sig([V], V), histogram_count: sig([V], V),
  histogram_fraction: sig([S, S, V], V), histogram_quantile: sig([S, V], V), histogram_sum: sig([V], V),
  histogram_stddev: sig([V], V), histogram_stdvar: sig([V], V), double_exponential_smoothing: sig([M, S, S], V),
  holt_winters: sig([M, S, S], V), hour: sig([V], V, 1), idelta: sig([M], V), increase: sig([M], V), irate: sig([M], V),
  label_replace: sig([V, STR, STR, STR, STR], V), label_join: sig([V, STR, STR, STR], V, -1), last_over_time: sig([M], V),
  ln: sig([V], V), log10: sig([V], V), log2: sig([V], V), mad_over_time: sig([M], V), max_over_time: sig([M], V),
  min_over_time: sig([M], V), minute: sig([V], V, 1), month: sig([V], V, 1), pi: sig([], S), predict_linear: sig([M, S], V),
  present_over_time: sig([M], V), quantile_over_time: sig([S, M], V), rad: sig([V], V), rate: sig([M], V),
  resets: sig([M], V), round: sig([V, S], V, 1), scalar: sig([V], S), sgn: sig([V], V), sin: sig([V], V), sinh: sig([V], V),
  sort: sig([V], V), sort_desc: sig([V], V), sort_by_label: sig([V, STR], V, -1), sort_by_label_desc: sig([V, STR], V, -1),
  sqrt: sig([V], V), stddev_over_time: sig([M], V), stdvar_over_time: sig([M], V), sum_over_time: sig([M], V),
  tan: sig([V], V), tanh: sig([V], V), time: sig([], S), timestamp: sig([V], V), vector: sig([S], V), year: sig([V], V, 1),
  first_over_time: sig([M], V),
};

/** Aggregations with a parameter before the vector, and its type. */
const AGGREGATE_PARAM: Record<string, ValueType> = { topk: S, bottomk: S, quantile: S, limitk: S, limit_ratio: S, count_values: STR };
const SET_OPERATORS = new Set(['And', 'Or', 'Unless']);
const COMPARISONS = new Set(['Eql', 'Neq', 'Gtr', 'Lss', 'Gte', 'Lte']);

class TypeFailure extends Error {
  constructor(readonly offset: number, message: string) {
    super(message);
  }
}

/** Children that are expressions (skips keywords, modifiers, operators, labels and error nodes). */
function exprChildren(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) if (isExpr(c)) out.push(c);
  return out;
}

const EXPR_NODES = new Set([
  'AggregateExpr', 'BinaryExpr', 'FunctionCall', 'MatrixSelector', 'NumberDurationLiteral', 'OffsetExpr', 'ParenExpr',
  'StringLiteral', 'SubqueryExpr', 'UnaryExpr', 'VectorSelector', 'StepInvariantExpr',
]);
function isExpr(n: SyntaxNode): boolean {
  return EXPR_NODES.has(n.name);
}

function expect(q: string, node: SyntaxNode, got: Inferred, want: ValueType, where: string): void {
  if (got === 'any' || got === want) return;
  throw new TypeFailure(node.from, `expected type ${NAMES[want]} in ${where}, got ${NAMES[got]}`);
}

function typeOf(q: string, node: SyntaxNode): Inferred {
  switch (node.name) {
    case 'NumberDurationLiteral':
      return S;
    case 'StringLiteral':
      return STR;
    case 'VectorSelector':
      return V;
    case 'MatrixSelector': {
      // lezer reads `-x[1m]` as (-x)[1m]; Prometheus reads -(x[1m]) and refuses the unary minus on a range vector.
      const [inner] = exprChildren(node);
      if (inner?.name === 'UnaryExpr') throw new TypeFailure(node.from, 'unary expression only allowed on expressions of type scalar or instant vector, got range vector');
      if (inner && inner.name !== 'VectorSelector') throw new TypeFailure(node.from, 'ranges only allowed for vector selectors');
      return M;
    }
    case 'ParenExpr':
    case 'OffsetExpr':
    case 'StepInvariantExpr': {
      const [inner] = exprChildren(node);
      if (!inner) return 'any';
      const t = typeOf(q, inner);
      if (node.name === 'OffsetExpr' && t !== 'any' && t !== V && t !== M) throw new TypeFailure(node.from, `offset modifier must be preceded by an instant vector selector or range vector selector or a subquery`);
      return t;
    }
    case 'SubqueryExpr': {
      const [inner] = exprChildren(node);
      const t = inner ? typeOf(q, inner) : 'any';
      if (t !== 'any' && t !== V) throw new TypeFailure(node.from, `subquery is only allowed on instant vector, got ${NAMES[t]} in ${JSON.stringify(q.slice(node.from, node.to))} instead`);
      return M;
    }
    case 'UnaryExpr': {
      const [inner] = exprChildren(node);
      const t = inner ? typeOf(q, inner) : 'any';
      if (t !== 'any' && t !== S && t !== V) throw new TypeFailure(node.from, `unary expression only allowed on expressions of type scalar or instant vector, got ${NAMES[t]}`);
      return t;
    }
    case 'BinaryExpr':
      return binaryType(q, node);
    case 'FunctionCall':
      return functionType(q, node);
    case 'AggregateExpr':
      return aggregateType(q, node);
    default:
      return 'any';
  }
}

function binaryType(q: string, node: SyntaxNode): Inferred {
  const [lhs, rhs] = exprChildren(node);
  if (!lhs || !rhs) return 'any';
  const l = typeOf(q, lhs);
  const r = typeOf(q, rhs);
  let op = '';
  let bool = false;
  for (let c = node.firstChild; c; c = c.nextSibling) {
    if (c.name === 'BoolModifier') bool = true;
    else if (!isExpr(c) && c.name !== 'MatchingModifierClause' && !c.type.isError) op = op || c.name;
  }
  for (const [side, t] of [[lhs, l], [rhs, r]] as const) {
    if (t !== 'any' && t !== S && t !== V) throw new TypeFailure(side.from, `binary expression must contain only scalar and instant vector types`);
  }
  if (SET_OPERATORS.has(op) && ((l !== 'any' && l !== V) || (r !== 'any' && r !== V))) {
    throw new TypeFailure(node.from, `set operator "${q.slice(lhs.to, rhs.from).trim().split(/\s/)[0]}" not allowed in binary scalar expression`);
  }
  if (COMPARISONS.has(op) && l === S && r === S && !bool) throw new TypeFailure(node.from, 'comparisons between scalars must use BOOL modifier');
  return l === V || r === V ? V : l === 'any' || r === 'any' ? 'any' : S;
}

function functionType(q: string, node: SyntaxNode): Inferred {
  const ident = node.getChild('FunctionIdentifier');
  const name = ident ? q.slice(ident.from, ident.to) : '';
  const body = node.getChild('FunctionCallBody');
  const args = body ? exprChildren(body) : [];
  const types = args.map((a) => typeOf(q, a));
  const f = FUNCTIONS[name];
  if (!f) return 'any';
  const min = f.variadic > 0 ? f.args.length - f.variadic : f.variadic < 0 ? f.args.length - 1 : f.args.length;
  const max = f.variadic < 0 ? Infinity : f.args.length;
  if (args.length < min || args.length > max) {
    const want = f.variadic === 0 ? `${f.args.length}` : f.variadic < 0 ? `at least ${min}` : `${min} to ${max}`;
    throw new TypeFailure(node.from, `expected ${want} argument(s) in call to "${name}", got ${args.length}`);
  }
  args.forEach((a, i) => expect(q, a, types[i]!, f.args[Math.min(i, f.args.length - 1)]!, `call to function "${name}"`));
  return f.returns;
}

function aggregateType(q: string, node: SyntaxNode): Inferred {
  const opNode = node.getChild('AggregateOp');
  const op = opNode ? q.slice(opNode.from, opNode.to) : '';
  const body = node.getChild('FunctionCallBody');
  const args = body ? exprChildren(body) : [];
  const param = AGGREGATE_PARAM[op];
  const want = param ? 2 : 1;
  if (args.length !== want) throw new TypeFailure(node.from, `wrong number of arguments for aggregate expression provided, expected ${want}, got ${args.length}`);
  if (param) expect(q, args[0]!, typeOf(q, args[0]!), param, `aggregation parameter`);
  const v = args[want - 1]!;
  expect(q, v, typeOf(q, v), V, 'aggregation expression');
  return V;
}

/** The value type of a query that parses, or the first type error (undefined type then). */
export function promqlTypeCheck(query: string): { type?: Inferred; error?: PromqlTypeError } {
  const tree = parser.parse(query);
  const top = tree.topNode.firstChild;
  if (!top || !isExpr(top)) return {};
  try {
    return { type: typeOf(query, top) };
  } catch (e) {
    if (e instanceof TypeFailure) return { error: { offset: e.offset, message: e.message } };
    throw e;
  }
}

/**
 * A type error in a query Baton evaluates as an instant query whose answer it reads as a number per series: the
 * expression must be an instant vector or a scalar.
 */
export function promqlTypeError(query: string): PromqlTypeError | undefined {
  const matcher = promqlMatcherError(query);
  if (matcher) return matcher;
  const { type, error } = promqlTypeCheck(query);
  if (error) return error;
  if (type === 'matrix' || type === 'string') return { offset: 0, message: `the query must evaluate to an instant vector or a scalar, got ${NAMES[type]}` };
  return undefined;
}

// Regular-expression syntax Go's RE2 refuses but JavaScript accepts: look-around and backreferences.
const RE2_UNSUPPORTED = /\(\?<?[=!]|\\[1-9]/;

/** The value of a PromQL string literal ("…", '…' or `…`), escapes resolved. */
export function unquoteLiteral(s: string): string {
  if (s.startsWith('`')) return s.slice(1, -1);
  try {
    return JSON.parse(s.startsWith("'") ? `"${s.slice(1, -1).replace(/\\'/g, "'").replace(/"/g, '\\"')}"` : s) as string;
  } catch {
    return s.slice(1, -1);
  }
}

/**
 * The label-matcher checks of Prometheus' parser: a regex must compile (RE2 syntax), a selector needs at least one
 * matcher that does not match the empty string, and the metric name may be given once.
 */
export function promqlMatcherError(query: string): PromqlTypeError | undefined {
  let found: PromqlTypeError | undefined;
  parser.parse(query).iterate({
    enter: (n) => {
      if (found) return false;
      if (n.name !== 'VectorSelector') return undefined;
      const sel = n.node;
      const name = sel.getChild('Identifier');
      let nonEmpty = name !== null;
      let nameMatchers = 0;
      for (let m = sel.getChild('LabelMatchers')?.firstChild; m && !found; m = m.nextSibling) {
        const label = m.getChild('LabelName') ?? m.getChild('QuotedLabelName');
        const op = m.getChild('MatchOp');
        const lit = m.getChild('StringLiteral');
        if (!op || !lit) continue;
        const opText = query.slice(op.from, op.to);
        const value = unquoteLiteral(query.slice(lit.from, lit.to));
        const labelText = label ? query.slice(label.from, label.to).replace(/^"|"$/g, '') : '';
        if (labelText === '__name__') nameMatchers++;
        let re: RegExp | undefined;
        if (opText === '=~' || opText === '!~') {
          if (RE2_UNSUPPORTED.test(value)) {
            found = { offset: lit.from, message: `error parsing regexp: invalid or unsupported Perl syntax in ${JSON.stringify(value)} (Prometheus uses RE2: no look-around, no backreferences)` };
            break;
          }
          try {
            re = new RegExp(`^(?:${value})$`, 's');
          } catch (e) {
            const why = (e as Error).message.replace(/^Invalid regular expression: /, '').replace(/^\/.*\/\w*: /, '');
            found = { offset: lit.from, message: `error parsing regexp: ${why.toLowerCase()} in ${JSON.stringify(value)}` };
            break;
          }
        }
        const matchesEmpty = opText === '=' ? value === '' : opText === '!=' ? value !== '' : opText === '=~' ? re!.test('') : !re!.test('');
        if (!matchesEmpty) nonEmpty = true;
      }
      if (found) return false;
      if (name && nameMatchers > 0) found = { offset: sel.from, message: `metric name must not be set twice: ${JSON.stringify(query.slice(name.from, name.to))} and a __name__ matcher` };
      else if (!nonEmpty) found = { offset: sel.from, message: 'vector selector must contain at least one non-empty matcher' };
      return found ? false : undefined;
    },
  });
  return found;
}
