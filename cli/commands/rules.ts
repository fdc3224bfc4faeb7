// `baton rules check FILES [--prometheus URL]`.
import { Command } from 'commander';
import { checkRules, formatCheckReport } from '../../rules/check.js';
import { parseHeaderFlag, type PrometheusClientOptions } from '../../rules/prometheus.js';

function scrapeIntervalOf(text: string): number {
  const n = Number(text);
  if (!(n > 0)) throw new Error(`--scrape-interval must be a number of seconds > 0, got "${text}"`);
  return n;
}

export function rulesCommand(): Command {
  const rules = new Command('rules').description('work with Baton rule files');
  rules
    .command('check')
    .description('validate rule files; with --prometheus, run each query once, show its result and why an empty one is empty (exit 1 on an error or an empty signal/guard)')
    .argument('<files...>', 'rule files (YAML) or directories of them')
    .option('--prometheus <url>', 'Prometheus HTTP API base URL, e.g. http://127.0.0.1:9090')
    .option('--bearer-token-file <file>', 'file holding a bearer token for Prometheus')
    .option('--basic-auth <user:password>', 'basic auth for Prometheus')
    .option('--ca-file <file>', 'PEM CA bundle that signed the Prometheus server certificate')
    .option('--insecure-skip-verify', 'do not verify the Prometheus server certificate')
    .option('--timeout <ms>', 'query timeout in milliseconds', '5000')
    .option('--header <NAME=VALUE>', 'extra header on every Prometheus request, repeatable (X-Scope-OrgID=team-a)', (v: string, acc: string[] = []) => [...acc, v])
    .option('--scrape-interval <seconds>', "the engines' scrape interval: a series with no sample in twice this is reported stale", '30')
    .option('--allow-empty', 'accept signals and guards that return no series (reported, not failed)')
    .option('--json', 'print the report as JSON')
    .action(async (files: string[], o: { prometheus?: string; bearerTokenFile?: string; basicAuth?: string; caFile?: string; insecureSkipVerify?: boolean; timeout: string; json?: boolean; allowEmpty?: boolean; header?: string[]; scrapeInterval: string }) => {
      let prometheus: PrometheusClientOptions | undefined;
      if (o.prometheus) {
        prometheus = { url: o.prometheus, timeoutMs: Number(o.timeout) };
        if (o.bearerTokenFile) prometheus.bearerTokenFile = o.bearerTokenFile;
        if (o.caFile) prometheus.caFile = o.caFile;
        if (o.insecureSkipVerify) prometheus.insecureSkipVerify = true;
        if (o.header?.length) prometheus.headers = Object.fromEntries(o.header.map((h) => parseHeaderFlag(h, '--header')));
        if (o.basicAuth) {
          const i = o.basicAuth.indexOf(':');
          if (i < 0) throw new Error('--basic-auth must be user:password');
          prometheus.basicAuth = { username: o.basicAuth.slice(0, i), password: o.basicAuth.slice(i + 1) };
        }
      }
      const report = await checkRules(files, { ...(prometheus ? { prometheus } : {}), allowEmpty: o.allowEmpty === true, scrapeIntervalS: scrapeIntervalOf(o.scrapeInterval) });
      console.log(o.json ? JSON.stringify(report, null, 2) : formatCheckReport(report));
      if (!report.ok) process.exitCode = 1;
    });
  return rules;
}
