// Fuzzing rule files: loadRuleText on random text, random YAML documents and mutations of a valid file never throws,
// and every error it reports names the file, a line and column inside the text, and says what was wrong.
import assert from 'node:assert/strict';
import fc from '../support/fast-check.js';
import { stringify } from 'yaml';
import { loadRuleText } from '../../rules/load.js';
import { chatRules } from '../rules/fixtures.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 600);
const FILE = 'fuzz/rules.yaml';

function checkOne(text: string): void {
  let result: ReturnType<typeof loadRuleText>;
  try {
    result = loadRuleText(text, FILE);
  } catch (err) {
    assert.fail(`loadRuleText threw on ${JSON.stringify(text.slice(0, 300))}: ${(err as Error)?.stack ?? String(err)}`);
  }
  const lines = text.split(/\r\n|\r|\n/).length;
  for (const e of result.errors) {
    assert.equal(e.file, FILE);
    assert.ok(Number.isInteger(e.line) && e.line >= 1 && e.line <= lines + 1, `line ${e.line} of ${lines}: ${JSON.stringify(e)}`);
    assert.ok(Number.isInteger(e.col) && e.col >= 1, `col ${e.col}: ${JSON.stringify(e)}`);
    assert.equal(typeof e.path, 'string');
    assert.ok(e.message.length > 0, `empty message: ${JSON.stringify(e)}`);
  }
  if (result.errors.length === 0) for (const s of result.services) assert.ok(s.name && s.pools.length > 0, `accepted a service without name/pools: ${text}`);
}

const VALID = chatRules();
const validLines = VALID.split('\n');

/** A value that may land anywhere in a rule file: scalars of every YAML type, lists, maps, PromQL-ish strings. */
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('sum(rate(x[1m]))', 'rate(', '{a=', '1m', '-1', '0', '1e309', '.nan', '~', '&a', '*a', '!!binary', 'decode', 'prefill'),
);

/** Replace a scalar on one line of the valid file, delete a line, duplicate a line or cut the file. */
const mutation = fc.oneof(
  fc.tuple(fc.nat(validLines.length - 1), anyValue).map(([i, v]) => validLines.map((l, j) => (j === i ? l.replace(/: .*$/, `: ${JSON.stringify(v)}`) : l)).join('\n')),
  fc.nat(validLines.length - 1).map((i) => validLines.filter((_, j) => j !== i).join('\n')),
  fc.nat(validLines.length - 1).map((i) => validLines.flatMap((l, j) => (j === i ? [l, l] : [l])).join('\n')),
  fc.nat(VALID.length).map((n) => VALID.slice(0, n)),
  fc.tuple(fc.nat(VALID.length), fc.string({ maxLength: 6 })).map(([n, s]) => VALID.slice(0, n) + s + VALID.slice(n)),
);

describe('fuzz: rule files (rules/load.ts loadRuleText)', function () {
  this.timeout(120_000);

  it('random text: no crash, errors carry file/line/col', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200, unit: 'binary' }), checkOne), { numRuns: RUNS });
  });

  it('random YAML documents (any shape): no crash, errors carry file/line/col', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => checkOne(stringify(v))), { numRuns: RUNS });
  });

  it('random services objects: no crash, errors carry file/line/col', () => {
    const service = fc.dictionary(
      fc.constantFrom('name', 'namespaces', 'ratio', 'decodeTpsPerUnit', 'decodeTps', 'guards', 'pools', 'stability', 'window', 'engine', 'match', 'poolLabel', 'metric', 'replicas', 'periodic', 'maxStalenessSeconds', 'queryIntervalSeconds', 'bogus'),
      anyValue,
    );
    fc.assert(fc.property(fc.array(service, { maxLength: 3 }), (services) => checkOne(stringify({ services }))), { numRuns: RUNS });
  });

  it('mutations of a valid rule file: no crash, errors carry file/line/col', () => {
    assert.deepEqual(loadRuleText(VALID, FILE).errors, [], 'the seed file is valid');
    fc.assert(fc.property(mutation, checkOne), { numRuns: RUNS });
  });
});
