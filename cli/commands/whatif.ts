// `baton whatif`: replay a range of the operator's own Prometheus history through a rule and show the replicas and
// GPU-hours it would have produced against what ran.
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { parseHeaderFlag, PrometheusClient, type PrometheusClientOptions } from '../../rules/prometheus.js';
import { fetchHistory } from '../../whatif/history.js';
import { actualSourceOf, runWhatIf, whatIfQueries } from '../../whatif/replay.js';
import { buildReport, formatReport } from '../../whatif/report.js';
import { parseDuration, parseTime } from '../../whatif/time.js';
import { GPU_SPECS } from '../../sim/gpu/specs.js';
import { latency } from '../options.js';
import { loadRuleService } from './simulate-rules.js';

interface WhatIfFlags {
  prometheus: string;
  rules: string;
  service?: string;
  from: string;
  to: string;
  step: string;
  actual?: string;
  actualBy: string;
  gpusPerReplica: string;
  json?: string;
  bearerTokenFile?: string;
  caFile?: string;
  insecureSkipVerify?: boolean;
  timeout: string;
  gpuCost?: string;
  header?: string[];
  sloTtft?: number;
  sloTbt?: number;
}

/**
 * $ per GPU-hour per pool: "2.5" for every pool, or "H100=2.99,decode-h200=3.5" by GPU type or pool name; otherwise
 * the simulator's price for the pool's GPU type (sim/gpu/specs.ts), and unknown (–) for a type it does not price.
 */
export function parseGpuCost(text: string | undefined, pools: readonly { name: string; gpuType: string }[]): (pool: string) => number | null {
  const byKey = new Map<string, number>();
  let all: number | undefined;
  const t = text?.trim();
  if (t) {
    if (/^\d+(\.\d+)?$/.test(t)) all = Number(t);
    else {
      for (const part of t.split(',')) {
        const m = /^([^=\s]+)=(\d+(?:\.\d+)?)$/.exec(part.trim());
        if (!m) throw new Error(`--gpu-cost: "${part}" is not <pool or GPU type>=<$ per GPU-hour> (or give one number for every pool)`);
        const known = pools.some((p) => p.name === m[1] || p.gpuType.toUpperCase() === m[1]!.toUpperCase());
        if (!known) throw new Error(`--gpu-cost: "${m[1]}" is neither a pool nor a GPU type of the rule (pools: ${pools.map((p) => `${p.name} (${p.gpuType})`).join(', ')})`);
        byKey.set(m[1]!, Number(m[2]));
      }
    }
  }
  return (pool) => {
    const p = pools.find((x) => x.name === pool);
    if (!p) return null;
    if (all !== undefined) return all;
    const given = byKey.get(p.name) ?? [...byKey.entries()].find(([k]) => k.toUpperCase() === p.gpuType.toUpperCase())?.[1];
    if (given !== undefined) return given;
    return GPU_SPECS[p.gpuType.toUpperCase()]?.pricePerHour ?? null;
  };
}

/** "2" (every pool) or "prefill-h100=8,decode-h200=1" (others 1). */
export function parseGpusPerReplica(text: string, pools: readonly string[]): (pool: string) => number {
  const t = text.trim();
  if (/^\d+$/.test(t) && Number(t) > 0) return () => Number(t);
  const map = new Map<string, number>();
  for (const part of t.split(',')) {
    const m = /^([^=\s]+)=(\d+)$/.exec(part.trim());
    if (!m || Number(m[2]) <= 0) throw new Error(`--gpus-per-replica: "${part}" is not <pool>=<positive integer> (or give one integer for every pool)`);
    if (!pools.includes(m[1]!)) throw new Error(`--gpus-per-replica: no pool "${m[1]}" in the rule (pools: ${pools.join(', ')})`);
    map.set(m[1]!, Number(m[2]));
  }
  return (pool) => map.get(pool) ?? 1;
}

