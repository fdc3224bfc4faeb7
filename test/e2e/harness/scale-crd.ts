// A CRD with a scale subresource and a small controller for it, standing in for the per-role scaling adapters of
// Dynamo and RBG: `spec.replicas` is what the HPA writes; the controller creates and deletes pods (ordinals, highest
// removed first) and reports in `status.replicas` the pods that are Ready, not a copy of spec, and in `status.selector`
// which pods are its own (the scale subresource's labelSelectorPath, which the HPA and Baton's engine read).
import type { KubeApi } from './api.js';
import { GPU_TYPE_LABEL } from './workload.js';

export const GROUP = 'test.baton.io';
export const KIND = 'InferenceServer';
export const PLURAL = 'inferenceservers';
export const OWNER_LABEL = `${GROUP}/server`;

export function crd(): object {
  return {
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition',
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP, scope: 'Namespaced',
      names: { plural: PLURAL, singular: 'inferenceserver', kind: KIND },
      versions: [{
        name: 'v1', served: true, storage: true,
        schema: { openAPIV3Schema: { type: 'object', properties: {
          spec: { type: 'object', properties: { replicas: { type: 'integer', minimum: 0 }, gpuType: { type: 'string' }, labels: { type: 'object', additionalProperties: { type: 'string' } } } },
          status: { type: 'object', properties: { replicas: { type: 'integer' }, selector: { type: 'string' } } },
        } } },
        subresources: { status: {}, scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' } },
      }],
    },
  };
}

export function server(namespace: string, name: string, gpuType: string, replicas: number, labels: Record<string, string> = {}): object {
  return { apiVersion: `${GROUP}/v1`, kind: KIND, metadata: { name, namespace }, spec: { replicas, gpuType, labels } };
}

interface Server { metadata: { name: string; namespace: string; uid: string }; spec: { replicas?: number; gpuType: string; labels?: Record<string, string> }; status?: { replicas?: number; selector?: string } }
interface Pod { metadata: { name: string; deletionTimestamp?: string; labels?: Record<string, string> }; status?: { conditions?: { type: string; status: string }[] } }

/** Reconciles every InferenceServer of a namespace every `intervalMs` until stopped. */
export class ServerController {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  lastError: string | undefined;

  constructor(private readonly api: KubeApi, private readonly namespace: string, private readonly intervalMs = 300) {}

  start(): void {
    const loop = async () => {
      this.running = this.reconcileAll().then(() => (this.lastError = undefined), (err: Error) => void (this.lastError = err.message));
      await this.running;
      if (!this.stopped) this.timer = setTimeout(loop, this.intervalMs);
    };
    void loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private async reconcileAll(): Promise<void> {
    const list = await this.api.get<{ items: Server[] }>(`/apis/${GROUP}/v1/namespaces/${this.namespace}/${PLURAL}`);
    for (const s of list.items) await this.reconcile(s);
  }

  private async reconcile(s: Server): Promise<void> {
    const ns = this.namespace;
    const name = s.metadata.name;
    const selector = `${OWNER_LABEL}=${name}`;
    const pods = (await this.api.get<{ items: Pod[] }>(`/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selector)}`)).items.filter((p) => !p.metadata.deletionTimestamp);
    const want = s.spec.replicas ?? 0;
    const ordinal = (p: Pod) => Number(p.metadata.name.slice(name.length + 1));
    const have = new Set(pods.map(ordinal));
    for (let i = 0; i < want; i++) {
      if (have.has(i)) continue;
      const r = await this.api.request('POST', `/api/v1/namespaces/${ns}/pods`, this.pod(s, i));
      if (r.status !== 201 && r.status !== 409) throw new Error(`create ${name}-${i}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
    }
    for (const p of pods) if (ordinal(p) >= want) await this.api.delete(`/api/v1/namespaces/${ns}/pods/${p.metadata.name}`);
    const ready = pods.filter((p) => ordinal(p) < want && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
    if (s.status?.replicas === ready && s.status.selector === selector) return;
    const r = await this.api.request('PATCH', `/apis/${GROUP}/v1/namespaces/${ns}/${PLURAL}/${name}/status`, { status: { replicas: ready, selector } }, 'application/merge-patch+json');
    if (r.status !== 200) throw new Error(`status of ${name}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
  }

  private pod(s: Server, i: number): object {
    const labels = { ...(s.spec.labels ?? {}), [OWNER_LABEL]: s.metadata.name };
    return {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: `${s.metadata.name}-${i}`, namespace: this.namespace, labels, ownerReferences: [{ apiVersion: `${GROUP}/v1`, kind: KIND, name: s.metadata.name, uid: s.metadata.uid, controller: true }] },
      spec: {
        nodeSelector: { [GPU_TYPE_LABEL]: s.spec.gpuType },
        containers: [{ name: 'engine', image: 'sglang/sglang:fake', resources: { requests: { 'nvidia.com/gpu': '1' }, limits: { 'nvidia.com/gpu': '1' } } }],
      },
    };
  }
}
