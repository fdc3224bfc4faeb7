// Fuzzing the persisted-state schema (the adapter's state file and the HA records share it): whatever a damaged or
// hostile file holds, loading never throws, and any memory the schema accepts is one the policy core can decide from —
// the evaluation that resumes from it ends with a finite, in-bounds decision, never an exception.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from '../support/fast-check.js';
import { loadStateFile, memoryProblem, STATE_FILE_VERSION } from '../../adapter/state-file.js';
import { chatRules, DECODE_Q, harness, TBT_Q, vector } from '../rules/fixtures.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
/** Every piece of carried state in use: cooldowns, hysteresis, damping, the scale-in window. */
const RULES = chatRules().replace(
  'stability: {scaleUpCooldownS: 0, scaleDownCooldownS: 0, scaleInHysteresis: 0, scaleInDamping: 1}',
  'stability: {scaleUpCooldownS: 30, scaleDownCooldownS: 60, scaleInHysteresis: 0.1, scaleInDamping: 0.5, scaleInWindowS: 120}',
);
const NOW_MS = 1_000_000_000; // the fixtures' clock

/** Numbers as JSON can carry them, with the edges a hand-edited file has. */
const num = fc.oneof(
  { arbitrary: fc.double({ min: 0, max: 2e9, noNaN: true }), weight: 6 },
  { arbitrary: fc.constantFrom(0, -1, 1e308, -1e308, 5e-324, NOW_MS / 1000), weight: 2 },
  { arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }), weight: 1 },
);
/** Mostly the real shape; now and then any JSON value in its place (a damaged or hand-edited file). */
const orJunk = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<unknown> => fc.oneof({ arbitrary: a, weight: 12 }, { arbitrary: fc.jsonValue(), weight: 1 });
const memory = fc.record({
  policy: orJunk(fc.record({
    lastScaleUpAt: orJunk(num),
    lastScaleDownAt: orJunk(num),
    decodeUnits: orJunk(num),
    signalMissingAt: orJunk(num),
    recentNeeds: orJunk(fc.array(orJunk(fc.tuple(num, num)), { maxLength: 20 })),
  }, { requiredKeys: [] })),
  published: orJunk(fc.dictionary(fc.constantFrom('prefill-h100', 'decode-h100', 'other'), orJunk(fc.nat(100)))),
  atMs: orJunk(fc.constant(NOW_MS - 1000)),
});

describe('fuzz: persisted state schema', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'baton-state-fuzz-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loading any file content never throws; what it keeps passes the schema', () => {
    const file = join(dir, 'state.json');
    fc.assert(fc.property(fc.oneof(
      fc.string().map((s) => s),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.dictionary(fc.string({ maxLength: 8 }), memory).map((services) => JSON.stringify({ version: STATE_FILE_VERSION, savedAt: 'x', services })),
    ), (text) => {
      writeFileSync(file, text);
      const kept = loadStateFile(file, NOW_MS, 900, () => undefined);
      for (const m of Object.values(kept)) assert.equal(memoryProblem(m), undefined);
    }), { numRuns: RUNS });
  });

  it('the rules under test carry every piece of state', () => assert.notEqual(RULES, chatRules()));

  it('a memory the schema accepts resumes into a finite decision within the pools\' bounds', async () => {
    await fc.assert(fc.asyncProperty(memory, fc.integer({ min: 0, max: 50_000 }), async (m, tps) => {
      if (memoryProblem(m) !== undefined) return; // refused at load: that service starts fresh
      const h = harness(RULES, { restore: { chat: structuredClone(m) as never } });
      h.prom.answers.set(DECODE_Q, vector([{ pool: 'decode-h100' }, tps]));
      h.prom.answers.set(TBT_Q, vector([{}, 0.02]));
      await h.evaluator.evaluate('chat');
      const st = h.evaluator.state('chat')!;
      assert.equal(st.lastProblem, undefined, `an accepted memory broke the evaluation: ${JSON.stringify(m)}`);
      for (const v of st.lastGood!.values) {
        assert.ok(Number.isInteger(v.value) && v.value >= 1 && v.value <= 40, `${v.pool} = ${v.value} from ${JSON.stringify(m)}`);
      }
    }), { numRuns: RUNS });
  });
});
