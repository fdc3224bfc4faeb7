// The coordinated policy (HeteroScale): decode TPS sizes decode proportionally, prefill follows at the fixed P:D ratio,
// latency guards add fixed scale-out steps, and cooldown/hysteresis/damping keep it calm. Both roles are decided together.
import { evaluateGuards, isUsable } from './guards.js';
import { periodicEntryAt } from './periodic.js';
import { DEFAULT_GUARD_CEILING, type Decision, type PolicyState, type Reason, type Role, type RoleDecision, type ServiceObservation, type ServicePolicyConfig } from './types.js';
import { round3, smallestStep, splitUnits, unitBounds, unitsOf } from './units.js';
import { isIdleNow, wakeLevel, wakeStateOf } from './zero.js';

export function decide(cfg: ServicePolicyConfig, obs: ServiceObservation, state: PolicyState): Decision {
  const reasons: Reason[] = [];
  const now = obs.now;
  const current = unitsOf(cfg.pools, 'decode', obs.replicas);
  // The level we hold is our own last decision, not the replicas: the HPA may not have acted on it yet. It is kept
  // unrounded (decode units the service is sized for); both roles' replicas are rounded up from it every time, so a
  // hold and a change give the same prefill for the same level.
  const prev = state.decodeUnits ?? current;
  const periodic = cfg.periodic ? periodicEntryAt(cfg.periodic, now) : undefined;
  const ratio = cfg.periodic?.mode === 'only' && periodic ? { prefill: periodic.prefill, decode: periodic.decode } : cfg.ratio;
  const prefillFloor = periodic && cfg.periodic?.mode === 'floor' ? periodic.prefill : 0;
  const guard = evaluateGuards(cfg.guards, obs.guards);
  reasons.push(...guard.reasons);

  let target: number;
  let guardBase: number | undefined;
  let guardedUnits: number | undefined;
  let signalUnits: number | undefined;
  let signalMissing = false;
  if (cfg.periodic?.mode === 'only' && periodic) {
    target = periodic.decode;
    reasons.push(reason('periodic', 'decode', { decodeUnits: periodic.decode, from: periodic.from }, `periodic table (${periodic.from}): ${periodic.decode} decode units`));
  } else if (isUsable(obs.decodeTps)) {
    target = obs.decodeTps / cfg.decodeTpsPerUnit;
    signalUnits = target;
    reasons.push(reason('signal', 'decode', { decodeTps: round3(obs.decodeTps), perUnit: cfg.decodeTpsPerUnit, units: round3(target) },
      `decode TPS ${round3(obs.decodeTps)} / ${cfg.decodeTpsPerUnit} per unit = ${round3(target)} decode units`));
  } else {
    // A monitoring fault never scales down: hold the last decision.
    signalMissing = true;
    target = prev;
    reasons.push(reason('signal-missing', 'decode', { value: String(obs.decodeTps) }, 'decode TPS is missing or not a number: holding the last decision'));
  }

  if (guard.scaleOut > 0) {
    // The step grows the level the service is held at (our last decision), not the rounded-up replicas, which at a
    // few replicas overstate it by up to a whole replica per role; and never past what is Ready in either role, so a
    // scale-out whose pods are still starting is not compounded.
    const base = obs.ready ? Math.min(prev, readyLevel(cfg, obs.ready, ratio)) : prev;
    let guarded = base * (1 + guard.scaleOut);
    guardBase = base;
    const ceiling = (cfg.stability.guardCeiling ?? DEFAULT_GUARD_CEILING) * (signalUnits ?? Infinity);
    if (guarded > ceiling) {
      reasons.push(reason('guard-ceiling', 'decode', { guarded: round3(guarded), ceiling: round3(ceiling), factor: cfg.stability.guardCeiling ?? DEFAULT_GUARD_CEILING },
        `guard scale-out capped at ${cfg.stability.guardCeiling ?? DEFAULT_GUARD_CEILING}× the signal's ${round3(signalUnits ?? 0)} units: more capacity would not fix this latency`));
      guarded = ceiling;
    }
    guardedUnits = guarded;
    if (guarded > target) target = guarded;
  }

  // Scale to zero: asleep (level 0) the wake signal alone can raise the level; awake, idleness is timed.
  const zero = cfg.scaleToZero;
  const wake = zero ? wakeStateOf(zero, obs.wake) : undefined;
  const smallestPair = zero ? wakeLevel(cfg, ratio) : 0;
  let waking = false;
  let idleSince: number | undefined;
  let toZero = false;
  if (zero && prev <= 1e-9) {
    if (wake === 'firing' && target < smallestPair) {
      waking = true;
      target = smallestPair;
      reasons.push(reason('wake', 'decode', { wake: round3(obs.wake as number), above: zero.wakeAbove, units: round3(smallestPair) },
        `wake signal ${round3(obs.wake as number)} > ${zero.wakeAbove}: waking from zero to the smallest pair (${round3(smallestPair)} decode units)`));
    } else if (target <= 1e-9) {
      reasons.push(reason('asleep', 'decode', { wake: wake === 'error' ? 'error' : String(obs.wake ?? 'empty'), above: zero.wakeAbove },
        wake === 'error' ? 'asleep at zero; the wake signal cannot be read' : `asleep at zero: the wake signal (${obs.wake ?? 'empty'}) is not above ${zero.wakeAbove}`));
    }
  } else if (zero && wake && isIdleNow(wake, obs.decodeTps, guard)) {
    idleSince = state.idleSince ?? now;
    const idleFor = now - idleSince;
    toZero = idleFor >= zero.idleS;
    reasons.push(reason(toZero ? 'idle-to-zero' : 'idle', 'decode', { idleS: round3(idleFor), windowS: zero.idleS },
      toZero ? `idle for ${round3(idleFor)} s ≥ ${zero.idleS} s: going to zero` : `idle for ${round3(idleFor)} s of the ${zero.idleS} s window before zero`));
  }

  const before = sizeBothRoles(cfg, prev, ratio, prefillFloor, []);
  let decodeUnits = prev;
  if (target > prev + 1e-9) {
    const since = now - (state.lastScaleUpAt ?? -Infinity);
    // The cooldown spaces out scale-outs, i.e. replica changes; a higher level that adds no replica is taken at once.
    // A sleeping service with demand has nothing to space out from: it wakes at once.
    if (!waking && since < cfg.stability.scaleUpCooldownS && compareReplicas(sizeBothRoles(cfg, target, ratio, prefillFloor, []), before) > 0) {
      reasons.push(reason('cooldown', 'decode', { direction: 'up', sinceS: round3(since), cooldownS: cfg.stability.scaleUpCooldownS },
        `scale-out cooldown: ${round3(since)} s since the last scale-out < ${cfg.stability.scaleUpCooldownS} s`));
    } else {
      decodeUnits = target;
    }
  }

  // The scale-in window remembers the needs of the last scaleInWindowS seconds; scale-in goes to their maximum.
  const windowS = cfg.stability.scaleInWindowS ?? 0;
  const recentNeeds = windowS > 0 && !signalMissing ? [...(state.recentNeeds ?? []).filter(([t]) => t > now - windowS && t <= now), [now, target] as [number, number]] : undefined;
  const windowNeed = recentNeeds ? Math.max(...recentNeeds.map(([, n]) => n)) : target;
  if (target < prev - 1e-9 && windowNeed > target + 1e-9) {
    reasons.push(reason('scale-in-window', 'decode', { need: round3(target), windowNeed: round3(windowNeed), windowS },
      `scale-in goes no lower than the highest need of the last ${windowS} s: ${round3(windowNeed)} units`));
  }
  const recoveryS = cfg.stability.signalRecoveryS ?? 0;
  const missingAt = signalMissing ? now : state.signalMissingAt;
  const recovering = !signalMissing && recoveryS > 0 && missingAt !== undefined && now - missingAt < recoveryS;
  if (decodeUnits === prev && windowNeed < prev - 1e-9 && recovering) {
    reasons.push(reason('signal-recovering', 'decode', { sinceS: round3(now - missingAt!), recoveryS },
      `no scale-in for ${recoveryS} s after the decode signal was missing (${round3(now - missingAt!)} s ago): its rate window and targets may still be filling`));
  } else if (decodeUnits === prev && windowNeed < prev - 1e-9) {
    // A guard with no value while the decode signal is healthy means no requests finished in its window (an idle
    // service has no latency quantile), not a broken Prometheus: it does not hold scale-in then.
    // A periodic table alone is exact counts: no headroom on top of them.
    const headroom = signalUnits !== undefined;
    decodeUnits = scaleIn(cfg, state, now, prev, windowNeed, headroom, { signalMissing, guardBlocks: guard.blocksScaleIn, guardError: guard.errored, guardMissing: guard.missing && signalMissing }, reasons);
  }
  // Awake, ordinary scale-in stops at the smallest pair; only the idle window takes the service to zero.
  if (toZero) decodeUnits = 0;
  else if (zero && prev > 1e-9 && decodeUnits < smallestPair) decodeUnits = smallestPair;

  if (periodic && cfg.periodic?.mode === 'floor' && decodeUnits < periodic.decode) {
    reasons.push(reason('periodic-floor', 'decode', { floor: periodic.decode, from: periodic.from }, `periodic floor (${periodic.from}): at least ${periodic.decode} decode units`));
    decodeUnits = periodic.decode;
  }

  const sized = sizeBothRoles(cfg, decodeUnits, ratio, prefillFloor, reasons);

  // Direction is about replicas: what the HPAs will be asked to change.
  const moved = compareReplicas(sized, before);
  const direction = moved > 0 ? 'up' : moved < 0 ? 'down' : 'hold';
  if (direction === 'hold') reasons.push(reason('hold', undefined, { decodeUnits: round3(sized.level) }, `holding ${round3(sized.level)} decode units`));
  const next: PolicyState = { ...state, decodeUnits: sized.level };
  if (missingAt !== undefined && (recoveryS <= 0 || now - missingAt >= recoveryS) && !signalMissing) delete next.signalMissingAt;
  else if (missingAt !== undefined) next.signalMissingAt = missingAt;
  if (idleSince !== undefined && !toZero) next.idleSince = idleSince;
  else delete next.idleSince;
  if (recentNeeds) next.recentNeeds = recentNeeds;
  else if (windowS <= 0) delete next.recentNeeds;
  if (direction === 'up') next.lastScaleUpAt = now;
  if (direction === 'down') next.lastScaleDownAt = now;
  const decision: Decision = { service: cfg.service, at: now, prefill: sized.prefill, decode: sized.decode, direction, reasons, state: next, previousUnits: prev, needUnits: target };
  if (guardBase !== undefined) {
    decision.guardBaseUnits = guardBase;
    decision.guardedUnits = guardedUnits!;
  }
  return decision;
}

