// The SLOs a rule is judged against: its own latency guards' `slo` (ttft_pNN for TTFT, tbt_pNN/itl_pNN for TBT), or
// flags that override them. `simulate --rules`, `sweep --rules` and `whatif` all read this one mapping, and say where
// each number came from, so a report never judges a rule against another service's SLO without saying so.
import type { RuleGuard, ServiceRule } from './types.js';

export interface SloSource {
  seconds: number;
  /** e.g. "rule guard ttft_p99", "--slo-tbt", "service A's default (the rule has no tbt_pNN/itl_pNN guard; pass --slo-tbt)" */
  from: string;
}

export interface RuleSlo {
  ttft: SloSource;
  tbt: SloSource;
}

export type LatencyKind = 'ttft' | 'tbt';

/** Which latency a guard measures, by the preset guard names. */
export function latencyKindOf(guardName: string): LatencyKind | undefined {
  if (/^ttft_p\d{2,3}$/.test(guardName)) return 'ttft';
  if (/^(tbt|itl)_p\d{2,3}$/.test(guardName)) return 'tbt';
  return undefined;
}

/** The rule's guard for a latency: the highest quantile among its guards of that kind (p99 before p90). */
export function sloGuard(rule: ServiceRule, kind: LatencyKind): RuleGuard | undefined {
  const q = (g: RuleGuard) => Number(/_p(\d+)$/.exec(g.name)?.[1] ?? 0);
  return rule.guards.filter((g) => latencyKindOf(g.name) === kind).sort((a, b) => q(b) - q(a))[0];
}

/**
 * Flags first (seconds), then the rule's guards, then the fallback (a service preset's SLO), which is named as such.
 */
export function ruleSlo(rule: ServiceRule | undefined, flags: { ttftS?: number; tbtS?: number }, fallback: { ttftS: number; tbtS: number; name: string }): RuleSlo {
  const pick = (kind: LatencyKind, flag: number | undefined, dflt: number): SloSource => {
    const flagName = kind === 'ttft' ? '--slo-ttft' : '--slo-tbt';
    if (flag !== undefined) return { seconds: flag, from: flagName };
    const g = rule && sloGuard(rule, kind);
    if (g) return { seconds: g.slo, from: `rule guard ${g.name}` };
    const what = kind === 'ttft' ? 'ttft_pNN' : 'tbt_pNN/itl_pNN';
    return { seconds: dflt, from: `${fallback.name}'s default (${rule ? `the rule has no ${what} guard; ` : ''}pass ${flagName})` };
  };
  return { ttft: pick('ttft', flags.ttftS, fallback.ttftS), tbt: pick('tbt', flags.tbtS, fallback.tbtS) };
}

export function formatSeconds(s: number): string {
  return s < 1 ? `${Math.round(s * 1e4) / 10} ms` : `${Math.round(s * 1000) / 1000} s`;
}

/** "SLO: TTFT ≤ 1.5 s (rule guard ttft_p99), TBT ≤ 30 ms (rule guard tbt_p99)" */
export function formatRuleSlo(slo: RuleSlo): string {
  return `SLO: TTFT ≤ ${formatSeconds(slo.ttft.seconds)} (${slo.ttft.from}), TBT ≤ ${formatSeconds(slo.tbt.seconds)} (${slo.tbt.from})`;
}
