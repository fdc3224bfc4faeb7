import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from '../support/fast-check.js';
import { dataFile } from '../../sim/paths.js';
import {
  decodeTpsAt, defineModelShape, fitCalibration, GPU_TYPES, gpuModel, LLAMA3_8B, maxDecodeBatch,
  measuredFitReport, parseProfile, profileErrors, worstRelativeError, type Calibration, type MeasuredProfile,
} from '../../sim/gpu/index.js';

const GIB = 2 ** 30;

/** The raw records, read independently of sim/gpu's parser. */
function rawRecords(file: string): Array<Record<string, unknown>> {
  return readFileSync(dataFile('gpu-profiles', file), 'utf8')
    .split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

const PROFILES = [
  { type: 'H100', file: 'h100-llama3-8b-shape.jsonl', prefillPoints: 3, decodePoints: 8 },
  { type: 'H200', file: 'h200-llama3-8b-shape.jsonl', prefillPoints: 3, decodePoints: 9 },
];

function relErr(modelled: number, measured: number): number {
  return Math.abs(modelled - measured) / measured;
}

describe('sim/gpu model shape', () => {
  it('LLAMA3_8B has 128 KiB of KV per token and 14.96 GiB of weights', () => {
    assert.equal(LLAMA3_8B.kvBytesPerToken, 128 * 1024);
    assert.ok(Math.abs(LLAMA3_8B.weightBytes / GIB - 14.9575) < 0.001);
    assert.equal(LLAMA3_8B.params, 8.030257152e9);
  });

  it('rejects a shape with a non-positive dimension, naming the field', () => {
    assert.throws(() => defineModelShape({ name: 'bad', layers: 0, hiddenSize: 1, kvHeads: 1, headDim: 1, params: 1 }), /'bad'.*layers/);
  });
});

describe('sim/gpu measured fits reproduce the bundled profiles', () => {
  for (const { type, file, prefillPoints, decodePoints } of PROFILES) {
    it(`${type}: every prefill tokens_per_s and decode step_ms within 10 %`, () => {
      const model = gpuModel(type);
      assert.equal(model.source, 'measured');
      let prefill = 0, decode = 0, skipped = 0;
      for (const r of rawRecords(file)) {
        if (r['error'] !== undefined) { skipped++; continue; }
        if (r['phase'] === 'prefill') {
          const L = r['prompt_len'] as number, measured = r['tokens_per_s'] as number;
          const modelled = model.prefillTokensPerSecond(L);
          assert.ok(relErr(modelled, measured) <= 0.10, `${type} prefill L=${L}: model ${modelled} vs measured ${measured}`);
          assert.ok(Math.abs(model.prefillSeconds(L) - L / modelled) < 1e-12);
          prefill++;
        } else if (r['phase'] === 'decode' && r['step_ms'] !== undefined) {
          const batch = r['batch'] as number, ctx = r['ctx'] as number, measured = r['step_ms'] as number;
          const modelled = 1000 * model.decodeStepSeconds(batch, batch * ctx);
          assert.ok(relErr(modelled, measured) <= 0.10, `${type} decode B=${batch} ctx=${ctx}: model ${modelled} ms vs measured ${measured} ms`);
          decode++;
        }
      }
      assert.deepEqual({ prefill, decode }, { prefill: prefillPoints, decode: decodePoints });
      assert.equal(skipped, type === 'H100' ? 1 : 0);
    });

    it(`${type}: measuredFitReport agrees (worst error under 10 %, one row per point)`, () => {
      const { errors } = measuredFitReport(type);
      assert.equal(errors.length, prefillPoints + decodePoints);
      assert.ok(worstRelativeError(errors) < 0.10);
    });
  }

  it('H100 KV capacity holds the 128 × 2048 run and not the 256 × 2048 run that went out of memory', () => {
    const h100 = gpuModel('H100');
    assert.ok(h100.kvCapacityTokens >= 128 * 2048);
    assert.ok(h100.kvCapacityTokens < 256 * 2048);
    assert.ok(gpuModel('H200').kvCapacityTokens >= 256 * 2048, 'H200 ran batch 256 at ctx 2048');
  });
});

describe('sim/gpu fit is sensitive to wrong constants', () => {
  const h100Profile: MeasuredProfile = parseProfile(
    readFileSync(dataFile('gpu-profiles', 'h100-llama3-8b-shape.jsonl'), 'utf8'), 'h100');

  it('recovers known constants exactly from synthetic points', () => {
    const truth: Calibration = {
      overheadS: 0.002, effectiveBandwidthBytesPerS: 2.5e12, prefillLinearFlopsPerS: 5e14, prefillAttentionFlopsPerS: 4e14,
    };
    const a = 2 * LLAMA3_8B.params / truth.prefillLinearFlopsPerS;
    const b = 2 * LLAMA3_8B.layers * LLAMA3_8B.hiddenSize / truth.prefillAttentionFlopsPerS;
    const synthetic: MeasuredProfile = {
      source: 'synthetic', deviceMemGiB: 80, skipped: 0,
      prefill: [256, 1024, 4096].map((L) => {
        const ms = 1000 * 4 * L * (a + b * L);
        return { promptLen: L, batch: 4, ms, tokensPerS: 4 * L / (ms / 1000) };
      }),
      decode: [[1, 1000], [64, 2048], [8, 30000]].map(([batch, ctx]) => {
        const bytes = LLAMA3_8B.weightBytes + batch! * ctx! * LLAMA3_8B.kvBytesPerToken;
        return { batch: batch!, ctx: ctx!, bytesPerStepGiB: bytes / GIB, stepMs: 1000 * (truth.overheadS + bytes / truth.effectiveBandwidthBytesPerS) };
      }),
    };
    const fitted = fitCalibration(synthetic, LLAMA3_8B);
    for (const key of Object.keys(truth) as Array<keyof Calibration>) {
      assert.ok(relErr(fitted[key], truth[key]) < 1e-9, `${key}: ${fitted[key]} vs ${truth[key]}`);
    }
    assert.ok(worstRelativeError(profileErrors(fitted, synthetic, LLAMA3_8B)) < 1e-9);
  });

  it('a 15 % slower bandwidth or the H200 fit fails the 10 % check on H100 points', () => {
    const good = measuredFitReport('H100').calibration;
    assert.ok(worstRelativeError(profileErrors(good, h100Profile, LLAMA3_8B)) < 0.10);
    const slow = { ...good, effectiveBandwidthBytesPerS: good.effectiveBandwidthBytesPerS * 0.85 };
    assert.ok(worstRelativeError(profileErrors(slow, h100Profile, LLAMA3_8B)) > 0.10);
    const h200 = measuredFitReport('H200').calibration;
    assert.ok(worstRelativeError(profileErrors(h200, h100Profile, LLAMA3_8B)) > 0.10);
  });

  it('a perturbed measured point (+50 % at batch 64) shows up as an error over 10 %', () => {
    const perturbed: MeasuredProfile = {
      ...h100Profile,
      decode: h100Profile.decode.map((p) => (p.batch === 64 ? { ...p, stepMs: p.stepMs * 1.5 } : p)),
    };
    const cal = fitCalibration(perturbed, LLAMA3_8B);
    assert.ok(worstRelativeError(profileErrors(cal, perturbed, LLAMA3_8B)) > 0.10);
  });
});

describe('sim/gpu relative capacity of GPU types', () => {
  const h100 = gpuModel('H100'), h200 = gpuModel('H200'), h20 = gpuModel('H20'), l20 = gpuModel('L20');
  const step = (m: typeof h100, batch: number, ctx: number): number => m.decodeStepSeconds(batch, batch * ctx);

  it('H200 decodes 1.2–1.5× faster than H100 at batch 64', () => {
    const ratio = step(h100, 64, 2048) / step(h200, 64, 2048);
    assert.ok(ratio >= 1.2 && ratio <= 1.5, `ratio ${ratio}`);
  });

  it('H200 and H100 prefill within 5 % of each other', () => {
    for (const L of [128, 512, 2048, 8192, 32768]) {
      assert.ok(relErr(h200.prefillTokensPerSecond(L), h100.prefillTokensPerSecond(L)) < 0.05, `L=${L}`);
    }
  });

  it('H20: prefill under 0.3× H100, decode at least H100', () => {
    for (const L of [512, 2048, 8192]) assert.ok(h20.prefillTokensPerSecond(L) < 0.3 * h100.prefillTokensPerSecond(L), `L=${L}`);
    for (const batch of [1, 16, 64, 128]) assert.ok(decodeTpsAt(h20, batch, 2048) >= decodeTpsAt(h100, batch, 2048), `B=${batch}`);
    assert.ok(h20.kvCapacityTokens > h100.kvCapacityTokens);
  });

  it('L20 is weak at both prefill and decode', () => {
    assert.ok(l20.prefillTokensPerSecond(2048) < 0.3 * h100.prefillTokensPerSecond(2048));
    for (const batch of [1, 16, 64]) assert.ok(decodeTpsAt(l20, batch, 2048) < 0.5 * decodeTpsAt(h100, batch, 2048), `B=${batch}`);
    assert.ok(l20.kvCapacityTokens < h100.kvCapacityTokens);
  });

  it('H200 holds about twice the KV of H100 or more', () => {
    assert.ok(h200.kvCapacityTokens >= 1.9 * h100.kvCapacityTokens, `${h200.kvCapacityTokens} vs ${h100.kvCapacityTokens}`);
  });

  it('datasheet GPUs inherit the H100 overhead and bandwidth efficiency', () => {
    const a100 = gpuModel('A100');
    assert.equal(a100.source, 'datasheet');
    assert.equal(a100.calibration.overheadS, h100.calibration.overheadS);
    const eff = (m: typeof h100): number => m.calibration.effectiveBandwidthBytesPerS / (m.bandwidthTBs * 1e12);
    assert.ok(Math.abs(eff(a100) - eff(h100)) < 1e-12);
    assert.ok(relErr(gpuModel('H800').prefillSeconds(4096), h100.prefillSeconds(4096)) < 1e-12);
  });

  it('every type is well-formed with a positive price', () => {
    assert.deepEqual([...GPU_TYPES].sort(), ['A100', 'H100', 'H20', 'H200', 'H800', 'L20', 'L40S']);
    for (const type of GPU_TYPES) {
      const m = gpuModel(type);
      assert.equal(m.type, type);
      assert.ok(m.pricePerHour > 0 && m.memGiB > 0 && m.kvCapacityTokens > 0, type);
      assert.ok(m.prefillSeconds(1000) > 0 && m.decodeStepSeconds(1, 1000) > 0, type);
    }
  });
});

describe('sim/gpu factory errors', () => {
  it('unknown GPU type throws naming it and the known types', () => {
    assert.throws(() => gpuModel('B200'), (e: Error) => /'B200'/.test(e.message) && /H100/.test(e.message) && /L20/.test(e.message));
  });

  it('accepts any case', () => {
    assert.equal(gpuModel(' h200 ').type, 'H200');
  });

  it('throws when the weights do not fit at TP1', () => {
    const llama70b = defineModelShape({ name: 'llama3-70b', layers: 80, hiddenSize: 8192, kvHeads: 8, headDim: 128, params: 70.6e9 });
    assert.throws(() => gpuModel('L20', llama70b), /L20.*llama3-70b/);
  });

  it('a bigger shape is slower on the same GPU', () => {
    const qwen32b = defineModelShape({ name: 'qwen2.5-32b', layers: 64, hiddenSize: 5120, kvHeads: 8, headDim: 128, params: 32.5e9 });
    const small = gpuModel('H200'), big = gpuModel('H200', qwen32b);
    assert.ok(big.prefillSeconds(2048) > 3.5 * small.prefillSeconds(2048));
    assert.ok(big.decodeStepSeconds(1, 2048) > 3 * small.decodeStepSeconds(1, 2048));
    assert.equal(big.shape.kvBytesPerToken, 256 * 1024);
  });

  it('rejects negative or non-finite inputs', () => {
    const m = gpuModel('H100');
    assert.throws(() => m.prefillSeconds(-1), /promptTokens/);
    assert.throws(() => m.decodeStepSeconds(1, Number.NaN), /kvTokens/);
    assert.throws(() => m.prefillTokensPerSecond(0), /promptTokens/);
    assert.equal(m.decodeStepSeconds(0, 0), 0);
  });

  it('parseProfile names the file and line of a bad record', () => {
    const text = '{"phase":"device","mem_gib":80}\n{"phase":"prefill","prompt_len":"x"}\n';
    assert.throws(() => parseProfile(text, 'p.jsonl'), /p\.jsonl:2.*prompt_len/);
    assert.throws(() => parseProfile('not json\n', 'q.jsonl'), /q\.jsonl:1/);
  });
});

describe('sim/gpu decode capacity helpers', () => {
  const h100 = gpuModel('H100');

  it('maxDecodeBatch is the largest batch within the SLO and the KV limit', () => {
    fc.assert(fc.property(
      fc.constantFrom(...GPU_TYPES), fc.integer({ min: 1, max: 65536 }), fc.double({ min: 0.001, max: 0.2, noNaN: true }),
      (type, ctx, slo) => {
        const m = gpuModel(type);
        const b = maxDecodeBatch(m, ctx, slo);
        const fits = (batch: number): boolean => batch * ctx <= m.kvCapacityTokens && m.decodeStepSeconds(batch, batch * ctx) <= slo;
        assert.ok(b === 0 || fits(b), `B=${b} should fit`);
        assert.ok(!fits(b + 1), `B=${b + 1} should not fit`);
      }), { numRuns: 300 });
  });

  it('is KV-bound under a loose SLO and 0 under an SLO below the overhead', () => {
    assert.equal(maxDecodeBatch(h100, 2048, 10), Math.floor(h100.kvCapacityTokens / 2048));
    assert.equal(maxDecodeBatch(h100, 2048, h100.calibration.overheadS / 2), 0);
    // 20 ms per token at 2k context: measured 18.69 ms at batch 128, so the answer is a bit above 128.
    const b = maxDecodeBatch(h100, 2048, 0.020);
    assert.ok(b > 128 && b < 160, `B=${b}`);
    assert.throws(() => maxDecodeBatch(h100, 0, 0.02), /ctxTokensPerSeq/);
    assert.throws(() => maxDecodeBatch(h100, 2048, -1), /tbtSloS/);
  });

  it('decodeTpsAt is batch / step time and refuses a batch whose KV does not fit', () => {
    assert.equal(decodeTpsAt(h100, 64, 2048), 64 / h100.decodeStepSeconds(64, 64 * 2048));
    // Measured: 5,065 tokens/s at batch 64, ctx 2048.
    assert.ok(relErr(decodeTpsAt(h100, 64, 2048), 5064.8) < 0.10);
    assert.equal(decodeTpsAt(h100, 0, 2048), 0);
    assert.throws(() => decodeTpsAt(h100, 256, 2048), /H100.*does not fit/);
  });
});
