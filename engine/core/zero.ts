// Scale to and from zero. A sleeping service has no pods, hence no decode TPS and no latency: only the wake signal
// (demand seen where no pod is needed: a router queue, requests reaching a frontend) can bring it back, to the smallest
// pair the ratio allows. It goes to zero only after it has been idle for the whole window; an unreadable signal never
// counts as idle (a monitoring fault never lowers capacity).
import { isUsable, type GuardVerdict } from './guards.js';
import { GUARD_ERROR, type GuardReading, type ScaleToZeroConfig, type ServicePolicyConfig } from './types.js';
import { smallestStep } from './units.js';

export type WakeState = 'firing' | 'quiet' | 'error';

/** Firing above the threshold; empty (no series) is quiet: nothing arrives. */
export function wakeStateOf(zero: ScaleToZeroConfig, reading: GuardReading): WakeState {
  if (reading === GUARD_ERROR) return 'error';
  return isUsable(reading) && reading > zero.wakeAbove ? 'firing' : 'quiet';
}

/**
 * The level a waking service goes to: the largest decode level that still sizes to one replica of each role, so the
 * first pair is the smallest the ratio allows (1 decode + 1 prefill), never a whole ratio's worth.
 */
export function wakeLevel(cfg: ServicePolicyConfig, ratio: { prefill: number; decode: number }): number {
  return Math.min(smallestStep(cfg.pools, 'decode'), (smallestStep(cfg.pools, 'prefill') * ratio.decode) / ratio.prefill);
}

/**
 * Idle now: no demand at the wake signal, decode TPS read and zero, and no guard firing or unreadable. Anything unknown
 * (the decode signal or the wake signal missing for an error) is not idle.
 */
export function isIdleNow(wake: WakeState, decodeTps: number | undefined, guard: GuardVerdict): boolean {
  return wake === 'quiet' && isUsable(decodeTps) && decodeTps <= 0 && !guard.errored && !guard.blocksScaleIn;
}
