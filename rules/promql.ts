// PromQL checks at load time with the official lezer grammar: syntax errors with their offset, and the widest range
// window of a query (the "window" the served value stands for).
import { parser } from '@prometheus-io/lezer-promql';

export interface PromqlSyntaxError {
  /** 0-based offset of the error in the query text. */
  offset: number;
  message: string;
}

/** undefined when the query parses; otherwise the first error with its offset, as specific as promtool's. */
export function promqlSyntaxError(query: string): PromqlSyntaxError | undefined {
  if (query.trim() === '') return { offset: 0, message: 'empty PromQL' };
  const generic = genericSyntaxError(query);
  return generic && (specificSyntaxError(query) ?? generic);
}

function genericSyntaxError(query: string): PromqlSyntaxError | undefined {
  const tree = parser.parse(query);
  let found: PromqlSyntaxError | undefined;
  tree.iterate({
    enter: (node) => {
      if (found) return false;
      if (node.type.isError) {
        const near = query.slice(node.from, node.from + 20);
        found = {
          offset: node.from,
          message: near ? `PromQL syntax error at character ${node.from + 1} near ${JSON.stringify(near)}` : `PromQL syntax error: unexpected end of query at character ${node.from + 1}`,
        };
        return false;
      }
      return undefined;
    },
  });
  return found;
}

/** Whether the grammar knows `name` as a function (the grammar's own list, newer functions included). */
function isPromqlFunction(name: string): boolean {
  let bad = false;
  for (const probe of [`${name}(x)`, `${name}(x[1m])`, `${name}()`]) {
    bad = false;
    parser.parse(probe).iterate({ enter: (n) => { if (n.type.isError) bad = true; return !bad; } });
    if (!bad) return true;
  }
  return false;
}

// Words that may stand before "(" without being a function call.
const KEYWORDS_BEFORE_PAREN = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'atan2',
  'sum', 'avg', 'min', 'max', 'count', 'group', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values',
  'limitk', 'limit_ratio', 'start', 'end', 'step', 'range',
]);

/**
 * The common mistakes the grammar reports only as "syntax error near": an unterminated quoted string, a bad duration,
 * an unknown function name (Prometheus' wording for each). Runs only on a query the grammar refused.
 */
function specificSyntaxError(query: string): PromqlSyntaxError | undefined {
  // Walk the text once, skipping quoted strings and comments, so their contents are never read as code.
  for (let i = 0; i < query.length; i++) {
    const c = query[i]!;
    if (c === '#') {
      const nl = query.indexOf('\n', i);
      if (nl < 0) break;
      i = nl;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < query.length && query[j] !== c && !(c !== '`' && query[j] === '\n')) j += c !== '`' && query[j] === '\\' ? 2 : 1;
      if (j >= query.length || query[j] !== c) return { offset: i, message: `unterminated quoted string ${query.slice(i, i + 20)}` };
      i = j;
      continue;
    }
    if (c === '[') {
      const close = query.indexOf(']', i);
      const body = (close < 0 ? query.slice(i + 1) : query.slice(i + 1, close)).trim();
      // [5m], [5m:1m] (subquery), [5m:] — each side a duration (or empty for the step).
      const parts = body.split(':');
      for (const [k, part] of parts.entries()) {
        const text = part.trim();
        if (text === '' && k > 0) continue;
        if (/^[\d.]+[a-zA-Z]*$/.test(text) && parseDuration(text) === undefined && !/^\d+(\.\d+)?$/.test(text)) {
          return { offset: i + 1 + body.indexOf(text), message: `bad duration syntax: ${JSON.stringify(text)} (a number and a unit: ms, s, m, h, d, w, y, e.g. 1m30s)` };
        }
      }
      continue;
    }
    const word = /^[a-zA-Z_][a-zA-Z0-9_:]*/.exec(query.slice(i));
    if (word && (i === 0 || !/[a-zA-Z0-9_:.]/.test(query[i - 1]!))) {
      const name = word[0];
      const after = query.slice(i + name.length).trimStart();
      if (name === 'offset') {
        const d = /^[^\s()\]]+/.exec(after)?.[0];
        if (d && /^-?[\d.]/.test(d) && parseDuration(d.replace(/^-/, '')) === undefined) {
          return { offset: query.indexOf(d, i + name.length), message: `bad duration syntax: ${JSON.stringify(d)} (a number and a unit: ms, s, m, h, d, w, y, e.g. 1m30s)` };
        }
      }
      if (after.startsWith('(') && !name.includes(':') && !KEYWORDS_BEFORE_PAREN.has(name.toLowerCase()) && !isPromqlFunction(name)) {
        return { offset: i, message: `unknown function with name ${JSON.stringify(name)}` };
      }
      i += name.length - 1;
    }
  }
  return undefined;
}

const UNIT_S: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

/** Seconds of a Prometheus duration such as "1m30s"; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNIT_S[m[2]!]!;
    matched = re.lastIndex;
  }
  return matched === text.length && matched > 0 ? total : undefined;
}

/** The widest range selector (`[5m]`) of a query, in seconds; undefined when it has none. */
export function widestRangeSeconds(query: string): number | undefined {
  const tree = parser.parse(query);
  let widest: number | undefined;
  tree.iterate({
    enter: (node) => {
      if (node.name !== 'MatrixSelector') return undefined;
      const inner = node.node.getChild('DurationExpr');
      if (inner) {
        const s = parseDuration(query.slice(inner.from, inner.to));
        if (s !== undefined && (widest === undefined || s > widest)) widest = s;
      }
      return undefined;
    },
  });
  return widest;
}
