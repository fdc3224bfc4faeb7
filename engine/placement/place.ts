// Algorithm 4 (paper §3.4), network-affinity-aware scheduling and allocation, over the tree view:
//  - requests by service priority (higher first: scarce resources go to the important service);
//  - scale-out: candidate domains (lowest RDMA tier first, the service's existing groups before new ones), slot by slot
//    with virtual allocation (deducted from the view for the rest of the cycle); the preferred pool split first
//    (splitUnits), the next compatible pool when the preferred one is exhausted;
//  - a role adds a slot to a group only while it is not ahead of the other role there (ratio within one replica per
//    group), so when one role cannot be placed the other is capped: scale both or neither;
//  - scale-in: groups in the most precious tiers shrink first, unused (reserved, podless) slots before used ones; a
//    role never shrinks past one replica behind the other in a group (units held rather than off ratio);
//    freed GPUs are not handed out again in the same cycle.
import { splitUnits, unitBounds } from '../core/units.js';
import { ROLES, type Role } from '../core/types.js';
import { DEFAULT_SLOT_PREFIX, leadLabelKey, validateSlotName, slotLabelKey } from './labels.js';
import { buildTopology, describeSubgroups, poolKey, type TopologyView } from './topology.js';
import {
  DEFAULT_TOPOLOGY_KEYS, gpusPerPod, podsOf, type Affinity, type ClusterSnapshot, type GroupPlan, type PlacementOptions, type PlacementPlan,
  type PlacementPool, type PlacementReason, type ServiceDemand, type ServicePlacementSpec, type ServicePlan, type SlotAssignment, type Tier,
} from './types.js';

const EPS = 1e-9;
const OTHER: Record<Role, Role> = { prefill: 'decode', decode: 'prefill' };

export interface PlanOptions extends PlacementOptions {
  /** Ready guard: a role lags when its Ready units trail its placed units by more than this fraction (default 0.25). */
  readyTolerance?: number;
}

interface Group {
  domain: number;
  id: string;
  tier: Tier;
  units: Record<Role, number>;
  /** pool name → node index → slots. */
  slots: Map<string, Map<number, number>>;
  /** Multi-node pools: pool name → node index → group leaders planned there (one per group, on one of its slots). */
  leads: Map<string, Map<number, number>>;
}

/** One replica placed: its pool and the node of each of its pods (one for a single-pod replica). */
interface Placed { pool: PlacementPool; nodes: number[] }

export function validateSpecs(specs: readonly ServicePlacementSpec[], slotPrefix = DEFAULT_SLOT_PREFIX): void {
  const seen = new Set<string>();
  for (const [i, s] of specs.entries()) {
    const where = `services[${i}] (${s.service})`;
    validateSlotName('service', s.service, where);
    if (seen.has(s.service)) throw new Error(`${where}: duplicate service name`);
    seen.add(s.service);
    if (!['none', 's1', 's2'].includes(s.affinity)) throw new Error(`${where}: affinity must be none, s2 or s1, got "${s.affinity}"`);
    if (!Number.isFinite(s.priority)) throw new Error(`${where}: priority must be a number`);
    if (!(s.ratio.prefill > 0 && s.ratio.decode > 0)) throw new Error(`${where}: ratio prefill and decode must be > 0`);
    const names = new Set<string>();
    for (const [j, p] of s.pools.entries()) {
      const pw = `${where}.pools[${j}] (${p.name})`;
      validateSlotName('pool', p.name, pw);
      slotLabelKey(s.service, p.name, slotPrefix);
      if ((p.podsPerReplica ?? 1) > 1) leadLabelKey(s.service, p.name, slotPrefix);
      if (names.has(p.name)) throw new Error(`${pw}: duplicate pool name`);
      names.add(p.name);
      if (p.role !== 'prefill' && p.role !== 'decode') throw new Error(`${pw}: role must be prefill or decode`);
      if (!(p.gpusPerReplica > 0)) throw new Error(`${pw}: gpusPerReplica must be > 0`);
      if (p.podsPerReplica !== undefined && !(Number.isInteger(p.podsPerReplica) && p.podsPerReplica >= 1)) throw new Error(`${pw}: podsPerReplica must be a whole number ≥ 1, got ${p.podsPerReplica}`);
      if (!(p.unitsPerReplica > 0)) throw new Error(`${pw}: unitsPerReplica must be > 0`);
      if (!(p.minReplicas >= 0 && p.maxReplicas >= p.minReplicas)) throw new Error(`${pw}: need 0 ≤ minReplicas ≤ maxReplicas`);
    }
    for (const r of ROLES) if (!s.pools.some((p) => p.role === r)) throw new Error(`${where}: no ${r} pool`);
  }
}

