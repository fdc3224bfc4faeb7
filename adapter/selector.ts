// Kubernetes label selectors, parsed the way apimachinery's `labels.Parse` does (pkg/labels/selector.go): the same
// lexer (whitespace, special symbols, `in`/`notin` keywords only in operator position), the same grammar, the same
// key/value validation. The HPA sends the selector text verbatim from `metric.selector`, so what kubectl accepts we accept.
import type { LabelMatcher } from './provider.js';

export type SelectorOperator = 'in' | 'notin' | '=' | '==' | '!=' | 'exists' | '!' | 'gt' | 'lt';

export interface Requirement {
  key: string;
  operator: SelectorOperator;
  /** Sorted, deduplicated (a set, as in apimachinery). Empty for exists / !. */
  values: string[];
}

export interface ParsedSelector {
  requirements: Requirement[];
  matches: LabelMatcher;
  /** True when the selector selects everything (empty text). */
  empty: boolean;
}

/** A selector that could not be parsed; the message names what was wrong and where (1-based column). */
export class SelectorParseError extends Error {
  constructor(
    readonly selector: string,
    readonly column: number,
    detail: string,
  ) {
    super(`unable to parse label selector "${selector}" at column ${column}: ${detail}`);
    this.name = 'SelectorParseError';
  }
}

type Tok = 'ident' | 'eos' | '!' | '!=' | '(' | ')' | ',' | '<' | '=' | '==' | '>' | 'in' | 'notin' | 'error';
interface Token {
  tok: Tok;
  lit: string;
  /** 0-based offset of the token's first character. */
  pos: number;
}

const SPECIAL = new Set(['=', '!', '(', ')', ',', '>', '<']);
const SYMBOLS = new Set(['!', '!=', '(', ')', ',', '<', '=', '==', '>']);
const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\r' || c === '\n';

function lex(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  for (;;) {
    while (i < text.length && isSpace(text[i]!)) i++;
    if (i >= text.length) {
      out.push({ tok: 'eos', lit: 'end of string', pos: text.length });
      return out;
    }
    const start = i;
    if (SPECIAL.has(text[i]!)) {
      // Longest run of special characters that still spells a symbol ("==" but "=!" is "=" then "!").
      let best = '';
      let buf = '';
      while (i < text.length && SPECIAL.has(text[i]!)) {
        buf += text[i];
        if (SYMBOLS.has(buf)) best = buf;
        else if (best) break;
        i++;
      }
      if (!best) {
        out.push({ tok: 'error', lit: buf, pos: start });
        return out;
      }
      i = start + best.length;
      out.push({ tok: best as Tok, lit: best, pos: start });
      continue;
    }
    while (i < text.length && !isSpace(text[i]!) && !SPECIAL.has(text[i]!)) i++;
    const lit = text.slice(start, i);
    out.push({ tok: lit === 'in' ? 'in' : lit === 'notin' ? 'notin' : 'ident', lit, pos: start });
  }
}

// apimachinery validation (util/validation): qualified names for keys, label values for values.
const NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const INTEGER_RE = /^[+-]?[0-9]+$/;

/** Why `key` is not a valid label key (a qualified name), or undefined when it is. */
export function labelKeyProblem(key: string): string | undefined {
  const parts = key.split('/');
  let name = key;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) return `invalid label key "${key}": prefix part must be non-empty`;
    if (prefix.length > 253) return `invalid label key "${key}": prefix part must be no more than 253 characters`;
    if (!DNS1123_SUBDOMAIN_RE.test(prefix))
      return `invalid label key "${key}": prefix part must be a lowercase RFC 1123 subdomain (e.g. 'example.com')`;
  } else if (parts.length > 2) {
    return `invalid label key "${key}": a qualified name must consist of an optional DNS subdomain prefix and '/' and a name`;
  }
  if (name.length === 0) return `invalid label key "${key}": name part must be non-empty`;
  if (name.length > 63) return `invalid label key "${key}": name part must be no more than 63 characters`;
  if (!NAME_RE.test(name))
    return `invalid label key "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`;
  return undefined;
}

