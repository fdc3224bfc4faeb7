// The engine's config file (YAML or JSON) and the demand file the adapter writes: parsed and checked with errors that
// name the file and the field.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { resolveIdentity, type IdentityLabels } from '../placement/identity.js';
import { validateSpecs } from '../placement/place.js';
import type { TargetRef } from './targets/index.js';
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
    return { service: str(s, 'service', where), priority: num(s, 'priority', where, 0), affinity, ratio: { prefill: num(ratio, 'prefill', `${where}.ratio`), decode: num(ratio, 'decode', `${where}.ratio`) }, pools };
  });
  try {
    validateSpecs(services);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  return { namespace: str(doc, 'namespace', file, 'baton'), keys, podLabels: resolveIdentity(doc.podLabels, `${file}: podLabels`), services, targets };
}

/** `{apiVersion: apps/v1, kind: StatefulSet, name, namespace}`: the pool HPA's scaleTargetRef and its namespace. */
function targetRef(t: unknown, where: string): TargetRef {
  if (!isObj(t)) throw new Error(`${where}: expected {apiVersion, kind, name, namespace}`);
  for (const k of Object.keys(t)) if (!['apiVersion', 'kind', 'name', 'namespace'].includes(k)) throw new Error(`${where}.${k}: unknown field (expected apiVersion, kind, name, namespace)`);
  const ref = { apiVersion: str(t, 'apiVersion', where), kind: str(t, 'kind', where), name: str(t, 'name', where), namespace: str(t, 'namespace', where) };
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