/** Node lists per (affinity level, domain, GPU type), in the order placement fills them: cheap tiers first. */
class NodeIndex {
  private readonly buckets = new Map<string, Int32Array>();
  private readonly cursors = new Map<string, number>();
  private readonly order: Int32Array;
  private readonly built = new Set<Affinity>();

  constructor(private readonly v: TopologyView) {
    const idx = Array.from({ length: v.n }, (_, i) => i);
    idx.sort((a, b) => v.nodeTier[a]! - v.nodeTier[b]! || v.nodeS2[a]! - v.nodeS2[b]! || v.nodeS1[a]! - v.nodeS1[b]! || a - b);
    this.order = Int32Array.from(idx);
  }

  domainOf(level: Affinity, node: number): number {
    return level === 's1' ? this.v.nodeS1[node]! : level === 's2' ? this.v.nodeS2[node]! : 0;
  }

  domains(level: Affinity): number {
    return level === 's1' ? this.v.s1Names.length : level === 's2' ? this.v.s2Names.length : 1;
  }

  private build(level: Affinity): void {
    if (this.built.has(level)) return;
    this.built.add(level);
    const lists = new Map<string, number[]>();
    for (const i of this.order) {
      if (!this.v.schedulable[i]) continue;
      const k = `${level}|${this.domainOf(level, i)}|${this.v.nodeType[i]}`;
      let l = lists.get(k);
      if (!l) lists.set(k, (l = []));
      l.push(i);
    }
    for (const [k, l] of lists) this.buckets.set(k, Int32Array.from(l));
  }

  /** First node of the domain with this GPU type and `need` free GPUs, or -1. Free only shrinks in a cycle, so a cursor per need skips for good. */
  find(level: Affinity, domain: number, type: number, need: number): number {
    this.build(level);
    const k = `${level}|${domain}|${type}`;
    const list = this.buckets.get(k);
    if (!list) return -1;
    const ck = `${k}|${need}`;
    let c = this.cursors.get(ck) ?? 0;
    while (c < list.length && this.v.free[list[c]!]! < need - EPS) c++;
    this.cursors.set(ck, c);
    return c < list.length ? list[c]! : -1;
  }

  /**
   * Nodes for the `count` pods of one multi-node replica, `need` GPUs each, all under one S1 switch of the domain, else
   * under one S2 (never spread wider: the group's pods talk over RDMA every step). A node may take several pods when it
   * has the GPUs. Undefined when no switch of the domain has room for the whole group.
   */
  findGroup(level: Affinity, domain: number, type: number, need: number, count: number): number[] | undefined {
    const first = this.find(level, domain, type, need);
    if (first < 0) return undefined;
    const list = this.buckets.get(`${level}|${domain}|${type}`)!;
    const bySwitch = (m: Map<number, number[]>, sw: number, i: number, fits: number): number[] | undefined => {
      let a = m.get(sw);
      if (!a) m.set(sw, (a = []));
      for (let k = 0; k < fits && a.length < count; k++) a.push(i);
      return a.length >= count ? a : undefined;
    };
    const s1 = new Map<number, number[]>();
    const s2 = new Map<number, number[]>();
    let wider: number[] | undefined;
    for (let j = this.cursors.get(`${level}|${domain}|${type}|${need}`)!; j < list.length; j++) {
      const i = list[j]!;
      const fits = Math.floor((this.v.free[i]! + EPS) / need);
      if (fits <= 0) continue;
      const inS1 = bySwitch(s1, this.v.nodeS1[i]!, i, fits);
      if (inS1) return inS1;
      if (level !== 's1' && !wider) wider = bySwitch(s2, this.v.nodeS2[i]!, i, fits);
    }
    return wider;
  }

