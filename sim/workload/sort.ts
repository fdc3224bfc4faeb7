import type { SimRequest } from './types.js';

/** Stable-sorts by arrival, shifts time so the first request arrives at 0, and renumbers ids 0..n-1. */
export function sortAndRebase(rows: SimRequest[]): SimRequest[] {
  let sorted = true;
  for (let i = 1; i < rows.length && sorted; i++) sorted = rows[i - 1]!.arrival <= rows[i]!.arrival;
  if (!sorted) rows.sort((a, b) => a.arrival - b.arrival); // Array.prototype.sort is stable
  const origin = rows[0]?.arrival ?? 0;
  rows.forEach((r, i) => {
    r.arrival -= origin;
    r.id = i;
  });
  return rows;
}