/** Why `value` is not a valid label value, or undefined when it is (the empty string is valid). */
export function labelValueProblem(value: string): string | undefined {
  if (value.length === 0) return undefined;
  if (value.length > 63) return `invalid label value "${value}": must be no more than 63 characters`;
  if (!NAME_RE.test(value))
    return `invalid label value "${value}": must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`;
  return undefined;
}

class Parser {
  private i = 0;
  constructor(
    private readonly text: string,
    private readonly toks: Token[],
  ) {}

  private fail(tok: Token, detail: string): never {
    throw new SelectorParseError(this.text, tok.pos + 1, detail);
  }
  /** In value position the keywords `in`/`notin` are plain identifiers (apimachinery's `Values` context). */
  private peek(values = true): Token {
    const t = this.toks[this.i]!;
    if (t.tok === 'error') this.fail(t, `unexpected symbol '${t.lit}'`);
    return values && (t.tok === 'in' || t.tok === 'notin') ? { ...t, tok: 'ident' } : t;
  }
  private next(values = true): Token {
    const t = this.peek(values);
    this.i++;
    return t;
  }

  parse(): Requirement[] {
    const reqs: Requirement[] = [];
    for (;;) {
      const t = this.peek();
      if (t.tok === 'eos') return reqs;
      if (t.tok !== 'ident' && t.tok !== '!') this.fail(t, `found '${t.lit}', expected: !, identifier, or 'end of string'`);
      reqs.push(this.requirement());
      const after = this.next();
      if (after.tok === 'eos') return reqs;
      if (after.tok !== ',') this.fail(after, `found '${after.lit}', expected: ',' or 'end of string'`);
      const t2 = this.peek();
      if (t2.tok !== 'ident' && t2.tok !== '!') this.fail(t2, `found '${t2.lit}', expected: identifier after ','`);
    }
  }

  private requirement(): Requirement {
    let t = this.next();
    let negated = false;
    if (t.tok === '!') {
      negated = true;
      t = this.next();
    }
    if (t.tok !== 'ident') this.fail(t, `found '${t.lit}', expected: identifier`);
    const key = t.lit;
    const keyProblem = labelKeyProblem(key);
    if (keyProblem) this.fail(t, keyProblem);
    const la = this.peek();
    if (negated) return { key, operator: '!', values: [] };
    if (la.tok === 'eos' || la.tok === ',') return { key, operator: 'exists', values: [] };

    const op = this.next(false);
    switch (op.tok) {
      case 'in':
      case 'notin':
        return { key, operator: op.tok, values: this.setValues() };
      case '=':
      case '==':
      case '!=':
        return { key, operator: op.tok, values: [this.exactValue()] };
      case '>':
      case '<': {
        const v = this.next();
        if (v.tok !== 'ident') this.fail(v, `found '${v.lit}', expected: identifier`);
        if (!INTEGER_RE.test(v.lit)) this.fail(v, `for '${op.tok}' operator, the value must be an integer, found '${v.lit}'`);
        return { key, operator: op.tok === '>' ? 'gt' : 'lt', values: [v.lit] };
      }
      default:
        return this.fail(op, `found '${op.lit}', expected: in, notin, =, ==, !=, gt, lt`);
    }
  }

  private checkedValue(t: Token): string {
    const problem = labelValueProblem(t.lit);
    if (problem) this.fail(t, problem);
    return t.lit;
  }

  /** `a=` selects the empty value, exactly like apimachinery. */
  private exactValue(): string {
    const la = this.peek();
    if (la.tok === 'eos' || la.tok === ',') return '';
    const t = this.next();
    if (t.tok !== 'ident') this.fail(t, `found '${t.lit}', expected: identifier`);
    return this.checkedValue(t);
  }

