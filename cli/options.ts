// Option parsers that fail with the option's name and the offending value, so a typo never runs a wrong experiment.
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../rules/promql.js';

export function positiveNumber(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number, got '${v}'`);
    return n;
  };
}

export function nonNegativeNumber(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a number ≥ 0, got '${v}'`);
    return n;
  };
}

export function integer(name: string, min = 0): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got '${v}'`);
    return n;
  };
}

/** "9:7" → { prefill: 9, decode: 7 } */
export function ratio(v: string): { prefill: number; decode: number } {
  const m = /^(\d+):(\d+)$/.exec(v.trim());
  if (!m || Number(m[1]) === 0 || Number(m[2]) === 0) throw new InvalidArgumentError(`--ratio must be P:D with positive integers (e.g. 9:7), got '${v}'`);
  return { prefill: Number(m[1]), decode: Number(m[2]) };
}

export function oneOf<T extends string>(name: string, allowed: readonly T[]): (v: string) => T {
  return (v) => {
    if (!(allowed as readonly string[]).includes(v)) throw new InvalidArgumentError(`${name} must be one of ${allowed.join(', ')}, got '${v}'`);
    return v as T;
  };
}

export function listOf<T extends string>(name: string, allowed: readonly T[]): (v: string) => T[] {
  return (v) => {
    const items = v.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = items.filter((s) => !(allowed as readonly string[]).includes(s));
    if (bad.length || items.length === 0) throw new InvalidArgumentError(`${name}: unknown ${bad.join(', ') || '(empty)'}; choose from ${allowed.join(', ')}`);
    return items as T[];
  };
}

/** A latency in seconds: `1.5`, `1.5s`, `30ms`. */
export function latency(name: string): (v: string) => number {
  return (v: string) => {
    const t = v.trim();
    const n = /^\d+(\.\d+)?$/.test(t) ? Number(t) : parseDuration(t);
    if (n === undefined || !(n > 0)) throw new InvalidArgumentError(`${name} must be a latency in seconds (1.5) or with a unit (1.5s, 30ms), got "${v}"`);
    return n;
  };
}
