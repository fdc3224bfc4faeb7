// Manifests of the e2e scenario: kwok fake GPU nodes (GPU-type and switch labels) per pool, one Deployment per pool
// pinned to its GPU type, and one stock autoscaling/v2 HPA per pool reading Baton's external metric (AverageValue 1).
import { slotLabelKey } from '../../../engine/placement/labels.js';
import { waitFor, type KubeApi } from './api.js';
import type { Cluster } from './cluster.js';

export const GPU_TYPE_LABEL = 'baton.dev/gpu-type';
export const SWITCH_LABEL = 'baton.dev/switch';
export const POOL_LABEL = 'baton.dev/pool';

export interface PoolSpec {
  /** Pool name: the rule's pool, the simulator's pool label value, and the Deployment/HPA name suffix. */
  name: string;
  role: 'prefill' | 'decode';
  gpuType: string;
  nodes: number;
  gpusPerNode: number;
  minReplicas: number;
  maxReplicas: number;
}

export function gpuNodes(pool: PoolSpec): object[] {
  return Array.from({ length: pool.nodes }, (_, i) => {
    const name = `kwok-${pool.gpuType.toLowerCase()}-${i}`;
    const resources = { cpu: '64', memory: '1Ti', pods: '110', 'nvidia.com/gpu': String(pool.gpusPerNode) };
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: {
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          type: 'kwok',
          [GPU_TYPE_LABEL]: pool.gpuType,
          'nvidia.com/gpu.product': `NVIDIA-${pool.gpuType}`,
          // Two leaf switches per pool: the topology label a KV-transfer-aware placement would read.
          [SWITCH_LABEL]: `${pool.gpuType.toLowerCase()}-sw-${i % 2}`,
        },
      },
      status: { allocatable: resources, capacity: resources },
    };
  });
}

export function workloadName(service: string, pool: PoolSpec): string {
  return `${service}-${pool.name}`;
}

export function deployment(namespace: string, service: string, pool: PoolSpec): object {
  const labels = { app: service, role: pool.role, [POOL_LABEL]: pool.name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: workloadName(service, pool), namespace, labels },
    spec: {
      replicas: pool.minReplicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          nodeSelector: { [GPU_TYPE_LABEL]: pool.gpuType },
          containers: [{
            name: 'engine',
            image: 'vllm/vllm-openai:fake', // kwok never pulls or runs it
            resources: { requests: { 'nvidia.com/gpu': '1' }, limits: { 'nvidia.com/gpu': '1' } },
          }],
        },
      },
    },
  };
}

export interface HpaOptions {
  metric: string;
  /** What the HPA scales (default: the pool's Deployment). */
  scaleTargetRef?: { apiVersion: string; kind: string; name: string };
  /** Per-HPA tolerance (HPAConfigurableTolerance, beta and on by default in v1.36); undefined leaves it out. */
  tolerance?: string;
}

export function hpa(namespace: string, service: string, pool: PoolSpec, o: HpaOptions): object {
  // Baton already applies its own stability rules: no HPA stabilization, any step allowed at once.
  const rules = (tolerance?: string) => ({
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Max',
    policies: [{ type: 'Pods', value: 100, periodSeconds: 1 }],
    ...(tolerance !== undefined ? { tolerance } : {}),
  });
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: workloadName(service, pool), namespace },
    spec: {
      scaleTargetRef: o.scaleTargetRef ?? { apiVersion: 'apps/v1', kind: 'Deployment', name: workloadName(service, pool) },
      minReplicas: pool.minReplicas,
      maxReplicas: pool.maxReplicas,
      metrics: [{
        type: 'External',
        external: {
          metric: { name: o.metric, selector: { matchLabels: { service, pool: pool.name } } },
          target: { type: 'AverageValue', averageValue: '1' },
        },
      }],
      behavior: { scaleUp: rules(o.tolerance), scaleDown: rules(o.tolerance) },
    },
  };
}

