// `baton simulate --rules`: a rule file's service replayed in the simulator as the coordinated policy.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRuleText } from '../../rules/load.js';
import { planRuleReplay, rulePoolPlans } from '../../sim/rules-replay.js';
import type { RulesJsonReport } from '../../cli/commands/simulate-rules.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const baton = join(repoRoot, 'bin/baton.js');

describe('baton simulate --rules', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'baton-simrules-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("runs rules/examples/chat.yaml and its coordinated row uses the rule's ratio, target and pools", () => {
    const json = join(dir, 'chat.json');
    const r = spawnSync('nice', ['node', baton, 'simulate', '--rules', join(repoRoot, 'rules/examples/chat.yaml'), '--diurnal', '--hours', '0.5', '--start-hour', '10',
      '--peak-rps', '40', '--policies', 'static,coordinated,oracle', '--json', json], { encoding: 'utf8', cwd: repoRoot });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /rules: service "chat" from .*chat\.yaml is the coordinated policy \(P:D 9:7, 1800 tok\/s per decode unit\)/);
    assert.match(r.stdout, /coordinated\s+\d/);
    const report = JSON.parse(readFileSync(json, 'utf8')) as RulesJsonReport;
    assert.deepEqual(report.rules.ratio, { prefill: 9, decode: 7 });
    assert.deepEqual(report.plan.ratio, { prefill: 9, decode: 7 });
    assert.equal(report.plan.decodeTpsPerUnit, 1800);
    assert.deepEqual(report.plan.pools.map((p) => [p.name, p.gpuType, p.units, p.maxInstances]),
      [['prefill-h100', 'H100', 1, 40], ['decode-h200', 'H200', 1.4, 16], ['decode-h100', 'H100', 1, 32]]);
    const c = report.policies.coordinated!;
    assert.ok(c.gpuHours > 0);
    for (const k of ['ttft', 'tbt', 'both'] as const) assert.ok(c.sloAttainment[k] >= 0 && c.sloAttainment[k] <= 1);
    // Drift is measured against the rule's 9:7 in the rule's units: the coordinated fleet keeps it, the static one does not aim to.
    assert.ok(c.ratioDrift < 0.15, `coordinated drift from 9:7 is ${c.ratioDrift}`);
    // The rule's 1800 tok/s per unit is far below what the simulated H100 carries: the replay says so.
    assert.ok(report.rules.notes.some((n) => /decodeTpsPerUnit: the rule says 1800/.test(n)));
  });

  it("judges attainment against the rule's own SLOs, and its notes agree with `sweep --rules` on the same inputs", () => {
    // The example's guards: TBT 50 ms, TTFT 2 s. Service A's 40 ms / 1 s must not be what the report judges against.
    const json = join(dir, 'slo.json');
    const r = spawnSync('nice', ['node', baton, 'simulate', '--rules', join(repoRoot, 'rules/examples/chat.yaml'), '--diurnal', '--hours', '0.25', '--start-hour', '10',
      '--peak-rps', '30', '--policies', 'static,coordinated', '--json', json], { encoding: 'utf8', cwd: repoRoot });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /SLO: TTFT ≤ 2 s \(rule guard ttft_p99\), TBT ≤ 50 ms \(rule guard tbt_p99\)/);
    assert.match(r.stdout, /SLO TTFT ≤ 2\.00 s, TBT ≤ 50\.0 ms/);
    const report = JSON.parse(readFileSync(json, 'utf8')) as RulesJsonReport;
    assert.deepEqual([report.service.sloTtftS, report.service.sloTbtS], [2, 0.05]);
    assert.equal(report.rules.slo.tbtFrom, 'rule guard tbt_p99');
    const perUnit = /carries (\d+) tok\/s per unit/.exec(report.rules.notes.join('\n'))?.[1];
    assert.ok(perUnit, report.rules.notes.join('\n'));

    const sweepJson = join(dir, 'sweep.json');
    const frag = join(dir, 'frag.yaml');
    const s = spawnSync('nice', ['node', baton, 'sweep', '--rules', join(repoRoot, 'rules/examples/chat.yaml'), '--json', sweepJson, '--rule-out', frag], { encoding: 'utf8', cwd: repoRoot });
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stdout, /SLO: TTFT ≤ 2 s \(rule guard ttft_p99\), TBT ≤ 50 ms \(rule guard tbt_p99\)/);
    const sweep = JSON.parse(readFileSync(sweepJson, 'utf8')) as { decodeTpsPerUnit: number; ratio: { prefill: number; decode: number } };
    assert.equal(sweep.decodeTpsPerUnit, Number(perUnit), 'sweep and the simulate notes read one capacity');
    const ratioNote = report.rules.notes.find((n) => n.startsWith('ratio:'));
    if (ratioNote) assert.match(ratioNote, new RegExp(`best split for this mix is ${sweep.ratio.prefill}:${sweep.ratio.decode}`));
    else assert.deepEqual(sweep.ratio, { prefill: 9, decode: 7 });
    assert.match(readFileSync(frag, 'utf8'), new RegExp(`decodeTpsPerUnit: ${sweep.decodeTpsPerUnit}\n`));

    // Flags override the rule; without a guard for a latency the output says which default it used.
    const noTtft = join(dir, 'no-ttft.yaml');
    writeFileSync(noTtft, readFileSync(join(repoRoot, 'rules/examples/chat.yaml'), 'utf8').replace(/      - name: ttft_p99\n(        .*\n)+?(?=    stability)/, ''));
    const f = spawnSync('nice', ['node', baton, 'sweep', '--rules', noTtft, '--slo-tbt', '30ms', '--total', '4'], { encoding: 'utf8', cwd: repoRoot });
    assert.equal(f.status, 0, f.stderr);
    assert.match(f.stdout, /SLO: TTFT ≤ 1 s \(service service-a's default \(the rule has no ttft_pNN guard; pass --slo-ttft\)\), TBT ≤ 30 ms \(--slo-tbt\)/);
  });

  it('refuses a pool whose gpuType the simulator does not model, naming the pool and the field', () => {
    const text = readFileSync(join(repoRoot, 'rules/examples/chat.yaml'), 'utf8').replace('name: decode-h200, role: decode, gpuType: H200', 'name: decode-b200, role: decode, gpuType: B200');
    const loaded = loadRuleText(text, 'b200.yaml');
    assert.deepEqual(loaded.errors, []);
    assert.throws(() => rulePoolPlans(loaded.services[0]!), /b200\.yaml: service "chat" pools\[1\] "decode-b200": gpuType "B200" is not a GPU the simulator models; set gpuType to one of H100, H200/);
  });

  it('maps preset guard names onto the simulated latency signals and says when one has none', () => {
    const text = readFileSync(join(repoRoot, 'rules/examples/chat.yaml'), 'utf8')
      .replace('- name: tbt_p99', '- name: itl_p95')
      .replace('      - name: ttft_p99\n', "      - name: queue\n        promql: 'sum(vllm:num_requests_waiting)'\n");
    const loaded = loadRuleText(text, 'guards.yaml');
    assert.deepEqual(loaded.errors, []);
    const plan = planRuleReplay(loaded.services[0]!);
    assert.deepEqual(plan.guardSignals, { itl_p95: 'tbtP99' });
    assert.ok(plan.notes.some((n) => /guard queue has no simulated series/.test(n)));
    assert.ok(plan.notes.some((n) => /guard itl_p95 reads the simulator's p99/.test(n)));
  });

  it('refuses --fleet and --ratio with --rules', () => {
    const r = spawnSync('node', [baton, 'simulate', '--rules', join(repoRoot, 'rules/examples/chat.yaml'), '--ratio', '1:1'], { encoding: 'utf8', cwd: repoRoot });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--ratio cannot be combined with --rules/);
  });
});
