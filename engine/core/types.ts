// The policy core's vocabulary: plain data in, decisions out. Shared verbatim by the adapter, the sidecar engine and
// the simulator, so nothing here may touch I/O or read a clock: time always arrives as `now` (seconds).

export type Role = 'prefill' | 'decode';
export const ROLES: readonly Role[] = ['prefill', 'decode'];

/** A pool is one role of one service on one GPU type (one Deployment + one HPA in production). */
export interface PoolConfig {
  name: string;
  role: Role;
  gpuType: string;
  /**
   * Capacity of one replica in role units. The reference GPU of a role has 1; a decode replica on H200 is worth
   * ~1.4 units when H100 is the reference. Targets, ratio and bounds of the service are all stated in units.
   */
  unitsPerReplica: number;
  /** Preference within the role: lower fills first (cheaper or better-fitting hardware). */
  preference: number;
  minReplicas: number;
  /** Hard cap, e.g. the GPUs the pool can hold; the next pool in preference order takes the rest. */
  maxReplicas: number;
}

export interface GuardTier {
  /** Fires when observed > above × slo (e.g. 0.9 or 1.0). */
  above: number;
  /** Scale-out step as a fraction of the current capacity (0.1 = +10 %). */
  scaleOut: number;
}

/** A latency negative-feedback guard (TBT p99, TTFT p99, …): scale-out only. */
export interface GuardConfig {
  name: string;
  /** Which roles the guard adds capacity to; both by default, so the ratio holds. */
  roles?: Role[];
  slo: number;
  tiers: GuardTier[];
}

export interface StabilityConfig {
  /** Minimum seconds between two scale-outs. */
  scaleUpCooldownS: number;
  /** Minimum seconds after any scaling before a scale-in. */
  scaleDownCooldownS: number;
  /** Scale in only when the proportional need is below current × (1 − band). */
  scaleInHysteresis: number;
  /** Fraction of the scale-in gap closed per step (1 = jump, 0.5 = halfway). */
  scaleInDamping: number;
  /**
   * Scale in only to the highest need seen in this many seconds (default 0 = the need now), like the HPA's scale-down
   * stabilization window: a dip in a noisy signal does not shed capacity that the next minute needs again.
   */
  scaleInWindowS?: number;
  /**
   * Guards may add capacity up to this multiple of what the decode signal asks for (default 2). A latency SLO that no
   * amount of capacity can meet (a prompt whose prefill alone exceeds TTFT) must not ratchet the fleet to its maximum.
   */
  guardCeiling?: number;
  /**
   * After the decode signal was missing (Prometheus down, restarted, partial), no scale-in for this many seconds of
   * healthy signal (default 0). A restarted Prometheus answers from a half-filled rate window and from whichever
   * targets it has rediscovered so far: a partial sum that looks like a load drop.
   */
  signalRecoveryS?: number;
}

export const DEFAULT_GUARD_CEILING = 2;

export interface PeriodicEntry {
  /** Time of day "HH:MM" at which this entry starts; it lasts until the next entry (wrapping at midnight). */
  from: string;
  /** Units per role. */
  prefill: number;
  decode: number;
}

export interface PeriodicConfig {
  /** `floor`: never below the table; `only`: follow the table and ignore the signal. */
  mode: 'floor' | 'only';
  /** Offset of local time from `now` (seconds), so the table reads in the operator's time zone. */
  utcOffsetS?: number;
  entries: PeriodicEntry[];
}

/**
 * Scale to and from zero. Without pods there is no decode TPS, so a wake signal that exists without pods (a router or
 * gateway queue, requests arriving at a frontend) brings a sleeping service back; the service sleeps only after the
 * idle window. Every pool's minimum must be 0.
 */
export interface ScaleToZeroConfig {
  /** The wake reading fires above this value (default 0: any demand wakes). */
  wakeAbove: number;
  /** Seconds of continuous idleness (no demand, no decode TPS, no guard firing or erroring) before going to zero. */
  idleS: number;
}

