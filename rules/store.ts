// Hot reload of a rule directory: a valid new set replaces the old one atomically; an invalid one is refused (logged,
// exported as metrics) and the old set keeps serving. Works with ConfigMap mounts, whose files change by symlink swap,
// because the whole directory is re-read and compared by content rather than trusting individual fs events.
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Registry } from 'prom-client';
import { batched } from '../engine/core/batched.js';
import { loadRuleFiles, ruleFilesIn } from './load.js';
import { rulesMetrics, type RulesMetrics } from './metrics.js';
import { formatRuleError, type RuleError, type RuleSet, type ServiceRule } from './types.js';

/** Dry runs in flight at once. */
const DRY_RUN_CONCURRENCY = 4;

/** Every query of a rule with the field it sits in. */
function queriesOf(rule: ServiceRule): { field: string; promql: string }[] {
  return [
    { field: 'decodeTps', promql: rule.decodeTps.promql },
    ...rule.guards.map((g) => ({ field: `guards[${g.name}]`, promql: g.query.promql })),
    ...(rule.replicas ? [{ field: 'replicas', promql: rule.replicas.promql }] : []),
  ];
}

/**
 * What the directory held, as a digest: the poll compares it every few seconds, and a JSON copy of thousands of rules
 * (kept between polls) costs megabytes of heap each time.
 */
function fingerprintOf(files: readonly string[], texts: readonly string[]): string {
  const h = createHash('sha256');
  for (let i = 0; i < files.length; i++) h.update(`${files[i]!.length}:${files[i]}\u0000${Buffer.byteLength(texts[i]!)}:`).update(texts[i]!);
  return h.digest('hex');
}

export interface ReloadOutcome {
  ok: boolean;
  /** False when the files did not change since the last attempt (nothing was done). */
  changed: boolean;
  errors: RuleError[];
}

export interface RuleStoreOptions {
  dir: string;
  registry?: Registry;
  /** Debounce of file events (editors write in several steps). */
  debounceMs?: number;
  /** Re-read the directory this often as well, in case events are missed (0 = events only). */
  pollMs?: number;
  log?: (message: string) => void;
  clock?: () => number;
  /**
   * Runs a query that is new in a candidate set once against Prometheus before the set is taken: resolves to the error
   * Prometheus gave for a query it refuses (bad_data, an unknown function), or undefined when the query ran or
   * Prometheus could not be asked (unreachable, timed out: the local checks stand alone then).
   */
  dryRun?: (promql: string, candidate: RuleSet) => Promise<string | undefined>;
}

export class RuleStore {
  private current?: RuleSet;
  private watcher?: FSWatcher;
  private poller?: NodeJS.Timeout;
  private debounce?: NodeJS.Timeout;
  private lastFingerprint?: string;
  private reloading: Promise<ReloadOutcome> | undefined;
  private readonly listeners = new Set<(rs: RuleSet) => void>();
  private readonly metrics: RulesMetrics;
  private readonly log: (message: string) => void;
  private readonly clock: () => number;
  /** Errors of the last refused reload (empty after a success). */
  lastErrors: RuleError[] = [];

  constructor(private readonly opts: RuleStoreOptions) {
    this.metrics = rulesMetrics(opts.registry);
    this.log = opts.log ?? ((m) => console.error(`baton rules: ${m}`));
    this.clock = opts.clock ?? Date.now;
  }

  /** The rule set being served; undefined until a first valid load. */
  get rules(): RuleSet | undefined {
    return this.current;
  }

  onChange(listener: (rs: RuleSet) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** First load; throws with every error when the directory holds no valid set (nothing to serve). */
  async load(): Promise<RuleSet> {
    const out = await this.reload(true);
    if (!out.ok || !this.current) throw new Error(`invalid rules in ${this.opts.dir}:\n${out.errors.map(formatRuleError).join('\n')}`);
    return this.current;
  }

  /** Starts watching the directory for changes. */
  watch(): void {
    if (this.watcher) return;
    this.watcher = watch(this.opts.dir, { persistent: false }, () => this.schedule());
    this.watcher.on('error', (e) => this.log(`watching ${this.opts.dir} failed: ${e.message}`));
    const pollMs = this.opts.pollMs ?? 10_000;
    if (pollMs > 0) {
      this.poller = setInterval(() => this.schedule(), pollMs);
      this.poller.unref();
    }
  }

  close(): void {
    this.watcher?.close();
    delete this.watcher;
    if (this.poller) clearInterval(this.poller);
    if (this.debounce) clearTimeout(this.debounce);
  }

  /** Re-reads the directory; serialised, so two reloads never race. */
  reload(force = false): Promise<ReloadOutcome> {
    const prev = this.reloading ?? Promise.resolve(undefined);
    const next = prev.then(() => this.reloadNow(force));
    this.reloading = next.finally(() => {
      if (this.reloading === next) this.reloading = undefined;
    });
    return next;
  }

  private schedule(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.reload(), this.opts.debounceMs ?? 200);
    this.debounce.unref();
  }

