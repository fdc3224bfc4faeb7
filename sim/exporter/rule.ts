// `baton simulate --serve-metrics --rules FILE`: the simulated fleet of the user's own service: its labels (the
// preset's `match` and pool label), its pools by gpuType, its engine's metric names, judged at its SLO, driven by the
// rule itself (as `simulate --rules`) or, with --follow-adapter, by what a running adapter publishes (closed loop).
import { ruleSlo, type RuleSlo } from '../../rules/slo.js';
import type { ServiceRule } from '../../rules/types.js';
import { planRuleReplay, RuleCoordinatedPolicy, rulePoolPlans } from '../rules-replay.js';
import { servicePreset, withSlo } from '../service.js';
import { FLAVOURS, flavourSpec, type Flavour } from './families.js';
import { AdapterFollower, type FollowAdapterOptions } from './follow-adapter.js';
import type { ExporterScenarioOptions } from './index.js';

export interface RuleExporterPlan {
  options: ExporterScenarioOptions;
  slo: RuleSlo;
  follower?: AdapterFollower;
  /** Lines for the banner: what was mapped how. */
  notes: string[];
}

export interface RuleExporterChoices {
  /** Lengths preset (A, B); the rule's SLOs replace its SLOs. */
  service?: string;
  /** Metric names; must agree with the rule's engine preset when it has one. */
  flavour?: Flavour;
  slo?: { ttftS?: number; tbtS?: number };
  follow?: FollowAdapterOptions;
}

const RESERVED = ['pod', 'role'];

/** The exporter options that make the simulated fleet look, to Prometheus, like the rule's service. */
export function ruleExporterPlan(rule: ServiceRule, c: RuleExporterChoices = {}): RuleExporterPlan {
  const notes: string[] = [];
  const engine = rule.engine;
  let flavour: Flavour;
  if (engine) {
    if (!(FLAVOURS as readonly string[]).includes(engine)) {
      throw new Error(`${rule.source.file}: service "${rule.name}" uses engine "${engine}"; the simulator serves ${FLAVOURS.slice(0, -1).join(', ')} and ${FLAVOURS.at(-1)} metric names`);
    }
    if (c.flavour && c.flavour !== engine) throw new Error(`--flavour ${c.flavour} disagrees with the rule's engine "${engine}": the rule's queries read ${engine} metric names`);
    flavour = engine as Flavour;
  } else {
    flavour = c.flavour ?? 'vllm';
    notes.push(`the rule has no engine preset: serving ${flavour} metric names (--flavour), labelled service="${rule.name}" and ${rule.decodeTps.by ?? 'pool'}=<pool>; its own PromQL must select those`);
  }
  const match = rule.selects?.match ?? { service: rule.name };
  const labels: Record<string, string> = {};
  // A router preset matches on the router's own model label: that is the simulated model's name, not a target label.
  const router = flavourSpec(flavour).router;
  const modelLabel = router === 'dynamo' ? 'model' : router === 'llm-d' ? 'model_name' : undefined;
  let modelName: string | undefined;
  for (const [k, v] of Object.entries(match)) {
    if (k === 'service' || k === 'namespace') continue;
    if (k === modelLabel) {
      modelName = v;
      continue;
    }
    if (RESERVED.includes(k) || k === 'pool') throw new Error(`${rule.source.file}: service "${rule.name}" matches on label "${k}", which the simulator sets per pod; match on other labels`);
    labels[k] = v;
  }
  const poolLabelName = rule.selects?.poolLabel ?? rule.decodeTps.by ?? 'pool';
  if (RESERVED.includes(poolLabelName)) throw new Error(`${rule.source.file}: service "${rule.name}": pool label "${poolLabelName}" is set per pod by the simulator`);
  const preset = servicePreset(c.service ?? 'A');
  const slo = ruleSlo(rule, c.slo ?? {}, { ttftS: preset.sloTtftS, tbtS: preset.sloTbtS, name: `service ${preset.name}` });
  const replay = planRuleReplay(rule);
  const start = Object.fromEntries(rule.pools.map((p) => [p.name, Math.max(p.minReplicas, 1)]));
  let follower: AdapterFollower | undefined;
  if (c.follow) {
    follower = new AdapterFollower(rule, c.follow);
    notes.push(`closed loop: replicas follow ${c.follow.url} (${rule.metric.name}, service=${rule.name}) every ${(c.follow.pollMs ?? 2000) / 1000} s, as the pools' HPAs would`);
  } else {
    notes.push(`replicas follow the rule itself (its ratio, target, guards, stability), as the adapter and one HPA per pool would; --follow-adapter URL follows a running adapter instead`);
  }
  const options: ExporterScenarioOptions = {
    service: withSlo(preset, { ttftS: slo.ttft.seconds, tbtS: slo.tbt.seconds }, rule.name),
    pools: rulePoolPlans(rule),
    rule,
    ratio: { ...rule.ratio },
    policy: follower ?? new RuleCoordinatedPolicy(replay, rule.queryIntervalS, start),
    flavour,
    labels,
    poolLabel: { name: poolLabelName, values: Object.fromEntries(rule.pools.map((p) => [p.name, p.poolLabelValue])) },
  };
  // The service and namespace labels are the exporter's own per-pod labels.
  if (match.namespace) options.namespace = match.namespace;
  if (modelName !== undefined) options.modelName = modelName;
  options.serviceLabel = match.service ?? rule.name;
  return { options, slo, ...(follower ? { follower } : {}), notes };
}
