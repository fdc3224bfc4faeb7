// Slot labels: `baton.io/slot.<service>.<pool>=<count>` on a node says the plan holds <count> replicas of that pool
// there. Deployments select it with nodeAffinity `{key, operator: Gt, values: ["0"]}`, so the stock kube-scheduler binds.
// The engine never lowers the value below the pods of that pool still on the node (a drain keeps its label).

export const DEFAULT_SLOT_PREFIX = 'baton.io/slot.';
/** Pod labels the recipe puts on every replica so the engine can count them per node. */
export const POD_SERVICE_LABEL = 'baton.io/service';
export const POD_POOL_LABEL = 'baton.io/pool';
export const POD_ROLE_LABEL = 'baton.io/role';

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Throws with the offending name when a service or pool name cannot be part of a label key. */
export function validateSlotName(kind: 'service' | 'pool', name: string, where: string): void {
  if (!NAME.test(name)) throw new Error(`${where}: ${kind} name "${name}" must be lowercase letters, digits and '-' (it becomes part of a node label key)`);
}

/**
 * A multi-node pool's leader slots: `<slot key>.lead=<count>` on a node says the plan puts <count> group leaders there
 * (pool names have no '.', so the key never names a pool). Leaders select it; workers follow their leader's switch.
 */
export const LEAD_SUFFIX = '.lead';

export function leadLabelKey(service: string, pool: string, prefix = DEFAULT_SLOT_PREFIX): string {
  return slotLabelKey(service, pool + LEAD_SUFFIX, prefix);
}

export function slotLabelKey(service: string, pool: string, prefix = DEFAULT_SLOT_PREFIX): string {
  const key = `${prefix}${service}.${pool}`;
  const name = key.slice(key.indexOf('/') + 1);
  if (name.length > 63) throw new Error(`slot label "${key}": the name after '/' is ${name.length} characters (Kubernetes allows 63); shorten service "${service}" or pool "${pool}"`);
  return key;
}

/**
 * Parses a node label into (service, pool, count), with `lead` for a leader-slot label; undefined when it is not a slot
 * label or is malformed.
 */
export function parseSlotLabel(key: string, value: string, prefix = DEFAULT_SLOT_PREFIX): { service: string; pool: string; count: number; lead?: true } | undefined {
  if (!key.startsWith(prefix)) return undefined;
  let rest = key.slice(prefix.length);
  const lead = rest.endsWith(LEAD_SUFFIX);
  if (lead) rest = rest.slice(0, -LEAD_SUFFIX.length);
  const dot = rest.indexOf('.');
  if (dot <= 0 || dot === rest.length - 1) return undefined;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 0) return undefined;
  return { service: rest.slice(0, dot), pool: rest.slice(dot + 1), count, ...(lead ? { lead: true as const } : {}) };
}