interface ScaleInBlocks {
  signalMissing: boolean;
  guardBlocks: boolean;
  guardError: boolean;
  guardMissing: boolean;
}

function scaleIn(cfg: ServicePolicyConfig, state: PolicyState, now: number, prev: number, target: number, headroom: boolean, blocks: ScaleInBlocks, reasons: Reason[]): number {
  if (blocks.guardBlocks || blocks.guardError || blocks.guardMissing || blocks.signalMissing) {
    const why = blocks.guardBlocks ? 'a latency guard is above its first tier' : blocks.guardError ? 'a latency guard cannot be read' : 'a signal is missing';
    reasons.push(reason('scale-in-blocked', 'decode', { guardFiring: blocks.guardBlocks, guardError: blocks.guardError, missing: blocks.guardMissing || blocks.signalMissing }, `no scale-in while ${why}`));
    return prev;
  }
  const band = cfg.stability.scaleInHysteresis;
  if (target >= prev * (1 - band)) {
    reasons.push(reason('hysteresis', 'decode', { need: round3(target), level: round3(prev), band },
      `need ${round3(target)} is within the ${Math.round(band * 100)} % scale-in band of ${round3(prev)} units`));
    return prev;
  }
  const lastChange = Math.max(state.lastScaleUpAt ?? -Infinity, state.lastScaleDownAt ?? -Infinity);
  const since = now - lastChange;
  if (since < cfg.stability.scaleDownCooldownS) {
    reasons.push(reason('cooldown', 'decode', { direction: 'down', sinceS: round3(since), cooldownS: cfg.stability.scaleDownCooldownS },
      `scale-in cooldown: ${round3(since)} s since the last scaling < ${cfg.stability.scaleDownCooldownS} s`));
    return prev;
  }
  // Land with the need in the middle of the band: a small rise does not undo the scale-in (at a few replicas the
  // roles' rounding boundaries sit close together, and without this the fleet flaps across one), yet a further fall
  // of about half the band scales in again.
  const goal = Math.min(prev, headroom ? target * (1 + band / 2) : target);
  const gap = prev - goal;
  const step = Math.max(gap * cfg.stability.scaleInDamping, smallestStep(cfg.pools, 'decode'));
  if (step < gap) {
    reasons.push(reason('damping', 'decode', { need: round3(target), goal: round3(goal), step: round3(step), damping: cfg.stability.scaleInDamping },
      `scale-in damped: ${round3(step)} of the ${round3(gap)} unit gap to ${round3(goal)} units`));
    return prev - step;
  }
  return goal;
}