  /** `( v1, v2 )`; empty members (`(a,,b)`, `()`) mean the empty value, as in apimachinery. */
  private setValues(): string[] {
    const open = this.next();
    if (open.tok !== '(') this.fail(open, `found '${open.lit}', expected: '('`);
    const set = new Set<string>();
    const first = this.peek();
    if (first.tok === ')') {
      this.next();
      return [''];
    }
    if (first.tok !== 'ident' && first.tok !== ',') this.fail(first, `found '${first.lit}', expected: ',', ')' or identifier`);
    // A literal port of apimachinery's parseIdentifiersList, quirks included (`(a,,)` is an error there too).
    for (;;) {
      const t = this.next();
      if (t.tok === 'ident') {
        set.add(this.checkedValue(t));
        const la = this.peek();
        if (la.tok === ',') continue;
        if (la.tok === ')') break;
        this.fail(la, `found '${la.lit}', expected: ',' or ')'`);
      } else if (t.tok === ',') {
        if (set.size === 0) set.add('');
        const la = this.peek();
        if (la.tok === ')') {
          set.add('');
          break;
        }
        if (la.tok === ',') {
          this.next();
          set.add('');
        }
      } else {
        this.fail(t, `found '${t.lit}', expected: ',', or identifier`);
      }
    }
    const close = this.next();
    if (close.tok !== ')') this.fail(close, `found '${close.lit}', expected: ')'`);
    return [...set].sort();
  }
}

function requirementMatcher(r: Requirement): LabelMatcher {
  const { key } = r;
  const has = (labels: Record<string, string>) => Object.prototype.hasOwnProperty.call(labels, key);
  switch (r.operator) {
    case '=':
    case '==': {
      const want = r.values[0]!;
      return (labels) => has(labels) && labels[key] === want;
    }
    case '!=': {
      const not = r.values[0]!;
      return (labels) => !has(labels) || labels[key] !== not;
    }
    case 'in': {
      const set = new Set(r.values);
      return (labels) => has(labels) && set.has(labels[key]!);
    }
    case 'notin': {
      const set = new Set(r.values);
      return (labels) => !has(labels) || !set.has(labels[key]!);
    }
    case 'exists':
      return has;
    case '!':
      return (labels) => !has(labels);
    case 'gt':
    case 'lt': {
      const bound = BigInt(r.values[0]!);
      const gt = r.operator === 'gt';
      return (labels) => {
        if (!has(labels)) return false;
        const v = labels[key]!;
        if (!INTEGER_RE.test(v)) return false;
        const n = BigInt(v);
        return gt ? n > bound : n < bound;
      };
    }
  }
}

const EVERYTHING: LabelMatcher = () => true;

/**
 * Parse a Kubernetes label selector (`a=b,c!=d,e in (x,y),f notin (z),g,!h`). The empty string selects everything.
 * Throws SelectorParseError with the column of the offending token.
 */
export function parseSelector(text: string): ParsedSelector {
  const requirements = new Parser(text, lex(text)).parse();
  if (requirements.length === 0) return { requirements, matches: EVERYTHING, empty: true };
  const matchers = requirements.map(requirementMatcher);
  const matches: LabelMatcher =
    matchers.length === 1
      ? matchers[0]!
      : (labels) => {
          for (const m of matchers) if (!m(labels)) return false;
          return true;
        };
  return { requirements, matches, empty: false };
}

/** Canonical text of a parsed selector (apimachinery's `String()`: requirements sorted by key). */
export function selectorToString(requirements: Requirement[]): string {
  return [...requirements]
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((r) => {
      switch (r.operator) {
        case 'exists':
          return r.key;
        case '!':
          return `!${r.key}`;
        case 'in':
        case 'notin':
          return `${r.key} ${r.operator} (${r.values.join(',')})`;
        case 'gt':
          return `${r.key}>${r.values[0]}`;
        case 'lt':
          return `${r.key}<${r.values[0]}`;
        default:
          return `${r.key}${r.operator}${r.values[0]}`;
      }
    })
    .join(',');
}
