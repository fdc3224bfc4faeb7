// The engine's config file (YAML or JSON) and the demand file the adapter writes: parsed and checked with errors that
// name the file and the field.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { resolveIdentity, type IdentityLabels } from '../placement/identity.js';
import { validateSpecs } from '../placement/place.js';
import { scalesRoles, type TargetRef } from './targets/index.js';
import { DEFAULT_TOPOLOGY_KEYS, type Affinity, type PlacementPool, type ServiceDemand, type ServicePlacementSpec, type TopologyKeys } from '../placement/types.js';

export interface EngineConfig {
  /** Namespace of the Lease, the plan ConfigMap and the Events. */
  namespace: string;
  keys: TopologyKeys;
  /** Which pod labels name a pod's service, role, pool and group (a preset such as `llm-d`, or keys). */
  podLabels: IdentityLabels;
  services: ServicePlacementSpec[];
  /** Pools whose workload the engine reads through its scale subresource (the rest are found by pod labels). */
  targets: PoolTarget[];
  /** Services the engine scales itself (`scaler: engine`): every role of one object in one write, instead of HPAs. */
  scalers: ServiceScaler[];
}

export interface ServiceScaler {
  service: string;
  /** The object (its role field unset). */
  ref: TargetRef;
  /** Pool name → the object's role name. */
  roles: Record<string, string>;
}

export interface PoolTarget {
  service: string;
  pool: string;
  ref: TargetRef;
}

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

function num(o: Obj, k: string, where: string, dflt?: number): number {
  const v = o[k] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}.${k}: expected a number, got ${JSON.stringify(o[k])}`);
  return v;
}
function str(o: Obj, k: string, where: string, dflt?: string): string {
  const v = o[k] ?? dflt;
  if (typeof v !== 'string' || !v) throw new Error(`${where}.${k}: expected a non-empty string, got ${JSON.stringify(o[k])}`);
  return v;
}

export function parseEngineConfig(doc: unknown, file = 'config'): EngineConfig {
  if (!isObj(doc)) throw new Error(`${file}: expected a mapping at the top`);
  const keysIn = doc.topologyKeys ?? {};
  if (!isObj(keysIn)) throw new Error(`${file}: topologyKeys must be a mapping`);
  const keys: TopologyKeys = { ...DEFAULT_TOPOLOGY_KEYS };
  for (const k of Object.keys(keysIn)) {
    if (!(k in keys)) throw new Error(`${file}: topologyKeys.${k} is not one of ${Object.keys(keys).join(', ')}`);
    keys[k as keyof TopologyKeys] = str(keysIn, k, `${file}: topologyKeys`);
  }
  if (!Array.isArray(doc.services) || doc.services.length === 0) throw new Error(`${file}: services must be a non-empty list`);
  const targets: PoolTarget[] = [];
  const scalers: ServiceScaler[] = [];
  const services = doc.services.map((s: unknown, i: number): ServicePlacementSpec => {
    const where = `${file}: services[${i}]`;
    if (!isObj(s)) throw new Error(`${where}: expected a mapping`);
    const ratio = s.ratio;
    if (!isObj(ratio)) throw new Error(`${where}.ratio: expected {prefill, decode}`);
    if (!Array.isArray(s.pools)) throw new Error(`${where}.pools: expected a list`);
    const affinity = str(s, 'affinity', where, 'none') as Affinity;
    const pools = s.pools.map((p: unknown, j: number): PlacementPool => {
      const pw = `${where}.pools[${j}]`;
      if (!isObj(p)) throw new Error(`${pw}: expected a mapping`);
      const role = str(p, 'role', pw);
      if (role !== 'prefill' && role !== 'decode') throw new Error(`${pw}.role: expected prefill or decode, got "${role}"`);
      const pool: PlacementPool = {
        name: str(p, 'name', pw), role, gpuType: str(p, 'gpuType', pw),
        unitsPerReplica: num(p, 'unitsPerReplica', pw, 1), gpusPerReplica: num(p, 'gpusPerReplica', pw, 1),
        preference: num(p, 'preference', pw, j), minReplicas: num(p, 'minReplicas', pw, 0), maxReplicas: num(p, 'maxReplicas', pw, 1e6),
      };
      if (p.cost !== undefined) pool.cost = num(p, 'cost', pw);
      if (p.podsPerReplica !== undefined) pool.podsPerReplica = num(p, 'podsPerReplica', pw);
      if (p.target !== undefined) targets.push({ service: str(s, 'service', where), pool: pool.name, ref: targetRef(p.target, `${pw}.target`) });
      return pool;
    });
    const service = str(s, 'service', where);
    const scaler = str(s, 'scaler', where, 'hpa');
    if (scaler !== 'hpa' && scaler !== 'engine') throw new Error(`${where}.scaler: expected hpa (the pools' HPAs scale) or engine (the engine writes every role at once), got "${scaler}"`);
    if (scaler === 'engine') scalers.push(serviceScaler(service, pools.map((p) => targets.find((t) => t.service === service && t.pool === p.name)), pools, where));
    return { service, priority: num(s, 'priority', where, 0), affinity, ratio: { prefill: num(ratio, 'prefill', `${where}.ratio`), decode: num(ratio, 'decode', `${where}.ratio`) }, pools };
  });
  try {
    validateSpecs(services);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  return { namespace: str(doc, 'namespace', file, 'baton'), keys, podLabels: resolveIdentity(doc.podLabels, `${file}: podLabels`), services, targets, scalers };
}

