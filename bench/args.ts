// Flag values shared by the benchmarks' small argument parsers: errors name the flag and the value given.

/** A comma-separated list of positive integers, e.g. --hpas 1,100,1000. */
export function positiveIntList(flag: string, v: string | undefined): number[] {
  const xs = (v ?? '').split(',').map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`${flag} must be a comma-separated list of positive integers, got '${v}'`);
  return xs;
}

/** A finite number ≥ min. */
export function numberAtLeast(flag: string, v: string | undefined, min: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new Error(`${flag} must be a number ≥ ${min}, got '${v}'`);
  return n;
}

/** The flags every adapter load bench takes. */
export interface LoadFlags {
  json?: string;
  hpas: number[];
  rates: number[];
  seconds: number;
  warmupSeconds: number;
  connections: number;
  rounds: number;
}

/** Applies `flag` when it is one of LoadFlags' (reading its value with `value`); false otherwise. */
export function loadFlag(o: LoadFlags, flag: string, value: () => string | undefined): boolean {
  if (flag === '--json') o.json = value() ?? fail('--json needs a file name');
  else if (flag === '--hpas') o.hpas = positiveIntList(flag, value());
  else if (flag === '--rates') o.rates = positiveIntList(flag, value());
  else if (flag === '--seconds') o.seconds = numberAtLeast(flag, value(), 1);
  else if (flag === '--warmup') o.warmupSeconds = numberAtLeast(flag, value(), 0);
  else if (flag === '--connections') o.connections = numberAtLeast(flag, value(), 1);
  else if (flag === '--rounds') o.rounds = numberAtLeast(flag, value(), 1);
  else return false;
  return true;
}

function fail(message: string): never {
  throw new Error(message);
}
