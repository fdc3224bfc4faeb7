// Any object with a scale subresource (autoscaling/v1 Scale): Deployment, StatefulSet, LeaderWorkerSet, a CRD that
// declares `subresources.scale`. The resource name comes from API discovery (the kind's plural as the apiserver serves
// it), so a CRD needs no extra configuration; the discovery answer is cached by the client and refetched for a kind it
// has not seen, so a CRD installed after the engine started is found.
import * as k8s from '@kubernetes/client-node';
import { refText, type TargetKind, type TargetReading, type TargetRef } from './types.js';

/** KubernetesObjectApi keeps its discovery lookup protected; this exposes it (with the served subresources). */
class Discovery extends k8s.KubernetesObjectApi {
  async scalable(apiVersion: string, kind: string): Promise<{ plural: string; hasScale: boolean } | undefined> {
    const r = await this.resource(apiVersion, kind);
    if (!r) return undefined;
    const list = this.apiVersionResourceCache[apiVersion]?.resources ?? [];
    return { plural: r.name, hasScale: list.some((x) => x.name === `${r.name}/scale`) };
  }
}

/** `apps/v1` → {group: 'apps', version: 'v1'}; `v1` → core. */
export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf('/');
  return i < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

/** The parts of an autoscaling/v1 Scale the engine reads; throws naming the target when one is missing. */
export function readingOf(scale: unknown, ref: TargetRef): TargetReading {
  const s = scale as { spec?: { replicas?: unknown }; status?: { selector?: unknown } } | undefined;
  const replicas = s?.spec?.replicas ?? 0;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) throw new Error(`${refText(ref)}: /scale spec.replicas is ${JSON.stringify(replicas)}, not a count`);
  const selector = s?.status?.selector;
  // An empty selector would select every pod of the namespace: refuse it rather than count strangers as replicas.
  if (typeof selector !== 'string' || selector.trim() === '') {
    throw new Error(`${refText(ref)}: /scale status.selector is empty (a CRD must declare labelSelectorPath, and its controller fill it)`);
  }
  return { replicas, selector };
}

export class ScaleSubresource implements TargetKind {
  private readonly discovery: Discovery;
  private readonly custom: k8s.CustomObjectsApi;

  constructor(kc: k8s.KubeConfig) {
    this.discovery = kc.makeApiClient(Discovery);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
  }

  async read(ref: TargetRef): Promise<TargetReading> {
    const found = await this.discovery.scalable(ref.apiVersion, ref.kind);
    if (!found) throw new Error(`${refText(ref)}: the apiserver serves no kind ${ref.kind} in ${ref.apiVersion}`);
    if (!found.hasScale) throw new Error(`${refText(ref)}: ${found.plural} has no scale subresource, so no HPA can scale it`);
    const { group, version } = splitApiVersion(ref.apiVersion);
    const scale: unknown = await this.custom.getNamespacedCustomObjectScale({ group, version, namespace: ref.namespace, plural: found.plural, name: ref.name });
    return readingOf(scale, ref);
  }
}