/** The Baton rule file for the scenario's service (YAML text). */
export function ruleYaml(o: {
  service: string;
  namespace: string;
  pools: PoolSpec[];
  ratio: { prefill: number; decode: number };
  decodeTpsPerUnit: number;
  window: string;
  queryIntervalS: number;
}): string {
  return [
    'services:',
    `  - name: ${o.service}`,
    `    namespaces: [${o.namespace}]`,
    '    engine: vllm',
    `    match: {service: ${o.service}}`,
    '    poolLabel: pool',
    `    window: ${o.window}`,
    `    ratio: {prefill: ${o.ratio.prefill}, decode: ${o.ratio.decode}}`,
    `    decodeTpsPerUnit: ${o.decodeTpsPerUnit}`,
    '    pools:',
    ...o.pools.map((p) => `      - {name: ${p.name}, role: ${p.role}, gpuType: ${p.gpuType}, minReplicas: ${p.minReplicas}, maxReplicas: ${p.maxReplicas}}`),
    // No cooldowns: the test measures the reaction of the whole chain, not Baton's damping.
    '    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0.2, scaleInDamping: 1}',
    `    queryIntervalSeconds: ${o.queryIntervalS}`,
    '    maxStalenessSeconds: 60',
    '',
  ].join('\n');
}

/** The scenario's objects in order: namespace and nodes, then (once the namespace's ServiceAccount exists) each pool's
 * Deployment and HPA. */
export async function applyScenario(cluster: Cluster, namespace: string, service: string, pools: PoolSpec[], hpaOptions?: HpaOptions): Promise<void> {
  await cluster.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }, ...pools.flatMap(gpuNodes)]);
  await waitFor(`service account ${namespace}/default`, 30_000, async () => ((await cluster.api.request('GET', `/api/v1/namespaces/${namespace}/serviceaccounts/default`)).status === 200 ? true : undefined));
  // Without HPA options the Deployments stay without HPAs (KEDA makes its own).
  await cluster.apply([...pools.map((p) => deployment(namespace, service, p)), ...(hpaOptions ? pools.map((p) => hpa(namespace, service, p, hpaOptions)) : [])]);
}

// ---- the engine's scenarios: nodes with Baton's topology labels, Deployments that select the engine's slot labels

/** A kwok node with `gpus` GPUs and Baton's GPU-type and switch labels (what the engine's topology reads). */
export function topologyNode(name: string, gpuType: string, s1: string, s2: string, gpus = 8): object {
  const res = { cpu: '64', memory: '1Ti', pods: '110', 'nvidia.com/gpu': String(gpus) };
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: { 'kubernetes.io/hostname': name, type: 'kwok', 'baton.io/gpu-type': gpuType, 'baton.io/s1': s1, 'baton.io/s2': s2 },
    },
    status: { allocatable: res, capacity: res },
  };
}

/** A pool's Deployment (0 replicas) whose pods need a node carrying the engine's slot label for the pool. */
export function slotDeployment(namespace: string, service: string, pool: { name: string; role: 'prefill' | 'decode' }, podLabels: Record<string, string> = {}, gpus = 8): object {
  const labels = { app: service, 'baton.io/service': service, 'baton.io/pool': pool.name, 'baton.io/role': pool.role };
  return {
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: `${service}-${pool.name}`, namespace },
    spec: {
      replicas: 0,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels: { ...labels, ...podLabels } },
        spec: {
          affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: slotLabelKey(service, pool.name), operator: 'Gt', values: ['0'] }] }] } } },
          containers: [{ name: 'server', image: 'vllm/vllm-openai:fake', resources: { requests: { 'nvidia.com/gpu': String(gpus) }, limits: { 'nvidia.com/gpu': String(gpus) } } }],
          terminationGracePeriodSeconds: 0,
        },
      },
    },
  };
}

/** Until `count` nodes exist and all are Ready. */
export async function waitForNodesReady(api: KubeApi, count: number): Promise<void> {
  await waitFor(`${count} kwok nodes Ready`, 60_000, async () => {
    const items = (await api.get<{ items: { status?: { conditions?: { type: string; status: string }[] } }[] }>('/api/v1/nodes')).items;
    return items.length === count && items.every((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ? true : undefined;
  });
}
