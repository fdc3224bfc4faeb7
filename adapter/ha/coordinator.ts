// High availability for the adapter: any number of replicas serve identical values.
// - One Lease elects the leader (shared with the sidecar engine of the same pod through the pod's identity, so the
//   adapter and the engine lead together). Only the leader evaluates and decides.
// - The leader hands each decision to the store (sharded ConfigMaps) with an instant `effectiveAtMs` a little ahead;
//   every replica, the leader included, reads the store and serves the decision from that instant on, so they switch
//   together. A decision that could not be written is served by no one (all keep the previous one).
// - A replica that starts (a rollout, an eviction) or takes over reads the store first: it serves the fleet's level
//   and continues from the leader's policy state, not from the bare need.
import type { Evaluator, GoodValue } from '../../rules/evaluator.js';
import type { DecisionStore } from './kube-store.js';
import { MAX_EARLIER, type DecisionRecord } from './record.js';

/** How long a decision waits for the rest of its round before the write (ms). */
const FLUSH_DELAY_MS = 20;
/** Decisions adopted per event-loop turn. */
const ADOPT_SLICE = 64;

/** Of `record` and the decisions it carries, those still to serve at `now`: the one in force and any waiting. */
function stillToServe(record: DecisionRecord | undefined, now: number): { good: GoodValue; effectiveAtMs: number }[] {
  if (!record) return [];
  const all = [...(record.earlier ?? []), { good: record.good, effectiveAtMs: record.effectiveAtMs }];
  let first = 0;
  for (let i = 0; i < all.length; i++) if (all[i]!.effectiveAtMs <= now) first = i; // the last one in force
  return all.slice(first).slice(-MAX_EARLIER);
}

interface Adoption {
  service: string;
  record: DecisionRecord;
  withPolicy: boolean;
}

export interface Elector {
  tryAcquireOrRenew(): Promise<boolean>;
  release(): Promise<void>;
}

export interface HaOptions {
  evaluator: Evaluator;
  store: DecisionStore;
  elector: Elector;
  identity: string;
  /** How often the store is read (default 500 ms). */
  syncIntervalMs?: number;
  /** How far ahead of its write a decision takes effect (default 1500 ms; more than a sync interval plus a write). */
  publishDelayMs?: number;
  /** How often the lease is renewed or tried (default 2 s). */
  electionIntervalMs?: number;
  log?: (message: string) => void;
  clock?: () => number;
}

export class HaCoordinator {
  /** The newest record known per service (written by us, or read from the store). */
  private readonly records = new Map<string, DecisionRecord>();
  /** atMs of the record each service serves now. */
  private readonly served = new Map<string, number>();
  private readonly adoptTimers = new Set<NodeJS.Timeout>();
  /** Adoptions waiting for their instant, by effectiveAtMs. */
  private readonly due = new Map<number, Adoption[]>();
  private readonly adoptions: Adoption[] = [];
  /** `service\0atMs` of every decision waiting for its instant or its slice. */
  private readonly scheduled = new Set<string>();
  private adoptHead = 0;
  private draining = false;
  private readonly dirty = new Set<string>();
  private leader = false;
  private stopped = false;
  private syncTimer: NodeJS.Timeout | undefined;
  private electionTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushAgain = false;
  private readonly clock: () => number;
  private readonly log: (message: string) => void;
  /** Store reads and writes that failed (tests, metrics). */
  errors = 0;

  constructor(private readonly o: HaOptions) {
    this.clock = o.clock ?? Date.now;
    this.log = o.log ?? ((m) => console.error(`baton ha: ${m}`));
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /** The evaluator's deferPublish hook: a decision goes to the store, and is served once it is there. */
  readonly publish = (service: string, good: GoodValue): void => {
    if (!this.leader) return; // a decision finished after leadership was lost: the new leader decides
    const now = this.clock();
    const record: DecisionRecord = { v: 1, good, effectiveAtMs: now + (this.o.publishDelayMs ?? 1500), leader: this.o.identity };
    const earlier = stillToServe(this.records.get(service), now);
    if (earlier.length) record.earlier = earlier;
    this.records.set(service, record);
    this.dirty.add(service);
    // A round's decisions arrive one per event-loop turn; one write carries them all (the effective instant is far
    // enough ahead for this short wait).
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, FLUSH_DELAY_MS);
  };

  /** Reads the store (serving what it holds), then takes part in the election. */
  async start(): Promise<void> {
    try {
      await this.sync(true);
    } catch (e) {
      this.errors++;
      this.log(`reading the decision store at start failed: ${(e as Error).message}; serving from local memory until it answers`);
    }
    await this.elect();
    const syncLoop = () => {
      this.syncTimer = setTimeout(() => {
        void this.sync(!this.leader).catch((e: Error) => {
          this.errors++;
          this.log(`reading the decision store failed: ${e.message}`);
        }).finally(() => {
          if (!this.stopped) syncLoop();
        });
      }, this.o.syncIntervalMs ?? 500);
      this.syncTimer.unref();
    };
    const electionLoop = () => {
      this.electionTimer = setTimeout(() => void this.elect().finally(() => {
        if (!this.stopped) electionLoop();
      }), this.o.electionIntervalMs ?? 2000);
      this.electionTimer.unref();
    };
    syncLoop();
    electionLoop();
  }

