// Child processes of the e2e cluster: each in its own process group, output to a log file in the run dir, stopped by
// PID (the whole group) in reverse start order — and killed on process exit even when a test run dies half-way.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ManagedProcess {
  name: string;
  pid: number;
  logFile: string;
  /** Set once the process has exited: its exit code or signal. */
  exited?: string;
}

const liveGroups = new Set<number>();
let exitHooksInstalled = false;

/** SIGKILL every process group still alive; the last line of defence (process 'exit' handlers must be synchronous). */
function killAllNow(): void {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  liveGroups.clear();
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.once('exit', killAllNow);
  // A signal would end node without running 'exit' handlers unless someone listens; re-raise after cleaning up.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAllNow();
      process.kill(process.pid, sig);
    });
  }
}

function tailOf(file: string, lines: number): string {
  if (!existsSync(file)) return '(no log)';
  const all = readFileSync(file, 'utf8').split('\n');
  return all.slice(Math.max(0, all.length - lines - 1)).join('\n');
}

/** The processes of one run, started in order and stopped in reverse. */
export class ProcessSet {
  private readonly procs: { managed: ManagedProcess; child: ChildProcess; done: Promise<void> }[] = [];

  constructor(private readonly logDir: string) {
    installExitHooks();
  }

  start(name: string, bin: string, args: string[], env?: NodeJS.ProcessEnv): ManagedProcess {
    const logFile = join(this.logDir, `${name}.log`);
    const fd = openSync(logFile, 'a');
    // detached: a new process group, so stop() can signal the binary and anything it forks.
    const child = spawn(bin, args, { stdio: ['ignore', fd, fd], detached: true, env: env ?? process.env });
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`cannot start ${name} (${bin})`);
    const managed: ManagedProcess = { name, pid: child.pid, logFile };
    liveGroups.add(child.pid);
    const done = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        managed.exited = signal ?? `code ${code}`;
        liveGroups.delete(child.pid!);
        resolve();
      });
      child.once('error', (err) => {
        managed.exited = `spawn error: ${err.message}`;
        liveGroups.delete(child.pid!);
        resolve();
      });
    });
    child.unref();
    this.procs.push({ managed, child, done });
    return managed;
  }

  /** Throws (naming the process and its log tail) when any started process has exited. */
  assertAlive(): void {
    for (const p of this.procs) {
      if (p.managed.exited !== undefined) {
        throw new Error(`${p.managed.name} exited (${p.managed.exited}); last lines of ${p.managed.logFile}:\n${tailOf(p.managed.logFile, 30)}`);
      }
    }
  }

  list(): ManagedProcess[] {
    return this.procs.map((p) => p.managed);
  }

  /** Last lines of every log, for failure messages. */
  logTails(lines = 25): string {
    return this.procs.map((p) => `----- ${p.managed.name} (${p.managed.logFile})\n${tailOf(p.managed.logFile, lines)}`).join('\n');
  }

  /** SIGTERM each process group in reverse start order, SIGKILL after `graceMs`. */
  async stopAll(graceMs = 5000): Promise<void> {
    for (const p of [...this.procs].reverse()) {
      if (p.managed.exited !== undefined) continue;
      try {
        process.kill(-p.managed.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-p.managed.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, graceMs);
      await p.done;
      clearTimeout(timer);
    }
  }
}