  private async reloadNow(force: boolean): Promise<ReloadOutcome> {
    let files: string[] = [];
    let fingerprint: string;
    try {
      files = await ruleFilesIn(this.opts.dir);
      const texts = await Promise.all(files.map((f) => readFile(f, 'utf8')));
      fingerprint = fingerprintOf(files, texts);
    } catch (e) {
      return this.refuse([{ file: this.opts.dir, line: 1, col: 1, path: '', message: `cannot read rule directory: ${(e as Error).message}` }]);
    }
    if (!force && fingerprint === this.lastFingerprint) return { ok: this.lastErrors.length === 0, changed: false, errors: this.lastErrors };
    this.lastFingerprint = fingerprint;
    if (files.length === 0) return this.refuse([{ file: this.opts.dir, line: 1, col: 1, path: '', message: 'no rule files (*.yaml, *.yml) in the directory' }]);
    const result = await loadRuleFiles(files, this.clock());
    if (!result.ruleSet) return this.refuse(result.errors);
    const refused = await this.dryRunNew(result.ruleSet);
    if (refused.length > 0) return this.refuse(refused);
    this.current = result.ruleSet;
    this.lastErrors = [];
    const nowS = this.clock() / 1000;
    this.metrics.reloadSuccess.set(1);
    this.metrics.lastReloadTimestamp.set(nowS);
    this.metrics.lastReloadAttemptTimestamp.set(nowS);
    this.metrics.reloadErrors.set(0);
    this.metrics.loadedServices.set(result.ruleSet.services.length);
    this.log(`loaded ${result.ruleSet.services.length} service(s) from ${files.length} file(s)`);
    for (const l of this.listeners) l(result.ruleSet);
    return { ok: true, changed: true, errors: [] };
  }

  /** Queries the served set does not have yet, run once each: a query Prometheus refuses refuses the set. */
  private async dryRunNew(candidate: RuleSet): Promise<RuleError[]> {
    const dryRun = this.opts.dryRun;
    if (!dryRun) return [];
    const known = new Set((this.current?.services ?? []).flatMap((s) => queriesOf(s).map((q) => q.promql)));
    const checks: { rule: ServiceRule; field: string; promql: string }[] = [];
    for (const rule of candidate.services) for (const q of queriesOf(rule)) if (!known.has(q.promql)) checks.push({ rule, field: q.field, promql: q.promql });
    // One run per distinct query, a few at a time: a thousand services sharing a template must not open a thousand
    // connections to Prometheus at start.
    const distinct = [...new Set(checks.map((c) => c.promql))];
    const answers = await batched(distinct, DRY_RUN_CONCURRENCY, (q) => dryRun(q, candidate).catch(() => undefined));
    const errorOf = new Map(distinct.map((q, i) => [q, answers[i]]));
    return checks.flatMap((c) => {
      const error = errorOf.get(c.promql);
      if (error === undefined) return [];
      const { file, line, col } = c.rule.source;
      return [{ file, line, col, path: `services[${c.rule.name}].${c.field}`, message: `Prometheus refuses the query: ${error}` }];
    });
  }

  private refuse(errors: RuleError[]): ReloadOutcome {
    this.lastErrors = errors;
    this.metrics.reloadSuccess.set(0);
    this.metrics.lastReloadAttemptTimestamp.set(this.clock() / 1000);
    this.metrics.reloadFailures.inc();
    this.metrics.reloadErrors.set(errors.length);
    const keeping = this.current ? `keeping the previous set (${this.current.services.length} service(s))` : 'no rules are being served';
    this.log(`rule reload refused, ${keeping}:\n${errors.map(formatRuleError).join('\n')}`);
    return { ok: false, changed: true, errors };
  }
}
