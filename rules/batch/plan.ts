// Which queries of a rule set run as one: the distinct queries grouped by template; a template with members that
// differ in some parameter becomes a batch (one merged query, grouped by those parameters). The rest run alone.
import type { BatchTrace } from '../../adapter/provider.js';
import { mergedPromql, shapeOf, type QueryShape } from './template.js';

export interface Batch {
  /** The template's key, stable while the template is: names the batch (schedules, logs) across member changes. */
  template: string;
  /** The one query sent for all members. */
  promql: string;
  /** Labels the merged answer is split by. */
  by: string[];
  /** Each member query's slice key (its values of `by`, as sliceKey() writes them). */
  members: ReadonlyMap<string, string>;
  /** Each member's explain entry, built once per plan (evaluations reuse it). */
  traces: ReadonlyMap<string, BatchTrace>;
}

export interface BatchPlan {
  /** The batch a query is part of, if any. */
  batchOf(promql: string): Batch | undefined;
  /** What a query is scheduled with: its batch's template, or the query itself when it runs alone. */
  unitOf(promql: string): string;
  readonly batches: readonly Batch[];
}

/** Batches bigger than this are split: one answer must stay well under the client's body limit. */
export const MAX_BATCH_MEMBERS = 5000;

/**
 * `shapes` caches parsed queries between plans (a reload re-plans thousands of queries; most are unchanged): it is
 * pruned to the queries given.
 */
export function planBatches(promqls: Iterable<string>, maxMembers = MAX_BATCH_MEMBERS, shapes?: Map<string, QueryShape | undefined>): BatchPlan {
  const byKey = new Map<string, QueryShape[]>();
  const distinct = new Set(promqls);
  if (shapes) for (const q of shapes.keys()) if (!distinct.has(q)) shapes.delete(q);
  for (const q of distinct) {
    let shape = shapes?.get(q);
    if (!shapes?.has(q)) {
      shape = shapeOf(q);
      shapes?.set(q, shape);
    }
    if (!shape || shape.params.size === 0) continue;
    const group = byKey.get(shape.key);
    if (group) group.push(shape);
    else byKey.set(shape.key, [shape]);
  }
  const batches: Batch[] = [];
  const of = new Map<string, Batch>();
  for (const [key, all] of byKey) {
    if (all.length < 2) continue;
    const labels = [...all[0]!.params.keys()];
    const by = labels.filter((l) => new Set(all.map((s) => s.params.get(l))).size > 1);
    if (by.length === 0) continue; // the same query written differently: one text is sent per text anyway
    all.sort((a, b) => (a.promql < b.promql ? -1 : a.promql > b.promql ? 1 : 0)); // stable parts, whatever the file order
    // Members with the same values of `by` would share one slice: then they differ elsewhere, which the key forbids.
    for (let i = 0, part = 0; i < all.length; i += maxMembers, part++) {
      const shapes = all.slice(i, i + maxMembers);
      const members = new Map(shapes.map((s) => [s.promql, JSON.stringify(by.map((l) => s.params.get(l)!))]));
      const promql = mergedPromql(shapes, by);
      const traces = new Map(shapes.map((s) => [s.promql, { promql, by, slice: Object.fromEntries(by.map((l) => [l, s.params.get(l)!])), queries: shapes.length }]));
      const batch: Batch = { template: part === 0 ? key : `${key}#${part}`, promql, by, members, traces };
      batches.push(batch);
      for (const s of shapes) of.set(s.promql, batch);
    }
  }
  return {
    batches,
    batchOf: (q) => of.get(q),
    unitOf: (q) => of.get(q)?.template ?? q,
  };
}
