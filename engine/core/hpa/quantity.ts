// resource.Quantity.MilliValue() for plain numbers. Upstream documents it as ceil(q * 1000) ("MilliValue returns the
// value of ceil(q * 1000)", apimachinery quantity.go), and the HPA converts every metric item and every target with it
// before doing any arithmetic. A naive Math.ceil(x * 1000) is wrong for x = 0.1 + 0.2 style binary noise, so the
// number is read as the decimal its shortest JS form prints (what an adapter serialises) and the ceil is done exactly.
// Quantity parsing rounds finer-than-nano digits up; ceil to nano then to milli equals ceil to milli, so that step
// needs no separate model. Negative values: mathematical ceil (toward +∞); upstream rounding of negative fractional
// quantities is not confirmed and metrics here are never negative in practice.

const MAX_INT64 = 9223372036854775807n;
const MIN_INT64 = -9223372036854775808n;

/** Exact decimal parts of a finite number: value = sign × digits × 10^exponent. */
function decimalParts(x: number): { negative: boolean; digits: bigint; exponent: number } {
  const text = String(Math.abs(x));
  const match = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(text);
  if (!match) throw new Error(`milliValue: cannot read ${text} as a decimal`);
  const whole = match[1] ?? '0';
  const fraction = match[2] ?? '';
  const exponent = Number(match[3] ?? '0') - fraction.length;
  return { negative: x < 0, digits: BigInt(whole + fraction), exponent };
}

/** ceil(x × 1000) as Quantity.MilliValue() computes it, clamped to int64 like a Go int64 would (at most). */
export function milliValue(x: number): number {
  if (!Number.isFinite(x)) throw new Error(`milliValue: ${x} is not a finite number`);
  if (x === 0) return 0;
  const { negative, digits, exponent } = decimalParts(x);
  const scale = exponent + 3;
  let milli: bigint;
  if (scale >= 0) {
    milli = (negative ? -digits : digits) * 10n ** BigInt(scale);
  } else {
    const divisor = 10n ** BigInt(-scale);
    const quotient = digits / divisor;
    const remainder = digits % divisor;
    // ceil: round positive values up; for negative values truncation toward zero already is the ceil.
    milli = negative ? -quotient : quotient + (remainder > 0n ? 1n : 0n);
  }
  if (milli > MAX_INT64) milli = MAX_INT64;
  if (milli < MIN_INT64) milli = MIN_INT64;
  return Number(milli);
}
