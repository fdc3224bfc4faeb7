// Worker side of runSpecParallel: runs the one policy it was given and posts the result back.
import { parentPort, workerData } from 'node:worker_threads';
import { runSpec, type ScenarioSpec } from './spec.js';

const spec = workerData as ScenarioSpec;
let last = 0;
try {
  const result = runSpec(spec, (policy, fraction) => {
    if (fraction - last >= 0.01 || fraction >= 1) {
      last = fraction;
      parentPort!.postMessage({ kind: 'progress', policy, fraction });
    }
  });
  parentPort!.postMessage({ kind: 'done', result });
} catch (err) {
  parentPort!.postMessage({ kind: 'error', message: err instanceof Error ? err.message : String(err) });
}