  /** Whether the domain has schedulable nodes of this GPU type at all. */
  has(level: Affinity, domain: number, type: number): boolean {
    this.build(level);
    return this.buckets.has(`${level}|${domain}|${type}`);
  }

  /** Rolled-back virtual allocation: the node may fit again, so rewind cursors past it (rare, small). */
  reset(): void {
    this.cursors.clear();
  }
}

function groupId(v: TopologyView, level: Affinity, d: number): string {
  return level === 's1' ? `s1:${v.s1Names[d]}` : level === 's2' ? `s2:${v.s2Names[d]}` : 'cluster';
}

function domainTier(v: TopologyView, level: Affinity, d: number): Tier {
  return (level === 's1' ? v.s1Tier[d] : level === 's2' ? v.s2Tier[d] : 0) as Tier;
}

export function planPlacement(snap: ClusterSnapshot, specs: readonly ServicePlacementSpec[], demands: readonly ServiceDemand[], opts: PlanOptions = {}): PlacementPlan {
  const keys = { ...DEFAULT_TOPOLOGY_KEYS, ...opts.keys };
  const prefix = opts.slotPrefix ?? DEFAULT_SLOT_PREFIX;
  validateSpecs(specs, prefix);
  const v = buildTopology(snap, specs, keys, prefix);
  const index = new NodeIndex(v);
  const reasons: PlacementReason[] = [];
  const demandOf = new Map(demands.map((d) => [d.service, d]));
  for (const d of demands) {
    if (!specs.some((s) => s.service === d.service)) reasons.push({ code: 'unknown-service', service: d.service, detail: {}, message: `demand for unknown service ${d.service} ignored` });
  }
  const ordered = [...specs].sort((a, b) => b.priority - a.priority || a.service.localeCompare(b.service));
  const services: ServicePlan[] = [];
  const slots: SlotAssignment[] = [];
  for (const spec of ordered) {
    const r = placeService(v, index, spec, demandOf.get(spec.service), opts.readyTolerance ?? 0.25, reasons);
    services.push(r.plan);
    slots.push(...r.slots);
  }
  services.sort((a, b) => a.service.localeCompare(b.service));
  slots.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0) || a.service.localeCompare(b.service) || a.pool.localeCompare(b.pool));
  return { services, slots, reasons, subgroups: describeSubgroups(v) };
}

