import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { projectRoot, dataFile } from '../../sim/paths.js';
import { heterogeneousPools, POLICY_NAMES, runScenario, type ScenarioResult } from '../../sim/scenario.js';
import { SERVICE_PRESETS } from '../../sim/service.js';
import { createProgress, formatTable, renderHtml, toJson, type ReportMeta } from '../../sim/report/index.js';
import { loadAzureTrace, paperDayEnvelope, synthesize } from '../../sim/workload/index.js';

const run = promisify(execFile);
const CHROMIUM = '/usr/bin/chromium';
const SVC = SERVICE_PRESETS.A!;
// 40 minutes of the morning ramp of the paper's day at a low peak: every policy runs, some scale, in about a second.
const START_S = 7.5 * 3600;
const DURATION_S = 40 * 60;
const META: ReportMeta = { service: SVC, startS: START_S, durationS: DURATION_S, source: 'paper day, Azure conversation mix, peak 40 req/s' };

let scenario: ScenarioResult;

function only(result: ScenarioResult, names: string[]): ScenarioResult {
  return { plan: result.plan, results: Object.fromEntries(names.map((n) => [n, result.results[n]!])) };
}

/** Every `<svg …>` opening tag's attributes in an HTML string. */
function svgTags(html: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const m of html.matchAll(/<svg\b([^>]*)>/g)) {
    const attrs: Record<string, string> = {};
    for (const a of m[1]!.matchAll(/([\w:-]+)="([^"]*)"/g)) attrs[a[1]!] = a[2]!;
    out.push(attrs);
  }
  return out;
}

/** Series paths per chart in the generated markup: chart id → count. */
function seriesPerChart(html: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of html.matchAll(/<svg\b[^>]*data-chart="([^"]+)"[^>]*>([\s\S]*?)<\/svg>/g)) {
    out.set(m[1]!, (m[2]!.match(/<path class="series"/g) ?? []).length);
  }
  return out;
}

