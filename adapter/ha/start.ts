// Wiring of HA for startAdapter: the Lease (shared with the pod's engine), the ConfigMap store, the coordinator.
import type { Evaluator } from '../../rules/evaluator.js';
import { loadKubeConfig } from '../kube.js';
import { HaCoordinator, type Elector } from './coordinator.js';
import type { DecisionStore } from './kube-store.js';

export interface HaSettings {
  /** Namespace of the Lease and the decision ConfigMaps (default baton-system). */
  namespace?: string;
  /** This replica's identity in the election; the pod name, shared with the pod's engine (`--identity`). */
  identity: string;
  /** The Lease; the engine's `--lease` so that adapter and engine lead together (default baton-leader). */
  leaseName?: string;
  leaseDurationS?: number;
  shards?: number;
  syncIntervalMs?: number;
  publishDelayMs?: number;
  electionIntervalMs?: number;
  kubeconfig?: string;
  /** In-process stand-ins for the Lease and the ConfigMaps (benchmarks, tests); both or neither. */
  local?: { store: DecisionStore; elector: Elector };
}

export async function startHa(s: HaSettings, evaluator: Evaluator, log: (m: string) => void, bind: (c: HaCoordinator) => void): Promise<HaCoordinator> {
  const leaseDurationS = s.leaseDurationS ?? 15;
  const { store, elector } = s.local ?? await clusterParts(s, leaseDurationS, log);
  const ha = new HaCoordinator({
    evaluator, store, elector, identity: s.identity, log,
    ...(s.syncIntervalMs !== undefined ? { syncIntervalMs: s.syncIntervalMs } : {}),
    ...(s.publishDelayMs !== undefined ? { publishDelayMs: s.publishDelayMs } : {}),
    electionIntervalMs: s.electionIntervalMs ?? Math.max(500, (leaseDurationS * 1000) / 4),
  });
  bind(ha);
  await ha.start();
  return ha;
}

async function clusterParts(s: HaSettings, leaseDurationS: number, log: (m: string) => void): Promise<{ store: DecisionStore; elector: Elector }> {
  const kc = await loadKubeConfig(s.kubeconfig);
  const { makeClients } = await import('../../engine/sidecar/kube.js');
  const { LeaderElector } = await import('../../engine/sidecar/lease.js');
  // Loaded only here: the Kubernetes client is big, and an adapter without HA in the cluster never needs it.
  const { ConfigMapDecisionStore } = await import('./kube-store.js');
  const clients = makeClients(kc);
  const namespace = s.namespace ?? 'baton-system';
  const elector = new LeaderElector(clients, { namespace, name: s.leaseName ?? 'baton-leader', identity: s.identity, durationS: leaseDurationS }, Date.now, (e) => log(`lease: ${e.message}`));
  const store = new ConfigMapDecisionStore(clients.core, { namespace, ...(s.shards !== undefined ? { shards: s.shards } : {}), log });
  return { store, elector };
}
