import assert from 'node:assert/strict';
import { parseSelector, selectorToString, SelectorParseError } from '../../adapter/selector.js';

const L = (labels: Record<string, string>) => labels;
function matches(sel: string, labels: Record<string, string>): boolean {
  return parseSelector(sel).matches(labels);
}
function parseError(sel: string): SelectorParseError {
  try {
    parseSelector(sel);
  } catch (err) {
    assert.ok(err instanceof SelectorParseError, `expected SelectorParseError for ${JSON.stringify(sel)}, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(sel)} to be rejected`);
}

describe('adapter: label selector parsing (apimachinery labels.Parse)', () => {
  it('the empty selector (and whitespace only) selects everything', () => {
    for (const s of ['', '   ', '\t\n']) {
      const p = parseSelector(s);
      assert.equal(p.empty, true);
      assert.equal(p.matches({}), true);
      assert.equal(p.matches({ a: 'b' }), true);
    }
  });

  it('= and == require the label with that value', () => {
    for (const op of ['=', '==']) {
      const sel = `service${op}chat`;
      assert.deepEqual(parseSelector(sel).requirements, [{ key: 'service', operator: op, values: ['chat'] }]);
      assert.equal(matches(sel, L({ service: 'chat' })), true);
      assert.equal(matches(sel, L({ service: 'code' })), false);
      assert.equal(matches(sel, L({})), false);
    }
  });

  it('!= matches a different value and a missing label', () => {
    assert.equal(matches('role!=prefill', { role: 'decode' }), true);
    assert.equal(matches('role!=prefill', {}), true);
    assert.equal(matches('role!=prefill', { role: 'prefill' }), false);
  });

  it('in requires membership; notin excludes members and accepts a missing label', () => {
    const p = parseSelector('pool in (h100, h200,a100)');
    assert.deepEqual(p.requirements, [{ key: 'pool', operator: 'in', values: ['a100', 'h100', 'h200'] }]);
    assert.equal(p.matches({ pool: 'h200' }), true);
    assert.equal(p.matches({ pool: 'l4' }), false);
    assert.equal(p.matches({}), false);
    assert.equal(matches('pool notin (h100,h200)', { pool: 'l4' }), true);
    assert.equal(matches('pool notin (h100,h200)', {}), true);
    assert.equal(matches('pool notin (h100,h200)', { pool: 'h100' }), false);
  });

  it('a bare key means exists, !key means does not exist', () => {
    assert.deepEqual(parseSelector('gpu').requirements, [{ key: 'gpu', operator: 'exists', values: [] }]);
    assert.equal(matches('gpu', { gpu: '' }), true);
    assert.equal(matches('gpu', {}), false);
    assert.deepEqual(parseSelector('!gpu').requirements, [{ key: 'gpu', operator: '!', values: [] }]);
    assert.equal(matches('!gpu', {}), true);
    assert.equal(matches('!gpu', { gpu: 'x' }), false);
    assert.equal(matches('! gpu', {}), true, 'whitespace after ! is allowed');
  });

  it('commas AND the requirements; whitespace around tokens is ignored', () => {
    const sel = ' service = chat ,role!=prefill,  pool in ( h200 ) , gpu , !canary ';
    const p = parseSelector(sel);
    assert.equal(p.requirements.length, 5);
    assert.equal(p.matches({ service: 'chat', role: 'decode', pool: 'h200', gpu: '1' }), true);
    assert.equal(p.matches({ service: 'chat', role: 'decode', pool: 'h200', gpu: '1', canary: 'y' }), false);
    assert.equal(p.matches({ service: 'chat', role: 'prefill', pool: 'h200', gpu: '1' }), false);
    assert.equal(p.matches({ service: 'chat', role: 'decode', pool: 'h100', gpu: '1' }), false);
    assert.equal(p.matches({ service: 'chat', role: 'decode', pool: 'h200' }), false);
  });

  it('`key=` selects the empty value; `in ()` and empty members mean the empty value', () => {
    assert.deepEqual(parseSelector('a=').requirements, [{ key: 'a', operator: '=', values: [''] }]);
    assert.equal(matches('a=', { a: '' }), true);
    assert.equal(matches('a=', { a: 'x' }), false);
    assert.equal(matches('a=,b', { a: '', b: 'x' }), true);
    assert.deepEqual(parseSelector('a in ()').requirements[0]!.values, ['']);
    assert.deepEqual(parseSelector('a in (x,,y)').requirements[0]!.values, ['', 'x', 'y']);
    assert.deepEqual(parseSelector('a in (,x)').requirements[0]!.values, ['', 'x']);
    assert.deepEqual(parseSelector('a in (x,)').requirements[0]!.values, ['', 'x']);
  });

  it('in/notin are keywords only in operator position: they work as keys and values', () => {
    assert.deepEqual(parseSelector('in=notin').requirements, [{ key: 'in', operator: '=', values: ['notin'] }]);
    assert.deepEqual(parseSelector('x in (in,notin)').requirements[0]!.values, ['in', 'notin']);
  });

  it('gt/lt compare integers and fail on missing or non-integer labels', () => {
    assert.equal(matches('replicas>3', { replicas: '4' }), true);
    assert.equal(matches('replicas>3', { replicas: '3' }), false);
    assert.equal(matches('replicas<3', { replicas: '2' }), true);
    assert.equal(matches('replicas<3', { replicas: 'x' }), false);
    assert.equal(matches('replicas<3', {}), false);
    assert.match(parseError('replicas>x').message, /must be an integer/);
  });

  it('accepts qualified keys with a DNS prefix and the usual value characters', () => {
    const p = parseSelector('app.kubernetes.io/name=vllm-0.6_x,baton.dev/role in (decode)');
    assert.equal(p.matches({ 'app.kubernetes.io/name': 'vllm-0.6_x', 'baton.dev/role': 'decode' }), true);
  });

  it('canonical string sorts requirements by key', () => {
    const p = parseSelector('z in (b,a),a!=1,!m,k,c==d,n>5');
    assert.equal(selectorToString(p.requirements), 'a!=1,c==d,k,!m,n>5,z in (a,b)');
  });

  describe('rejects malformed selectors with the column of the problem', () => {
    const cases: [string, RegExp, number?][] = [
      ['a=b,', /expected: identifier after ','/, 5],
      [',a', /expected: !, identifier, or 'end of string'/, 1],
      ['a=b c=d', /expected: ',' or 'end of string'/, 5],
      ['a in b', /expected: '\('/, 6],
      ['a in (b', /expected: ',' or '\)'/],
      ['a in (b c)', /expected: ',' or '\)'/, 9],
      ['a in (b,,)', /expected: ',', or identifier/],
      ['a notin', /expected: '\('/],
      ['a (b)', /expected: in, notin, =, ==, !=, gt, lt/, 3],
      ['a=(b)', /expected: identifier/, 3],
      ['a==!b', /expected: identifier/],
      ['!a=b', /expected: ',' or 'end of string'/, 3],
      ['!', /expected: identifier/],
      ['=b', /expected: !, identifier/, 1],
      ['a=b,,c', /expected: identifier after ','/, 5],
      ['-a=b', /invalid label key "-a"/, 1],
      ['a/b/c=d', /invalid label key/],
      ['Example.COM/a=b', /prefix part must be a lowercase RFC 1123 subdomain/],
      ['/a=b', /prefix part must be non-empty/],
      ['a/=b', /name part must be non-empty/],
      [`${'k'.repeat(64)}=v`, /no more than 63 characters/],
      [`k=${'v'.repeat(64)}`, /invalid label value .*no more than 63 characters/],
      ['k=-v', /invalid label value "-v"/, 3],
      ['k in (ok,bad!)', /expected: ',' or '\)'/],
      ['k in (a,b_)', /invalid label value "b_"/],
      ['a<>b', /expected: identifier/],
    ];
    for (const [sel, re, col] of cases) {
      it(JSON.stringify(sel), () => {
        const err = parseError(sel);
        assert.match(err.message, re);
        assert.ok(err.message.includes(JSON.stringify(sel)), 'message quotes the selector');
        if (col !== undefined) assert.equal(err.column, col);
      });
    }
  });
});
