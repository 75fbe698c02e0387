import { describe, expect, it } from 'vitest';
import { ConnectionTable } from '../../../src/connections/connection-table.js';

function table(maxConnections: number, evictionMinIdleMs = 1_000, handshakeTimeoutMs = 10_000) {
  return new ConnectionTable<string>({ maxConnections, evictionMinIdleMs, handshakeTimeoutMs });
}

describe('ConnectionTable admission', () => {
  it('admits up to the cap without displacing anyone', () => {
    const t = table(2);
    expect(t.admit('a', 0)).toMatchObject({ admitted: { handle: 'a' }, evict: undefined });
    expect(t.admit('b', 1)).toMatchObject({ admitted: { handle: 'b' }, evict: undefined });
    expect(t.size).toBe(2);
  });

  it('at the cap displaces the oldest connection that never made a call', () => {
    const t = table(3);
    const a = t.admit('a', 0).admitted;
    t.admit('b', 1);
    t.admit('c', 2);
    if (a === undefined) throw new Error('a refused');
    t.callStarted(a);
    t.callEnded(a, 3);
    const next = t.admit('d', 4);
    expect(next.admitted?.handle).toBe('d');
    expect(next.evict?.handle).toBe('b');
    expect(t.size).toBe(3);
  });

  it('displaces a used connection only after it has been idle for evictionMinIdleMs, the idlest first', () => {
    const t = table(2, 1_000);
    const [a, b] = [t.admit('a', 0).admitted, t.admit('b', 0).admitted];
    if (a === undefined || b === undefined) throw new Error('refused');
    for (const [c, endMs] of [
      [a, 100],
      [b, 50],
    ] as const) {
      t.callStarted(c);
      t.callEnded(c, endMs);
    }
    expect(t.admit('early', 1_000)).toEqual({ admitted: undefined });
    const late = t.admit('late', 1_050);
    expect(late.evict?.handle).toBe('b');
  });

  it('refuses a newcomer when every connection has a call in flight', () => {
    const t = table(2, 0);
    for (const handle of ['a', 'b']) {
      const c = t.admit(handle, 0).admitted;
      if (c === undefined) throw new Error('refused');
      t.callStarted(c);
    }
    expect(t.admit('c', 60_000)).toEqual({ admitted: undefined });
    expect(t.size).toBe(2);
  });

  it('frees the slot of a removed connection', () => {
    const t = table(1, 0);
    const a = t.admit('a', 0).admitted;
    if (a === undefined) throw new Error('refused');
    t.callStarted(a);
    expect(t.admit('b', 1).admitted).toBeUndefined();
    t.remove(a);
    t.remove(a);
    expect(t.admit('b', 2).admitted?.handle).toBe('b');
  });
});

describe('ConnectionTable handshake deadline', () => {
  it('reports connections not handshaken within handshakeTimeoutMs, oldest first', () => {
    const t = table(10, 1_000, 100);
    const a = t.admit('a', 0).admitted;
    t.admit('b', 50);
    const c = t.admit('c', 60).admitted;
    if (a === undefined || c === undefined) throw new Error('refused');
    t.handshaken(c);
    expect(t.overdueHandshakes(99)).toEqual([]);
    expect(t.overdueHandshakes(150).map((x) => x.handle)).toEqual(['a', 'b']);
    t.callStarted(a);
    expect(t.overdueHandshakes(1_000).map((x) => x.handle)).toEqual(['b']);
    expect(t.hasPendingHandshakes()).toBe(true);
  });

  it('never reports any with a handshake timeout of 0', () => {
    const t = table(10, 1_000, 0);
    t.admit('a', 0);
    expect(t.overdueHandshakes(1e9)).toEqual([]);
  });
});
