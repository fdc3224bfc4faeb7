// `npm run dashboards:build`: writes manifests/dashboards/*.json and manifests/monitoring/prometheusrule.yaml.
// `--check`: writes nothing; exits 1 naming every file that differs from what the sources generate.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prometheusRuleManifest, readRulesFile } from '../rules/prometheus/manifest.js';
import { dashboards, renderDashboardJson } from './index.js';

/** Repository root (this file runs from dist/dashboards/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DASHBOARDS_DIR = join(REPO_ROOT, 'manifests/dashboards');
export const PROMETHEUS_RULE_FILE = join(REPO_ROOT, 'manifests/monitoring/prometheusrule.yaml');

export interface GeneratedFile {
  path: string;
  content: string;
}

/** Every generated file with its content, computed in memory. */
export function generatedFiles(): GeneratedFile[] {
  return [
    ...dashboards().map((d) => ({ path: join(DASHBOARDS_DIR, d.file), content: renderDashboardJson(d.dashboard) })),
    { path: PROMETHEUS_RULE_FILE, content: prometheusRuleManifest(readRulesFile()) },
  ];
}

/** Paths whose committed content differs from the generated one (missing files count). */
export function driftedFiles(files: GeneratedFile[] = generatedFiles()): string[] {
  return files.filter((f) => {
    try {
      return readFileSync(f.path, 'utf8') !== f.content;
    } catch {
      return true;
    }
  }).map((f) => f.path);
}

function main(argv: string[]): number {
  const files = generatedFiles();
  if (argv.includes('--check')) {
    const drifted = driftedFiles(files);
    for (const p of drifted) console.error(`out of date: ${p} (run npm run dashboards:build)`);
    return drifted.length ? 1 : 0;
  }
  for (const f of files) {
    writeFileSync(f.path, f.content);
    console.log(`wrote ${f.path}`);
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
