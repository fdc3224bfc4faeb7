import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { RuleStore } from '../../rules/store.js';
import type { RuleSet } from '../../rules/types.js';
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
