import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from '../support/fast-check.js';
import { dataFile } from '../../sim/paths.js';
import { Rng } from '../../sim/rng.js';
import {
  type SimRequest,
  TraceFormatError,
  csvEnvelope,
  detectFormat,
  envelopeIntegral,
  loadAzureTrace,
  loadMooncakeTrace,
  loadTrace,
  paperDayEnvelope,
  parseAzureTrace,
  parseMooncakeTrace,
  replay,
  summarize,
  synthesize,
} from '../../sim/workload/index.js';

const AZURE = dataFile('traces', 'azure-llm-2023-conv.csv');
const MOONCAKE = dataFile('traces', 'mooncake-fast25-synthetic.jsonl');
const SERVEGEN = dataFile('traces', 'servegen-language-m-mid-rate-10min.csv');
const HOUR = 3600;

function near(actual: number, expected: number, relTol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= relTol * Math.abs(expected), `${what}: ${actual} not within ${relTol * 100}% of ${expected}`);
}

function pearson(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

function assertArrivalOrder(reqs: SimRequest[]): void {
  for (let i = 1; i < reqs.length; i++) {
    assert.ok(reqs[i]!.arrival >= reqs[i - 1]!.arrival, `arrival order broken at ${i}`);
    assert.equal(reqs[i]!.id, i);
  }
}

/** Counts per bin of width binS over [0, bins*binS). */
function binCounts(reqs: Iterable<SimRequest>, binS: number, bins: number): number[] {
  const counts = new Array<number>(bins).fill(0);
  for (const r of reqs) {
    const b = Math.floor(r.arrival / binS);
    if (b < bins) counts[b]!++;
  }
  return counts;
}

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'baton-workload-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function tempFile(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

describe('sim/rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const draw = (seed: number) => {
      const r = new Rng(seed);
      return Array.from({ length: 50 }, () => r.next());
    };
    assert.deepEqual(draw(42), draw(42));
    assert.notDeepEqual(draw(42), draw(43));
  });

  it('next() in [0,1), int(n) in [0,n), exponential has mean 1/rate', () => {
    const r = new Rng(7);
    let sum = 0;
    const seen = new Set<number>();
    for (let i = 0; i < 200_000; i++) {
      const u = r.next();
      assert.ok(u >= 0 && u < 1);
      const k = r.int(6);
      assert.ok(Number.isInteger(k) && k >= 0 && k < 6);
      seen.add(k);
      sum += r.exponential(4);
    }
    assert.equal(seen.size, 6);
    near(sum / 200_000, 0.25, 0.01, 'exponential mean');
  });

  it('rejects bad arguments', () => {
    const r = new Rng(1);
    assert.throws(() => r.int(0), /positive integer/);
    assert.throws(() => r.exponential(0), /rate/);
    assert.throws(() => new Rng(NaN), /seed/);
  });
});