describe('sim/report', function () {
  before(function () {
    this.timeout(60_000);
    const lengths = loadAzureTrace(dataFile('traces', 'azure-llm-2023-conv.csv'));
    const requests = () =>
      synthesize({
        lengths, envelope: paperDayEnvelope(), peakRps: 40, durationS: DURATION_S, startS: START_S, seed: 7,
        meanInput: SVC.meanInput, meanOutput: SVC.meanOutput,
      });
    scenario = runScenario({
      service: SVC, pools: heterogeneousPools(), requests, startS: START_S, durationS: DURATION_S, policies: POLICY_NAMES, timelineStepS: 30,
    });
  });

  describe('formatTable', () => {
    it('has one aligned row per policy with the figures of its SimResult', () => {
      const text = formatTable(scenario, { meta: META });
      const lines = text.split('\n');
      for (const l of lines) assert.ok([...l].length <= 100, `line wider than 100 columns: ${JSON.stringify(l)}`);
      const header = lines.findIndex((l) => /^policy\s+GPU-h\s+cost \$\s+TTFT\s+TBT\s+both\s+P\s+D\s+drift\s+events\s+static\s+oracle$/.test(l));
      assert.ok(header > 0, `no column header in:\n${text}`);
      assert.match(lines[header - 1]!, /SLO attainment %.*GPU util %.*P:D.*scale.*GPU-h vs/);
      const rows = lines.slice(header + 2, header + 2 + POLICY_NAMES.length);
      assert.deepEqual(rows.map((r) => r.split(/\s+/)[0]), [...POLICY_NAMES]);
      // Right-aligned numeric columns end at the same offset on every row.
      const ends = new Set(rows.map((r) => r.length));
      assert.equal(ends.size, 1, `rows of different width:\n${rows.join('\n')}`);
      const oracleH = scenario.results.oracle!.gpuHours;
      const staticH = scenario.results.static!.gpuHours;
      for (const row of rows) {
        const cells = row.trim().split(/\s+/);
        const r = scenario.results[cells[0]!]!;
        assert.equal(cells.length, 12, row);
        assert.equal(Number(cells[1]), Number(r.gpuHours.toFixed(2)), `GPU-hours of ${cells[0]}`);
        assert.equal(Number(cells[2]), Number(r.cost.toFixed(2)), `cost of ${cells[0]}`);
        assert.equal(cells[3], (r.sloAttainment.ttft * 100).toFixed(2));
        assert.equal(cells[4], (r.sloAttainment.tbt * 100).toFixed(2));
        assert.equal(cells[5], (r.sloAttainment.both * 100).toFixed(2));
        assert.equal(cells[6], (r.meanGpuUtil.prefill * 100).toFixed(0));
        assert.equal(cells[7], (r.meanGpuUtil.decode * 100).toFixed(0));
        assert.equal(cells[8], `${(r.ratioDrift * 100).toFixed(1)}%`);
        assert.equal(cells[9], String(r.scaleEvents));
        const change = (r.gpuHours / staticH - 1) * 100;
        assert.equal(cells[10], `${change > 0 ? '+' : ''}${change.toFixed(1)}%`, `change vs static of ${cells[0]}`);
        assert.equal(cells[11], `${(r.gpuHours / oracleH).toFixed(2)}×`);
      }
    });

    it('names the policies under the SLO goal, and calls the oracle a lower bound only when it meets the goal', () => {
      const withOracle = (both: number): ScenarioResult => {
        const oracle = scenario.results.oracle!;
        return { plan: scenario.plan, results: { ...scenario.results, oracle: { ...oracle, sloAttainment: { ...oracle.sloAttainment, both } } } };
      };
      const meets = formatTable(withOracle(0.995), { meta: META });
      assert.match(meets, /multiple of the oracle lower bound/);
      const misses = formatTable(withOracle(0.5), { meta: META });
      assert.doesNotMatch(misses, /oracle lower bound/);
      assert.match(misses.replace(/\s+/g, ' '), /The oracle itself misses the SLO goal \(50\.00 % < 99\.00 %\), so it is no lower bound here/);
      assert.match(misses.replace(/\s+/g, ' '), /under the 99 % SLO goal \(both SLOs\): .*oracle 50\.00 %/);
      const html = renderHtml(withOracle(0.5), META);
      assert.match(html, /The oracle itself misses the SLO goal/);
      assert.doesNotMatch(html, /oracle lower bound/);
    });

    it('heads the table with the service, the window and the plan (pools, units, ratio, capacity)', () => {
      const text = formatTable(scenario, { meta: META });
      assert.match(text, /^service-a · 07:30 → 08:10 \(40 min\) · SLO TTFT ≤ 1\.00 s, TBT ≤ 40\.0 ms$/m);
      const { ratio, capacity, simPools } = scenario.plan;
      assert.match(text, new RegExp(`P:D ${ratio.prefill}:${ratio.decode} \\(in units\\)`));
      for (const p of simPools) {
        const line = text.split('\n').find((l) => l.trim().startsWith(`${p.name} `));
        assert.ok(line, `no plan line for ${p.name}`);
        const cells = line.trim().split(/\s+/);
        assert.deepEqual(cells.slice(0, 5), [p.name, p.role, p.gpuType, String(p.gpusPerInstance), p.units.toFixed(2)]);
        assert.equal(Number(cells[5]), Number(capacity[p.name]!.requestsPerS.toFixed(2)));
      }
      assert.match(text, /decode-h200 +decode +H200 +1 +1\.30 /, 'H200 decode worth 1.3 H20 units');
    });

    it('drops the relative columns whose baseline was not run, and refuses an empty result', () => {
      const text = formatTable(only(scenario, ['coordinated', 'hpa-util']), { header: false });
      assert.doesNotMatch(text, /oracle|static|GPU-h vs/);
      assert.match(text.split('\n')[1]!, /events$/);
      const withStatic = formatTable(only(scenario, ['static', 'coordinated']), { header: false });
      assert.match(withStatic, /GPU-h vs/);
      assert.match(withStatic, /static$/m);
      assert.throws(() => formatTable({ plan: scenario.plan, results: {} }), /formatTable: .*no policies/);
      assert.throws(
        () => formatTable(scenario, { meta: { ...META, service: { ...SVC, sloTbtS: 0 } } }),
        /formatTable: meta\.service\.sloTbtS must be a positive number, got 0/,
      );
    });
  });

  describe('toJson', () => {
    it('carries every policy with the documented shape and survives JSON', () => {
      const doc = JSON.parse(JSON.stringify(toJson(scenario, META)));
      assert.equal(doc.format, 'baton-simulate/1');
      assert.deepEqual(doc.service, { name: 'service-a', sloTtftS: 1, sloTbtS: 0.04 });
      assert.equal(doc.startS, START_S);
      assert.equal(doc.durationS, DURATION_S);
      assert.deepEqual(doc.plan.ratio, scenario.plan.ratio);
      assert.deepEqual(doc.plan.pools.map((p: { name: string }) => p.name), ['prefill-h100', 'decode-h20', 'decode-h200']);
      assert.equal(doc.plan.pools[2].units, 1.3);
      assert.equal(doc.plan.pools[2].minReplicas, 0);
      assert.ok(doc.plan.mix.meanInput > 1000 && doc.plan.mix.sampled > 0);
      assert.deepEqual(Object.keys(doc.policies), [...POLICY_NAMES]);
      for (const name of POLICY_NAMES) {
        const p = doc.policies[name];
        const r = scenario.results[name]!;
        assert.equal(p.gpuHours, r.gpuHours);
        assert.ok(p.gpuHours > 0, `${name} used GPUs`);
        for (const k of ['ttft', 'tbt', 'both']) {
          assert.ok(p.sloAttainment[k] >= 0 && p.sloAttainment[k] <= 1, `${name}.sloAttainment.${k} = ${p.sloAttainment[k]} is a fraction`);
        }
        assert.ok(p.sloAttainment.both <= Math.min(p.sloAttainment.ttft, p.sloAttainment.tbt));
        for (const k of ['ttft', 'tbt']) assert.ok(p[k].p50 > 0 && p[k].p99 >= p[k].p50, `${name}.${k} quantiles`);
        for (const k of ['cost', 'ratioDrift', 'scaleEvents', 'preemptions', 'crossSwitchShare', 'requests', 'completed']) {
          assert.equal(typeof p[k], 'number', `${name}.${k}`);
        }
        assert.deepEqual(Object.keys(p.meanGpuUtil).sort(), ['decode', 'prefill']);
        assert.equal(p.requests, r.requests);
        assert.equal(p.timeline.length, r.timeline.length);
        assert.ok(p.timeline.length >= 60, 'a point every 30 s');
        const pt = p.timeline[10];
        for (const k of ['t', 'arrivalsPerS', 'decodeTps', 'gpus', 'prefillUtil', 'decodeUtil']) assert.equal(typeof pt[k], 'number', `timeline.${k}`);
        assert.ok(pt.replicas.prefill >= 1 && pt.replicas.decode >= 1);
        assert.equal(p.gpuHoursVsOracle, r.gpuHours / scenario.results.oracle!.gpuHours);
      }
      assert.equal(doc.policies.oracle.gpuHoursVsOracle, 1);
      assert.equal(doc.policies.static.gpuHoursVsStatic, 1);
    });

    it('uses null for a baseline that was not run and names bad meta', () => {
      const doc = toJson(only(scenario, ['coordinated']), META);
      assert.equal(doc.policies.coordinated!.gpuHoursVsStatic, null);
      assert.equal(doc.policies.coordinated!.gpuHoursVsOracle, null);
      assert.throws(() => toJson(scenario, { ...META, durationS: -1 }), /toJson: meta\.durationS must be a positive number, got -1/);
      assert.throws(() => toJson(scenario, { ...META, service: { ...SVC, name: '' } }), /toJson: meta\.service\.name/);
    });
  });

  describe('renderHtml', () => {
    it('is self-contained and has a chart per view per policy, each with drawn series', () => {
      const html = renderHtml(scenario, META);
      assert.match(html, /^<!doctype html>/);
      // No network: the only URL is the SVG namespace; no external scripts, styles, images or fonts.
      const urls = [...html.matchAll(/(?:https?:)?\/\/[\w.-]+\.[a-z]{2,}[^\s"')]*/gi)].map((m) => m[0]);
      assert.deepEqual([...new Set(urls)], ['http://www.w3.org/2000/svg']);
      assert.doesNotMatch(html, /<(?:script|img|iframe)[^>]*\ssrc=|<link\b|@import|url\(/i);
      const charts = seriesPerChart(html);
      const expected = ['gpus', ...POLICY_NAMES.flatMap((p) => ['load', 'replicas', 'ttft', 'tbt', 'util'].map((k) => `${k}-${p}`))];
      assert.deepEqual([...charts.keys()].sort(), expected.sort());
      assert.equal(charts.get('gpus'), POLICY_NAMES.length);
      assert.equal(charts.get('replicas-coordinated'), 4);
      assert.equal(charts.get('load-static'), 2);
      for (const [id, n] of charts) assert.ok(n >= 1, `${id} has series`);
      assert.match(html, /data-chart="ttft-coordinated"[\s\S]*?class="ref"[\s\S]*?SLO 1\.00 s/);
      assert.match(html, /data-chart="tbt-coordinated"[\s\S]*?class="ref"[\s\S]*?SLO 40\.0 ms/);
      for (const p of POLICY_NAMES) assert.match(html, new RegExp(`<tr data-policy="${p}">`));
    });

    it('escapes names that come from outside', () => {
      const odd = { plan: scenario.plan, results: { '<b>x</b>': scenario.results.coordinated! } };
      const html = renderHtml(odd, { ...META, source: 'a & "b"' });
      assert.doesNotMatch(html, /<b>x<\/b>/);
      assert.match(html, /&lt;b&gt;x&lt;\/b&gt;/);
      assert.match(html, /a &amp; &quot;b&quot;/);
      assert.match(html, /data-chart="replicas-b-x-b"/);
    });
  });

  describe('HTML in headless Chromium', function () {
    this.timeout(120_000);
    let dir: string;
    let file: string;
    let html: string;

    before(async function () {
      if (!existsSync(CHROMIUM)) {
        this.timeout(900_000);
        const script = join(projectRoot(), 'scripts', 'install-chromium.sh');
        try {
          const out = await run('bash', [script], { timeout: 880_000 });
          process.stdout.write(out.stdout);
        } catch (e) {
          throw new Error(`${CHROMIUM} is missing and ${script} could not install it: ${(e as Error).message}`);
        }
      }
      dir = mkdtempSync(join(tmpdir(), 'baton-report-'));
      file = join(dir, 'report.html');
      html = renderHtml(scenario, META);
      writeFileSync(file, html);
    });

    after(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const chromium = (extra: string[]) =>
      run(CHROMIUM, [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', `--user-data-dir=${join(dir, 'profile')}`, '--hide-scrollbars',
        ...extra, pathToFileURL(file).href,
      ], { timeout: 90_000, maxBuffer: 64 * 1024 * 1024 });

    it('renders every chart with its series laid out', async () => {
      const { stdout } = await chromium(['--dump-dom']);
      const dom = stdout;
      assert.match(dom, /<body[^>]*data-charts="26"/, 'the inline script ran and counted 26 charts');
      const expected = seriesPerChart(html);
      const rendered = svgTags(dom).filter((a) => a.class === 'chart');
      assert.equal(rendered.length, expected.size);
      for (const a of rendered) {
        const id = a['data-chart']!;
        assert.ok(expected.has(id), `unexpected chart ${id}`);
        // data-drawn: series paths the browser measured with nonzero length.
        assert.equal(Number(a['data-drawn']), expected.get(id), `chart ${id}: drawn paths`);
      }
      assert.match(dom, /data-chart="replicas-coordinated"/);
    });

    it('takes a legible screenshot', async () => {
      const png = join(tmpdir(), 'baton-report-test.png');
      rmSync(png, { force: true });
      await chromium(['--window-size=1400,3600', `--screenshot=${png}`]);
      const bytes = readFileSync(png);
      assert.equal(bytes.subarray(1, 4).toString('ascii'), 'PNG');
      assert.equal(bytes.readUInt32BE(16), 1400, 'width from the IHDR chunk');
      // A blank page compresses to a few kB; charts and tables do not.
      assert.ok(statSync(png).size > 100_000, `screenshot only ${statSync(png).size} bytes`);
    });
  });

  describe('createProgress', () => {
    function fakeTty(): { stream: PassThrough & { isTTY: boolean; columns: number }; text: () => string } {
      const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 100 });
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
    }

    it('draws one bar per policy on a TTY and completes the ones that ran', () => {
      const tty = fakeTty();
      const p = createProgress(['static', 'coordinated'], { stream: tty.stream, enabled: true });
      assert.equal(p.active, true);
      p.update('static', 0.5);
      p.update('static', 0.98);
      p.update('coordinated', 0.3); // static finished
      p.stop();
      p.stop();
      // eslint-disable-next-line no-control-regex
      const plain = tty.text().replace(/\x1B\[[0-9;?]*[A-Za-z]|\x1B[78]/g, '');
      assert.match(plain, /static\s+\|█{40}\| 100%/);
      assert.match(plain, /coordinated \|█{40}\| 100%/);
    });

    it('writes nothing when stdout is not a TTY, yet still checks its input', () => {
      const tty = fakeTty();
      const p = createProgress(['static'], { stream: tty.stream, enabled: false });
      assert.equal(p.active, false);
      p.update('static', 0.5);
      p.stop();
      assert.equal(tty.text(), '');
      assert.throws(() => p.update('oracle', 0.5), /unknown policy 'oracle'; known: static/);
      assert.throws(() => p.update('static', Number.NaN), /fraction for 'static' must be a finite number/);
      assert.throws(() => createProgress([]), /non-empty/);
      // Default: follows process.stdout.isTTY (false under mocha with piped output).
      if (!process.stdout.isTTY) assert.equal(createProgress(['static']).active, false);
    });
  });

  describe('scripts/install-chromium.sh', () => {
    it('does nothing when Chromium is present', async function () {
      if (!existsSync(CHROMIUM)) this.skip();
      const { stdout } = await run('bash', [join(projectRoot(), 'scripts', 'install-chromium.sh')], { timeout: 30_000 });
      assert.match(stdout, /already present .*nothing to do/);
    });
  });
});
