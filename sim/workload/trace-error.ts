// Errors for malformed trace files that say exactly where the problem is.

export class TraceFormatError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string | undefined,
    problem: string,
  ) {
    super(`${file}:${line}: ${field ? `field "${field}": ` : ''}${problem}`);
    this.name = 'TraceFormatError';
  }
}

/** Parses a token count: a non-negative integer written in decimal. */
export function parseCount(raw: unknown, file: string, line: number, field: string): number {
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new TraceFormatError(file, line, field, `expected a non-negative integer, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** Splits text into lines (LF or CRLF), keeping 1-based line numbers and skipping blank lines. */
export function* numberedLines(text: string): Generator<[lineNo: number, line: string]> {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').replace(/\r$/, '');
    if (line.trim() !== '') yield [i + 1, line];
  }
}
