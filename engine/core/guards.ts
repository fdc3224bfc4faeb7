// Latency negative feedback: a safety net, not the driver. Fixed scale-out steps by tier, never scale-in.
import { GUARD_ERROR, type GuardConfig, type GuardReading, type Reason } from './types.js';
import { round3 } from './units.js';

export interface GuardVerdict {
  /** Largest scale-out fraction among firing guards (0 when none fires). */
  scaleOut: number;
  /** True while any guard is above its first tier: scale-in is not allowed then. */
  blocksScaleIn: boolean;
  /** True when a guard is empty (no requests in its window): idle, unless the decode signal is missing too. */
  missing: boolean;
  /** True when a guard's reading failed: scale-in is not allowed then (nothing proves latency is fine). */
  errored: boolean;
  reasons: Reason[];
}

export function isUsable(v: GuardReading): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

export function evaluateGuards(guards: readonly GuardConfig[], observed: Record<string, GuardReading>): GuardVerdict {
  const verdict: GuardVerdict = { scaleOut: 0, blocksScaleIn: false, missing: false, errored: false, reasons: [] };
  for (const g of guards) {
    const v = observed[g.name];
    if (v === GUARD_ERROR) {
      verdict.errored = true;
      verdict.reasons.push({ code: 'guard-error', detail: { guard: g.name }, message: `guard ${g.name} could not be read: no scale-in until it can` });
      continue;
    }
    if (!isUsable(v)) {
      verdict.missing = true;
      verdict.reasons.push({
        code: 'guard-missing',
        detail: { guard: g.name },
        message: `guard ${g.name} is empty (no requests finished in its window)`,
      });
      continue;
    }
    const tiers = [...g.tiers].sort((a, b) => a.above - b.above);
    let fired = -1;
    for (const [i, t] of tiers.entries()) if (v > t.above * g.slo) fired = i;
    if (fired < 0) continue;
    const tier = tiers[fired]!;
    verdict.blocksScaleIn = true;
    verdict.scaleOut = Math.max(verdict.scaleOut, tier.scaleOut);
    verdict.reasons.push({
      code: 'guard',
      detail: { guard: g.name, observed: round3(v), slo: g.slo, tier: fired + 1, above: tier.above, scaleOut: tier.scaleOut },
      message: `${g.name} ${round3(v)} > ${tier.above}×SLO ${g.slo} (tier ${fired + 1}): scale out +${Math.round(tier.scaleOut * 100)} %`,
    });
  }
  return verdict;
}
