// Template detection on the PromQL syntax tree: which queries merge into one, and the merged text.
import assert from 'node:assert/strict';
import { parser } from '@prometheus-io/lezer-promql';
import { planBatches } from '../../rules/batch/plan.js';
import { shapeOf, sliceKey } from '../../rules/batch/template.js';
import { presetDecodeTps, presetGuardPromql, type PresetContext } from '../../rules/presets.js';
import fc from '../support/fast-check.js';
import { generated } from '../support/promql-templates.js';

const ctx = (service: string, pools = ['decode-h200']): PresetContext => ({ engine: 'vllm', match: { namespace: 'llm', service }, poolLabel: 'pool', decodePoolValues: pools, window: '1m' });
const presetQueries = (service: string): string[] => [presetDecodeTps(ctx(service)).promql, presetGuardPromql(ctx(service), 'tbt_p99')!, presetGuardPromql(ctx(service), 'ttft_p99')!];

function parses(q: string): boolean {
  let ok = true;
  parser.parse(q).iterate({ enter: (n) => { if (n.type.isError) ok = false; } });
  return ok;
}

describe('rules/batch: query templates', () => {
  it('the presets of 500 services are 3 templates: one merged query each, grouped by service', () => {
    const services = Array.from({ length: 500 }, (_, i) => `svc-${i}`);
    const plan = planBatches(services.flatMap(presetQueries));
    assert.equal(plan.batches.length, 3);
    for (const b of plan.batches) {
      assert.deepEqual(b.by, ['service']);
      assert.equal(b.members.size, 500);
      assert.ok(parses(b.promql), b.promql);
      assert.match(b.promql, /service=~"svc-0\|svc-1\|svc-10\|/);
      assert.match(b.promql, /namespace="llm"/, 'a label with one value stays literal');
    }
    const decode = plan.batchOf(presetQueries('svc-7')[0]!)!;
    // The scrape-outage clause becomes per service: one service's dead target empties only its own slice.
    assert.match(decode.promql, /^sum by \(pool, service\) \(rate\(/);
    assert.match(decode.promql, / unless on\(service\) \(count by \(service\) \(up\{/);
    assert.match(decode.promql, /and on\(instance, service\) rate\(/);
    assert.equal(decode.members.get(presetQueries('svc-7')[0]!), sliceKey({ service: 'svc-7', pool: 'x' }, ['service']));
    const ttft = plan.batchOf(presetQueries('svc-7')[2]!)!;
    assert.match(ttft.promql, /^histogram_quantile\(0\.99, sum by \(le, service\) \(rate\(vllm:time_to_first_token_seconds_bucket\{namespace="llm",service=~"/);
  });

  it('merges an aggregation without a modifier (sum(x) → sum by (service) (x)) and keeps whitespace differences apart from structure', () => {
    const plan = planBatches(['sum(rate(x{service="a"}[5m]))', 'sum( rate( x{ service = "b" } [5m] ) )']);
    assert.equal(plan.batches.length, 1);
    assert.equal(planBatches(['sum(rate(x{service="a"}[5m]))', 'sum(rate(x{service="b"}[5m]))']).batches[0]!.promql, 'sum by (service) (rate(x{service=~"a|b"}[5m]))');
    assert.match(plan.batches[0]!.promql, /^sum by \(service\) +\( rate\( x\{ service =~"a\|b" \} \[5m\] \) \)$/);
  });

  it('groups by every label that varies, and escapes regex metacharacters in the values', () => {
    const plan = planBatches(['sum(x{ns="a",service="s.1"})', 'sum(x{ns="b",service="s+2"})']);
    assert.deepEqual(plan.batches[0]!.by, ['ns', 'service']);
    assert.equal(plan.batches[0]!.promql, 'sum by (ns, service) (x{ns=~"a|b",service=~"s\\\\+2|s\\\\.1"})');
  });

  const refused: [string, string[]][] = [
    ['`or vector(0)` adds a series without the label', ['sum(x{service="a"}) or vector(0)', 'sum(x{service="b"}) or vector(0)']],
    ['without (service) drops it', ['sum without (service) (x{service="a"})', 'sum without (service) (x{service="b"})']],
    ['ignoring(service) matches across it', ['x{service="a"} / ignoring(service) y{service="a"}', 'x{service="b"} / ignoring(service) y{service="b"}']],
    ['label_replace may rewrite it', ['label_replace(x{service="a"}, "service", "z", "", "")', 'label_replace(x{service="b"}, "service", "z", "", "")']],
    ['absent answers for the whole set', ['absent(x{service="a"})', 'absent(x{service="b"})']],
    ['scalar() collapses the vector', ['x{service="a"} * scalar(y{service="a"})', 'x{service="b"} * scalar(y{service="b"})']],
    ['a selector without the matcher is shared by all values', ['x{service="a"} / on() group_left sum(y)', 'x{service="b"} / on() group_left sum(y)']],
    ['a regex matcher is not a parameter', ['sum(x{service=~"a"})', 'sum(x{service=~"b"})']],
    ['two values in one query are not one parameter', ['x{service="a"} / y{service="z"}', 'x{service="b"} / y{service="z2"}']],
    ['different windows are different templates', ['sum(rate(x{service="a"}[1m]))', 'sum(rate(x{service="b"}[5m]))']],
    ['different metric names are different templates', ['sum(x{service="a"})', 'sum(y{service="b"})']],
    ['an escaped literal is never taken apart', ['sum(x{service="a\\"q"})', 'sum(x{service="b\\"q"})']],
    ['an empty value matches series without the label', ['sum(x{service=""})', 'sum(x{service="b"})']],
    ['count_values adds a label', ['count_values("v", x{service="a"})', 'count_values("v", x{service="b"})']],
    ['group_left(service) copies the label', ['x{service="a"} * on(i) group_left(service) y{service="a"}', 'x{service="b"} * on(i) group_left(service) y{service="b"}']],
    ['an unknown function', ['my_fn(x{service="a"})', 'my_fn(x{service="b"})']],
  ];
  for (const [why, qs] of refused) {
    it(`refuses to merge: ${why}`, () => {
      const plan = planBatches(qs);
      assert.equal(plan.batches.length, 0, plan.batches[0]?.promql);
      for (const q of qs) assert.equal(plan.unitOf(q), q);
    });
  }

  it('services whose decode pools differ are different templates (the pool regex is no parameter)', () => {
    const plan = planBatches([presetDecodeTps(ctx('a', ['d1'])).promql, presetDecodeTps(ctx('b', ['d2'])).promql, presetDecodeTps(ctx('c', ['d1'])).promql]);
    assert.equal(plan.batches.length, 1);
    assert.equal(plan.batches[0]!.members.size, 2);
  });

  it('splits a template with more members than a batch may hold, in a stable order', () => {
    const qs = Array.from({ length: 7 }, (_, i) => `sum(x{service="s${i}"})`);
    const a = planBatches(qs, 3);
    const b = planBatches([...qs].reverse(), 3);
    assert.equal(a.batches.length, 3);
    assert.deepEqual(a.batches.map((x) => x.promql), b.batches.map((x) => x.promql));
    assert.deepEqual(new Set(a.batches.map((x) => x.template)).size, 3);
  });

  it('shapeOf refuses what does not parse', () => {
    assert.equal(shapeOf('sum(x{service="a"'), undefined);
  });
});

// ---------------------------------------------------------------- fuzz

describe('rules/batch: template detection (fuzz)', () => {
  it('merges exactly the provably safe templates, into a query that parses, with one slice per value', () => {
    fc.assert(
      fc.property(generated, fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/), { minLength: 2, maxLength: 5 }), (g, services) => {
        const qs = services.map((s) => g.text(s));
        const plan = planBatches(qs);
        if (!g.safe) {
          assert.equal(plan.batches.length, 0, `merged an unsafe template: ${plan.batches[0]?.promql}`);
          return;
        }
        assert.equal(plan.batches.length, 1, `did not merge a safe template: ${qs[0]}`);
        const b = plan.batches[0]!;
        assert.ok(parses(b.promql), b.promql);
        assert.deepEqual(b.by, ['service']);
        assert.equal(new Set(b.members.values()).size, services.length);
        for (const [i, q] of qs.entries()) assert.equal(b.members.get(q), JSON.stringify([services[i]]));
      }),
      { numRuns: 300 },
    );
  });
});