/** `scaler: engine` needs every pool to be a role of one object the engine can scale whole (a DisaggregatedSet). */
function serviceScaler(service: string, targets: (PoolTarget | undefined)[], pools: PlacementPool[], where: string): ServiceScaler {
  const first = targets[0]?.ref;
  const roles: Record<string, string> = {};
  targets.forEach((t, j) => {
    const pw = `${where}.pools[${j}]`;
    if (!t || !scalesRoles(t.ref)) throw new Error(`${pw}.target: scaler: engine needs every pool to target a role of a DisaggregatedSet`);
    if (t.ref.name !== first!.name || t.ref.namespace !== first!.namespace || t.ref.apiVersion !== first!.apiVersion) throw new Error(`${pw}.target: every pool must target the same DisaggregatedSet (${first!.namespace}/${first!.name})`);
    if (Object.values(roles).includes(t.ref.role!)) throw new Error(`${pw}.target.role: role "${t.ref.role}" is already another pool's`);
    roles[pools[j]!.name] = t.ref.role!;
  });
  const { role: _role, ...ref } = first!;
  return { service, ref, roles };
}

/** `{apiVersion: apps/v1, kind: StatefulSet, name, namespace}`: the pool HPA's scaleTargetRef and its namespace. */
function targetRef(t: unknown, where: string): TargetRef {
  if (!isObj(t)) throw new Error(`${where}: expected {apiVersion, kind, name, namespace}`);
  for (const k of Object.keys(t)) if (!['apiVersion', 'kind', 'name', 'namespace', 'role'].includes(k)) throw new Error(`${where}.${k}: unknown field (expected apiVersion, kind, name, namespace, role)`);
  const ref: TargetRef = { apiVersion: str(t, 'apiVersion', where), kind: str(t, 'kind', where), name: str(t, 'name', where), namespace: str(t, 'namespace', where) };
  // A DisaggregatedSet holds several roles: the pool says which one it is; other kinds are one pool each.
  if (scalesRoles(ref)) ref.role = str(t, 'role', where);
  else if (t.role !== undefined) throw new Error(`${where}.role: only a DisaggregatedSet target names a role`);
  // Only API groups serve /scale for the kinds HPAs target (the core group's ReplicationController aside).
  if (!/^[a-z0-9.-]+\/v[0-9a-z]+$/.test(ref.apiVersion)) throw new Error(`${where}.apiVersion: expected group/version such as apps/v1, got "${ref.apiVersion}"`);
  return ref;
}

export function loadEngineConfig(path: string): EngineConfig {
  return parseEngineConfig(parse(readFileSync(path, 'utf8')), path);
}

/**
 * The demand file: `{services: {<service>: {prefill: <units>, decode: <units>}}}`, desired units per role as the policy
 * core decided them (Decision.prefill.units / decode.units). The adapter rewrites it every evaluation (atomic rename).
 */
export function parseDemand(doc: unknown, file = 'demand'): ServiceDemand[] {
  if (!isObj(doc) || !isObj(doc.services)) throw new Error(`${file}: expected {services: {<service>: {prefill, decode}}}`);
  return Object.entries(doc.services).map(([service, u]) => {
    if (!isObj(u)) throw new Error(`${file}: services.${service}: expected {prefill, decode}`);
    const prefill = num(u, 'prefill', `${file}: services.${service}`);
    const decode = num(u, 'decode', `${file}: services.${service}`);
    if (prefill < 0 || decode < 0) throw new Error(`${file}: services.${service}: units must be ≥ 0`);
    return { service, units: { prefill, decode } };
  });
}

export function loadDemand(path: string): ServiceDemand[] {
  return parseDemand(parse(readFileSync(path, 'utf8')), path);
}
