import assert from 'node:assert/strict';
import { parseQueryResponse, parseSampleValue } from '../../rules/prometheus.js';
import { readPerPool, readSingle } from '../../rules/results.js';
import type { RulePool } from '../../rules/types.js';

const vec = (...series: [Record<string, string>, number][]) => ({ kind: 'vector' as const, series: series.map(([labels, value]) => ({ labels, value, timestampS: 1 })) });
const pool = (name: string): RulePool => ({ name, role: 'decode', gpuType: 'H100', unitsPerReplica: 1, preference: 0, minReplicas: 0, maxReplicas: 5, poolLabelValue: name, labels: {} });

describe('rules: reading query results without inventing zeros', () => {
  it('parses Prometheus sample strings including NaN and ±Inf', () => {
    assert.equal(parseSampleValue('+Inf'), Infinity);
    assert.equal(parseSampleValue('-Inf'), -Infinity);
    assert.ok(Number.isNaN(parseSampleValue('NaN')));
    assert.equal(parseSampleValue('12.5'), 12.5);
    const r = parseQueryResponse({ status: 'success', data: { resultType: 'vector', result: [{ metric: { pool: 'a' }, value: [1, '+Inf'] }] } });
    assert.equal(r.kind === 'vector' && r.series[0]!.value, Infinity);
    assert.throws(() => parseQueryResponse({ status: 'error', errorType: 'bad_data', error: 'parse error' }), /bad_data: parse error/);
  });

  it('accepts one series or a scalar', () => {
    assert.deepEqual(readSingle(vec([{}, 5])), { ok: true, value: 5 });
    assert.deepEqual(readSingle({ kind: 'scalar', value: 2, timestampS: 1 }), { ok: true, value: 2 });
  });

  for (const [name, result, kind] of [
    ['empty', vec(), 'empty'],
    ['NaN', vec([{}, NaN]), 'nan'],
    ['+Inf', vec([{}, Infinity]), 'inf'],
    ['-Inf scalar', { kind: 'scalar' as const, value: -Infinity, timestampS: 1 }, 'inf'],
    ['negative', vec([{}, -1]), 'negative'],
    ['two series where one was expected', vec([{ pod: 'a' }, 1], [{ pod: 'b' }, 2]), 'series'],
    ['a range vector', { kind: 'matrix' as const, seriesCount: 1 }, 'shape'],
  ] as const) {
    it(`refuses ${name}`, () => {
      const r = readSingle(result);
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.kind, kind);
    });
  }

  it('sums a vector keyed by pool and refuses unexpected keys, twins and missing pools', () => {
    const pools = [pool('a'), pool('b')];
    const ok = readPerPool(vec([{ pool: 'a' }, 1], [{ pool: 'b' }, 2]), { by: 'pool', pools, required: 'all' });
    assert.deepEqual(ok, { ok: true, value: 3, perPool: { a: 1, b: 2 } });
    const unknown = readPerPool(vec([{ pool: 'a' }, 1], [{ pool: 'zzz' }, 2]), { by: 'pool', pools, required: 'all' });
    assert.equal(!unknown.ok && unknown.kind, 'series');
    const twins = readPerPool(vec([{ pool: 'a', pod: '1' }, 1], [{ pool: 'a', pod: '2' }, 2], [{ pool: 'b' }, 1]), { by: 'pool', pools, required: 'all' });
    assert.equal(!twins.ok && twins.kind, 'series');
    const unlabelled = readPerPool(vec([{}, 1]), { by: 'pool', pools, required: 'all' });
    assert.equal(!unlabelled.ok && unlabelled.kind, 'series');
    const missing = readPerPool(vec([{ pool: 'a' }, 1]), { by: 'pool', pools, required: { replicas: { a: 1, b: 2 } } });
    assert.equal(!missing.ok && missing.kind, 'series');
    // A pool known to have no replicas exports nothing: that is a real zero.
    const scaledToZero = readPerPool(vec([{ pool: 'a' }, 1]), { by: 'pool', pools, required: { replicas: { a: 1, b: 0 } } });
    assert.deepEqual(scaledToZero, { ok: true, value: 1, perPool: { a: 1, b: 0 } });
    const nan = readPerPool(vec([{ pool: 'a' }, NaN], [{ pool: 'b' }, 1]), { by: 'pool', pools, required: 'all' });
    assert.equal(!nan.ok && nan.kind, 'nan');
  });
});
