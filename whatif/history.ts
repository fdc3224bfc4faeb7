// History for a what-if: each query of a rule run as query_range over [from, to] at one step, then cut back into the
// instant vector an evaluation at each step would have seen. A step where a series has no point is a gap in that series.
import type { QueryResult, RangeQuery, Series } from '../rules/prometheus.js';

/** Prometheus refuses more than 11,000 points per series; stay under it with room to spare. */
export const MAX_POINTS_PER_REQUEST = 10_000;

export interface HistoryQuery {
  /** decodeTps, guard:<name>, actual */
  name: string;
  promql: string;
}

export interface History {
  /** Evaluation times (seconds): from, from + step, … ≤ to. */
  times: number[];
  stepS: number;
  /** The vector a family's instant query would have returned at times[i]; undefined when the range query failed. */
  at(name: string, i: number): QueryResult | undefined;
  /** Why a family has no data at all (its range query failed). */
  errors: Record<string, string>;
}

export function stepTimes(fromS: number, toS: number, stepS: number): number[] {
  if (!(stepS > 0)) throw new Error(`step must be positive, got ${stepS}`);
  if (!(toS > fromS)) throw new Error(`--to (${toS}) must be after --from (${fromS})`);
  const n = Math.floor((toS - fromS) / stepS + 1e-9);
  return Array.from({ length: n + 1 }, (_, k) => fromS + k * stepS);
}

/** Millisecond key, so float step arithmetic and Prometheus' timestamps meet. */
const key = (t: number): number => Math.round(t * 1000);

export async function fetchHistory(query: RangeQuery, queries: readonly HistoryQuery[], fromS: number, toS: number, stepS: number): Promise<History> {
  const times = stepTimes(fromS, toS, stepS);
  const byFamily = new Map<string, Map<number, Series[]>>();
  const errors: Record<string, string> = {};
  for (const q of queries) {
    const perStep = new Map<number, Series[]>();
    try {
      for (let i = 0; i < times.length; i += MAX_POINTS_PER_REQUEST) {
        const chunk = times.slice(i, i + MAX_POINTS_PER_REQUEST);
        const series = await query(q.promql, chunk[0]!, chunk.at(-1)!, stepS);
        for (const s of series) {
          for (const p of s.points) {
            const k = key(p.timestampS);
            let list = perStep.get(k);
            if (!list) perStep.set(k, (list = []));
            list.push({ labels: s.labels, value: p.value, timestampS: p.timestampS });
          }
        }
      }
      byFamily.set(q.name, perStep);
    } catch (e) {
      errors[q.name] = (e as Error).message;
    }
  }
  return {
    times,
    stepS,
    errors,
    at(name, i) {
      const fam = byFamily.get(name);
      if (!fam) return undefined;
      return { kind: 'vector', series: fam.get(key(times[i]!)) ?? [] };
    },
  };
}
