// An exposition page whose cumulative values grow: counters, _sum, _count and _bucket are written as per-second
// increments and served multiplied by the seconds since `startedMs` (+1), so rate() reads them back; gauges stay as
// written. The upstream-shaped sample pages (test/rules/upstream-samples/) are served this way.
export function growingPage(page: string, startedMs: number, nowMs = Date.now()): string {
  const t = (nowMs - startedMs) / 1000 + 1;
  return page.replace(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/gm, (line, name: string, labels: string | undefined, value: string) =>
    (/(_total|_sum|_count|_bucket)$/.test(name) ? `${name}${labels ?? ''} ${Number(value) * t}` : line));
}
