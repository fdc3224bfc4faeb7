// `baton whatif`: replay a range of the operator's own Prometheus history through a rule and show the replicas and
// GPU-hours it would have produced against what ran.
import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { PrometheusClient, type PrometheusClientOptions } from '../../rules/prometheus.js';
import { fetchHistory } from '../../whatif/history.js';
import { actualSourceOf, runWhatIf, whatIfQueries } from '../../whatif/replay.js';
import { buildReport, formatReport } from '../../whatif/report.js';
import { parseDuration, parseTime } from '../../whatif/time.js';
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
    .requiredOption('--rules <file>', 'rule file (the same YAML the adapter serves)')
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
      const client = new PrometheusClient(opts);
      try {
        const history = await fetchHistory(client.queryRange, whatIfQueries(rule, actual), fromS, toS, stepS);
        for (const [name, err] of Object.entries(history.errors)) console.error(`baton whatif: query ${name} failed: ${err}`);
        if (history.errors.decodeTps) throw new Error(`the decode TPS query failed, nothing to replay: ${history.errors.decodeTps}`);
        const run = runWhatIf({ rule, history, ...(actual ? { actual } : {}) });
        const report = buildReport(run, stepS, gpus, actual ? `${actual.promql} (by ${actual.by})` : null);
        process.stdout.write(formatReport(report));
        if (f.json) {
          writeFileSync(f.json, JSON.stringify(report, null, 2));
          console.log(`JSON written to ${f.json}`);
        }
      } finally {
        client.close();
      }
    });
}
