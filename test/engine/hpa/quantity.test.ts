// Quantity.MilliValue() semantics: ceil(q × 1000), on the decimal the number prints as.

import assert from 'node:assert/strict';
import { milliValue } from '../../../engine/core/hpa/index.js';

describe('HPA core: milliValue (Quantity.MilliValue)', () => {
  it('keeps whole milli values exact, including binary-noisy decimals', () => {
    assert.equal(milliValue(11), 11000);
    assert.equal(milliValue(0.1), 100); // 0.1 × 1000 is 100.00000000000001 in floating point
    assert.equal(milliValue(1.005), 1005);
    assert.equal(milliValue(0), 0);
  });

  it('rounds any finer fraction up', () => {
    assert.equal(milliValue(1.0005), 1001);
    assert.equal(milliValue(0.0001), 1);
    assert.equal(milliValue(2.5e-7), 1);
    assert.equal(milliValue(0.1 + 0.2), 301); // prints as 0.30000000000000004
  });

  it('ceil goes toward +∞ for negatives and caps at int64', () => {
    assert.equal(milliValue(-1.5), -1500);
    assert.equal(milliValue(-1.2345), -1234);
    assert.equal(milliValue(1e21), 9223372036854775807);
  });

  it('refuses non-finite input', () => {
    assert.throws(() => milliValue(Number.NaN), /not a finite number/);
    assert.throws(() => milliValue(Number.POSITIVE_INFINITY), /not a finite number/);
  });
});