function placeService(v: TopologyView, index: NodeIndex, spec: ServicePlacementSpec, demand: ServiceDemand | undefined, readyTolerance: number, reasons: PlacementReason[]): { plan: ServicePlan; slots: SlotAssignment[] } {
  const svc = spec.service;
  const level = spec.affinity;
  const byRole: Record<Role, PlacementPool[]> = {
    prefill: spec.pools.filter((p) => p.role === 'prefill').sort((a, b) => a.preference - b.preference || a.name.localeCompare(b.name)),
    decode: spec.pools.filter((p) => p.role === 'decode').sort((a, b) => a.preference - b.preference || a.name.localeCompare(b.name)),
  };
  const reason = (code: PlacementReason['code'], role: Role | undefined, detail: PlacementReason['detail'], message: string, extra: Partial<PlacementReason> = {}) =>
    reasons.push({ code, service: svc, ...(role ? { role } : {}), detail, message, ...extra });

  // Current state: groups from the slots held (labels, or pods where they outnumber the label).
  const groups = new Map<number, Group>();
  const groupOf = (d: number): Group => {
    let g = groups.get(d);
    if (!g) groups.set(d, (g = { domain: d, id: groupId(v, level, d), tier: domainTier(v, level, d), units: { prefill: 0, decode: 0 }, slots: new Map(), leads: new Map() }));
    return g;
  };
  const total = new Map<string, number>();
  const podsAt = new Map<string, Map<number, number>>();
  const leaderPodsAt = new Map<string, Map<number, number>>();
  let readyKnown = false;
  const readyUnits: Record<Role, number> = { prefill: 0, decode: 0 };
  for (const p of spec.pools) {
    const h = v.held.get(poolKey(svc, p.name));
    total.set(p.name, 0);
    podsAt.set(p.name, h?.pods ?? new Map());
    leaderPodsAt.set(p.name, h?.leaderPods ?? new Map());
    if (demand?.ready && demand.ready[p.name] !== undefined) {
      readyKnown = true;
      readyUnits[p.role] += demand.ready[p.name]! * p.unitsPerReplica;
    }
    if (!h) continue;
    for (const [node, c] of h.count) {
      if (c <= 0) continue;
      const g = groupOf(index.domainOf(level, node));
      let m = g.slots.get(p.name);
      if (!m) g.slots.set(p.name, (m = new Map()));
      m.set(node, c);
      // Slots count pods; a multi-node replica is podsPerReplica of them.
      g.units[p.role] += (c * p.unitsPerReplica) / podsOf(p);
      total.set(p.name, total.get(p.name)! + c / podsOf(p));
    }
    if (podsOf(p) > 1) {
      for (const [node, c] of h.leads) if (c > 0) bump(groupOf(index.domainOf(level, node)).leads, p.name, node, c);
    }
  }
  const existing = new Set(groups.keys());
  const held: Record<Role, number> = { prefill: 0, decode: 0 };
  for (const g of groups.values()) for (const r of ROLES) held[r] += g.units[r];

  // What is asked for, within the pools' bounds; no demand = hold what is there.
  const requested: Record<Role, number> = { prefill: held.prefill, decode: held.decode };
  if (demand) {
    for (const r of ROLES) {
      const b = unitBounds(spec.pools, r);
      const want = demand.units[r];
      if (!Number.isFinite(want) || want < 0) throw new Error(`demand for ${svc}: ${r} units must be a number ≥ 0, got ${want}`);
      requested[r] = Math.min(b.max, Math.max(b.min, want));
    }
    // The pools' maxima bound the pair, not one role: past one role's maximum the other stops too (at the ratio).
    const room = Math.min(unitBounds(spec.pools, 'prefill').max / spec.ratio.prefill, unitBounds(spec.pools, 'decode').max / spec.ratio.decode);
    for (const r of ROLES) {
      const cap = Math.max(room * spec.ratio[r], unitBounds(spec.pools, r).min);
      if (requested[r] > cap + EPS) {
        reason('capped', r, { requestedUnits: round3(demand.units[r]), cappedUnits: round3(cap), poolMaxUnits: round3(unitBounds(spec.pools, OTHER[r]).max) },
          `capped: ${OTHER[r]} pools are at most ${round3(unitBounds(spec.pools, OTHER[r]).max)} units → ${r} capped at ${round3(cap)} units to keep the ratio`);
        requested[r] = cap;
      }
    }
  }
  if (readyKnown) {
    for (const r of ROLES) {
      const o = OTHER[r];
      const lagging = held[r] - readyUnits[r] > readyTolerance * held[r] + EPS;
      if (lagging && requested[o] > held[o] + EPS) {
        reason('ready-guard', o, { heldUnits: held[o], requestedUnits: requested[o], [`${r}ReadyUnits`]: readyUnits[r], [`${r}PlacedUnits`]: held[r] },
          `${r} is not Ready (${readyUnits[r]} of ${held[r]} units) → ${o} held at ${held[o]} units instead of ${requested[o]} (scale both or neither)`);
        requested[o] = held[o];
      }
    }
  }
  const asked = { ...requested };
  const target: Record<string, number> = {};
  for (const r of ROLES) Object.assign(target, splitUnits(spec.pools, r, requested[r]).pools);
  const need: Record<Role, number> = { prefill: requested.prefill - held.prefill, decode: requested.decode - held.decode };
  const norm = (g: Group, r: Role) => g.units[r] / spec.ratio[r];
  // "Within one replica per group", in ratio-normalised units: the largest step one replica of any pool makes.
  const ratioSlack = Math.max(...spec.pools.map((p) => p.unitsPerReplica / spec.ratio[p.role]));

  // ---- scale-in: precious tiers first, smaller groups first (they free whole domains) ----
  if (need.prefill < -EPS || need.decode < -EPS) {
    const order = [...groups.values()].sort((a, b) => b.tier - a.tier || a.units.prefill + a.units.decode - (b.units.prefill + b.units.decode) || a.id.localeCompare(b.id));
    const removed: Record<Role, number> = { prefill: 0, decode: 0 };
    for (const g of order) {
      const blocked = new Set<Role>();
      for (;;) {
        let pick: Role | undefined;
        for (const r of ROLES) {
          if (need[r] >= -EPS || blocked.has(r)) continue;
          if (norm(g, r) < norm(g, OTHER[r]) - EPS && !(need[OTHER[r]] >= -EPS || blocked.has(OTHER[r])) ) continue;
          if (!pick || norm(g, r) > norm(g, pick)) pick = r;
        }
        if (!pick) break;
        const done = removeOne(g, pick);
        if (!done) blocked.add(pick);
      }
    }
    for (const r of ROLES) if (removed[r] > 0) reason('scale-in', r, { units: removed[r], requestedUnits: requested[r] }, `${r}: release ${removed[r]} units (precious tiers first)`);

    function groupSwitch(m: Map<number, number>, pods: Map<number, number>): number {
      const slots = new Map<number, { slots: number; unused: number }>();
      for (const [node, c] of m) {
        const sw = v.nodeS1[node]!;
        const a = slots.get(sw) ?? { slots: 0, unused: 0 };
        a.slots += c;
        a.unused += Math.max(0, c - (pods.get(node) ?? 0));
        slots.set(sw, a);
      }
      let best = -1;
      for (const [sw, a] of slots) {
        const b = slots.get(best);
        if (!b || a.unused > b.unused || (a.unused === b.unused && (a.slots < b.slots || (a.slots === b.slots && sw < best)))) best = sw;
      }
      return best;
    }

    function leaderOf(g: Group, p: PlacementPool, s1: number): number {
      const leads = g.leads.get(p.name);
      if (!leads) return -1;
      const present = leaderPodsAt.get(p.name)!;
      let best = -1;
      let bestKey = Infinity;
      for (const [node, c] of leads) {
        if (c <= 0) continue;
        const key = (v.nodeS1[node] === s1 ? 0 : 1e6) + (c - (present.get(node) ?? 0) > 0 ? 0 : 1e3) + c;
        if (key < bestKey || (key === bestKey && v.nodeNames[node]! < v.nodeNames[best]!)) {
          best = node;
          bestKey = key;
        }
      }
      return best;
    }

    function removeOne(g: Group, r: Role): boolean {
      for (let i = byRole[r].length - 1; i >= 0; i--) {
        const p = byRole[r][i]!;
        if (need[r] + p.unitsPerReplica > EPS) continue;
        if (total.get(p.name)! <= p.minReplicas) continue;
        // A role may shrink while it is behind only when the other role cannot (its need is smaller than one of its
        // replicas, or it needs nothing): never past one replica behind, or the group leaves the ratio. Another group,
        // where this role leads, takes the cut instead; if none can, the units stay (held, not off ratio).
        if (norm(g, OTHER[r]) - (g.units[r] - p.unitsPerReplica) / spec.ratio[r] > ratioSlack + EPS) continue;
        const m = g.slots.get(p.name);
        if (!m || m.size === 0) continue;
        const pods = podsAt.get(p.name)!;
        // A multi-node replica leaves whole: all its pods' slots from one switch (the S1 with the most unused slots,
        // then the fewest slots), so what stays is whole groups under one switch each.
        const s1 = podsOf(p) > 1 ? groupSwitch(m, pods) : undefined;
        // Its leader slot goes with it (the one in that switch whose leader pod is not there, else any), and the
        // leader's own slot first.
        const lead = s1 === undefined ? -1 : leaderOf(g, p, s1);
        let taken = 0;
        if (lead >= 0) {
          bump(g.leads, p.name, lead, -1);
          if ((m.get(lead) ?? 0) > 0) {
            bump(g.slots, p.name, lead, -1);
            taken = 1;
          }
        }
        for (let k = taken; k < podsOf(p) && m.size > 0; k++) {
          // Unused (reserved, podless) slots go first, then the node with the fewest slots: whole nodes come free.
          let best = -1;
          let bestKey = Infinity;
          for (const [node, c] of m) {
            const unused = c - (pods.get(node) ?? 0);
            const key = (s1 === undefined || v.nodeS1[node] === s1 ? 0 : 1e12) + (unused > 0 ? 0 : 1e9) + c * 1e3 - v.nodeTier[node]!;
            if (key < bestKey || (key === bestKey && v.nodeNames[node]! < v.nodeNames[best]!)) {
              best = node;
              bestKey = key;
            }
          }
          bump(g.slots, p.name, best, -1);
        }
        g.units[r] -= p.unitsPerReplica;
        need[r] += p.unitsPerReplica;
        removed[r] += p.unitsPerReplica;
        total.set(p.name, total.get(p.name)! - 1);
        return true;
      }
      return false;
    }
  }

  // ---- scale-out: pass 1 follows the preferred split, pass 2 falls back to any compatible pool up to its max ----
  if (need.prefill > EPS || need.decode > EPS) {
    const newGroups: string[] = [];
    const candidates: number[] = [];
    for (let d = 0; d < index.domains(level); d++) candidates.push(d);
    candidates.sort((a, b) => domainTier(v, level, a) - domainTier(v, level, b) || Number(existing.has(b)) - Number(existing.has(a)) || a - b);
    const findPool = (r: Role, d: number, pass: 1 | 2): Placed | undefined => {
      for (const p of byRole[r]) {
        const limit = pass === 1 ? (target[p.name] ?? 0) : p.maxReplicas;
        if (total.get(p.name)! >= limit) continue;
        const t = v.typeIndex.get(p.gpuType);
        if (t === undefined) continue;
        if (podsOf(p) === 1) {
          const node = index.find(level, d, t, p.gpusPerReplica);
          if (node >= 0) return { pool: p, nodes: [node] };
          continue;
        }
        const nodes = index.findGroup(level, d, t, gpusPerPod(p), podsOf(p));
        if (nodes) return { pool: p, nodes };
      }
      return undefined;
    };
    for (const pass of [1, 2] as const) {
      for (const d of candidates) {
        if (need.prefill <= EPS && need.decode <= EPS) break;
        const fresh = !groups.has(d);
        // A new group must be able to start both roles (when both still need capacity): no half groups.
        if (fresh && ROLES.some((r) => need[r] > EPS && !findPool(r, d, pass)) && ROLES.every((r) => need[r] > EPS)) continue;
        const g = groupOf(d);
        const added: Placed[] = [];
        const blocked = new Set<Role>();
        for (;;) {
          let pick: Role | undefined;
          for (const r of ROLES) {
            if (need[r] <= EPS || blocked.has(r)) continue;
            if (norm(g, r) > norm(g, OTHER[r]) + EPS) continue; // ahead already: wait for the other role
            if (!pick || norm(g, r) < norm(g, pick) || (norm(g, r) === norm(g, pick) && r === 'decode')) pick = r;
          }
          if (!pick) break;
          const got = findPool(pick, d, pass);
          if (!got) {
            blocked.add(pick);
            continue;
          }
          assign(g, pick, got, +1);
          added.push(got);
        }
        // The other role could not be placed here: this cycle's slots of the role ahead are undone until it no longer
        // leads (a role alone in a group is undone entirely). Scale both or neither.
        let undone = false;
        for (const r of ROLES) {
          const o = OTHER[r];
          if (!(blocked.has(o) && need[o] > EPS)) continue;
          for (let i = added.length - 1; i >= 0 && norm(g, r) > norm(g, o) + EPS; i--) {
            const a = added[i]!;
            if (a.pool.role !== r) continue;
            assign(g, r, a, -1);
            added.splice(i, 1);
            undone = true;
          }
        }
        // A group holds both roles or none: a role left alone here (the other needs nothing more, or cannot come) goes.
        for (const r of ROLES) {
          if (!(g.units[r] > EPS && g.units[OTHER[r]] <= EPS)) continue;
          for (let i = added.length - 1; i >= 0; i--) {
            const a = added[i]!;
            if (a.pool.role !== r) continue;
            assign(g, r, a, -1);
            added.splice(i, 1);
            undone = true;
          }
        }
        if (undone) index.reset();
        if (g.units.prefill <= EPS && g.units.decode <= EPS && !existing.has(d)) groups.delete(d);
        else if (fresh && added.length) newGroups.push(g.id);
      }
    }
    if (newGroups.length) reason('new-group', undefined, { count: newGroups.length, groups: newGroups.join(',') }, `new Deployment Groups in ${newGroups.join(', ')}`);
    const grown = ROLES.filter((r) => requested[r] - need[r] - held[r] > EPS);
    for (const r of grown) reason('scale-out', r, { units: requested[r] - need[r] - held[r], requestedUnits: requested[r] }, `${r}: +${round3(requested[r] - need[r] - held[r])} units`);
    for (const r of ROLES) {
      if (need[r] <= EPS) continue;
      const o = OTHER[r];
      if (canPlaceAnywhere(r)) {
        reason('capped', r, { requestedUnits: requested[r], placedUnits: round3(requested[r] - need[r]), otherUnplacedUnits: round3(Math.max(0, need[o])) },
          `capped: ${o} cannot be placed → ${r} capped at ${round3(requested[r] - need[r])} of ${requested[r]} units to keep the ratio`);
      } else {
        reason('unplaced', r, { requestedUnits: requested[r], unplacedUnits: round3(need[r]) },
          `${r}: ${round3(need[r])} units cannot be placed (every compatible pool is full or at its max)`);
      }
    }

    function assign(g: Group, r: Role, a: Placed, sign: 1 | -1): void {
      for (const node of a.nodes) {
        bump(g.slots, a.pool.name, node, sign);
        v.free[node]! -= sign * gpusPerPod(a.pool);
      }
      if (podsOf(a.pool) > 1) bump(g.leads, a.pool.name, a.nodes[0]!, sign);
      g.units[r] += sign * a.pool.unitsPerReplica;
      need[r] -= sign * a.pool.unitsPerReplica;
      total.set(a.pool.name, total.get(a.pool.name)! + sign);
    }
    /**
     * Capped (held back by the ratio) rather than unplaced: some domain that could host both roles still has room for
     * this role. Otherwise this role is the one that cannot be placed.
     */
    function canPlaceAnywhere(r: Role): boolean {
      const typesOf = (role: Role) => byRole[role].map((p) => v.typeIndex.get(p.gpuType)).filter((t): t is number => t !== undefined);
      const pt = typesOf('prefill');
      const dt = typesOf('decode');
      for (let d = 0; d < index.domains(level); d++) {
        if (!pt.some((t) => index.has(level, d, t)) || !dt.some((t) => index.has(level, d, t))) continue;
        if (findPool(r, d, 2)) return true;
      }
      return false;
    }
  }

  // A pool above its preferred share while a more preferred pool of the role is short of its share: fallback, a standing
  // condition reported every cycle it lasts.
  for (const r of ROLES) {
    for (const [i, p] of byRole[r].entries()) {
      const extra = total.get(p.name)! - (target[p.name] ?? 0);
      const short = byRole[r].slice(0, i).find((q) => total.get(q.name)! < (target[q.name] ?? 0));
      if (extra > 0 && short) {
        reason('pool-fallback', r, { replicas: extra, preferred: short.name, preferredReplicas: total.get(short.name)!, preferredTarget: target[short.name] ?? 0 },
          `${r}: preferred pool ${short.name} exhausted (${total.get(short.name)} of ${target[short.name]} replicas) → ${extra} replicas on ${p.name}`, { pool: p.name });
      }
    }
  }

  // ---- output ----
  const slots: SlotAssignment[] = [];
  const groupPlans: GroupPlan[] = [];
  const units: Record<Role, number> = { prefill: 0, decode: 0 };
  const poolsOut: Record<string, number> = {};
  // Whole replicas: a multi-node group half there (pods still coming, or going) counts as one.
  for (const p of spec.pools) poolsOut[p.name] = Math.max(0, Math.ceil(total.get(p.name)! - EPS));
  const drain: Record<string, number> = {};
  for (const g of [...groups.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    const replicas: Record<string, number> = {};
    for (const p of spec.pools) {
      const m = g.slots.get(p.name);
      let sum = 0;
      if (m) for (const [node, c] of m) {
        sum += c;
        const slot: SlotAssignment = { node: v.nodeNames[node]!, service: svc, role: p.role, pool: p.name, group: g.id, count: c, pods: podsAt.get(p.name)!.get(node) ?? 0 };
        if (podsOf(p) > 1) {
          slot.leaders = g.leads.get(p.name)?.get(node) ?? 0;
          slot.leaderPods = leaderPodsAt.get(p.name)!.get(node) ?? 0;
        }
        slots.push(slot);
      }
      if (sum) replicas[p.name] = round3(sum / podsOf(p));
    }
    units.prefill += g.units.prefill;
    units.decode += g.units.decode;
    if (g.units.prefill > EPS || g.units.decode > EPS) groupPlans.push({ id: g.id, tier: g.tier, units: { prefill: round3(g.units.prefill), decode: round3(g.units.decode) }, replicas });
  }
  // Pods on nodes whose slots were released: they keep their label until the HPA scale-down removes them.
  const plannedAt = new Map<string, SlotAssignment>(slots.map((s) => [`${s.pool}\u0000${s.node}`, s]));
  for (const p of spec.pools) {
    for (const [node, pods] of podsAt.get(p.name)!) {
      const planned = plannedAt.get(`${p.name}\u0000${v.nodeNames[node]}`);
      const c = planned?.count ?? 0;
      if (pods > c) {
        drain[p.name] = (drain[p.name] ?? 0) + pods - c;
        if (!planned) slots.push({ node: v.nodeNames[node]!, service: svc, role: p.role, pool: p.name, group: groupId(v, level, index.domainOf(level, node)), count: 0, pods });
      }
    }
  }
  for (const [pool, n] of Object.entries(drain)) reason('draining', spec.pools.find((p) => p.name === pool)!.role, { pods: n }, `${pool}: ${n} pods to drain before their slots are released`, { pool });
  return {
    plan: { service: svc, priority: spec.priority, pools: poolsOut, units: { prefill: round3(units.prefill), decode: round3(units.decode) }, requested: { prefill: round3(asked.prefill), decode: round3(asked.decode) }, ...(demand ? { demanded: { prefill: demand.units.prefill, decode: demand.units.decode } } : {}), groups: groupPlans },
    slots,
  };
}

/** Adds `by` to a pool's per-node count, dropping entries that reach 0. */
function bump(m: Map<string, Map<number, number>>, pool: string, node: number, by: number): void {
  let n = m.get(pool);
  if (!n) m.set(pool, (n = new Map()));
  const c = (n.get(node) ?? 0) + by;
  if (c <= 0) n.delete(node);
  else n.set(node, c);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

