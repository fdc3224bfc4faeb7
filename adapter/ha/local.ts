// In-process stand-ins for the Lease and the decision ConfigMaps: replicas in one process (benchmarks, tests) share one
// MemoryDecisionStore; records still go through their JSON form and schema, as they would through the apiserver.
import type { Elector } from './coordinator.js';
import type { DecisionStore } from './kube-store.js';
import { setImmediate as yieldTurn } from 'node:timers/promises';
import { PARSE_SLICE, parseRecord, type DecisionRecord } from './record.js';

export class MemoryDecisionStore implements DecisionStore {
  /** `data`: the stored texts, shared by the replicas' stores as the ConfigMaps are (each store parses on its own). */
  constructor(readonly data = new Map<string, string>()) {}
  /** Makes every call fail (an apiserver outage). */
  fail = false;
  writes = 0;

  /** Parsed records by their text: like the ConfigMap store's resourceVersion check, only changes are parsed. */
  private readonly parsed = new Map<string, { text: string; record: DecisionRecord | undefined }>();

  async readAll(): Promise<Map<string, DecisionRecord>> {
    if (this.fail) throw new Error('decision store unavailable');
    const out = new Map<string, DecisionRecord>();
    let parsed = 0;
    for (const [k, v] of [...this.data]) {
      let p = this.parsed.get(k);
      if (p?.text !== v) {
        if (++parsed % PARSE_SLICE === 0) await yieldTurn(); // serving goes on between slices
        this.parsed.set(k, (p = { text: v, record: parseRecord(v).record }));
      }
      if (p.record) out.set(k, p.record);
    }
    return out;
  }

  async write(changed: Iterable<string>, all: ReadonlyMap<string, DecisionRecord>): Promise<void> {
    if (this.fail) throw new Error('decision store unavailable');
    for (const s of changed) {
      const r = all.get(s);
      if (r) this.data.set(s, JSON.stringify(r));
    }
    this.writes++;
  }
}

/** Leadership set by the caller. */
export class FixedElector implements Elector {
  released = false;
  constructor(public lead: boolean) {}
  async tryAcquireOrRenew(): Promise<boolean> {
    return this.lead;
  }
  async release(): Promise<void> {
    this.released = true;
    this.lead = false;
  }
}
