import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { RuleStore } from '../../rules/store.js';
import { formatRuleError, type RuleSet } from '../../rules/types.js';
import { chatRules } from './fixtures.js';

const waitFor = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('rules: hot reload', () => {
  let dir: string;
  let store: RuleStore;
  let registry: Registry;
  let logs: string[];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'baton-store-'));
    registry = new Registry();
    logs = [];
    store = new RuleStore({ dir, registry, debounceMs: 20, pollMs: 0, log: (m) => logs.push(m) });
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const gauge = async (name: string): Promise<number> => {
    const m = (await registry.getSingleMetric(name)!.get()).values[0];
    return m ? m.value : NaN;
  };

  it('refuses to start on an invalid directory, naming every error', async () => {
    writeFileSync(join(dir, 'a.yaml'), chatRules().replace('ratio: {prefill: 3', 'ratio: {prefill: 0'));
    await assert.rejects(store.load(), /a\.yaml:4:\d+: services\[0\]\.ratio\.prefill: must be >= 1/);
    assert.equal(await gauge('baton_rules_reload_success'), 0);
  });

  it('a valid change replaces the set atomically; an invalid one is refused and the old set keeps serving', async () => {
    writeFileSync(join(dir, 'a.yaml'), chatRules());
    const first = await store.load();
    assert.equal(first.services[0]!.decodeTpsPerUnit, 1000);
    assert.equal(await gauge('baton_rules_reload_success'), 1);
    const seen: RuleSet[] = [];
    store.onChange((rs) => seen.push(rs));
    store.watch();

    writeFileSync(join(dir, 'a.yaml'), chatRules().replace('decodeTpsPerUnit: 1000', 'decodeTpsPerUnit: 2000'));
    await waitFor(() => seen.length === 1);
    assert.equal(store.rules!.services[0]!.decodeTpsPerUnit, 2000);
    assert.notEqual(store.rules, first, 'a new object, not a mutation of the served one');
    assert.equal(first.services[0]!.decodeTpsPerUnit, 1000);

    const good = store.rules;
    writeFileSync(join(dir, 'a.yaml'), chatRules().replace("decodeTps: {promql: 'sum by", "decodeTps: {promql: 'sum by by"));
    await waitFor(() => store.lastErrors.length > 0);
    assert.equal(store.rules, good, 'the old set keeps serving');
    assert.equal(seen.length, 1);
    assert.equal(await gauge('baton_rules_reload_success'), 0);
    assert.ok((await gauge('baton_rules_reload_errors')) >= 1);
    assert.equal(await gauge('baton_rules_reload_failures_total'), 1);
    assert.ok(logs.some((l) => /reload refused, keeping the previous set/.test(l) && /PromQL syntax error/.test(l)), logs.join('\n'));

    // A broken second file refuses the whole set too.
    writeFileSync(join(dir, 'a.yaml'), chatRules());
    writeFileSync(join(dir, 'b.yaml'), 'services: [{name: x}]\n');
    await waitFor(() => store.lastErrors.some((e) => e.file.endsWith('b.yaml')));
    assert.equal(store.rules, good);

    rmSync(join(dir, 'b.yaml'));
    await waitFor(() => seen.length === 2);
    assert.equal(store.rules!.services[0]!.decodeTpsPerUnit, 1000);
    assert.equal(await gauge('baton_rules_reload_success'), 1);
    assert.ok((await gauge('baton_rules_last_reload_timestamp_seconds')) > 1e9);
  });

  it('does nothing when the files did not change', async () => {
    writeFileSync(join(dir, 'a.yaml'), chatRules());
    await store.load();
    const out = await store.reload();
    assert.equal(out.changed, false);
  });
});

describe('rules: reload refuses queries that cannot run', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'baton-store-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('rate() of an instant vector is refused at load with file:line:col, before any Prometheus is asked', async () => {
    writeFileSync(join(dir, 'a.yaml'), chatRules());
    const asked: string[] = [];
    const store = new RuleStore({ dir, log: () => {}, dryRun: async (q) => (asked.push(q), undefined) });
    const good = await store.load();
    writeFileSync(join(dir, 'a.yaml'), chatRules().replace("rate(vllm:generation_tokens_total{service=\"chat\"}[1m])", 'rate(vllm:generation_tokens_total{service="chat"})'));
    const out = await store.reload();
    assert.equal(out.ok, false);
    assert.match(formatRuleError(out.errors[0]!), /a\.yaml:6:46: services\[0\]\.decodeTps\.promql: expected type range vector in call to function "rate", got instant vector/);
    assert.equal(store.rules, good);
    assert.equal(asked.length, 2, 'only the first load dry-ran its two queries');
  });

  it('a new query Prometheus refuses refuses the set; unchanged queries are not asked again; no answer means accepted', async () => {
    writeFileSync(join(dir, 'a.yaml'), chatRules());
    const asked: string[] = [];
    let verdict: string | undefined = undefined;
    const store = new RuleStore({ dir, log: () => {}, dryRun: async (q) => (asked.push(q), verdict) });
    const good = await store.load();
    asked.length = 0;
    verdict = 'bad_data: invalid regular expression';
    writeFileSync(join(dir, 'a.yaml'), chatRules().replace('sum by (le)', 'sum by (le, pod)'));
    const out = await store.reload();
    assert.equal(out.ok, false);
    assert.match(out.errors[0]!.message, /Prometheus refuses the query: bad_data: invalid regular expression/);
    assert.equal(out.errors[0]!.path, 'services[chat].guards[tbt_p99]');
    assert.equal(asked.length, 1, 'only the changed guard query');
    assert.equal(store.rules, good);
    verdict = undefined; // unreachable: the local checks stand alone
    writeFileSync(join(dir, 'a.yaml'), chatRules().replace('sum by (le)', 'sum by (le, instance)'));
    assert.equal((await store.reload()).ok, true);
  });
  it('services sharing a query dry-run it once, a few queries at a time (no burst of connections at start)', async () => {
    // 50 services: one shared decode query and one shared guard, plus 10 services with a guard of their own.
    const one = (i: number): string => chatRules().replace('services:\n', '').replace('name: chat', `name: chat-${i}`)
      .replace('sum by (le)', i < 10 ? `sum by (le, g${i})` : 'sum by (le)');
    writeFileSync(join(dir, 'a.yaml'), 'services:\n' + Array.from({ length: 50 }, (_, i) => one(i)).join(''));
    const asked: string[] = [];
    let inFlight = 0;
    let most = 0;
    const store = new RuleStore({
      dir, log: () => {},
      dryRun: async (q) => {
        asked.push(q);
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return undefined;
      },
    });
    assert.equal((await store.load()).services.length, 50);
    assert.equal(asked.length, 12, 'one decode query, one shared guard, ten distinct guards');
    assert.equal(new Set(asked).size, 12);
    assert.ok(most <= 4, `at most 4 dry runs at once, saw ${most}`);
  });
});
