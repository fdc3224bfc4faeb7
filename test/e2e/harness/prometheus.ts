// A real Prometheus (Debian package, installed by scripts/prom/install.sh when missing) that finds the simulator's pods
// through http_sd_configs, as it would find engine pods in a cluster. Started in the cluster's run dir, stopped by PID.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureInstalled } from '../../support/prometheus.js';
import { waitFor } from './api.js';
import { freePorts } from './ports.js';
import type { ProcessSet } from './processes.js';

export interface HttpSdPrometheus {
  url: string;
  scrapeIntervalS: number;
}

export async function startHttpSdPrometheus(processes: ProcessSet, runDir: string, sdUrl: string, scrapeIntervalS = 1): Promise<HttpSdPrometheus> {
  ensureInstalled('prometheus');
  const dir = join(runDir, 'prometheus');
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, [
    'global:',
    `  scrape_interval: ${scrapeIntervalS}s`,
    'scrape_configs:',
    '  - job_name: baton-sim',
    `    scrape_interval: ${scrapeIntervalS}s`,
    `    scrape_timeout: ${Math.max(500, Math.round(scrapeIntervalS * 800))}ms`,
    '    http_sd_configs:',
    `      - url: ${JSON.stringify(sdUrl)}`,
    '        refresh_interval: 2s',
    '',
  ].join('\n'));
  const [port] = (await freePorts(1)) as [number];
  const url = `http://127.0.0.1:${port}`;
  processes.start('prometheus', 'prometheus', [
    `--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn', '--storage.tsdb.retention.time=1h',
  ]);
  await waitFor('prometheus /-/ready', 30_000, async () => ((await fetch(url + '/-/ready')).ok ? true : undefined), 200, () => processes.assertAlive());
  return { url, scrapeIntervalS };
}

/** One instant query's scalar (first series), or undefined when the result is empty. */
export async function queryScalar(url: string, promql: string): Promise<number | undefined> {
  const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const j = (await r.json()) as { status: string; data?: { result?: { value: [number, string] }[] } };
  const v = j.data?.result?.[0]?.value[1];
  return v === undefined ? undefined : Number(v);
}