export function whatifCommand(): Command {
  return new Command('whatif')
    .description("replay a range of Prometheus history through a rule: the replicas and GPU-hours it would have produced, against what ran")
    .requiredOption('--prometheus <url>', 'Prometheus HTTP API base URL, e.g. http://127.0.0.1:9090')
    .requiredOption('--rules <file|dir>', 'rule file or directory (the same YAML the adapter serves)')
    .option('--service <name>', 'which service of the file (needed when it has several)')
    .requiredOption('--from <time>', 'start: RFC 3339, Unix seconds, or now-6h')
    .option('--to <time>', 'end: RFC 3339, Unix seconds, or now', 'now')
    .option('--step <duration>', 'evaluation step (the HPA syncs every 15 s)', '15s')
    .option('--actual <promql>', "replicas that actually ran, keyed by --actual-by (default: the rule's replicas query), e.g. sum by (deployment) (kube_deployment_spec_replicas{namespace=\"llm\"})")
    .option('--actual-by <label>', '--actual: the label whose value names the pool', 'pool')
    .option('--gpus-per-replica <n|pool=n,…>', 'GPUs per replica, for GPU-hours', '1')
    .option('--json <file>', 'write the report, every step included, as JSON')
    .option('--bearer-token-file <file>', 'file holding a bearer token for Prometheus')
    .option('--ca-file <file>', 'PEM CA bundle that signed the Prometheus server certificate')
    .option('--insecure-skip-verify', 'do not verify the Prometheus server certificate')
    .option('--timeout <ms>', 'query timeout in milliseconds', '30000')
    .option('--header <NAME=VALUE>', 'extra header on every Prometheus request, repeatable (X-Scope-OrgID=team-a)', (v: string, acc: string[] = []) => [...acc, v])
    .option('--gpu-cost <$|key=$,…>', "$ per GPU-hour: one number, or by pool name or GPU type (default: the simulator's price per GPU type)")
    .option('--slo-ttft <latency>', "TTFT SLO for the verdict (1.5, 800ms); default: the rule's ttft guard's slo", latency('--slo-ttft'))
    .option('--slo-tbt <latency>', "TBT SLO for the verdict (0.03, 30ms); default: the rule's tbt/itl guard's slo", latency('--slo-tbt'))
    .action(async (f: WhatIfFlags) => {
      const rule = await loadRuleService(f.rules, f.service, '--service');
      const nowS = Date.now() / 1000;
      const fromS = parseTime(f.from, '--from', nowS);
      const toS = parseTime(f.to, '--to', nowS);
      const stepS = parseDuration(f.step, '--step');
      const gpus = parseGpusPerReplica(f.gpusPerReplica, rule.pools.map((p) => p.name));
      const actual = actualSourceOf(rule, f.actual ? { promql: f.actual, by: f.actualBy } : undefined);
      const opts: PrometheusClientOptions = { url: f.prometheus, timeoutMs: Number(f.timeout) };
      if (f.bearerTokenFile) opts.bearerTokenFile = f.bearerTokenFile;
      if (f.caFile) opts.caFile = f.caFile;
      if (f.insecureSkipVerify) opts.insecureSkipVerify = true;
      if (f.header?.length) opts.headers = Object.fromEntries(f.header.map((h) => parseHeaderFlag(h, '--header')));
      const client = new PrometheusClient(opts);
      try {
        const history = await fetchHistory(client.queryRange, whatIfQueries(rule, actual), fromS, toS, stepS);
        for (const [name, err] of Object.entries(history.errors)) console.error(`baton whatif: query ${name} failed: ${err}`);
        if (history.errors.decodeTps) throw new Error(`the decode TPS query failed, nothing to replay: ${history.errors.decodeTps}`);
        const run = runWhatIf({ rule, history, ...(actual ? { actual } : {}) });
        const price = parseGpuCost(f.gpuCost, rule.pools);
        const slo = { ...(f.sloTtft !== undefined ? { ttftS: f.sloTtft } : {}), ...(f.sloTbt !== undefined ? { tbtS: f.sloTbt } : {}) };
        const report = buildReport(run, stepS, gpus, actual ? `${actual.promql} (by ${actual.by})` : null, { price, slo });
        process.stdout.write(formatReport(report));
        if (f.json) {
          writeFileSync(f.json, JSON.stringify(report, null, 2));
          console.log(`JSON written to ${f.json}`);
        }
        if (report.allHeld) {
          console.error(`baton whatif: every point held: the rule made no decision between ${f.from} and ${f.to}`);
          process.exitCode = 1;
        }
      } finally {
        client.close();
      }
    });
}
