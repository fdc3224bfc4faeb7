// Source positions for errors: every message names file, line, column and the field path.
import { isMap, isScalar, isSeq, LineCounter, type Document, type Node } from 'yaml';

export type PathKey = string | number;

export function pathText(path: readonly PathKey[]): string {
  let out = '';
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : out ? `.${k}` : k;
  return out;
}

/** JSON pointer ("/services/0/pools") → path keys, with numeric segments as indices. */
export function pointerToPath(pointer: string): PathKey[] {
  if (!pointer) return [];
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

export class PositionFinder {
  constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly text: string,
  ) {}

  /** The deepest existing node on the path (a missing field points at its parent). */
  nodeAt(path: readonly PathKey[]): Node | undefined {
    let node: unknown = this.doc.contents;
    let last = node as Node | undefined;
    for (const key of path) {
      if (isMap(node)) node = node.get(key, true);
      else if (isSeq(node) && typeof key === 'number') node = node.get(key, true);
      else break;
      if (node === undefined || node === null) break;
      last = node as Node;
    }
    return last;
  }

  /** Line/column (1-based) of the key of a map entry, for "unknown field" errors; falls back to the map. */
  keyPos(mapPath: readonly PathKey[], key: string): { line: number; col: number } {
    const map = this.nodeAt(mapPath);
    if (isMap(map)) {
      for (const pair of map.items) {
        const k = pair.key;
        if (isScalar(k) && k.value === key && k.range) return this.lines.linePos(k.range[0]);
      }
    }
    return this.pos(mapPath);
  }

  pos(path: readonly PathKey[]): { line: number; col: number } {
    const node = this.nodeAt(path);
    const offset = node?.range?.[0] ?? 0;
    return this.lines.linePos(offset);
  }

  /** Position of character `offset` inside the string value at `path` (exact for one-line and `|` block scalars). */
  posInString(path: readonly PathKey[], offset: number): { line: number; col: number } {
    const node = this.nodeAt(path);
    if (!isScalar(node) || !node.range || typeof node.value !== 'string') return this.pos(path);
    const start = node.range[0];
    const value = node.value;
    switch (node.type) {
      case 'QUOTE_DOUBLE':
      case 'QUOTE_SINGLE':
        if (!value.includes('\n')) return this.lines.linePos(start + 1 + offset);
        break;
      case 'PLAIN':
        if (!value.includes('\n')) return this.lines.linePos(start + offset);
        break;
      case 'BLOCK_LITERAL': {
        const before = value.slice(0, offset);
        const lineIdx = before.split('\n').length - 1;
        const colInLine = before.length - (before.lastIndexOf('\n') + 1);
        const header = this.lines.linePos(start);
        const contentLineStart = this.lines.lineStarts[header.line] ?? start;
        const indent = /^ */.exec(this.text.slice(contentLineStart))?.[0].length ?? 0;
        return { line: header.line + 1 + lineIdx, col: indent + colInLine + 1 };
      }
      default:
        break;
    }
    return this.lines.linePos(start);
  }
}
