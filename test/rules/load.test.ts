import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRuleFiles, loadRuleText } from '../../rules/load.js';
import { promqlTypeError } from '../../rules/promql-types.js';
import { policyConfigOf, type RuleError } from '../../rules/types.js';

const minimal = (extra = '', pools = '') => `services:
  - name: chat
    ratio: {prefill: 3, decode: 2}
    decodeTpsPerUnit: 1000
    decodeTps: 'sum(rate(vllm:generation_tokens_total{service="chat"}[1m]))'
${extra}    pools:
      - {name: p1, role: prefill, maxReplicas: 10}
      - {name: d1, role: decode, maxReplicas: 10}
${pools}`;

function errorsOf(text: string): RuleError[] {
  return loadRuleText(text, 'f.yaml').errors;
}

function one(text: string): RuleError {
  const errs = errorsOf(text);
  assert.equal(errs.length, 1, JSON.stringify(errs));
  return errs[0]!;
}

describe('rules: loading and validation', () => {
  it('loads a minimal service with defaults and maps it to the policy core config', () => {
    const { services, errors } = loadRuleText(minimal(), 'f.yaml');
    assert.deepEqual(errors, []);
    const s = services[0]!;
    assert.equal(s.metric.name, 'baton_desired_replicas');
    assert.equal(s.queryIntervalS, 5);
    assert.equal(s.maxStalenessS, 60);
    assert.equal(s.windowS, 60); // from [1m]
    const cfg = policyConfigOf(s);
    assert.deepEqual(cfg.ratio, { prefill: 3, decode: 2 });
    assert.equal(cfg.pools.length, 2);
    assert.equal(cfg.pools[0]!.minReplicas, 1);
    assert.deepEqual(Object.keys(cfg.pools[0]!).sort(), ['gpuType', 'maxReplicas', 'minReplicas', 'name', 'preference', 'role', 'unitsPerReplica']);
  });

  it('expands engine presets into one per-pool decode query and guard quantiles (vLLM v1, v0, SGLang, TRT-LLM)', () => {
    const text = (engine: string) => `services:
  - name: chat
    engine: ${engine}
    match: {service: chat}
    window: 30s
    ratio: {prefill: 9, decode: 7}
    decodeTpsPerUnit: 1000
    pools:
      - {name: p1, role: prefill, maxReplicas: 10}
      - {name: d-h200, role: decode, maxReplicas: 10}
      - {name: d.h100, role: decode, maxReplicas: 10}
    guards:
      - {name: tbt_p99, slo: 0.05, tiers: [{above: 0.9, scaleOut: 0.1}]}
      - {name: ttft_p90, slo: 2, tiers: [{above: 1, scaleOut: 0.1}]}
`;
    const v1 = loadRuleText(text('vllm'), 'f.yaml');
    assert.deepEqual(v1.errors, []);
    const s = v1.services[0]!;
    assert.equal(s.decodeTps.promql, 'sum by (pool) (rate(vllm:generation_tokens_total{service="chat",pool=~"d-h200|d\\\\.h100"}[30s])) unless on() (count(up{service="chat"} == 0 and on(instance) rate(vllm:generation_tokens_total{service="chat",pool=~"d-h200|d\\\\.h100"}[30s])) > 0)');
    assert.equal(s.decodeTps.by, 'pool');
    assert.equal(s.windowS, 30);
    assert.match(s.guards[0]!.query.promql, /^histogram_quantile\(0\.99, sum by \(le\) \(rate\(vllm:inter_token_latency_seconds_bucket\{service="chat",pool=~/);
    assert.match(s.guards[1]!.query.promql, /histogram_quantile\(0\.9, .*vllm:time_to_first_token_seconds_bucket\{service="chat"\}\[30s\]/);
    assert.match(loadRuleText(text('vllm-v0'), 'f').services[0]!.guards[0]!.query.promql, /vllm:time_per_output_token_seconds_bucket/);
    // SGLang and TensorRT-LLM are seen under two spellings (sglang: / sglang_, trtllm_ / trtllm:): the preset matches both.
    assert.match(loadRuleText(text('sglang'), 'f').services[0]!.decodeTps.promql, /rate\(\{__name__=~"sglang\[:_\]generation_tokens_total",service="chat",pool=~"d-h200\|d\\\\\.h100"\}\[30s\]\)/);
    assert.match(loadRuleText(text('trtllm'), 'f').services[0]!.guards[0]!.query.promql, /\{__name__=~"trtllm\[:_\]time_per_output_token_seconds_bucket",service="chat",pool=~/);
  });

  it('names file, line, column and field path for an unknown field', () => {
    const e = one(minimal('    bogus: 1\n'));
    assert.deepEqual({ ...e, message: undefined }, { file: 'f.yaml', line: 6, col: 5, path: 'services[0].bogus', message: undefined });
    assert.match(e.message, /unknown field "bogus"/);
  });

  it('reports a missing required field at its parent with the field in the path', () => {
    const errs = errorsOf('services:\n  - name: chat\n    ratio: {prefill: 3, decode: 2}\n    pools: []\n');
    assert.deepEqual(errs.map((e) => [e.path, e.line, e.col]), [['services[0].decodeTpsPerUnit', 2, 5], ['services[0].pools', 4, 12]]);
    assert.match(errs[0]!.message, /missing required field "decodeTpsPerUnit"/);
  });

  it('rejects a ratio that is not a positive integer, with its position', () => {
    const errs = errorsOf(minimal().replace('{prefill: 3, decode: 2}', '{prefill: 0, decode: 1.5}'));
    assert.deepEqual(errs.map((e) => [e.path, e.line]), [['services[0].ratio.prefill', 3], ['services[0].ratio.decode', 3]]);
  });

  it('takes the scale-in window and guard ceiling in stability, defaults for the rest, and rejects bad values', () => {
    const { services, errors } = loadRuleText(minimal('    stability: {scaleInWindowS: 120, guardCeiling: 1.5}\n'), 'f.yaml');
    assert.deepEqual(errors, []);
    // signalRecoveryS defaults to the decode query's 1m window plus two 5 s evaluations.
    assert.deepEqual(policyConfigOf(services[0]!).stability, { scaleUpCooldownS: 30, scaleDownCooldownS: 300, scaleInHysteresis: 0.1, scaleInDamping: 0.5, scaleInWindowS: 120, guardCeiling: 1.5, signalRecoveryS: 70 });
    assert.equal(loadRuleText(minimal('    stability: {signalRecoveryS: 0}\n'), 'f.yaml').services[0]!.stability.signalRecoveryS, 0);
    const errs = errorsOf(minimal('    stability: {scaleInWindowS: -1, guardCeiling: 0.5}\n'));
    assert.deepEqual(errs.map((e) => e.path), ['services[0].stability.scaleInWindowS', 'services[0].stability.guardCeiling']);
  });

  it('reports the position of a PromQL syntax error inside the query', () => {
    const e = one(minimal().replace("'sum(rate(vllm:generation_tokens_total{service=\"chat\"}[1m]))'", "'sum(rate(x[1m]) by'"));
    assert.equal(e.path, 'services[0].decodeTps');
    assert.equal(e.line, 5);
    assert.match(e.message, /PromQL syntax error/);
    assert.ok(e.col > 16, `column ${e.col} points into the query`);
  });

  it("names promtool's syntax mistakes: unknown function, bad duration, unterminated string, at the offending column", () => {
    const at = (q: string): RuleError => one(minimal().replace("'sum(rate(vllm:generation_tokens_total{service=\"chat\"}[1m]))'", `'${q}'`));
    const col0 = '    decodeTps: \''.length + 1; // the query's first character
    const cases: [string, RegExp, number][] = [
      ['sum(rat(x[1m]))', /unknown function with name "rat"/, 4],
      ['sum(rate(x[1mm]))', /bad duration syntax: "1mm"/, 11],
      ['sum(rate(x[5m:1x]))', /bad duration syntax: "1x"/, 14],
      ['sum(x offset 5mm)', /bad duration syntax: "5mm"/, 13],
      ['sum(x{a="b)', /unterminated quoted string/, 8],
      ['sum(x{a=~"(("})', /error parsing regexp: unterminated group in "\(\("/, 9],
      ['sum(x{a=~"(?=y)"})', /error parsing regexp: invalid or unsupported Perl syntax in "\(\?=y\)"/, 9],
      ['sum({a=""})', /vector selector must contain at least one non-empty matcher/, 4],
      ['sum({a!="b"})', /vector selector must contain at least one non-empty matcher/, 4],
      ['sum(foo{__name__="bar"})', /metric name must not be set twice/, 4],
    ];
    for (const [q, msg, offset] of cases) {
      const e = at(q);
      assert.match(e.message, msg, q);
      assert.equal(e.line, 5, q);
      assert.equal(e.col, col0 + offset, `${q}: ${e.message}`);
    }
    // Valid queries with the same words are untouched: functions newer than the checker's table, keywords before "(".
    for (const q of ['sum by (pool) (rate(x[1m]))', 'sum(rate(x[5m:30s])) offset 1m', 'max_over_time(x[1m:]) and on(pool) vector(1)', 'count_values("v", x)',
      'sum({__name__=~"up|x", a=""})', 'sum(x{a=~"a|b.*", b!~"c"})']) {
      assert.deepEqual(errorsOf(minimal().replace("'sum(rate(vllm:generation_tokens_total{service=\"chat\"}[1m]))'", `'${q}'`)), [], q);
    }
  });

  it('reports PromQL errors in a block scalar on the right line', () => {
    const text = minimal().replace("decodeTps: 'sum(rate(vllm:generation_tokens_total{service=\"chat\"}[1m]))'", 'decodeTps: |\n      sum(\n        rate(x[1m]) +\n      )');
    const e = one(text);
    // The "+" on line 7 has no right operand: the parser flags the ")" that follows, line 8 column 7.
    assert.deepEqual([e.line, e.col], [8, 7]);
  });

  it('checks references: unique pools and guards, ascending tiers, a pool per role, min ≤ max, valid json-logic', () => {
    const text = minimal(`    guards:
      - {name: g, promql: "1", slo: 1, tiers: [{above: 1, scaleOut: 0.2}, {above: 0.9, scaleOut: 0.1}]}
      - {name: g, promql: "1", slo: 1, tiers: [{above: 1, scaleOut: 0.2}], when: {nope: [1]}}
`, '      - {name: p1, role: prefill, minReplicas: 5, maxReplicas: 2}\n');
    const errs = errorsOf(text);
    const msgs = errs.map((e) => `${e.path}: ${e.message}`);
    assert.ok(msgs.some((m) => m.startsWith('services[0].guards[0].tiers[1].above: tiers must ascend')), msgs.join('\n'));
    assert.ok(msgs.some((m) => m.startsWith('services[0].guards[0].tiers[1].scaleOut')));
    assert.ok(msgs.some((m) => m.startsWith('services[0].guards[1].name: duplicate guard name')));
    assert.ok(msgs.some((m) => m.startsWith('services[0].guards[1].when') && m.includes('Unrecognized operation nope')));
    assert.ok(msgs.some((m) => m.startsWith('services[0].pools[2].name: duplicate pool name')));
    assert.ok(msgs.some((m) => m.startsWith('services[0].pools[2].minReplicas')));
    for (const e of errs) assert.ok(e.line > 1 && e.col >= 1);
    const noDecode = errorsOf(minimal().replace('role: decode', 'role: prefill'));
    assert.ok(noDecode.some((e) => /no pool with role "decode"/.test(e.message)));
  });

  it('refuses overriding the labels Baton sets, and a staleness shorter than the interval', () => {
    const errs = errorsOf(minimal('    metric: {labels: {role: x}}\n    queryIntervalSeconds: 10\n    maxStalenessSeconds: 5\n'));
    assert.deepEqual(errs.map((e) => e.path).sort(), ['services[0].maxStalenessSeconds', 'services[0].metric.labels.role']);
  });

  it('requires PromQL for a non-preset guard and a decode query without an engine', () => {
    const errs = errorsOf(minimal('    guards: [{name: tbt_p99, slo: 1, tiers: [{above: 1, scaleOut: 0.1}]}]\n').replace(/    decodeTps: .*\n/, ''));
    assert.equal(errs.length, 2, JSON.stringify(errs));
  });

  it('reports YAML syntax errors with their position', () => {
    const e = errorsOf('services:\n  - name: chat\n    ratio: {prefill: 3\n')[0]!;
    assert.match(e.message, /^YAML/);
    assert.equal(e.file, 'f.yaml');
  });

  it('refuses the same service name in two files, naming both places', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-rules-'));
    writeFileSync(join(dir, 'a.yaml'), minimal());
    writeFileSync(join(dir, 'b.yaml'), minimal());
    const r = await loadRuleFiles([join(dir, 'a.yaml'), join(dir, 'b.yaml')]);
    assert.equal(r.ruleSet, undefined);
    assert.match(r.errors[0]!.message, /already defined at .*a\.yaml:2/);
  });

  it('loads the shipped example', async () => {
    const r = await loadRuleFiles(['rules/examples/chat.yaml']);
    assert.deepEqual(r.errors, []);
    assert.equal(r.ruleSet!.services[0]!.guards.length, 2);
  });
});

describe('rules: PromQL type checks at load (Prometheus semantics)', () => {
  const cases: [string, RegExp][] = [
    ['rate(x)', /expected type range vector in call to function "rate", got instant vector/],
    ['sum(x[5m])', /expected type instant vector in aggregation expression, got range vector/],
    ['abs(x[1m])', /expected type instant vector in call to function "abs", got range vector/],
    ['clamp_min(x)', /expected 2 argument\(s\) in call to "clamp_min", got 1/],
    ['round(x, 1, 2)', /expected 1 to 2 argument\(s\) in call to "round", got 3/],
    ['x and 1', /set operator "and" not allowed in binary scalar expression/],
    ['1 > 2', /comparisons between scalars must use BOOL modifier/],
    ['topk("a", x)', /expected type scalar in aggregation parameter, got string/],
    ['(x[5m])[5m:1m]', /subquery is only allowed on instant vector/],
    ['-x[1m]', /unary expression only allowed on expressions of type scalar or instant vector, got range vector/],
    ['x[5m]', /must evaluate to an instant vector or a scalar, got range vector/],
  ];
  for (const [q, want] of cases) {
    it(`refuses ${q}`, () => assert.match(promqlTypeError(q)?.message ?? 'accepted', want));
  }
  for (const q of ['sum by (pool) (rate(x{a="b"}[1m]))', 'histogram_quantile(0.99, sum by (le) (rate(b[1m])))', 'scalar(x) * 2', '1 > bool 2',
    'sum(rate(x[1m])) unless on() (count(up == 0) > 0)', 'label_join(x, "a", ",", "b", "c")', 'quantile_over_time(0.9, x[5m])', 'rate(x[5m] @ 100)', 'max_over_time(x[5m:1m])']) {
    it(`accepts ${q}`, () => assert.equal(promqlTypeError(q), undefined));
  }
});
