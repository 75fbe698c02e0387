/**
 * The open connections of one listening port and the admission policy at its
 * cap. Pure and clock-driven (times are parameters, no timers, no sockets):
 * ConnectionGuard binds it to a net.Server.
 *
 * At the cap a newcomer is admitted by displacing the connection least likely
 * to be missed, never one with a call in flight:
 * 1. one that has never made a call, oldest first (an idle flood, or a client
 *    that connected and went quiet);
 * 2. else one whose last call ended at least `evictionMinIdleMs` ago, the
 *    longest idle first (a persistent client such as Envoy reconnects on its
 *    next call).
 * Only when every connection is busy, or finished a call more recently than
 * that, is the newcomer refused. So an idle flood can delay a client by one
 * reconnect, never lock it out, and busy clients are never cut for it.
 */
export interface TrackedConnection<H> {
  readonly handle: H;
  readonly openedAtMs: number;
  /** When the last call ended (openedAtMs before the first). */
  lastActiveAtMs: number;
  /** Calls started and not yet ended. */
  inFlight: number;
  /** Calls started so far. */
  calls: number;
  /** The protocol's opening (HTTP/2 preface, HTTP/1 request head) has arrived. */
  handshaken: boolean;
}

export interface ConnectionTableOptions {
  /** The cap: connections open at once (>= 1). */
  readonly maxConnections: number;
  /** How long a connection that made calls must have been idle before a newcomer may displace it, ms. */
  readonly evictionMinIdleMs: number;
  /** A connection not handshaken this long after opening is due to be closed, ms; 0 = never. */
  readonly handshakeTimeoutMs: number;
}

/** What to do with a new connection. */
export type Admission<H> =
  | { readonly admitted: TrackedConnection<H>; readonly evict?: TrackedConnection<H> | undefined }
  | { readonly admitted: undefined; readonly evict?: undefined };

export class ConnectionTable<H> {
  private readonly open = new Set<TrackedConnection<H>>();
  /** Not yet handshaken, in opening order (a Set iterates in insertion order). */
  private readonly pending = new Set<TrackedConnection<H>>();

  constructor(private readonly options: ConnectionTableOptions) {}

  get size(): number {
    return this.open.size;
  }

  /**
   * Admits `handle` opened at `nowMs`, displacing another connection at the cap
   * (returned as `evict`: the caller closes it and then calls `remove`), or
   * refuses it (`admitted` undefined: the caller closes it).
   */
  admit(handle: H, nowMs: number): Admission<H> {
    let evict: TrackedConnection<H> | undefined;
    if (this.open.size >= this.options.maxConnections) {
      evict = this.victim(nowMs);
      if (evict === undefined) return { admitted: undefined };
      this.remove(evict);
    }
    const admitted: TrackedConnection<H> = {
      handle,
      openedAtMs: nowMs,
      lastActiveAtMs: nowMs,
      inFlight: 0,
      calls: 0,
      handshaken: false,
    };
    this.open.add(admitted);
    this.pending.add(admitted);
    return { admitted, evict };
  }

  /** The connection closed (or was closed): forget it. Idempotent. */
  remove(connection: TrackedConnection<H>): void {
    this.open.delete(connection);
    this.pending.delete(connection);
  }

  /** A call (request, stream) started on `connection`: it is handshaken and busy. */
  callStarted(connection: TrackedConnection<H>): void {
    connection.inFlight += 1;
    connection.calls += 1;
    this.handshaken(connection);
  }

  /** A call on `connection` ended at `nowMs`. */
  callEnded(connection: TrackedConnection<H>, nowMs: number): void {
    connection.inFlight = Math.max(0, connection.inFlight - 1);
    connection.lastActiveAtMs = nowMs;
  }

  /** The protocol's opening arrived on `connection`; the handshake deadline no longer applies. */
  handshaken(connection: TrackedConnection<H>): void {
    if (connection.handshaken) return;
    connection.handshaken = true;
    this.pending.delete(connection);
  }

  /** Connections whose handshake deadline has passed at `nowMs`, oldest first (they stay tracked until removed). */
  overdueHandshakes(nowMs: number): TrackedConnection<H>[] {
    const timeout = this.options.handshakeTimeoutMs;
    const overdue: TrackedConnection<H>[] = [];
    if (timeout <= 0) return overdue;
    for (const connection of this.pending) {
      if (nowMs - connection.openedAtMs < timeout) break; // the rest opened later
      overdue.push(connection);
    }
    return overdue;
  }

  /** True when some connection still awaits its handshake. */
  hasPendingHandshakes(): boolean {
    return this.pending.size > 0;
  }

  /** The connection a newcomer displaces at `nowMs`, per the policy above; undefined when none may go. */
  private victim(nowMs: number): TrackedConnection<H> | undefined {
    let neverUsed: TrackedConnection<H> | undefined;
    let idlest: TrackedConnection<H> | undefined;
    for (const connection of this.open) {
      if (connection.inFlight > 0) continue;
      if (connection.calls === 0) {
        // insertion order is opening order: the first found is the oldest
        neverUsed = connection;
        break;
      }
      const idleMs = nowMs - connection.lastActiveAtMs;
      if (idleMs < this.options.evictionMinIdleMs) continue;
      if (idlest === undefined || connection.lastActiveAtMs < idlest.lastActiveAtMs) idlest = connection;
    }
    return neverUsed ?? idlest;
  }
}
