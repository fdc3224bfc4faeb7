// Manifests of the e2e scenario: kwok fake GPU nodes (GPU-type and switch labels) per pool, one Deployment per pool
// pinned to its GPU type, and one stock autoscaling/v2 HPA per pool reading Baton's external metric (AverageValue 1).

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
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: workloadName(service, pool) },
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
