// The cluster-object store of HA decisions: ConfigMaps `<prefix>-<shard>` in one namespace, labelled
// `baton.io/decisions=<prefix>`, one data key per service. The leader replaces whole shards it changed; every replica
// lists them (one call for all shards) and skips shards whose resourceVersion it has already read. Every call has a
// deadline.
import type * as k8s from '@kubernetes/client-node';
import { statusOf } from '../../engine/sidecar/kube.js';
import { withDeadline } from '../deadline.js';
import { setImmediate as yieldTurn } from 'node:timers/promises';
import { PARSE_SLICE, parseRecord, shardOf, type DecisionRecord } from './record.js';

export const DECISIONS_LABEL = 'baton.io/decisions';

export interface DecisionStoreOptions {
  namespace: string;
  /** ConfigMap name prefix (default baton-decisions). */
  prefix?: string;
  shards?: number;
  timeoutMs?: number;
  log?: (message: string) => void;
}

export interface DecisionStore {
  /** Every service's record (records that do not validate are skipped with a warning). */
  readAll(): Promise<Map<string, DecisionRecord>>;
  /** Replaces the shards that hold `changed`, with every record of those shards from `all`. */
  write(changed: Iterable<string>, all: ReadonlyMap<string, DecisionRecord>): Promise<void>;
}

export class ConfigMapDecisionStore implements DecisionStore {
  private readonly prefix: string;
  private readonly shards: number;
  private readonly timeoutMs: number;
  private readonly seen = new Map<string, { rv: string; records: Map<string, DecisionRecord> }>();

  constructor(private readonly core: k8s.CoreV1Api, private readonly o: DecisionStoreOptions) {
    this.prefix = o.prefix ?? 'baton-decisions';
    this.shards = o.shards ?? 8;
    this.timeoutMs = o.timeoutMs ?? 5000;
  }

  private name(shard: number): string {
    return `${this.prefix}-${shard}`;
  }

  async readAll(): Promise<Map<string, DecisionRecord>> {
    const list = await withDeadline(
      this.core.listNamespacedConfigMap({ namespace: this.o.namespace, labelSelector: `${DECISIONS_LABEL}=${this.prefix}` }),
      this.timeoutMs, 'listing the decision ConfigMaps',
    );
    const out = new Map<string, DecisionRecord>();
    for (const cm of list.items) {
      const name = cm.metadata?.name ?? '';
      const rv = cm.metadata?.resourceVersion ?? '';
      let shard = this.seen.get(name);
      if (!shard || shard.rv !== rv) {
        shard = { rv, records: new Map() };
        let parsed = 0;
        for (const [service, text] of Object.entries(cm.data ?? {})) {
          if (++parsed % PARSE_SLICE === 0) await yieldTurn(); // serving goes on between slices
          const { record, error } = parseRecord(text);
          if (record) shard.records.set(service, record);
          else this.o.log?.(`ConfigMap ${this.o.namespace}/${name}: ${service}: ${error}; not served`);
        }
        this.seen.set(name, shard);
      }
      for (const [k, v] of shard.records) out.set(k, v);
    }
    return out;
  }

  async write(changed: Iterable<string>, all: ReadonlyMap<string, DecisionRecord>): Promise<void> {
    const dirty = new Set([...changed].map((s) => shardOf(s, this.shards)));
    await Promise.all([...dirty].map(async (shard) => {
      const data: Record<string, string> = {};
      for (const [service, record] of all) if (shardOf(service, this.shards) === shard) data[service] = JSON.stringify(record);
      const body: k8s.V1ConfigMap = {
        apiVersion: 'v1', kind: 'ConfigMap',
        metadata: { name: this.name(shard), namespace: this.o.namespace, labels: { [DECISIONS_LABEL]: this.prefix, 'app.kubernetes.io/part-of': 'baton' } },
        data,
      };
      const name = this.name(shard);
      try {
        await withDeadline(this.core.replaceNamespacedConfigMap({ name, namespace: this.o.namespace, body }), this.timeoutMs, `writing ConfigMap ${name}`);
      } catch (e) {
        if (statusOf(e) !== 404) throw e;
        await withDeadline(this.core.createNamespacedConfigMap({ namespace: this.o.namespace, body }), this.timeoutMs, `creating ConfigMap ${name}`);
      }
    }));
  }
}
