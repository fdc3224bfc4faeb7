// Random PromQL templates over one service value, for the batching fuzz tests (detection, and equivalence on a real
// Prometheus). `safe` says whether merging the template across values is provably exact.
import fc from './fast-check.js';

/** A random PromQL expression over one service value: its text for a value, and whether a merge is provably safe. */
export interface Generated {
  text: (service: string) => string;
  safe: boolean;
}

const leaf = fc.constantFrom<Generated>(
  { text: (s) => `rate(vllm:generation_tokens_total{service="${s}"}[5s])`, safe: true },
  { text: (s) => `increase(vllm:generation_tokens_total{service="${s}",pool="decode"}[5s])`, safe: true },
  { text: (s) => `up{service="${s}"}`, safe: true },
  { text: (s) => `vllm:generation_tokens_total{service="${s}"}`, safe: true },
  { text: () => 'vllm:generation_tokens_total', safe: false }, // no parameter matcher: shared by every value
  { text: (s) => `absent(up{service="${s}"})`, safe: false },
  { text: (s) => `label_replace(up{service="${s}"}, "service", "x", "", "")`, safe: false },
);

/** Expressions of instant-vector type, built from the leaves with the constructs the merge must handle. */
export const generated: fc.Arbitrary<Generated> = fc.letrec<{ expr: Generated }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.tuple(fc.constantFrom('sum', 'max', 'min', 'avg', 'count'), fc.constantFrom('', ' by (pool)', ' by (instance)', ' without (model_name)', ' without (service)'), tie('expr'))
      .map(([op, mod, e]): Generated => ({ text: (s) => `${op}${mod} (${e.text(s)})`, safe: e.safe && !mod.includes('service') })),
    fc.tuple(tie('expr'), fc.constantFrom('+', '/', 'and', 'unless', 'or'), fc.constantFrom('', ' on()', ' on(instance)', ' ignoring(pool)', ' ignoring(service)'), tie('expr'))
      .map(([a, op, mod, b]): Generated => ({ text: (s) => `(${a.text(s)}) ${op}${mod} (${b.text(s)})`, safe: a.safe && b.safe && !mod.includes('service') })),
    fc.tuple(tie('expr'), fc.constantFrom('> 0', '* 2', '>= bool 1')).map(([e, tail]): Generated => ({ text: (s) => `(${e.text(s)}) ${tail}`, safe: e.safe })),
    fc.tuple(fc.constantFrom('abs', 'clamp_min'), tie('expr')).map(([f, e]): Generated => ({ text: (s) => (f === 'abs' ? `abs(${e.text(s)})` : `clamp_min(${e.text(s)}, 0)`), safe: e.safe })),
    fc.tuple(tie('expr'), fc.constantFrom('or vector(0)', '* on() group_left scalar(up{service="z"})')).map(([e, tail]): Generated => ({ text: (s) => `(${e.text(s)}) ${tail}`, safe: false })),
  ),
})).expr;