export interface ServicePolicyConfig {
  service: string;
  /** Fixed integer P:D ratio in units, from the pressure test (e.g. 9:7). */
  ratio: { prefill: number; decode: number };
  /** Decode TPS that one decode unit should carry (the proportional set point). */
  decodeTpsPerUnit: number;
  pools: PoolConfig[];
  guards: GuardConfig[];
  stability: StabilityConfig;
  periodic?: PeriodicConfig;
  scaleToZero?: ScaleToZeroConfig;
}

/**
 * One guard's reading, the one definition every caller uses (adapter, simulator, what-if):
 * - a number: the observed value (same unit as the SLO);
 * - `undefined` (empty): no requests finished in the guard's window. An idle service has no latency quantile; this
 *   does not hold scale-in while the decode signal is healthy;
 * - `GUARD_ERROR`: the reading could not be taken (query failed, timed out, answered a broken shape). Nothing proves
 *   latency is fine, so it never lets capacity go: scale-in is blocked (a monitoring fault never lowers capacity).
 */
export const GUARD_ERROR = 'error';
export type GuardReading = number | undefined | typeof GUARD_ERROR;

/** What the metrics said at one evaluation. `undefined` or non-finite means missing. */
export interface ServiceObservation {
  now: number;
  /** Total decode tokens/s of the service. */
  decodeTps: number | undefined;
  /** Reading per guard name: value, empty (idle) or GUARD_ERROR (see GuardReading). */
  guards: Record<string, GuardReading>;
  /** Replicas the pools have now (the Deployments' spec.replicas). */
  replicas: Record<string, number>;
  /**
   * Ready replicas per pool, when known. Guard steps build on ready capacity: while an earlier step is still cold-starting
   * the latency cannot have improved yet, and stepping again from the ready base does not compound.
   */
  ready?: Record<string, number>;
  /**
   * The wake signal (scale-to-zero services only), read like a guard: a value, empty (no series: no demand) or
   * GUARD_ERROR (unknown: it neither wakes nor counts as idle).
   */
  wake?: GuardReading;
}

/** Carried from one evaluation to the next by the caller; the core never keeps state of its own. */
export interface PolicyState {
  lastScaleUpAt?: number;
  lastScaleDownAt?: number;
  /** Last decided decode units (unrounded), the basis for hysteresis and damping. */
  decodeUnits?: number;
  /** [time, need in decode units] within the scale-in window, oldest first. */
  recentNeeds?: [number, number][];
  /** The last time the decode signal was missing (an evaluation that held); starts the signal-recovery window. */
  signalMissingAt?: number;
  /** Since when the service has been idle without a break (scale-to-zero services only). */
  idleSince?: number;
}

export type ReasonCode =
  | 'signal'
  | 'signal-missing'
  | 'guard'
  | 'guard-missing'
  | 'guard-error'
  | 'guard-ceiling'
  | 'scale-in-blocked'
  | 'signal-recovering'
  | 'hysteresis'
  | 'scale-in-window'
  | 'damping'
  | 'cooldown'
  | 'periodic'
  | 'periodic-floor'
  | 'clamp-min'
  | 'clamp-max'
  | 'ratio'
  | 'pool-fallback'
  | 'wake'
  | 'asleep'
  | 'idle'
  | 'idle-to-zero'
  | 'hold';

/** A machine-readable why. `detail` holds the numbers; `message` is for people. */
export interface Reason {
  code: ReasonCode;
  role?: Role;
  pool?: string;
  detail: Record<string, number | string | boolean>;
  message: string;
}

export interface RoleDecision {
  /** Desired capacity in units. */
  units: number;
  /** Desired replicas per pool name. */
  pools: Record<string, number>;
  replicas: number;
}

export interface Decision {
  service: string;
  at: number;
  prefill: RoleDecision;
  decode: RoleDecision;
  direction: 'up' | 'down' | 'hold';
  reasons: Reason[];
  state: PolicyState;
  /**
   * The level arithmetic, for explain's derivation (engine/core/derivation.ts): decode units held before, the need
   * (signal, guard step and periodic table applied), and a guard step's base and result. Plain numbers on the decision
   * itself, so a decision costs no extra object.
   */
  previousUnits?: number;
  needUnits?: number;
  guardBaseUnits?: number;
  guardedUnits?: number;
}
