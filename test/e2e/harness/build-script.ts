// Runs one of scripts/build-*.sh (binaries cached under $HOME/.cache/baton): whole lines of progress to `log` (a cold
// build is visibly alive), the cache dir (the script's last stdout line) as the result.
import { spawn } from 'node:child_process';

export function runBuildScript(script: string, log: (line: string) => void = (l) => process.stderr.write(l + '\n')): Promise<string> {
  return new Promise<string>((res, rej) => {
    const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let errTail = '';
    let partial = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => {
      const s = b.toString();
      errTail = (errTail + s).slice(-4000);
      // Whole lines only: a chunk may end mid-line.
      const lines = (partial + s).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line && !line.includes('] cached')) log(line);
    });
    child.once('error', rej);
    child.once('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && last) res(last);
      else rej(new Error(`${script} failed (exit ${code}):\n${errTail}`));
    });
  });
}