describe('sim/workload loaders', () => {
  it('loads the bundled Azure conversation trace', () => {
    const reqs = loadAzureTrace(AZURE);
    assert.equal(reqs.length, 19_366);
    assert.equal(reqs[0]!.arrival, 0);
    assertArrivalOrder(reqs);
    const s = summarize(reqs);
    near(s.durationS / 60, 58.4, 0.005, 'duration (min)');
    near(s.input.mean, 1155, 0.002, 'mean input');
    near(s.output.mean, 211, 0.003, 'mean output');
    assert.equal(s.input.p50, 1020);
    assert.equal(s.output.p99, 601);
    assert.equal(s.prefixHitFraction, undefined);
  });

  it('keeps 7-digit fractional seconds and sorts out-of-order rows', () => {
    const reqs = parseAzureTrace(
      'TIMESTAMP,ContextTokens,GeneratedTokens\r\n' +
        '2023-11-16 18:17:04.0000000,5,6\r\n' +
        '2023-11-16 18:17:03.9999900,3,4\r\n' +
        '2023-11-16 18:17:03.9999800,1,2\r\n',
      'mem.csv',
    );
    assert.deepEqual(reqs.map((r) => r.input), [1, 3, 5]);
    assert.equal(reqs[0]!.arrival, 0);
    assert.ok(Math.abs(reqs[1]!.arrival - 0.00001) < 1e-9, `got ${reqs[1]!.arrival}`);
    assert.ok(Math.abs(reqs[2]!.arrival - 0.00002) < 1e-9, `got ${reqs[2]!.arrival}`);
    assert.deepEqual(reqs.map((r) => r.id), [0, 1, 2]);
  });

  it('loads the bundled Mooncake synthetic trace with prefix hits', () => {
    const reqs = loadMooncakeTrace(MOONCAKE);
    assert.equal(reqs.length, 3_993);
    assertArrivalOrder(reqs);
    const s = summarize(reqs);
    near(s.durationS, 1022, 0.001, 'duration (s)');
    near(s.input.mean, 15_325, 0.001, 'mean input');
    near(s.output.mean, 149, 0.005, 'mean output');
    assert.equal(reqs[0]!.prefixHitTokens, 0);
    // workloads.md §1.3: 65 % of synthetic input tokens hit a seen block.
    near(s.prefixHitFraction!, 0.65, 0.02, 'prefix hit fraction');
    for (const r of reqs) assert.ok(r.prefixHitTokens! >= 0 && r.prefixHitTokens! <= r.input);
  });

  it('counts only the contiguous prefix of seen blocks, capped at input', () => {
    const lines = [
      { timestamp: 0, input_length: 1500, output_length: 1, hash_ids: [1, 2, 3] },
      { timestamp: 1000, input_length: 1500, output_length: 1, hash_ids: [1, 2, 4] },
      { timestamp: 2000, input_length: 1024, output_length: 1, hash_ids: [9, 1, 2] },
      { timestamp: 3000, input_length: 1100, output_length: 1, hash_ids: [1, 2, 3] },
    ];
    const reqs = parseMooncakeTrace(lines.map((l) => JSON.stringify(l)).join('\n'), 'mem.jsonl');
    assert.deepEqual(reqs.map((r) => r.prefixHitTokens), [0, 1024, 0, 1100]);
    assert.deepEqual(reqs.map((r) => r.arrival), [0, 1, 2, 3]);
  });

  it('names file, line and field for a malformed Azure row', () => {
    const rows = ['TIMESTAMP,ContextTokens,GeneratedTokens'];
    for (let i = 0; i < 20; i++) rows.push(`2023-11-16 18:17:${String(i).padStart(2, '0')}.0000000,${i === 15 ? 'abc' : 100},10`);
    const path = tempFile('bad.csv', rows.join('\n'));
    // rows[15] is the 16th data row: line 17 of the file.
    assert.throws(
      () => loadAzureTrace(path),
      (e: unknown) =>
        e instanceof TraceFormatError && e.line === 17 && e.field === 'ContextTokens' && e.message.startsWith(`${path}:17:`) && /"abc"/.test(e.message),
    );
    const badTs = tempFile('badts.csv', 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 25:00:00,1,1\n');
    assert.throws(() => loadAzureTrace(badTs), /badts\.csv:2: field "TIMESTAMP"/);
    const noCol = tempFile('nocol.csv', 'TIMESTAMP,ContextTokens\n2023-11-16 10:00:00,1\n');
    assert.throws(() => loadAzureTrace(noCol), /nocol\.csv:1: field "GeneratedTokens": missing column/);
  });

  it('names file, line and field for a malformed Mooncake row', () => {
    const good = '{"timestamp": 0, "input_length": 10, "output_length": 2, "hash_ids": [1]}';
    const path = tempFile('bad.jsonl', [good, good, '{"timestamp": 5, "input_length": 10, "output_length": -1}'].join('\n'));
    assert.throws(() => loadMooncakeTrace(path), (e: unknown) => e instanceof TraceFormatError && e.line === 3 && e.field === 'output_length');
    const notJson = tempFile('notjson.jsonl', `${good}\n{"timestamp": 1,\n`);
    assert.throws(() => loadMooncakeTrace(notJson), /notjson\.jsonl:2: invalid JSON/);
    const badHash = tempFile('badhash.jsonl', '{"timestamp": 0, "input_length": 10, "output_length": 2, "hash_ids": [1, "x"]}');
    assert.throws(() => loadMooncakeTrace(badHash), /badhash\.jsonl:1: field "hash_ids\[1\]"/);
  });

  it('detects the format from extension or content', () => {
    assert.equal(detectFormat(AZURE), 'azure');
    assert.equal(detectFormat(MOONCAKE), 'mooncake');
    assert.equal(detectFormat(tempFile('trace.txt', '\n{"timestamp": 0, "input_length": 1, "output_length": 1}\n')), 'mooncake');
    assert.equal(detectFormat(tempFile('trace.dat', 'TIMESTAMP,ContextTokens,GeneratedTokens\n')), 'azure');
    assert.throws(() => detectFormat(SERVEGEN), /cannot tell the trace format.*--format/);
    assert.equal(loadTrace(tempFile('t.log', 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 10:00:00,7,8\n'))[0]!.input, 7);
  });
});

describe('sim/workload replay', () => {
  const trace = loadAzureTrace(AZURE);
  const base = summarize(trace);

  it('with defaults reproduces the trace', () => {
    const out = [...replay(trace)];
    assert.deepEqual(out, trace);
  });

  it('timeScale stretches and compresses time, keeping the count', () => {
    for (const k of [0.5, 2]) {
      const s = summarize(replay(trace, { timeScale: k }));
      assert.equal(s.count, base.count);
      near(s.durationS, base.durationS * k, 1e-9, `duration x${k}`);
      near(s.meanRps, base.meanRps / k, 1e-9, `rate x${k}`);
    }
  });

  it('rateScale multiplies the count and keeps the duration and rate profile', () => {
    for (const r of [0.5, 2, 2.5, 3]) {
      const out = [...replay(trace, { rateScale: r, seed: 5 })];
      assertArrivalOrder(out);
      near(out.length, base.count * r, 0.02, `count x${r}`);
      near(summarize(out).durationS, base.durationS, 0.01, `duration at rate x${r}`);
      const before = binCounts(trace, 300, 12);
      const after = binCounts(out, 300, 12);
      // Every 5-minute bin scales by r (a correlation alone would not catch a flattened profile).
      before.forEach((b, i) => near(after[i]!, b * r, 0.1, `5-min bin ${i} at rate x${r}`));
    }
    assert.equal([...replay(trace, { rateScale: 3 })].length, base.count * 3); // integer scale is exact
  });

  it('is deterministic per seed and validates arguments', () => {
    const a = [...replay(trace, { rateScale: 1.7, seed: 9 })];
    const b = [...replay(trace, { rateScale: 1.7, seed: 9 })];
    const c = [...replay(trace, { rateScale: 1.7, seed: 10 })];
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.throws(() => [...replay(trace, { rateScale: 0 })], /rateScale/);
    assert.throws(() => [...replay(trace, { timeScale: -1 })], /timeScale/);
    const unsorted: SimRequest[] = [
      { id: 0, arrival: 5, input: 1, output: 1 },
      { id: 1, arrival: 1, input: 1, output: 1 },
    ];
    assert.throws(() => [...replay(unsorted)], /sorted/);
  });

  it('is lazy', () => {
    const it = replay(trace, { rateScale: 1000 });
    const first = it.next();
    assert.equal(first.done, false);
    assert.equal(first.value!.arrival, 0);
  });

  it('preserves order and expected count on random traces (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 100, noNaN: true }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 4 }),
        (times, r) => {
          const t = times.sort((a, b) => a - b).map((arrival, id) => ({ id, arrival, input: 1, output: 1 }));
          const out = [...replay(t, { rateScale: r })];
          assert.equal(out.length, t.length * r);
          for (let i = 1; i < out.length; i++) assert.ok(out[i]!.arrival >= out[i - 1]!.arrival);
        },
      ),
    );
  });
});

describe('sim/workload envelopes', () => {
  it('paper day hits its landmarks', () => {
    const env = paperDayEnvelope();
    assert.equal(env.periodS, 24 * HOUR);
    assert.ok(env.at(5 * HOUR) < 0.03, 'trough at 05:00');
    assert.ok(env.at(16 * HOUR) > 0.95, 'peak at 16:00');
    assert.ok(env.at(15.5 * HOUR) > 0.95 && env.at(16.5 * HOUR) > 0.95, 'plateau 15:30-16:30');
    assert.ok(Math.abs(env.at(11 * HOUR) - 0.87) < 0.02, '11:00 ~ 0.87');
    assert.ok(Math.abs(env.at(12.5 * HOUR) - 0.5) < 0.03, '12:30 dip ~ 0.5');
    assert.ok(Math.abs(env.at(21.5 * HOUR) - 0.62) < 0.03, '21:30 ~ 0.62');
    assert.ok(Math.abs(env.at(0) - 0.37) < 0.02 && Math.abs(env.at(24 * HOUR) - 0.37) < 0.02, 'midnight ~ 0.37');
    // The landmarks are local extrema of the shape.
    assert.ok(env.at(12.5 * HOUR) < env.at(12 * HOUR) && env.at(12.5 * HOUR) < env.at(13 * HOUR));
    assert.ok(env.at(11 * HOUR) > env.at(10.5 * HOUR) && env.at(11 * HOUR) > env.at(11.5 * HOUR));
    let min = Infinity;
    let argmin = 0;
    let max = -Infinity;
    for (let t = 0; t < 24 * HOUR; t += 60) {
      const v = env.at(t);
      assert.ok(v >= 0 && v <= 1);
      if (v < min) [min, argmin] = [v, t];
      max = Math.max(max, v);
      assert.equal(env.at(t + 24 * HOUR), v);
      assert.ok(Math.abs(env.at(t - 24 * HOUR) - v) < 1e-12);
    }
    assert.ok(Math.abs(argmin / HOUR - 5) <= 0.5, `trough at ${argmin / HOUR} h`);
    assert.ok(max / min > 50, 'peak:trough 50-100x');
  });

  it('csvEnvelope normalizes the ServeGen rates to their max and repeats', () => {
    const env = csvEnvelope(SERVEGEN);
    assert.equal(env.periodS, 2016 * 600);
    let max = 0;
    for (let t = 0; t < env.periodS; t += 600) max = Math.max(max, env.at(t));
    assert.equal(max, 1);
    const first = env.at(0);
    assert.ok(first > 0 && first < 1);
    assert.equal(env.at(599), first); // step within the window
    assert.equal(env.at(env.periodS + 10), first);
    // workloads.md §1.3: m-mid peak/mean 1.92.
    near(env.periodS / envelopeIntegral(env, 0, env.periodS, 600), 1.92, 0.01, 'peak/mean');
    const lin = csvEnvelope(SERVEGEN, { interpolate: 'linear' });
    assert.equal(lin.at(300), first); // window midpoint
    assert.ok(lin.at(600) !== first);
  });

  it('csvEnvelope names line and field on bad input', () => {
    const p = tempFile('rates.csv', '0,10\n600,12\n1200,fast\n');
    assert.throws(() => csvEnvelope(p), /rates\.csv:3: field "requests_per_second"/);
    const q = tempFile('rates2.csv', '0,10\n0,12\n');
    assert.throws(() => csvEnvelope(q), /rates2\.csv:2: field "window_start_seconds": must increase/);
  });
});

describe('sim/workload synthesize', () => {
  const mix = loadAzureTrace(AZURE);
  const env = paperDayEnvelope();

  it('follows the envelope: hourly counts correlate, total matches its integral', () => {
    const peakRps = 10;
    const reqs = [...synthesize({ lengths: mix, envelope: env, peakRps, durationS: 24 * HOUR, seed: 11 })];
    assertArrivalOrder(reqs);
    assert.ok(reqs[reqs.length - 1]!.arrival < 24 * HOUR);
    const hourly = binCounts(reqs, HOUR, 24);
    const expected = hourly.map((_, h) => peakRps * envelopeIntegral(env, h * HOUR, HOUR));
    assert.ok(pearson(hourly, expected) > 0.995, `correlation ${pearson(hourly, expected)}`);
    near(reqs.length, peakRps * envelopeIntegral(env, 0, 24 * HOUR), 0.02, 'total count');
    hourly.forEach((c, h) => {
      if (expected[h]! > 1000) near(c, expected[h]!, 0.1, `hour ${h}`);
    });
    assert.ok(hourly[16]! > 30 * hourly[5]!, 'peak hour vs trough hour');
  });

  it('startS shifts into the envelope', () => {
    const count = (startS: number) =>
      summarize(synthesize({ lengths: mix, envelope: env, peakRps: 50, durationS: HOUR, startS, seed: 2 })).count;
    const night = count(4.5 * HOUR);
    const afternoon = count(15.5 * HOUR);
    near(afternoon, 50 * envelopeIntegral(env, 15.5 * HOUR, HOUR), 0.03, 'afternoon hour');
    assert.ok(afternoon > 30 * night, `${afternoon} vs ${night}`);
  });

  it('is deterministic per seed', () => {
    const take = (seed: number) => [...synthesize({ lengths: mix, envelope: env, peakRps: 5, durationS: 2 * HOUR, startS: 10 * HOUR, seed })];
    assert.deepEqual(take(1), take(1));
    assert.notDeepEqual(take(1), take(2));
  });

  it('scales lengths to target means (service A from the Azure mix)', () => {
    const s = summarize(
      synthesize({ lengths: mix, envelope: env, peakRps: 20, durationS: 6 * HOUR, startS: 10 * HOUR, seed: 4, meanInput: 3000, meanOutput: 350 }),
    );
    near(s.input.mean, 3000, 0.03, 'mean input');
    near(s.output.mean, 350, 0.03, 'mean output');
    const unscaled = summarize(synthesize({ lengths: mix, envelope: env, peakRps: 20, durationS: 6 * HOUR, startS: 10 * HOUR, seed: 4 }));
    near(unscaled.input.mean, 1155, 0.03, 'unscaled mean input');
  });

  it('keeps integer lengths >= 1 and scales prefix hits with input', () => {
    const moon = loadMooncakeTrace(MOONCAKE);
    const reqs = [...synthesize({ lengths: moon, envelope: env, peakRps: 5, durationS: 4 * HOUR, startS: 12 * HOUR, seed: 8, meanInput: 50, meanOutput: 2 })];
    assert.ok(reqs.length > 1000);
    for (const r of reqs) {
      assert.ok(Number.isInteger(r.input) && r.input >= 1);
      assert.ok(Number.isInteger(r.output) && r.output >= 1);
      assert.ok(r.prefixHitTokens !== undefined && r.prefixHitTokens >= 0 && r.prefixHitTokens <= r.input);
    }
    near(summarize(reqs).prefixHitFraction!, 0.65, 0.1, 'prefix hit fraction survives scaling');
  });

  it('validates its options', () => {
    assert.throws(() => [...synthesize({ lengths: [], envelope: env, peakRps: 1, durationS: 1 })], /empty/);
    assert.throws(() => [...synthesize({ lengths: mix, envelope: env, peakRps: -1, durationS: 1 })], /peakRps/);
    assert.throws(() => [...synthesize({ lengths: mix, envelope: env, peakRps: 1, durationS: 1, meanInput: 0 })], /meanInput/);
    assert.equal([...synthesize({ lengths: mix, envelope: env, peakRps: 0, durationS: 100 })].length, 0);
  });

  it('generates quickly', function () {
    this.timeout(60_000);
    const t0 = process.hrtime.bigint();
    let n = 0;
    for (const _ of synthesize({ lengths: mix, envelope: env, peakRps: 50, durationS: 24 * HOUR, seed: 3, meanInput: 3000, meanOutput: 350 })) n++;
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const rate = n / s;
    console.log(`      synthesize(): ${n} requests in ${s.toFixed(2)} s = ${Math.round(rate).toLocaleString('en-US')} req/s`);
    assert.ok(rate > 100_000, `only ${rate} req/s`);
  });
});

describe('sim/workload summarize', () => {
  it('computes count, duration, rate and nearest-rank percentiles', () => {
    const reqs: SimRequest[] = Array.from({ length: 100 }, (_, i) => ({ id: i, arrival: i / 2, input: i + 1, output: 100 - i }));
    const s = summarize(reqs);
    assert.equal(s.count, 100);
    assert.equal(s.durationS, 49.5);
    near(s.meanRps, 100 / 49.5, 1e-12, 'rate');
    assert.deepEqual(s.input, { mean: 50.5, p50: 50, p99: 99 });
    assert.deepEqual(s.output, { mean: 50.5, p50: 50, p99: 99 });
    const empty = summarize([]);
    assert.equal(empty.count, 0);
    assert.equal(empty.meanRps, 0);
  });
});
