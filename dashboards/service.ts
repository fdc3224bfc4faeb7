// "Baton / Service": one P/D service (pick it with $service). Engine panels read the recording rules of
// rules/prometheus/baton.rules.yaml (service/role/pool labels); decision panels read the adapter's own metrics
// (rules/metrics.ts: the rule name is the service name).
import { DashboardBuilder, RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { datasourceVariable, labelVariable, stat, textVariable, timeseries } from './panels.js';

const S = 'service="$service"';

export function serviceDashboard(): Dashboard {
  let id = 0;
  const next = () => ++id;
  return new DashboardBuilder('Baton / Service')
    .uid('baton-service')
    .description('One P/D service under Baton: load against target, desired vs actual replicas, P:D ratio, latency against SLO, GPUs, decisions and adapter health.')
    .tags(['baton', 'llm', 'autoscaling'])
    .editable()
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .withVariable(datasourceVariable())
    .withVariable(labelVariable('service', 'service', 'baton_rules_desired_replicas', 'chat'))
    .withVariable(textVariable('decode_tps_per_unit', 'Decode TPS per unit', '1800', "The rule's decodeTpsPerUnit: the decode tokens/s one decode unit should carry."))
    .withVariable(textVariable('ttft_slo', 'TTFT SLO (s)', '2', 'TTFT objective in seconds (the ttft guard SLO of the rule).'))
    .withVariable(textVariable('tbt_slo', 'TBT SLO (s)', '0.05', 'Time-between-tokens objective in seconds (the tbt guard SLO of the rule).'))

    .withRow(new RowBuilder('Load and capacity'))
    .withPanel(timeseries(next(), {
      title: 'Decode TPS vs target',
      description: 'Generated tokens/s on the decode pools, against the capacity Baton is asking for: desired decode replicas × decode TPS per unit (exact when unitsPerReplica is 1; heavier GPUs carry more).',
      unit: 'short',
      queries: [
        { expr: `sum(service_role_pool:vllm_decode_tokens:rate1m{${S}})`, legend: 'decode TPS' },
        { expr: `sum by (pool) (service_role_pool:vllm_decode_tokens:rate1m{${S}})`, legend: 'decode TPS {{pool}}' },
        { expr: `sum(baton_rules_desired_replicas{${S}, role="decode"}) * $decode_tps_per_unit`, legend: 'target capacity' },
      ],
    }))
    .withPanel(timeseries(next(), {
      title: 'Prefill TPS (KV-miss) per pool',
      description: 'Prompt tokens/s that had to be computed (prefix-cache misses), the prefill load; and all prompt tokens.',
      unit: 'short',
      queries: [
        { expr: `sum by (pool) (service_role_pool:vllm_prefill_kv_miss_tokens:rate1m{${S}})`, legend: 'KV-miss {{pool}}' },
        { expr: `sum(service_role_pool:vllm_prefill_tokens:rate1m{${S}})`, legend: 'all prompt tokens' },
      ],
    }))

    .withRow(new RowBuilder('Replicas'))
    .withPanel(timeseries(next(), {
      title: 'Desired vs actual replicas per role and pool',
      description: 'Desired: what Baton publishes as baton_desired_replicas (the HPA target). Actual: engines serving metrics (ready pods). A lasting gap means the HPA or the scheduler is not following (quota, no GPUs, HPA limits).',
      unit: 'none',
      min: 0,
      queries: [
        { expr: `sum by (role, pool) (baton_rules_desired_replicas{${S}})`, legend: 'desired {{role}} {{pool}}' },
        { expr: `sum by (role, pool) (service_role_pool:vllm_serving_pods:count{${S}})`, legend: 'serving {{role}} {{pool}}' },
      ],
    }))
    .withPanel(timeseries(next(), {
      title: 'P:D ratio (replicas)',
      description: 'Prefill replicas per decode replica, desired and serving. With heterogeneous pools the rule ratio is in capacity units, so this can differ from the configured ratio by the pools\' unitsPerReplica.',
      unit: 'none',
      min: 0,
      queries: [
        { expr: `sum(baton_rules_desired_replicas{${S}, role="prefill"}) / sum(baton_rules_desired_replicas{${S}, role="decode"})`, legend: 'desired P:D' },
        { expr: `sum(service_role_pool:vllm_serving_pods:count{${S}, role="prefill"}) / sum(service_role_pool:vllm_serving_pods:count{${S}, role="decode"})`, legend: 'serving P:D' },
      ],
    }))

    .withRow(new RowBuilder('Latency against SLO'))
    .withPanel(timeseries(next(), {
      title: 'TTFT vs SLO',
      description: 'Time to first token, p50 and p99 per role, against $ttft_slo s. NaN (gap) when a role had no requests in the window.',
      unit: 's',
      queries: [
        { expr: `max by (role) (service_role:vllm_time_to_first_token_seconds:histogram_quantile{${S}, quantile="0.99"})`, legend: 'p99 {{role}}' },
        { expr: `max by (role) (service_role:vllm_time_to_first_token_seconds:histogram_quantile{${S}, quantile="0.5"})`, legend: 'p50 {{role}}' },
        { expr: 'vector($ttft_slo)', legend: 'SLO' },
      ],
    }))
    .withPanel(timeseries(next(), {
      title: 'TBT vs SLO',
      description: 'Time between tokens (inter-token latency) on the decode pools, p50 and p99, against $tbt_slo s.',
      unit: 's',
      queries: [
        { expr: `max(service_role:vllm_inter_token_latency_seconds:histogram_quantile{${S}, role="decode", quantile="0.99"})`, legend: 'p99' },
        { expr: `max(service_role:vllm_inter_token_latency_seconds:histogram_quantile{${S}, role="decode", quantile="0.5"})`, legend: 'p50' },
        { expr: 'vector($tbt_slo)', legend: 'SLO' },
      ],
    }))

    .withRow(new RowBuilder('GPUs and decisions'))
    .withPanel(timeseries(next(), {
      title: 'GPU utilization per pool',
      description: "DCGM GPU utilization averaged over each pool's GPUs. Decode reads high at almost any load (why Baton does not scale on it).",
      unit: 'percent',
      min: 0,
      max: 100,
      queries: [{ expr: `service_role_pool:dcgm_gpu_utilization:avg{${S}}`, legend: '{{role}} {{pool}}' }],
    }))
    .withPanel(timeseries(next(), {
      title: 'Decision reasons',
      description: "Reasons the policy core gave per evaluation (signal, guard, cooldown, hysteresis, clamp-max…), counted over 5 minutes: why the desired replicas are what they are.",
      unit: 'none',
      bars: true,
      queries: [{ expr: 'sum by (code) (increase(baton_rules_decision_reasons_total{rule="$service"}[5m]))', legend: '{{code}}' }],
    }))

    .withRow(new RowBuilder('Adapter health'))
    .withPanel(stat(next(), {
      title: 'Staleness',
      description: 'Age of the value served for this service. Above maxStalenessSeconds the adapter answers 503 and the HPAs keep their replicas.',
      unit: 's',
      queries: [{ expr: 'max(baton_rules_staleness_seconds{rule="$service"})', legend: 'staleness' }],
    }))
    .withPanel(stat(next(), {
      title: 'Rules reload OK',
      description: '1 when the last rule reload succeeded; 0 when the new set was refused (the old set keeps serving).',
      unit: 'none',
      queries: [{ expr: 'min(baton_rules_reload_success)', legend: 'reload ok' }],
    }))
    .withPanel(timeseries(next(), {
      title: 'Evaluations by result',
      description: 'ok: a new decision; held: the data was unusable and the last good value was kept.',
      unit: 'ops',
      queries: [{ expr: 'sum by (result) (rate(baton_rules_evaluations_total{rule="$service"}[5m]))', legend: '{{result}}' }],
    }))
    .withPanel(timeseries(next(), {
      title: 'Prometheus query errors',
      description: 'Queries for this service whose result could not be used, by kind (0 when all is well).',
      unit: 'ops',
      width: 24,
      queries: [{ expr: 'sum by (kind) (rate(baton_prometheus_query_errors_total{rule="$service"}[5m])) or vector(0)', legend: '{{kind}}' }],
    }))
    .build();
}
