// Seeded PRNG for the simulator: mulberry32 (32-bit state, period 2^32).
// Chosen because it is tiny, fast in V8 (pure int32 math) and good enough for
// workload sampling; it is not cryptographic. Same seed => same sequence.

export class Rng {
  private state: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`Rng seed must be a finite number, got ${seed}`);
    // Fold fractional/large seeds into 32 bits so any finite number is a valid seed.
    this.state = (Math.trunc(seed) ^ Math.trunc(seed / 2 ** 32)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Exponential with the given rate (mean 1/rate); rate must be > 0. */
  exponential(rate: number): number {
    if (!(rate > 0)) throw new Error(`exponential rate must be > 0, got ${rate}`);
    // 1 - next() is in (0, 1], so the log is finite.
    return -Math.log(1 - this.next()) / rate;
  }

  /** Uniform integer in [0, n); n must be a positive integer. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`int(n) needs a positive integer n, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.next() < p;
  }
}
