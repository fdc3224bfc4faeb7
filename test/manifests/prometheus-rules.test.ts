// The recording rules (rules/prometheus/baton.rules.yaml): promtool's syntax check and its unit tests
// (baton.rules.test.yaml: input series → expected recorded values), and the PrometheusRule CR generated from them.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { RULES_FILE, RULES_TEST_FILE, prometheusRuleManifest } from '../../rules/prometheus/manifest.js';
import { REPO_ROOT } from '../e2e/harness/binaries.js';
import { run } from './render.js';

/** promtool on PATH; installs the Debian `prometheus` package (scripts/prom/install.sh) when missing and we are root. */
function findPromtool(): string | undefined {
  const which = () => {
    try {
      return execFileSync('bash', ['-c', 'command -v promtool'], { encoding: 'utf8' }).trim() || undefined;
    } catch {
      return undefined;
    }
  };
  const found = which();
  if (found || process.getuid?.() !== 0) return found;
  execFileSync('bash', [join(REPO_ROOT, 'scripts/prom/install.sh'), 'prometheus'], { stdio: 'inherit' });
  return which();
}

describe('Prometheus recording rules (promtool)', function () {
  this.timeout(5 * 60_000);
  let promtool: string;
  let dir: string;
  before(function () {
    const p = findPromtool();
    if (!p) this.skip(); // not root and no promtool: scripts/prom/install.sh prometheus
    promtool = p!;
    dir = mkdtempSync(join(tmpdir(), 'baton-promrules-'));
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('promtool check rules accepts the rule file', async () => {
    const r = await run(promtool, ['check', 'rules', RULES_FILE]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS: 13 rules found/);
  });

  it('promtool test rules: every recorded value matches the unit tests', async () => {
    const r = await run(promtool, ['test', 'rules', RULES_TEST_FILE]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS/);
  });

  it('the unit tests fail when a rule computes something else (KV-miss without subtracting cache hits)', async () => {
    const rules = readFileSync(RULES_FILE, 'utf8');
    const broken = rules.replace(/rate\(vllm:prefix_cache_hits_total\{role="prefill"\}\[1m\]\)/, 'rate(vllm:prefix_cache_hits_total{role="none"}[1m])');
    assert.notEqual(broken, rules);
    writeFileSync(join(dir, 'baton.rules.yaml'), broken);
    copyFileSync(RULES_TEST_FILE, join(dir, 'baton.rules.test.yaml'));
    const r = await run(promtool, ['test', 'rules', join(dir, 'baton.rules.test.yaml')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /vllm_prefill_kv_miss_tokens[\s\S]*got:.*1E\+03/);
  });

  it('promtool check rules rejects a broken expression', async () => {
    writeFileSync(join(dir, 'bad.rules.yaml'), 'groups:\n  - name: g\n    rules:\n      - record: a:b:c\n        expr: sum by (pool (rate(x[1m]))\n');
    const r = await run(promtool, ['check', 'rules', join(dir, 'bad.rules.yaml')]);
    assert.notEqual(r.code, 0);
  });

  it('the PrometheusRule CR carries exactly the groups of the plain rule file', () => {
    const plain = parse(readFileSync(RULES_FILE, 'utf8')) as { groups: unknown[] };
    const cr = parse(prometheusRuleManifest(readFileSync(RULES_FILE, 'utf8'))) as { kind: string; spec: { groups: unknown[] } };
    assert.equal(cr.kind, 'PrometheusRule');
    assert.deepEqual(cr.spec.groups, plain.groups);
    assert.throws(() => prometheusRuleManifest('rules: []\n', 'x.yaml'), /x\.yaml: not a Prometheus rule file/);
  });
});