  /** Clean stop (a rollout): pending decisions written, the lease given up so a successor takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.syncTimer);
    clearTimeout(this.electionTimer);
    await this.o.evaluator.pause();
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      void this.flush();
    }
    await this.flushing;
    if (this.leader) await this.o.elector.release();
    this.leader = false;
    for (const t of this.adoptTimers.values()) clearTimeout(t);
    this.adoptTimers.clear();
    this.due.clear();
    this.scheduled.clear();
  }

  private async elect(): Promise<void> {
    if (this.stopped) return;
    const lead = await this.o.elector.tryAcquireOrRenew();
    if (lead && !this.leader) {
      // Take over from the newest state in the store, not from what this replica decided when it last led.
      try {
        await this.sync(true);
      } catch (e) {
        this.errors++;
        this.log(`taking over without a fresh read of the store: ${(e as Error).message}`);
      }
      this.adoptQueued(); // with their policy state, while still a follower
      this.leader = true;
      this.log(`${this.o.identity} leads: evaluating`);
      this.o.evaluator.start();
    } else if (!lead && this.leader) {
      this.leader = false;
      this.log(`${this.o.identity} no longer leads: serving the leader's decisions`);
      await this.o.evaluator.pause();
    }
  }

  /** Reads every record; newer ones are served from their effective instant. `withPolicy`: take their policy state. */
  private async sync(withPolicy: boolean): Promise<void> {
    const all = await this.o.store.readAll();
    for (const [service, record] of all) {
      const known = this.records.get(service);
      // The leader's own newer decisions stay (the store may still hold older ones until its write lands).
      if (known && known.good.atMs > record.good.atMs) continue;
      this.records.set(service, record);
      this.schedule(service, record, withPolicy);
    }
  }

  private schedule(service: string, record: DecisionRecord, withPolicy: boolean): void {
    if ((this.served.get(service) ?? -Infinity) >= record.good.atMs) return;
    // Every sync reads the records again; one that is already waiting for its turn is not queued a second time.
    const key = `${service}\u0000${record.good.atMs}`;
    if (this.scheduled.has(key)) return;
    this.scheduled.add(key);
    // Every record gets its own turn (an older one still pending is served first, as on every other replica). One
    // timer per instant: a leader's round of decisions shares one, not one timer per service.
    const adoption: Adoption = { service, record, withPolicy };
    const wait = record.effectiveAtMs - this.clock();
    // Not in force yet: the decisions before it are served on their own instants meanwhile (a replica that just started
    // serves what the others serve). Each goes through here once, without its own `earlier`.
    if (wait > 0) for (const e of record.earlier ?? []) this.schedule(service, { v: record.v, good: e.good, effectiveAtMs: e.effectiveAtMs, leader: record.leader }, withPolicy);
    if (wait <= 0) return this.enqueue([adoption]);
    let due = this.due.get(record.effectiveAtMs);
    if (!due) {
      const list: Adoption[] = [];
      const t = setTimeout(() => {
        this.adoptTimers.delete(t);
        this.due.delete(record.effectiveAtMs);
        this.enqueue(list);
      }, wait);
      t.unref();
      this.adoptTimers.add(t);
      this.due.set(record.effectiveAtMs, (due = list));
    }
    due.push(adoption);
  }

  /** Adopts in slices of ADOPT_SLICE per event-loop turn, so a round of thousands never stalls serving. */
  private enqueue(list: Adoption[]): void {
    for (const a of list) this.adoptions.push(a);
    if (this.draining) return;
    this.draining = true;
    const drain = () => {
      const end = Math.min(this.adoptions.length, this.adoptHead + ADOPT_SLICE);
      for (; this.adoptHead < end; this.adoptHead++) this.adopt(this.adoptions[this.adoptHead]!);
      if (this.adoptHead < this.adoptions.length && !this.stopped) return void setImmediate(drain);
      this.adoptions.length = 0;
      this.adoptHead = 0;
      this.draining = false;
    };
    drain();
  }

  /** Adopts everything due now at once (a take-over: before this replica decides anything itself). */
  private adoptQueued(): void {
    for (; this.adoptHead < this.adoptions.length; this.adoptHead++) this.adopt(this.adoptions[this.adoptHead]!);
  }

  private adopt({ service, record, withPolicy }: Adoption): void {
    this.scheduled.delete(`${service}\u0000${record.good.atMs}`);
    if ((this.served.get(service) ?? -Infinity) >= record.good.atMs) return;
    if (this.o.evaluator.adopt(service, record.good, withPolicy && !this.leader)) this.served.set(service, record.good.atMs);
  }

  /** Writes the shards of changed services; on success the leader serves them like everyone else (on schedule). */
  private async flush(): Promise<void> {
    if (this.flushing) {
      this.flushAgain = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      do {
        this.flushAgain = false;
        const changed = [...this.dirty];
        this.dirty.clear();
        // A retried write still gives every replica time to read it before it takes effect.
        const earliest = this.clock() + (this.o.publishDelayMs ?? 1500) / 2;
        for (const s of changed) {
          const r = this.records.get(s);
          if (r && r.effectiveAtMs < earliest) this.records.set(s, { ...r, effectiveAtMs: this.clock() + (this.o.publishDelayMs ?? 1500) });
        }
        try {
          await this.o.store.write(changed, this.records);
          for (const s of changed) {
            const r = this.records.get(s);
            if (r) this.schedule(s, r, false);
          }
        } catch (e) {
          this.errors++;
          for (const s of changed) this.dirty.add(s);
          this.log(`writing decisions to the store failed (${changed.length} service(s)), no replica serves them yet: ${(e as Error).message}`);
          if (!this.stopped) setTimeout(() => void this.flush(), 1000).unref();
          break;
        }
      } while (this.flushAgain || this.dirty.size > 0);
    })().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }
}