/** Decode units the Ready replicas can serve: the smaller of Ready decode and Ready prefill taken back through the ratio. */
function readyLevel(cfg: ServicePolicyConfig, ready: Record<string, number>, ratio: { prefill: number; decode: number }): number {
  return Math.min(unitsOf(cfg.pools, 'decode', ready), (unitsOf(cfg.pools, 'prefill', ready) * ratio.decode) / ratio.prefill);
}

/** +1 when any pool gains replicas, −1 when some lose and none gain, 0 when every pool keeps its count. */
function compareReplicas(a: { prefill: RoleDecision; decode: RoleDecision }, b: { prefill: RoleDecision; decode: RoleDecision }): number {
  let down = false;
  for (const role of ['prefill', 'decode'] as const) {
    const pools = a[role].pools;
    for (const pool in pools) {
      const n = pools[pool]!;
      const was = b[role].pools[pool] ?? 0;
      if (n > was) return 1;
      if (n < was) down = true;
    }
  }
  return down ? -1 : 0;
}

/**
 * Decode first, prefill at the ratio; a role capped by its maximum caps the other so the ratio holds. `level` is the
 * decode units after the bounds (unrounded): what the decision holds.
 */
function sizeBothRoles(cfg: ServicePolicyConfig, decodeUnits: number, ratio: { prefill: number; decode: number }, prefillFloor: number, reasons: Reason[]): { prefill: RoleDecision; decode: RoleDecision; level: number } {
  const db = unitBounds(cfg.pools, 'decode');
  const pb = unitBounds(cfg.pools, 'prefill');
  let d = clamp('decode', decodeUnits, db, reasons);
  const perDecode = ratio.prefill / ratio.decode;
  let p = d * perDecode;
  if (p > pb.max + 1e-9) {
    const capped = pb.max / perDecode;
    reasons.push(reason('ratio', 'decode', { prefillMaxUnits: pb.max, decodeUnits: round3(capped) },
      `prefill is capped at ${pb.max} units, so decode is capped at ${round3(capped)} units to keep ${ratio.prefill}:${ratio.decode}`));
    d = Math.max(capped, db.min);
    p = pb.max;
  }
  if (p < prefillFloor) {
    reasons.push(reason('periodic-floor', 'prefill', { floor: prefillFloor }, `periodic floor: at least ${prefillFloor} prefill units`));
    p = prefillFloor;
  }
  p = clamp('prefill', p, pb, reasons);
  return { decode: roleDecision(cfg, 'decode', d, reasons), prefill: roleDecision(cfg, 'prefill', p, reasons), level: d };
}

function clamp(role: Role, units: number, b: { min: number; max: number }, reasons: Reason[]): number {
  if (units < b.min) {
    reasons.push(reason('clamp-min', role, { units: round3(units), min: b.min }, `${role} ${round3(units)} units raised to the minimum ${b.min}`));
    return b.min;
  }
  if (units > b.max) {
    reasons.push(reason('clamp-max', role, { units: round3(units), max: b.max }, `${role} ${round3(units)} units capped at the maximum ${b.max}`));
    return b.max;
  }
  return units;
}

function roleDecision(cfg: ServicePolicyConfig, role: Role, units: number, reasons: Reason[]): RoleDecision {
  const split = splitUnits(cfg.pools, role, units);
  reasons.push(...split.reasons);
  return { units: split.units, pools: split.pools, replicas: split.replicas };
}

function reason(code: Reason['code'], role: Role | undefined, detail: Reason['detail'], message: string): Reason {
  return role ? { code, role, detail, message } : { code, detail, message };
}

/**
 * The state after an evaluation that held because the decode signal was unusable (the caller did not decide): the
 * signal-recovery window starts again from `now`.
 */
export function noteSignalMissing(state: PolicyState, now: number): PolicyState {
  return { ...state, signalMissingAt: now };
}
