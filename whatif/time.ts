// Times and durations on the command line: what Prometheus' own API accepts, plus `now` and `now-6h`.
const UNIT_S: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** "15s", "1m30s", "2h", or plain seconds ("15"). */
export function parseDuration(text: string, flag: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return positive(Number(t), text, flag);
  const parts = [...t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== t) throw new Error(`${flag}: "${text}" is not a duration (e.g. 15s, 1m, 2h30m, or seconds)`);
  return positive(parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_S[p[2]!]!, 0), text, flag);
}

function positive(v: number, text: string, flag: string): number {
  if (!(v > 0)) throw new Error(`${flag}: "${text}" must be longer than zero`);
  return v;
}

/** RFC 3339 ("2025-05-01T08:00:00Z"), Unix seconds, "now", or "now-6h". */
export function parseTime(text: string, flag: string, nowS = Date.now() / 1000): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  const rel = /^now(?:-(.+))?$/.exec(t);
  if (rel) return rel[1] ? nowS - parseDuration(rel[1], flag) : nowS;
  const ms = Date.parse(t);
  if (!/^\d{4}-\d{2}-\d{2}/.test(t) || Number.isNaN(ms)) throw new Error(`${flag}: "${text}" is not a time (RFC 3339 like 2025-05-01T08:00:00Z, Unix seconds, now, now-6h)`);
  return ms / 1000;
}
