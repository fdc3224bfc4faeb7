// An e2e suite's failure bookkeeping: any failed test (or a failed `before`) keeps the cluster's run dir and prints its
// component log tails when the suite tears down.
import type { Cluster } from './cluster.js';

export interface Failures {
  /** Call from a `before` that failed half-way (mocha's afterEach does not see hooks). */
  mark(): void;
  readonly any: boolean;
  /** Prints the component log tails when anything failed (call first in `after`). */
  report(cluster: Cluster | undefined, what: string): void;
}

/** Registers the afterEach that notes a failed test; call inside `describe`. */
export function trackFailures(): Failures {
  let failed = false;
  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });
  return {
    mark: () => void (failed = true),
    get any() {
      return failed;
    },
    report(cluster, what) {
      if (failed && cluster) console.error(`\n===== ${what} failed: component log tails (run dir kept: ${cluster.runDir}) =====\n${cluster.logTails(30)}`);
    },
  };
}
