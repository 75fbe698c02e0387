import { describe, expect, it } from 'vitest';
import { Lru } from '../../../src/core/lru.js';

describe('Lru', () => {
  it('evicts the least recently used entry once over maxEntries, and counts the eviction', () => {
    const lru = new Lru<number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.get('a');
    lru.set('c', 3);
    expect(lru.peek('b')).toBeUndefined();
    expect([...lru.entries()]).toEqual([
      ['a', 1],
      ['c', 3],
    ]);
    expect(lru.evictions).toBe(1);
  });

  it('peek reads without making the entry recently used', () => {
    const lru = new Lru<number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.peek('a')).toBe(1);
    lru.set('c', 3);
    expect(lru.peek('a')).toBeUndefined();
    expect(lru.size).toBe(2);
  });

  it('rejects a bound below 1', () => {
    expect(() => new Lru(0)).toThrow(RangeError);
  });
});
