// `baton simulate --rules FILE`: a service of a rule file replayed in the simulator as the coordinated policy, next to
// the other policies, so an author sees GPU-hours and SLO attainment before the rule ships.
import { writeFileSync } from 'node:fs';
import { loadRuleFiles, ruleFilesOf } from '../../rules/load.js';
import { formatRuleError, type ServiceRule } from '../../rules/types.js';
import { createProgress, formatTable, renderHtml, toJson, type JsonReport, type ReportMeta } from '../../sim/report/index.js';
import { runRuleReplay, type RuleReplayResult } from '../../sim/rules-replay.js';
import { formatRuleSlo, ruleSlo, type RuleSlo } from '../../rules/slo.js';
import { servicePreset, withSlo } from '../../sim/service.js';
import { ruleCapacity } from '../../sim/studies/rule-capacity.js';
import { loadTrace } from '../../sim/workload/index.js';
import type { ScenarioSpec } from '../../sim/spec.js';

/** Loads the file and picks the service: the named one, or the only one. Errors name the file and the choices. */
export async function loadRuleService(file: string, service?: string, flag = '--rules-service'): Promise<ServiceRule> {
  const loaded = await loadRuleFiles(await ruleFilesOf([file]));
  if (!loaded.ruleSet) throw new Error(`${file} is not a valid rule file (or directory):\n${loaded.errors.map(formatRuleError).join('\n')}`);
  const services = loaded.ruleSet.services;
  const names = services.map((s) => s.name).join(', ');
  if (service !== undefined) {
    const found = services.find((s) => s.name === service);
    if (!found) throw new Error(`${file} has no service "${service}"; it has: ${names}`);
    return found;
  }
  if (services.length !== 1) throw new Error(`${file} has ${services.length} services (${names}): choose one with ${flag}`);
  return services[0]!;
}

/** The --json document of a rules replay: the usual report plus which rule was replayed and how it was read. */
export interface RulesJsonReport extends JsonReport {
  rules: {
    file: string;
    service: string;
    ratio: { prefill: number; decode: number };
    decodeTpsPerUnit: number;
    pools: { name: string; role: string; gpuType: string; unitsPerReplica: number; minReplicas: number; maxReplicas: number }[];
    notes: string[];
    /** The SLOs attainment was judged against, and where each came from. */
    slo: { ttftS: number; ttftFrom: string; tbtS: number; tbtFrom: string };
  };
}

export function rulesJson(result: RuleReplayResult, meta: ReportMeta, file: string, slo: RuleSlo): RulesJsonReport {
  const { rule, notes } = result.replay;
  return {
    ...toJson(result, meta),
    rules: {
      file,
      service: rule.name,
      ratio: { ...rule.ratio },
      decodeTpsPerUnit: rule.decodeTpsPerUnit,
      pools: rule.pools.map((p) => ({ name: p.name, role: p.role, gpuType: p.gpuType, unitsPerReplica: p.unitsPerReplica, minReplicas: p.minReplicas, maxReplicas: p.maxReplicas })),
      notes: [...notes],
      slo: { ttftS: slo.ttft.seconds, ttftFrom: slo.ttft.from, tbtS: slo.tbt.seconds, tbtFrom: slo.tbt.from },
    },
  };
}

export async function runRulesAndReport(spec: ScenarioSpec, file: string, service: string | undefined, f: { json?: string; html?: string; sloTtft?: number; sloTbt?: number }, source: string): Promise<RuleReplayResult> {
  const rule = await loadRuleService(file, service);
  // Judged against the rule's own SLOs (its latency guards), or the flags; a preset's only where neither says.
  const preset = servicePreset(spec.service);
  const slo = ruleSlo(rule, { ...(f.sloTtft !== undefined ? { ttftS: f.sloTtft } : {}), ...(f.sloTbt !== undefined ? { tbtS: f.sloTbt } : {}) }, { ttftS: preset.sloTtftS, tbtS: preset.sloTbtS, name: `service ${preset.name}` });
  const svc = withSlo(preset, { ttftS: slo.ttft.seconds, tbtS: slo.tbt.seconds }, rule.name);
  const judged: ScenarioSpec = { ...spec, service: svc };
  const capacity = ruleCapacity({ rule, service: svc, lengths: loadTrace(spec.workload.trace, spec.workload.format), seed: spec.workload.seed });
  const progress = createProgress(spec.policies);
  let result: RuleReplayResult;
  try {
    result = runRuleReplay(judged, rule, (p, x) => progress.update(p, x), capacity);
  } finally {
    progress.stop();
  }
  const durationS = spec.workload.diurnal ? spec.workload.hours * 3600 : Object.values(result.results)[0]?.timeline.at(-1)?.t ?? 1;
  const meta: ReportMeta = { service: svc, startS: spec.workload.diurnal ? spec.workload.startHour * 3600 : 0, durationS, source };
  console.log(`rules: service "${rule.name}" from ${file} is the coordinated policy (P:D ${rule.ratio.prefill}:${rule.ratio.decode}, ${rule.decodeTpsPerUnit} tok/s per decode unit)`);
  console.log(`  ${formatRuleSlo(slo)}`);
  for (const n of result.replay.notes) console.log(`  note: ${n}`);
  console.log(formatTable(result, { meta }));
  if (f.json) {
    writeFileSync(f.json, JSON.stringify(rulesJson(result, meta, file, slo), null, 2));
    console.log(`JSON written to ${f.json}`);
  }
  if (f.html) {
    writeFileSync(f.html, renderHtml(result, meta));
    console.log(`HTML report written to ${f.html}`);
  }
  return result;
}
