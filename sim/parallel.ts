// Runs a scenario's policies side by side in worker threads (one per core): the same requests, the same plan.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { SimResult } from './simulate.js';
import type { ScenarioResult } from './scenario.js';
import { runSpec, type ScenarioSpec } from './spec.js';

type FromWorker =
  | { kind: 'progress'; policy: string; fraction: number }
  | { kind: 'done'; result: ScenarioResult }
  | { kind: 'error'; message: string };

export async function runSpecParallel(spec: ScenarioSpec, onProgress?: (policy: string, f: number) => void, workers = availableParallelism()): Promise<ScenarioResult> {
  if (workers <= 1 || spec.policies.length <= 1) return runSpec(spec, onProgress);
  const queue = [...spec.policies];
  const results: Record<string, SimResult> = {};
  let plan: ScenarioResult['plan'] | undefined;
  const runOne = (policy: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const w = new Worker(new URL('./parallel-worker.js', import.meta.url), { workerData: { ...spec, policies: [policy] } });
      w.on('message', (m: FromWorker) => {
        if (m.kind === 'progress') onProgress?.(m.policy, m.fraction);
        else if (m.kind === 'done') {
          plan ??= m.result.plan;
          Object.assign(results, m.result.results);
          resolve();
        } else reject(new Error(m.message));
      });
      w.on('error', reject);
      w.on('exit', (code) => {
        if (code !== 0) reject(new Error(`simulation worker for ${policy} exited with code ${code}`));
      });
    });
  const lanes = Array.from({ length: Math.min(workers, queue.length) }, async () => {
    for (let p = queue.shift(); p !== undefined; p = queue.shift()) await runOne(p);
  });
  await Promise.all(lanes);
  // Keep the order the user asked for.
  const ordered: Record<string, SimResult> = {};
  for (const p of spec.policies) if (results[p]) ordered[p] = results[p]!;
  return { plan: plan!, results: ordered };
}
