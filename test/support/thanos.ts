// Thanos (v0.36.1, pinned in test/e2e/tools/thanos) for tests: built once by scripts/build-go-tool.sh into
// $HOME/.cache/baton/thanos (cold ~4 min on 2 cores, warm < 1 s); sidecars and a Querier run as local processes.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The thanos binary, built when missing (progress on stderr). */
export function ensureThanos(): string {
  const r = spawnSync('bash', [join(repoRoot, 'scripts/build-go-tool.sh'), 'thanos', 'thanos', 'thanos', 'github.com/thanos-io/thanos/cmd/thanos', 'query'], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 3_600_000,
  });
  const dir = r.stdout.trim().split('\n').pop();
  if (r.status !== 0 || !dir) throw new Error(`scripts/build-go-tool.sh thanos failed (exit ${r.status})`);
  return join(dir, 'bin', 'thanos');
}
