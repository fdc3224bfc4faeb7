// A diurnal day's request lengths: rescaled to the service preset's means by default, the trace's own with
// `lengths: 'trace'`; the workload description says which, with both means, so no rescaling is silent.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { dataFile, projectRoot } from '../../sim/paths.js';
import { servicePreset } from '../../sim/service.js';
import { buildWorkload } from '../../sim/workload/build.js';
import { loadAzureTrace } from '../../sim/workload/index.js';

const TRACE = dataFile('traces', 'azure-llm-2023-conv.csv');
const BATON = `${projectRoot()}/bin/baton.js`;
const execFileAsync = promisify(execFile);
const svc = servicePreset('A');
const day = { trace: TRACE, diurnal: true, peakRps: 20, startHour: 10, hours: 1, timeScale: 1, rateScale: 1, seed: 7 };

function means(requests: Iterable<{ input: number; output: number }>): { input: number; output: number } {
  let n = 0;
  let input = 0;
  let output = 0;
  for (const r of requests) {
    n++;
    input += r.input;
    output += r.output;
  }
  return { input: input / n, output: output / n };
}

describe('sim/workload: diurnal lengths, preset or the trace\'s own', () => {
  const trace = loadAzureTrace(TRACE);
  const own = means(trace);

  it('by default rescales to the preset\'s means and says so, naming the trace\'s own', () => {
    const w = buildWorkload(day, svc);
    const m = means(w.requests());
    assert.ok(Math.abs(m.input / svc.meanInput - 1) < 0.1 && Math.abs(m.output / svc.meanOutput - 1) < 0.1, JSON.stringify(m));
    assert.match(w.describe, new RegExp(`rescaled to the service-a preset's mean lengths 3000/350 tokens \\(the trace's own: ${Math.round(own.input)}/${Math.round(own.output)}; --lengths trace keeps them\\)`));
  });

  it('with lengths: trace, keeps the trace\'s own lengths', () => {
    const w = buildWorkload({ ...day, lengths: 'trace' }, svc);
    const m = means(w.requests());
    assert.ok(Math.abs(m.input / own.input - 1) < 0.1 && Math.abs(m.output / own.output - 1) < 0.1, `${JSON.stringify(m)} vs ${JSON.stringify(own)}`);
    assert.match(w.describe, /at its own lengths \(mean \d+\/\d+ tokens in\/out\)/);
  });

  it('the CLI refuses --lengths on a replay and an unknown source', async () => {
    const run = (args: string[]) => execFileAsync(process.execPath, [BATON, 'simulate', ...args], { timeout: 30_000 }).then(() => '', (e: { stderr?: string }) => e.stderr ?? '');
    assert.match(await run(['--lengths', 'trace']), /--lengths applies to --diurnal/);
    assert.match(await run(['--diurnal', '--lengths', 'mean']), /Allowed choices are preset, trace/);
  });
});
