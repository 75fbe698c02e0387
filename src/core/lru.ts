/**
 * A bounded map that drops its least recently used entry when full. A Map
 * keeps insertion order, so "use" = delete and re-insert: O(1) per operation,
 * no per-entry node objects beyond the Map's own slot.
 *
 * Lives in core (pure, no I/O) so that storage (the over-limit cache) and
 * adaptive (penalty box, abuse detector) share one implementation.
 */
export class Lru<V> {
  private readonly map = new Map<string, V>();
  private evicted = 0;

  /** `maxEntries` ≥ 1. */
  constructor(readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`Lru maxEntries must be an integer ≥ 1, got ${maxEntries}`);
    }
  }

  /** The value, marked as most recently used; undefined when absent. */
  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  /** Inserts or replaces `key` as most recently used, evicting the least recently used when over the bound. */
  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next();
      if (oldest.done !== true) {
        this.map.delete(oldest.value);
        this.evicted++;
      }
    }
  }

  /** The value without marking it as used; undefined when absent. */
  peek(key: string): V | undefined {
    return this.map.get(key);
  }

  /** Entries from least to most recently used. Do not insert while iterating. */
  entries(): IterableIterator<[string, V]> {
    return this.map.entries();
  }

  delete(key: string): boolean {
    return this.map.delete(key);
  }

  get size(): number {
    return this.map.size;
  }

  /** Entries dropped to make room since construction. */
  get evictions(): number {
    return this.evicted;
  }
}
