// Shared pieces for the rules tests: a rule set from YAML text and a scripted Prometheus.
import { Registry } from 'prom-client';
import { Evaluator, type EvaluatorOptions } from '../../rules/evaluator.js';
import { loadRuleText } from '../../rules/load.js';
import type { Batch } from '../../rules/batch/plan.js';
import type { QueryResult, Series } from '../../rules/prometheus.js';
import { RulesProvider } from '../../rules/provider.js';
import type { RuleSet } from '../../rules/types.js';

export const DECODE_Q = 'sum by (pool) (rate(vllm:generation_tokens_total{service="chat"}[1m]))';
export const TBT_Q = 'histogram_quantile(0.99, sum by (le) (rate(vllm:inter_token_latency_seconds_bucket{service="chat"}[1m])))';

export function chatRules(extra = ''): string {
  return `services:
  - name: chat
    namespaces: [llm]
    ratio: {prefill: 3, decode: 2}
    decodeTpsPerUnit: 1000
    decodeTps: {promql: '${DECODE_Q}', by: pool}
    guards:
      - {name: tbt_p99, promql: '${TBT_Q}', slo: 0.05, tiers: [{above: 0.9, scaleOut: 0.1}, {above: 1.0, scaleOut: 0.2}]}
    stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1}
    maxStalenessSeconds: 30
    queryIntervalSeconds: 5
    pools:
      - {name: prefill-h100, role: prefill, minReplicas: 1, maxReplicas: 40}
      - {name: decode-h100, role: decode, minReplicas: 1, maxReplicas: 40}
${extra}`;
}

export function ruleSetOf(text: string): RuleSet {
  const { services, errors } = loadRuleText(text, 'test.yaml');
  if (errors.length) throw new Error(JSON.stringify(errors));
  return { services, files: ['test.yaml'], loadedAtMs: 0 };
}

export const vector = (...series: [Record<string, string>, number][]): QueryResult => ({
  kind: 'vector',
  series: series.map(([labels, value]) => ({ labels, value, timestampS: 0 })),
});

/**
 * A Prometheus whose answers the test sets per query; counts what it is asked. Given the evaluator's batches, it
 * answers a merged query as Prometheus would: the members' own answers, each series labelled with the member's values
 * of the grouping labels (an error answer of any member fails the whole query).
 */
export class ScriptedPrometheus {
  answers = new Map<string, QueryResult | Error>();
  calls: string[] = [];
  batches: () => readonly Batch[] = () => [];
  query = async (promql: string): Promise<QueryResult> => {
    this.calls.push(promql);
    const a = this.answers.get(promql) ?? this.merged(promql);
    if (a instanceof Error) throw a;
    if (!a) return { kind: 'vector', series: [] };
    return a;
  };

  private merged(promql: string): QueryResult | Error | undefined {
    const batch = this.batches().find((b) => b.promql === promql);
    if (!batch) return undefined;
    const series: Series[] = [];
    for (const [member, trace] of batch.traces) {
      const a = this.answers.get(member);
      if (a instanceof Error) return a;
      if (a?.kind !== 'vector') continue;
      for (const s of a.series) series.push({ ...s, labels: { ...s.labels, ...trace.slice } });
    }
    return { kind: 'vector', series };
  }
}

export function harness(text = chatRules(), extra: Partial<EvaluatorOptions> = {}) {
  const prom = new ScriptedPrometheus();
  let nowMs = 1_000_000_000;
  const clock = () => nowMs;
  const registry = new Registry();
  const logs: string[] = [];
  const evaluator = new Evaluator({ query: prom.query, clock, registry, log: (m) => logs.push(m), reuseMs: 0, ...extra });
  prom.batches = () => evaluator.batches;
  evaluator.setRules(ruleSetOf(text));
  const provider = new RulesProvider(evaluator, clock);
  return { prom, evaluator, provider, registry, logs, advance: (s: number) => (nowMs += s * 1000), now: () => nowMs };
}

export const all = () => true;
export const sel = (want: Record<string, string>) => (labels: Record<string, string>) => Object.entries(want).every(([k, v]) => labels[k] === v);
