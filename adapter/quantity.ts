// Kubernetes Quantity strings for metric values. The HPA reads `value.MilliValue()`, so milli precision is all that
// survives; we round to the nearest milli and print apimachinery's canonical DecimalSI form: "14", "1500m", "2k",
// "140349m", "-3". Never exponent notation (Go's parser and JS disagree about `1e+21`), never NaN/Inf.

/** A value that cannot be published as a Quantity (NaN, ±Inf). */
export class NonFiniteQuantityError extends Error {
  constructor(readonly value: number) {
    super(`refusing to render ${String(value)} as a Kubernetes Quantity: metric values must be finite numbers`);
    this.name = 'NonFiniteQuantityError';
  }
}

const SUFFIXES: [bigint, string][] = [
  [10n ** 18n, 'E'],
  [10n ** 15n, 'P'],
  [10n ** 12n, 'T'],
  [10n ** 9n, 'G'],
  [10n ** 6n, 'M'],
  [10n ** 3n, 'k'],
];

/** Below this magnitude `value * 1000` is exact enough to round in floating point; above it, use integer maths. */
const SAFE_MILLI_LIMIT = Number.MAX_SAFE_INTEGER / 1000;

/** Round to the nearest milli unit as an exact integer (half away from zero). */
function toMilli(value: number): bigint {
  if (Math.abs(value) < SAFE_MILLI_LIMIT) {
    const m = value * 1000;
    return BigInt(m < 0 ? -Math.round(-m) : Math.round(m));
  }
  // A double this large has no meaningful fraction below 1; BigInt(integer double) is exact.
  return BigInt(Math.round(value)) * 1000n;
}

/** Render a finite number as a canonical DecimalSI Kubernetes Quantity at milli precision. Throws on NaN/±Inf. */
export function formatQuantity(value: number): string {
  if (!Number.isFinite(value)) throw new NonFiniteQuantityError(value);
  // Small integers are by far the common case (desired replicas): skip BigInt.
  if (Number.isInteger(value) && value > -1000 && value < 1000) return value === 0 ? '0' : String(value);
  const milli = toMilli(value);
  if (milli === 0n) return '0';
  if (milli % 1000n !== 0n) return `${milli}m`;
  const units = milli / 1000n;
  for (const [factor, suffix] of SUFFIXES) {
    if (units % factor === 0n) return `${units / factor}${suffix}`;
  }
  return units.toString();
}

const PARSE_SUFFIX: Record<string, number> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };

/** A Quantity string as a number ("3", "2500m", "1.5k"); undefined when it is not one. */
export function parseQuantity(q: string): number | undefined {
  const m = /^([+-]?\d+(?:\.\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti)?$/.exec(q.trim());
  return m ? Number(m[1]) * (m[2] ? PARSE_SUFFIX[m[2]]! : 1) : undefined;
}
