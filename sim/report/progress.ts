// Progress of a scenario run on a terminal: one cli-progress bar per policy. Silent (a no-op) when stdout is not a TTY,
// so piped output and logs carry only the table.
import cliProgress from 'cli-progress';

export interface Progress {
  /** `fraction` of `policy`'s simulated window is done (0..1). */
  update(policy: string, fraction: number): void;
  /** Marks a policy finished (the simulator's last tick may stop short of 1). */
  done(policy: string): void;
  /** Completes bars of policies that ran, releases the terminal. Safe to call twice. */
  stop(): void;
  /** Whether bars are being drawn. */
  readonly active: boolean;
}

export interface ProgressOptions {
  /** Where bars go; default stderr, so stdout stays clean for the table even while bars are shown. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Default: stdout is a TTY (and cli-progress itself draws only when `stream` is one too). */
  enabled?: boolean;
}

const STEPS = 1000;

export function createProgress(policies: readonly string[], opts: ProgressOptions = {}): Progress {
  if (!Array.isArray(policies) || policies.length === 0) throw new Error('createProgress: policies must be a non-empty array of names');
  const known = new Set(policies);
  const enabled = opts.enabled ?? process.stdout.isTTY === true;
  const check = (policy: string): void => {
    if (!known.has(policy)) throw new Error(`progress: unknown policy '${policy}'; known: ${policies.join(', ')}`);
  };
  if (!enabled) {
    return {
      update(policy, fraction) {
        check(policy);
        checkFraction(policy, fraction);
      },
      done: check,
      stop() {},
      active: false,
    };
  }

  const nameWidth = Math.max(...policies.map((p) => p.length));
  const multi = new cliProgress.MultiBar(
    {
      stream: opts.stream ?? process.stderr,
      format: '{name} |{bar}| {percentage}% | {eta_formatted}',
      barCompleteChar: '█',
      barIncompleteChar: '░',
      barsize: 40,
      hideCursor: true,
      clearOnComplete: false,
      autopadding: true,
      etaBuffer: 50,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map(policies.map((p) => [p, multi.create(STEPS, 0, { name: p.padEnd(nameWidth) })]));
  const started = new Set<string>();
  let current: string | undefined;
  let stopped = false;

  const done = (policy: string): void => {
    check(policy);
    started.add(policy);
    bars.get(policy)!.update(STEPS);
  };
  return {
    update(policy, fraction) {
      check(policy);
      checkFraction(policy, fraction);
      if (stopped) return;
      // Scenarios run policies one after another: a new policy starting means the previous one finished.
      if (current !== undefined && current !== policy && !started.has(policy)) done(current);
      current = policy;
      started.add(policy);
      bars.get(policy)!.update(Math.round(Math.max(0, Math.min(1, fraction)) * STEPS));
    },
    done(policy) {
      if (!stopped) done(policy);
      else check(policy);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (current !== undefined) done(current);
      multi.stop();
    },
    active: true,
  };
}

function checkFraction(policy: string, fraction: number): void {
  if (!Number.isFinite(fraction)) throw new Error(`progress: fraction for '${policy}' must be a finite number, got ${fraction}`);
}
