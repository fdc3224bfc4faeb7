// Runs one of scripts/build-*.sh (Go tools cached under $HOME/.cache/baton): progress to `log`, the cache dir (the
// script's last stdout line) as the result.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './binaries.js';

export function runBuildScript(script: string, log: (line: string) => void = (l) => process.stderr.write(l + '\n')): Promise<string> {
  return new Promise<string>((res, rej) => {
    const child = spawn('bash', [join(REPO_ROOT, 'scripts', script)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let errTail = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => {
      const s = b.toString();
      errTail = (errTail + s).slice(-4000);
      for (const line of s.split('\n')) if (line && !line.includes('] cached')) log(line);
    });
    child.once('error', rej);
    child.once('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && last) res(last);
      else rej(new Error(`scripts/${script} failed (exit ${code}):\n${errTail}`));
    });
  });
}
