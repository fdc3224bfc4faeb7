// A cache bounded in entries and in bytes: a reader sending endless distinct (and long) selectors or namespaces must
// not grow the adapter past its memory limit. Oldest entries go first (Map keeps insertion order). Bytes are counted
// as the key's UTF-16 size plus a fixed per-entry overhead plus what `sizeOf` says of the value.
const ENTRY_OVERHEAD_BYTES = 160;

export class BoundedMap<V> {
  private readonly map = new Map<string, { value: V; bytes: number }>();
  private total = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    private readonly sizeOf: (value: V) => number = () => 0,
  ) {}

  get(key: string): V | undefined {
    return this.map.get(key)?.value;
  }

  set(key: string, value: V): void {
    this.delete(key);
    const bytes = key.length * 2 + ENTRY_OVERHEAD_BYTES + this.sizeOf(value);
    if (bytes > this.maxBytes) return; // never cache what alone exceeds the budget
    this.map.set(key, { value, bytes });
    this.total += bytes;
    for (const [k] of this.map) {
      if (this.map.size <= this.maxEntries && this.total <= this.maxBytes) break;
      this.delete(k);
    }
  }

  delete(key: string): void {
    const e = this.map.get(key);
    if (!e) return;
    this.map.delete(key);
    this.total -= e.bytes;
  }

  clear(): void {
    this.map.clear();
    this.total = 0;
  }

  /** Entries (oldest first), for sweeps. */
  entries(): IterableIterator<[string, { value: V; bytes: number }]> {
    return this.map.entries();
  }

  get size(): number {
    return this.map.size;
  }

  get bytes(): number {
    return this.total;
  }
}
