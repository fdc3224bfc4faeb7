// Plain-text column alignment with optional group headings spanning several columns (no colours, no box drawing, so it
// survives pipes, logs and CI output).

export interface TextColumn {
  title: string;
  /** Heading over a run of adjacent columns with the same group. */
  group?: string;
  align: 'left' | 'right';
}

const SEP = '  ';

export function renderTextTable(columns: readonly TextColumn[], rows: readonly (readonly string[])[]): string[] {
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => (r[i] ?? '').length)));
  // Widen a group's columns evenly until its heading fits over them.
  const runs = groupRuns(columns);
  for (const run of runs) {
    if (!run.group) continue;
    let extra = run.group.length - spanWidth(widths, run.from, run.to);
    for (let i = run.to; extra > 0; i = i === run.from ? run.to : i - 1, extra--) widths[i]!++;
  }
  const pad = (s: string, i: number): string => (columns[i]!.align === 'left' ? s.padEnd(widths[i]!) : s.padStart(widths[i]!));
  const lines: string[] = [];
  if (runs.some((r) => r.group)) {
    const parts = runs.map((run) => {
      const span = spanWidth(widths, run.from, run.to);
      const label = run.group ?? '';
      const left = Math.floor((span - label.length) / 2);
      return (' '.repeat(left) + label).padEnd(span);
    });
    lines.push(parts.join(SEP).trimEnd());
  }
  lines.push(columns.map((c, i) => pad(c.title, i)).join(SEP).trimEnd());
  lines.push(widths.map((w) => '-'.repeat(w)).join(SEP));
  for (const r of rows) lines.push(columns.map((_, i) => pad(r[i] ?? '', i)).join(SEP).trimEnd());
  return lines;
}

interface Run { group: string | undefined; from: number; to: number }

function groupRuns(columns: readonly TextColumn[]): Run[] {
  const runs: Run[] = [];
  columns.forEach((c, i) => {
    const last = runs[runs.length - 1];
    if (last && c.group !== undefined && last.group === c.group) last.to = i;
    else runs.push({ group: c.group, from: i, to: i });
  });
  return runs;
}

function spanWidth(widths: readonly number[], from: number, to: number): number {
  let w = 0;
  for (let i = from; i <= to; i++) w += widths[i]!;
  return w + SEP.length * (to - from);
}
