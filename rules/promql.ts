// PromQL checks at load time with the official lezer grammar: syntax errors with their offset, and the widest range
// window of a query (the "window" the served value stands for).
import { parser } from '@prometheus-io/lezer-promql';

export interface PromqlSyntaxError {
  /** 0-based offset of the error in the query text. */
  offset: number;
  message: string;
}

/** undefined when the query parses; otherwise the first error with its offset. */
export function promqlSyntaxError(query: string): PromqlSyntaxError | undefined {
  if (query.trim() === '') return { offset: 0, message: 'empty PromQL' };
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
