// The rule-authoring loop exactly as docs/rule-workflow.md writes it, on real parts: the rule, the Prometheus config and
// the commands are read from the doc (only the ports are swapped for free ones), run in order in a scratch directory —
// offline check, sweep, simulate --rules, the simulator serving the rule's service, a real Prometheus scraping it, the
// live check, the adapter serving the rule with the simulated fleet following it, explain, whatif — and each step's
// output is asserted. A second rule with a broken guard checks that the same commands fail where they should.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { until as waitFor } from '../adapter/harness.js';
import { ensureInstalled, freePort } from '../support/prometheus.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const DOC = join(repoRoot, 'docs/rule-workflow.md');

/** The fenced block after `<!-- workflow:<kind> … -->`, with the marker's argument (a file name). */
export function docBlock(doc: string, kind: string): { arg: string; text: string } {
  const m = new RegExp(`<!-- workflow:${kind}(?: ([^ ]+))? -->\\n\`\`\`\\w*\\n([\\s\\S]*?)\\n\`\`\``).exec(doc);
  if (!m) throw new Error(`docs/rule-workflow.md has no <!-- workflow:${kind} --> block`);
  return { arg: m[1] ?? '', text: m[2]! + '\n' };
}

export interface DocCommand {
  /** The line as the doc writes it. */
  line: string;
  background: boolean;
}

/** Variable assignments and commands of the doc's shell block (comments and blank lines skipped). */
export function docCommands(text: string): { env: Record<string, string>; commands: DocCommand[] } {
  const env: Record<string, string> = {};
  const commands: DocCommand[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const v = /^([A-Z_]+)=(\S+)$/.exec(line);
    if (v) env[v[1]!] = v[2]!;
    else commands.push({ line: line.replace(/\s*&$/, ''), background: /&$/.test(line) });
  }
  return { env, commands };
}

interface Ran { status: number | null; stdout: string; stderr: string }

