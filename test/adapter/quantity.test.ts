import assert from 'node:assert/strict';
import { formatQuantity, NonFiniteQuantityError } from '../../adapter/quantity.js';

describe('adapter: Kubernetes Quantity rendering (canonical DecimalSI, milli precision)', () => {
  const cases: [number, string][] = [
    [0, '0'],
    [-0, '0'],
    [1, '1'],
    [14, '14'],
    [999, '999'],
    [1.5, '1500m'],
    [0.25, '250m'],
    [0.001, '1m'],
    [0.0004, '0'],
    [0.0005, '1m'],
    [140.349, '140349m'],
    [1000, '1k'],
    [1500, '1500'],
    [2000, '2k'],
    [2_000_000, '2M'],
    [3e9, '3G'],
    [1e12, '1T'],
    [1e15, '1P'],
    [1e18, '1E'],
    [1e21, '1000E'],
    [-3, '-3'],
    [-1.5, '-1500m'],
    [-2000, '-2k'],
    [12345.6789, '12345679m'],
    [1 / 3, '333m'],
    [2 / 3, '667m'],
  ];
  for (const [value, want] of cases) {
    it(`${value} → "${want}"`, () => assert.equal(formatQuantity(value), want));
  }

  it('never uses exponent notation, even for huge values', () => {
    for (const v of [1e20, 1.234e22, 9.007199254740993e15, 123456789012345.67]) {
      const q = formatQuantity(v);
      assert.doesNotMatch(q, /[0-9.]e[+-]?[0-9]/i, `${v} → ${q}`);
      assert.match(q, /^-?[0-9]+(m|k|M|G|T|P|E)?$/);
    }
  });

  it('the milli value it encodes is the input rounded to 1/1000 (what the HPA reads with MilliValue)', () => {
    const mult: Record<string, bigint> = { m: 1n, '': 1000n, k: 10n ** 6n, M: 10n ** 9n, G: 10n ** 12n, T: 10n ** 15n, P: 10n ** 18n, E: 10n ** 21n };
    for (let i = 0; i < 2000; i++) {
      const v = (Math.random() - 0.3) * 10 ** Math.floor(Math.random() * 12);
      const q = formatQuantity(v);
      const m = /^(-?[0-9]+)(m|k|M|G|T|P|E)?$/.exec(q);
      assert.ok(m, q);
      const milli = BigInt(m[1]!) * mult[m[2] ?? '']!;
      assert.ok(Math.abs(Number(milli) - v * 1000) <= 0.5 + Math.abs(v) * 1e-12, `${v} → ${q}`);
    }
  });

  it('refuses NaN and ±Infinity', () => {
    for (const v of [NaN, Infinity, -Infinity]) {
      assert.throws(() => formatQuantity(v), NonFiniteQuantityError);
    }
    assert.throws(() => formatQuantity(NaN), /refusing to render NaN/);
  });
});
