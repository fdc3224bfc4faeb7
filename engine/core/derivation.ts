// The level arithmetic of one decision as a short derivation a person can check by hand: previous level → need →
// guard step → ceiling → cooldown / scale-in → bounds → per-pool split → ⌈level × P/D⌉ for prefill. Built from the
// decision (its numbers and reasons) and the configuration it was made with; nothing is recomputed differently.
import type { Decision, PoolConfig, Reason, Role, ServicePolicyConfig } from './types.js';
import { round3 } from './units.js';

export interface DerivationStep {
  /** previous, need, guard, ceiling, wake, cooldown, scale-in, periodic, bounds, level, decode, prefill, result */
  step: string;
  text: string;
  /** Decode units after this step, where the step sets them. */
  units?: number;
}

const STEP_OF: Partial<Record<Reason['code'], string>> = {
  'guard-ceiling': 'ceiling',
  cooldown: 'cooldown',
  hysteresis: 'scale-in',
  damping: 'scale-in',
  'scale-in-window': 'scale-in',
  'scale-in-blocked': 'scale-in',
  'signal-recovering': 'scale-in',
  'periodic-floor': 'periodic',
  'clamp-min': 'bounds',
  'clamp-max': 'bounds',
  ratio: 'bounds',
  'pool-fallback': 'split',
  wake: 'wake',
  asleep: 'wake',
  idle: 'scale-in',
  'idle-to-zero': 'scale-in',
};

export function deriveDecision(cfg: ServicePolicyConfig, d: Decision): DerivationStep[] {
  const out: DerivationStep[] = [];
  const prev = d.previousUnits;
  if (prev !== undefined) out.push({ step: 'previous', text: `previous level ${round3(prev)} decode units`, units: round3(prev) });

  const signal = d.reasons.find((r) => r.code === 'signal');
  const periodic = d.reasons.find((r) => r.code === 'periodic');
  const missing = d.reasons.find((r) => r.code === 'signal-missing');
  if (signal) out.push({ step: 'need', text: `need = decode TPS ${signal.detail.decodeTps} / ${signal.detail.perUnit} tok/s per unit = ${signal.detail.units} units`, units: Number(signal.detail.units) });
  else if (periodic) out.push({ step: 'need', text: `need = periodic table (${periodic.detail.from}): ${periodic.detail.decodeUnits} units`, units: Number(periodic.detail.decodeUnits) });
  else if (missing) out.push({ step: 'need', text: 'need unknown: decode TPS missing, holding the previous level' });

  for (const r of d.reasons.filter((x) => x.code === 'guard')) out.push({ step: 'guard', text: r.message });
  if (d.guardBaseUnits !== undefined && d.guardedUnits !== undefined) {
    // The step before the ceiling (its reason follows on its own line).
    const ceiling = d.reasons.find((r) => r.code === 'guard-ceiling');
    const raw = ceiling ? Number(ceiling.detail.guarded) : d.guardedUnits;
    const grown = d.guardBaseUnits > 0 ? Math.round((raw / d.guardBaseUnits - 1) * 100) : 0;
    out.push({ step: 'guard', text: `guard step: ${round3(d.guardBaseUnits)} units (held level, no more than Ready serves) × (1 + ${grown} %) = ${round3(raw)} units`, units: round3(raw) });
  }
  const reasonsOf = (steps: string[]) => {
    for (const r of d.reasons) {
      const step = STEP_OF[r.code];
      if (step && steps.includes(step)) out.push({ step, text: r.message });
    }
  };
  reasonsOf(['ceiling', 'wake']);
  if (d.needUnits !== undefined) out.push({ step: 'need', text: `target after signal and guards: ${round3(d.needUnits)} units`, units: round3(d.needUnits) });
  reasonsOf(['cooldown', 'scale-in', 'periodic', 'bounds']);

  const level = d.state.decodeUnits;
  if (level !== undefined) out.push({ step: 'level', text: `level ${round3(level)} decode units${prev !== undefined ? ` (was ${round3(prev)})` : ''}`, units: round3(level) });
  reasonsOf(['split']);
  out.push({ step: 'decode', text: `decode: ${splitText(cfg.pools, 'decode', d.decode.pools)} = ${round3(d.decode.units)} units` });
  const ratio = ratioOf(d, cfg);
  if (level !== undefined) {
    const p = level * (ratio.prefill / ratio.decode);
    out.push({ step: 'prefill', text: `prefill: ${round3(level)} × ${ratio.prefill}/${ratio.decode} = ${round3(p)} units → ${splitText(cfg.pools, 'prefill', d.prefill.pools)} = ${round3(d.prefill.units)} units` });
  } else {
    out.push({ step: 'prefill', text: `prefill: ${splitText(cfg.pools, 'prefill', d.prefill.pools)} = ${round3(d.prefill.units)} units` });
  }
  out.push({ step: 'result', text: `${d.direction}: prefill ${d.prefill.replicas} + decode ${d.decode.replicas} replicas` });
  return out;
}

/** The ratio the decision used: the periodic table's in `only` mode (its reason says so), else the rule's. */
function ratioOf(d: Decision, cfg: ServicePolicyConfig): { prefill: number; decode: number } {
  const periodic = d.reasons.find((r) => r.code === 'periodic');
  const entry = periodic && cfg.periodic?.mode === 'only' ? cfg.periodic.entries.find((e) => e.from === periodic.detail.from) : undefined;
  return entry ? { prefill: entry.prefill, decode: entry.decode } : cfg.ratio;
}

/** `decode-h200 4 × 1.4 + decode-h100 ⌈…⌉ 2 × 1` in pool preference order. */
function splitText(pools: readonly PoolConfig[], role: Role, chosen: Record<string, number>): string {
  const inRole = pools.filter((p) => p.role === role).sort((a, b) => a.preference - b.preference);
  return inRole.map((p) => {
    const n = chosen[p.name] ?? 0;
    const bound = n >= p.maxReplicas ? ' (max)' : n <= p.minReplicas && p.minReplicas > 0 ? ' (min)' : '';
    return `${p.name} ${n} × ${p.unitsPerReplica}${bound}`;
  }).join(' + ');
}

/** Plain text, one step a line. */
export function formatDerivation(steps: readonly DerivationStep[], indent = '  '): string {
  return steps.map((s) => `${indent}${s.step.padEnd(9)} ${s.text}`).join('\n');
}
