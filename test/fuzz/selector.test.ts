// Fuzzing the label-selector parser the HPA's `metric.selector` reaches: any text either parses into a matcher that
// answers true/false for any labels, or throws SelectorParseError naming a column inside the text. Nothing else.
import assert from 'node:assert/strict';
import fc from '../support/fast-check.js';
import { parseSelector, SelectorParseError, selectorToString } from '../../adapter/selector.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);

/** Fragments of the selector grammar, so random text often gets past the lexer into the parser. */
const token = fc.oneof(
  fc.constantFrom('=', '==', '!=', '!', '(', ')', ',', ' ', 'in', 'notin', '<', '>', 'a', 'b.c/d', 'x-y_z', '1', '-', '.', '/', ''),
  fc.stringMatching(/^[a-z0-9]([-a-z0-9_.]{0,8}[a-z0-9])?$/),
  fc.string({ maxLength: 4 }),
);
const selectorish = fc.array(token, { maxLength: 12 }).map((t) => t.join(''));
const labels = fc.dictionary(fc.constantFrom('a', 'b', 'service', 'pool', 'x-y_z', 'b.c/d'), fc.constantFrom('', '1', 'a', 'x', 'decode', '-1', '10'));

function checkOne(text: string, l: Record<string, string>): void {
  let parsed: ReturnType<typeof parseSelector>;
  try {
    parsed = parseSelector(text);
  } catch (err) {
    assert.ok(err instanceof SelectorParseError, `not a SelectorParseError for ${JSON.stringify(text)}: ${String(err)}`);
    assert.equal(err.selector, text);
    assert.ok(Number.isInteger(err.column) && err.column >= 1 && err.column <= text.length + 1, `column ${err.column} outside ${JSON.stringify(text)}`);
    assert.match(err.message, /unable to parse label selector/);
    return;
  }
  assert.equal(typeof parsed.matches(l), 'boolean');
  // The canonical text parses again to the same requirements (what apimachinery's String() promises).
  const again = parseSelector(selectorToString(parsed.requirements));
  assert.deepEqual(again.requirements.map((r) => r.key).sort(), parsed.requirements.map((r) => r.key).sort());
  assert.equal(again.matches(l), parsed.matches(l), `canonical form of ${JSON.stringify(text)} matches differently`);
}

describe('fuzz: label selectors (adapter/selector.ts parseSelector)', () => {
  it('random unicode text: a matcher or a SelectorParseError with a column', () => {
    fc.assert(fc.property(fc.string({ maxLength: 40, unit: 'binary' }), labels, checkOne), { numRuns: RUNS });
  });

  it('grammar fragments: a matcher or a SelectorParseError with a column', () => {
    fc.assert(fc.property(selectorish, labels, checkOne), { numRuns: RUNS });
  });

  it('valid equality selectors built from parts select exactly the matching labels', () => {
    const name = fc.stringMatching(/^[a-z]([-a-z0-9]{0,6}[a-z0-9])?$/);
    fc.assert(fc.property(fc.dictionary(name, name, { minKeys: 1, maxKeys: 4 }), (want) => {
      const m = parseSelector(Object.entries(want).map(([k, v]) => `${k}=${v}`).join(',')).matches;
      assert.equal(m(want), true);
      const [k] = Object.keys(want) as [string];
      assert.equal(m({ ...want, [k]: want[k] + 'x' }), false);
    }), { numRuns: RUNS / 3 });
  });
});
