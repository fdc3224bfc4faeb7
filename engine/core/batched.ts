// Runs async work a few at a time. Lives beside the core because the engine's writes and the rule store's dry runs
// both need it; it does no I/O itself.

/** Runs `fn` over `items`, at most `limit` at once; collects every result in order. */
export async function batched<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