describe('the rule-authoring loop of docs/rule-workflow.md, on real parts', function () {
  this.timeout(300_000);
  let dir: string;
  let doc: string;
  const background: ChildProcess[] = [];
  const logs = new Map<string, string>();
  let env: Record<string, string>;
  let commands: DocCommand[];

  before(async () => {
    ensureInstalled('prometheus');
    dir = mkdtempSync(join(tmpdir(), 'baton-loop-'));
    // Free ports for the doc's 9400 (simulator), 9090 (Prometheus) and 6443 (adapter).
    const ports = { 9400: await freePort(), 9090: await freePort(), 6443: await freePort() };
    doc = readFileSync(DOC, 'utf8').replace(/\b(9400|9090|6443)\b/g, (p) => String(ports[Number(p) as 9400]));
    const rule = docBlock(doc, 'rule');
    const prom = docBlock(doc, 'prometheus');
    writeFileSync(join(dir, rule.arg), rule.text);
    writeFileSync(join(dir, prom.arg), prom.text);
    ({ env, commands } = docCommands(docBlock(doc, 'commands').text));
  });

  after(async () => {
    for (const c of background) if (c.exitCode === null && c.pid) try { process.kill(c.pid, 'SIGTERM'); } catch { /* gone */ }
    await new Promise((r) => setTimeout(r, 300));
    for (const c of background) if (c.exitCode === null && c.pid) try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const shellOf = (line: string): string => line.replace(/^npx baton /, `node ${join(repoRoot, 'bin/baton.js')} `);
  const run = (line: string): Ran => {
    const r = spawnSync('sh', ['-c', shellOf(line)], { cwd: dir, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const start = (line: string): void => {
    const child = spawn('sh', ['-c', `exec ${shellOf(line)}`], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const keep = (b: Buffer): void => { log = (log + b.toString()).slice(-6000); logs.set(line, log); };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    background.push(child);
  };
  const cmd = (pattern: RegExp): DocCommand => {
    const found = commands.filter((c) => pattern.test(c.line));
    assert.equal(found.length, 1, `one doc command matches ${pattern}: ${found.map((c) => c.line).join(' | ')}`);
    return found[0]!;
  };
  // The harness's wait, with the background processes' output on a time-out.
  const until = async <T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> => {
    try {
      return await waitFor(what, async () => probe(), timeoutMs, 500);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${[...logs.entries()].map(([k, v]) => `--- ${k}\n${v}`).join('\n')}`);
    }
  };
  const promQuery = async (q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
    const res = await fetch(`${env.PROM}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = await res.json() as { data?: { result?: { metric: Record<string, string>; value: [number, string] }[] } };
    return body.data?.result ?? [];
  };
  const variant = (name: string, edit: (text: string) => string): string => {
    const rule = docBlock(doc, 'rule');
    const text = edit(rule.text);
    assert.notEqual(text, rule.text);
    writeFileSync(join(dir, name), text);
    return name;
  };

  it('runs every documented command in order, each with the output it promises', async () => {
    // The doc's commands, in the doc's order; nothing here is run that the doc does not show.
    assert.deepEqual(commands.map((c) => c.line.split(' ').slice(0, 3).join(' ')), [
      'npx baton rules', 'npx baton sweep', 'npx baton simulate', 'npx baton simulate', 'prometheus --config.file=prometheus.yml --storage.tsdb.path=data',
      'npx baton rules', 'npx baton adapter', 'npx baton explain', 'npx baton whatif',
    ]);

    // 1. Offline check: the rule is fine; rate() of an instant vector is named at file:line:col.
    const offline = cmd(/^npx baton rules check coder\.yaml$/);
    const ok = run(offline.line);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /OK: 1 service\(s\) in 1 file\(s\)/);
    const bad = variant('coder-rate.yaml', (t) => t.replace('    guards:\n', "    guards:\n      - {name: queue, promql: 'rate(sglang:num_queue_reqs{service=\"coder\"})', slo: 5, tiers: [{above: 1.0, scaleOut: 0.1}]}\n"));
    const refused = run(offline.line.replace('coder.yaml', bad));
    assert.equal(refused.status, 1);
    assert.match(refused.stdout, /coder-rate\.yaml:13:37: services\[0\]\.guards\[0\]\.promql: expected type range vector in call to function "rate", got instant vector/);

    // 2. sweep --rules: the pressure test at the rule's SLOs, and the fragment to paste.
    const sweep = run(cmd(/^npx baton sweep --rules/).line);
    assert.equal(sweep.status, 0, sweep.stderr);
    assert.match(sweep.stdout, /SLO: TTFT ≤ 1\.5 s \(rule guard ttft_p99\), TBT ≤ 30 ms \(rule guard tbt_p99\)/);
    const measured = /measured at its SLO: (\d+):(\d+) and (\d+) tok\/s per unit/.exec(sweep.stdout);
    assert.ok(measured, sweep.stdout);
    assert.match(readFileSync(join(dir, 'coder-capacity.yaml'), 'utf8'), new RegExp(`ratio: \\{prefill: ${measured[1]}, decode: ${measured[2]}\\}\\ndecodeTpsPerUnit: ${measured[3]}\\n`));

    // 3. simulate --rules: judged against the rule's SLOs; its notes and sweep read one capacity.
    const sim = run(cmd(/^npx baton simulate --rules coder\.yaml --diurnal/).line);
    assert.equal(sim.status, 0, sim.stderr);
    assert.match(sim.stdout, /SLO: TTFT ≤ 1\.5 s \(rule guard ttft_p99\), TBT ≤ 30 ms \(rule guard tbt_p99\)/);
    assert.match(sim.stdout, /coder · 10:00 → 11:00 \(1 h\) · SLO TTFT ≤ 1\.50 s, TBT ≤ 30\.0 ms/);
    assert.match(sim.stdout, new RegExp(`carries ${measured[3]} tok/s per unit`));
    assert.match(sim.stdout, /\ncoordinated +[\d.]+/);

    // 4. The simulator serves the rule's service; Prometheus scrapes it.
    start(cmd(/^npx baton simulate --serve-metrics --rules coder\.yaml/).line);
    start(cmd(/^prometheus /).line);
    await until('Prometheus has the service\'s decode TPS and both latency histograms', async () => {
      const tps = await promQuery('sum by (pool) (rate(sglang:generation_tokens_total{service="coder",pool="coder-decode"}[30s]))');
      const itl = await promQuery('count(sglang:inter_token_latency_seconds_bucket{service="coder"})');
      const ttft = await promQuery('count(sglang:time_to_first_token_seconds_bucket{service="coder"})');
      return tps.length && Number(tps[0]!.value[1]) > 0 && itl.length && ttft.length ? true : undefined;
    }, 60_000);

    // 5. Live check: the doc's rule is usable; a guard on a metric nobody exports fails, naming the metric.
    const live = cmd(/^npx baton rules check coder\.yaml --prometheus/);
    const good = await until('a live check that passes', () => {
      const r = run(live.line);
      return r.status === 0 ? r : undefined;
    }, 60_000);
    assert.match(good.stdout, /coder\/decodeTps: .*\n {4}vector with 1 series/);
    assert.match(good.stdout, /→ usable: [\d.]+ \(coder-decode=[\d.]+\)/);
    const missing = variant('coder-missing.yaml', (t) => t.replace('    guards:\n', "    guards:\n      - {name: queue, promql: 'max(sglang:queue_time_seconds{service=\"coder\"})', slo: 5, tiers: [{above: 1.0, scaleOut: 0.1}]}\n"));
    const failed = run(live.line.replace('coder.yaml', missing));
    assert.equal(failed.status, 1, failed.stdout);
    assert.match(failed.stdout, /why: metric sglang:queue_time_seconds has no series in Prometheus/);
    assert.match(failed.stdout, /at coder-missing\.yaml:13:\d+ \(services\[0\]\.guards\[0\]\.promql\)/);
    assert.match(failed.stdout, /FAILED: 1 empty signal\/guard query/);

    // 6–7. The adapter serves the rule; explain shows the level arithmetic.
    start(cmd(/^npx baton adapter --rules coder\.yaml/).line);
    const explain = cmd(/^npx baton explain/);
    const explained = await until('the adapter serving a value', () => {
      const r = run(explain.line);
      return r.status === 0 && /baton_desired_replicas\{pool="coder-decode"[^\n]*= \d+/.test(r.stdout) ? r : undefined;
    }, 60_000);
    assert.match(explained.stdout, /How coder's level was computed\n/);
    assert.match(explained.stdout, / need +need = decode TPS [\d.]+ \/ 2500 tok\/s per unit = [\d.]+ units/);
    assert.match(explained.stdout, / prefill +prefill: [\d.]+ × 3\/2 = [\d.]+ units → coder-prefill \d+ × 1/);

    // The closed loop: the simulated fleet runs what the adapter publishes.
    await until('the simulated fleet at the adapter\'s values', async () => {
      const served = Object.fromEntries([...run(explain.line).stdout.matchAll(/baton_desired_replicas\{pool="([^"]+)"[^\n]*= (\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
      const state = await (await fetch(`${env.SIM}/state`)).json() as { pools: Record<string, { starting: number; ready: number }> };
      const fleet = Object.fromEntries(Object.entries(state.pools).map(([k, v]) => [k, v.starting + v.ready]));
      return Object.keys(served).length === 2 && Object.entries(served).every(([k, v]) => fleet[k] === v) && served['coder-decode']! > 1 ? { served, fleet } : undefined;
    }, 90_000);

    // 8. whatif over the history Prometheus collected: a verdict against the rule's SLOs.
    const whatif = run(cmd(/^npx baton whatif/).line);
    assert.equal(whatif.status, 0, whatif.stdout + whatif.stderr);
    assert.match(whatif.stdout, /what-if: service coder · /);
    assert.match(whatif.stdout, /verdict: would have met TBT 30 ms \(rule guard tbt_p99\) in [\d.]+ % of \d+ steps/);
    assert.match(whatif.stdout, /verdict: would have met TTFT 1\.5 s \(rule guard ttft_p99\) in [\d.]+ % of \d+ steps/);
    assert.match(whatif.stdout, /coder-prefill +prefill +H100 .*\$/);
    assert.ok(existsSync(join(dir, 'data')), 'Prometheus kept its data where the doc says');
  });
});
