// The control-plane binaries: scripts/build-cluster.sh builds whatever is missing (cold: ~10+ min on 2 cores) into a
// cache keyed by versions and prints the bin dir as its last stdout line. Warm, it only checks versions (<1 s).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBuildScript } from './build-script.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const BUILD_SCRIPT = join(REPO_ROOT, 'scripts/build-cluster.sh');
export const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'kwok'] as const;
export type BinaryName = (typeof BINARIES)[number];

export interface ClusterBinaries {
  dir: string;
  /** kwok stage configs (node initialize/heartbeat, pod ready/complete/delete). */
  stagesDir: string;
  path(name: BinaryName): string;
}

/**
 * Runs the build script (progress goes to our stderr so a cold build is visibly alive) and returns the bin dir.
 * `BATON_CLUSTER_BIN` skips the script and uses that directory as is.
 */
export async function ensureBinaries(log: (line: string) => void = (l) => process.stderr.write(l + '\n')): Promise<ClusterBinaries> {
  let dir = process.env.BATON_CLUSTER_BIN;
  if (!dir) {
    const started = Date.now();
    dir = await runBuildScript(BUILD_SCRIPT, log);
    const s = (Date.now() - started) / 1000;
    if (s > 5) log(`[e2e] cluster binaries built in ${s.toFixed(0)} s`);
  }
  const binDir = dir;
  for (const b of BINARIES) if (!existsSync(join(binDir, b))) throw new Error(`cluster binary ${b} is missing in ${binDir}`);
  const stagesDir = join(binDir, '..', 'kwok-stages');
  if (!existsSync(stagesDir)) throw new Error(`kwok stage configs are missing: ${stagesDir}`);
  return { dir: binDir, stagesDir, path: (name) => join(binDir, name) };
}
