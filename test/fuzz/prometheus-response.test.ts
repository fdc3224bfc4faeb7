// Fuzzing what a Prometheus-compatible server may answer: parseQueryResponse on any JSON either returns a typed
// QueryResult (vector samples with string labels and a number value) or throws PrometheusError; never a TypeError.
import assert from 'node:assert/strict';
import fc from '../support/fast-check.js';
import { parseQueryResponse, parseRangeResponse, PrometheusError, type QueryResult } from '../../rules/prometheus.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);

/** Shapes close to the real API (so the parser's inner branches run), with every field free to be wrong. */
const sampleValue = fc.oneof(fc.constantFrom('1', '0.5', 'NaN', '+Inf', '-Inf', '', 'x', '1e309'), fc.jsonValue());
const sample = fc.oneof(
  fc.record({ metric: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.jsonValue()), value: fc.oneof(fc.tuple(fc.double(), sampleValue), fc.jsonValue()) }, { requiredKeys: [] }),
  fc.jsonValue(),
);
const body = fc.oneof(
  fc.jsonValue(),
  fc.record({
    status: fc.oneof(fc.constantFrom('success', 'error'), fc.jsonValue()),
    error: fc.jsonValue(),
    errorType: fc.jsonValue(),
    data: fc.oneof(
      fc.record({
        resultType: fc.oneof(fc.constantFrom('vector', 'scalar', 'matrix', 'string'), fc.jsonValue()),
        result: fc.oneof(fc.array(sample, { maxLength: 4 }), fc.tuple(fc.double(), sampleValue), fc.jsonValue()),
      }, { requiredKeys: [] }),
      fc.jsonValue(),
    ),
  }, { requiredKeys: [] }),
);

function checkResult(r: QueryResult): void {
  switch (r.kind) {
    case 'vector':
      for (const s of r.series) {
        assert.equal(typeof s.value, 'number');
        assert.equal(typeof s.timestampS, 'number');
        for (const [k, v] of Object.entries(s.labels)) assert.equal(typeof v, 'string', `label ${k} is ${typeof v}`);
      }
      return;
    case 'scalar':
      assert.equal(typeof r.value, 'number');
      return;
    case 'matrix':
      assert.ok(Number.isInteger(r.seriesCount) && r.seriesCount >= 0);
      return;
    case 'string':
      assert.equal(typeof r.value, 'string');
      return;
    default:
      assert.fail(`unknown kind ${JSON.stringify(r)}`);
  }
}

function checkOne(b: unknown): void {
  let r: QueryResult;
  try {
    r = parseQueryResponse(b);
  } catch (err) {
    assert.ok(err instanceof PrometheusError, `${JSON.stringify(b)} threw ${String(err)}`);
    assert.ok(['api', 'parse'].includes(err.kind), `kind ${err.kind}`);
    assert.ok(err.message.length > 0);
    return;
  }
  checkResult(r);
}

describe('fuzz: Prometheus responses (rules/prometheus.ts parseQueryResponse)', () => {
  it('any JSON value: a typed result or a PrometheusError', () => {
    fc.assert(fc.property(fc.jsonValue(), checkOne), { numRuns: RUNS });
  });

  it('API-shaped bodies with wrong fields: a typed result or a PrometheusError', () => {
    fc.assert(fc.property(body, checkOne), { numRuns: RUNS });
  });

  it('fields whose toString is not a function (found by this fuzzer): a PrometheusError, not a TypeError', () => {
    const hostile = { toString: 0 };
    for (const b of [
      { status: 'error', errorType: hostile },
      { status: 'error', error: hostile },
      { status: 'success', data: { resultType: hostile, result: [] } },
    ]) checkOne(b);
    assert.throws(() => parseRangeResponse({ status: 'success', data: { resultType: hostile, result: [] } }), PrometheusError);
    assert.throws(() => parseQueryResponse({ status: 'error', errorType: 'bad_data', error: hostile }), /bad_data: \{"toString":0\}/);
  });

  it('query_range bodies: series with string labels and numeric points, or a PrometheusError', () => {
    const point = fc.oneof(fc.tuple(fc.double(), sampleValue), fc.jsonValue());
    const series = fc.oneof(fc.record({ metric: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.jsonValue()), values: fc.oneof(fc.array(point, { maxLength: 3 }), fc.jsonValue()) }, { requiredKeys: [] }), fc.jsonValue());
    const range = fc.oneof(fc.jsonValue(), fc.record({ status: fc.constantFrom('success', 'error'), data: fc.record({ resultType: fc.constantFrom('matrix', 'vector'), result: fc.oneof(fc.array(series, { maxLength: 3 }), fc.jsonValue()) }) }));
    fc.assert(fc.property(range, (b) => {
      try {
        for (const s of parseRangeResponse(b)) {
          for (const v of Object.values(s.labels)) assert.equal(typeof v, 'string');
          for (const p of s.points) assert.ok(typeof p.value === 'number' && typeof p.timestampS === 'number');
        }
      } catch (err) {
        assert.ok(err instanceof PrometheusError, `${JSON.stringify(b)} threw ${String(err)}`);
      }
    }), { numRuns: RUNS });
  });

  it('known bad shapes are parse errors, not crashes', () => {
    for (const b of [
      { status: 'success', data: { resultType: 'vector', result: [null] } },
      { status: 'success', data: { resultType: 'vector', result: [{ metric: 'x', value: [1, '1'] }] } },
      { status: 'success', data: { resultType: 'vector', result: [{ metric: { a: 1 }, value: [1, '1'] }] } },
      { status: 'success', data: { resultType: 'scalar', result: null } },
    ]) {
      assert.throws(() => parseQueryResponse(b), (e: unknown) => e instanceof PrometheusError && e.kind === 'parse', JSON.stringify(b));
    }
  });
});
