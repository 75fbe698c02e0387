/**
 * A bounded map that drops its least recently used entry when full. A Map
 * keeps insertion order, so "use" = delete and re-insert: O(1) per operation,
 * no per-entry node objects beyond the Map's own slot.
 *
 * The oldest entry is found through one long-lived key iterator, not a fresh
 * `map.keys()` per eviction: V8 leaves a deleted entry's slot in the table
 * until it rehashes, and a fresh iterator walks every such slot at the front,
 * so evicting through one cost O(evictions since the last rehash): 1 000 000
 * inserts at a bound of 100 000 took tens of seconds instead of under one. A
 * Map iterator survives changes to its Map (entries deleted before it reaches
 * them are skipped, entries added are visited), so the live one walks each
 * slot once.
 *
 * Lives in core (pure, no I/O) so that storage (the over-limit cache) and
 * adaptive (penalty box, abuse detector) share one implementation.
 */
export class Lru<V> {
  private readonly map = new Map<string, V>();
  private evicted = 0;
  /**
   * Invariant: every live key other than `head` lies after the cursor's
   * position, so the cursor's next key is the oldest one once `head` is gone.
   */
  private cursor: Iterator<string> | undefined;
  /** The oldest key, as last returned by the cursor; undefined once deleted or re-used. */
  private head: string | undefined;

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
      this.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  /** The value without marking it as used; undefined when absent. */
  peek(key: string): V | undefined {
    return this.map.get(key);
  }

  /** Inserts or replaces `key` as most recently used, evicting the least recently used when over the bound. */
  set(key: string, value: V): void {
    this.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.maxEntries) {
      const oldest = this.oldestKey();
      if (oldest !== undefined) {
        this.delete(oldest);
        this.evicted++;
      }
    }
  }

  /** The least recently used key, without using it; undefined when empty. Amortised O(1). */
  oldestKey(): string | undefined {
    if (this.head !== undefined) return this.head;
    if (this.map.size === 0) return undefined;
    let next = this.cursor?.next();
    if (next === undefined || next.done === true) {
      // A finished iterator stays finished; a fresh one starts at the (oldest) front.
      this.cursor = this.map.keys();
      next = this.cursor.next();
    }
    this.head = next.done === true ? undefined : next.value;
    return this.head;
  }

  /** Entries from least to most recently used. Do not insert while iterating. */
  entries(): IterableIterator<[string, V]> {
    return this.map.entries();
  }

  delete(key: string): boolean {
    if (key === this.head) this.head = undefined;
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
