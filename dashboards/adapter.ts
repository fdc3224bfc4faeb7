// "Baton / Adapter": the External Metrics API server itself, across services (adapter/http-metrics.ts, rules/metrics.ts,
// and prom-client's process metrics with the baton_adapter_ prefix).
import { DashboardBuilder, RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { datasourceVariable, stat, textVariable, timeseries } from './panels.js';

export function adapterDashboard(): Dashboard {
  let id = 0;
  const next = () => ++id;
  return new DashboardBuilder('Baton / Adapter')
    .uid('baton-adapter')
    .description('Health of the Baton adapter: scrape target, rule reloads, staleness per service, Prometheus queries, External Metrics API latency and authorization.')
    .tags(['baton', 'autoscaling'])
    .editable()
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .withVariable(datasourceVariable())
    .withVariable(textVariable('job', 'Scrape job', 'baton', "Prometheus job of the adapter's /metrics (the ServiceMonitor's Service name)."))

    .withRow(new RowBuilder('Health'))
    .withPanel(stat(next(), { title: 'Adapter up', description: 'Whether Prometheus can scrape the adapter.', unit: 'none', queries: [{ expr: 'min(up{job="$job"})', legend: 'up' }] }))
    .withPanel(stat(next(), { title: 'Services served', description: 'Services in the rule set being served.', unit: 'none', queries: [{ expr: 'max(baton_rules_services)', legend: 'services' }] }))
    .withPanel(stat(next(), { title: 'Rules reload OK', description: '0: the last reload was refused; the previous set keeps serving (see the adapter log for file:line).', unit: 'none', queries: [{ expr: 'min(baton_rules_reload_success)', legend: 'reload ok' }] }))
    .withPanel(stat(next(), { title: 'Refused reloads (24h)', description: 'Rule reloads refused because the new set was invalid.', unit: 'none', queries: [{ expr: 'sum(increase(baton_rules_reload_failures_total[24h]))', legend: 'refused' }] }))

    .withRow(new RowBuilder('Rules'))
    .withPanel(timeseries(next(), {
      title: 'Staleness per service',
      description: 'Age of the value served per service; +Inf before the first good evaluation. Past maxStalenessSeconds the answer is 503 (HPA holds).',
      unit: 's',
      queries: [{ expr: 'max by (rule) (baton_rules_staleness_seconds)', legend: '{{rule}}' }],
    }))
    .withPanel(timeseries(next(), {
      title: 'Evaluations by service and result',
      description: 'ok: a new decision; held: unusable data, last good value kept.',
      unit: 'ops',
      queries: [{ expr: 'sum by (rule, result) (rate(baton_rules_evaluations_total[5m]))', legend: '{{rule}} {{result}}' }],
    }))
    .withPanel(timeseries(next(), {
      title: 'Prometheus query latency p99',
      description: 'Per query family, after deduplication across services.',
      unit: 's',
      queries: [{ expr: 'histogram_quantile(0.99, sum by (le, query) (rate(baton_prometheus_query_duration_seconds_bucket[5m])))', legend: '{{query}}' }],
    }))
    .withPanel(timeseries(next(), {
      title: 'Prometheus queries and errors',
      description: 'HTTP queries sent to Prometheus, and queries whose result could not be used, by kind.',
      unit: 'ops',
      queries: [
        { expr: 'sum(rate(baton_prometheus_queries_total[5m]))', legend: 'queries sent' },
        { expr: 'sum by (kind) (rate(baton_prometheus_query_errors_total[5m])) or vector(0)', legend: 'errors {{kind}}' },
      ],
    }))

    .withRow(new RowBuilder('External Metrics API'))
    .withPanel(timeseries(next(), {
      title: 'Requests by route and code',
      description: 'Requests to the adapter (HPA reads are route="metric"). 503 on metric: stale data, the HPA keeps its replicas.',
      unit: 'reqps',
      queries: [{ expr: 'sum by (route, code) (rate(baton_adapter_http_request_duration_seconds_count[5m]))', legend: '{{route}} {{code}}' }],
    }))
    .withPanel(timeseries(next(), {
      title: 'Latency p99 by route',
      description: 'HPA reads are answered from memory and should stay in the low milliseconds.',
      unit: 's',
      queries: [{ expr: 'histogram_quantile(0.99, sum by (le, route) (rate(baton_adapter_http_request_duration_seconds_bucket[5m])))', legend: '{{route}}' }],
    }))
    .withPanel(timeseries(next(), {
      title: 'SubjectAccessReviews',
      description: 'Reviews sent to the kube-apiserver (cache misses) by outcome; denied = a caller without access to external metrics.',
      unit: 'ops',
      queries: [{ expr: 'sum by (outcome) (rate(baton_adapter_subject_access_reviews_total[5m])) or vector(0)', legend: '{{outcome}}' }],
    }))
    .withPanel(timeseries(next(), {
      title: 'Adapter memory',
      description: 'Resident memory and heap of the adapter process (the pod limit is 512 MiB).',
      unit: 'bytes',
      queries: [
        { expr: 'max(baton_adapter_process_resident_memory_bytes)', legend: 'resident' },
        { expr: 'sum(baton_adapter_nodejs_heap_size_used_bytes)', legend: 'heap used' },
      ],
    }))
    .build();
}
