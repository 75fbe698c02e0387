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

  it('names the least recently used key without using it, through deletes, re-uses and evictions', () => {
    const lru = new Lru<number>(3);
    expect(lru.oldestKey()).toBeUndefined();
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('c', 3);
    expect(lru.oldestKey()).toBe('a');
    expect(lru.oldestKey()).toBe('a');
    lru.get('a');
    expect(lru.oldestKey()).toBe('b');
    lru.delete('b');
    expect(lru.oldestKey()).toBe('c');
    lru.set('d', 4);
    lru.set('e', 5);
    expect([...lru.entries()].map(([k]) => k)).toEqual(['a', 'd', 'e']);
    expect(lru.oldestKey()).toBe('a');
    for (const key of ['a', 'd', 'e']) lru.delete(key);
    expect(lru.oldestKey()).toBeUndefined();
    lru.set('f', 6);
    expect(lru.oldestKey()).toBe('f');
  });

  it('evicts in exact least-recently-used order under random use (model check)', () => {
    const lru = new Lru<number>(5);
    const model: string[] = [];
    let seed = 7;
    for (let i = 0; i < 5_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      const key = `k${seed % 12}`;
      const op = seed % 3;
      const at = model.indexOf(key);
      if (op === 0) {
        lru.set(key, i);
        if (at >= 0) model.splice(at, 1);
        model.push(key);
        if (model.length > 5) model.shift();
      } else if (op === 1) {
        lru.get(key);
        if (at >= 0) model.push(...model.splice(at, 1));
      } else {
        lru.delete(key);
        if (at >= 0) model.splice(at, 1);
      }
      expect(lru.oldestKey()).toBe(model[0]);
    }
    expect([...lru.entries()].map(([k]) => k)).toEqual(model);
  });

  it('rejects a bound below 1', () => {
    expect(() => new Lru(0)).toThrow(RangeError);
  });
});
