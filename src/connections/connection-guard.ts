import type { Socket } from 'node:net';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../log/logger.js';
import { ConnectionTable, type ConnectionTableOptions, type TrackedConnection } from './connection-table.js';

/** Why a connection was closed by the guard (the `reason` label of ratelimit_connections_closed_total). */
export type GuardReason = 'refused' | 'evicted' | 'handshake_timeout';

export interface ConnectionGuardStats {
  readonly open: number;
  readonly closed: Readonly<Record<GuardReason, number>>;
}

export interface ConnectionGuardOptions extends ConnectionTableOptions {
  /** The port's name in logs and metrics: grpc, http or debug. */
  readonly port: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /**
   * Whether a connection's protocol opening has arrived, asked when its
   * handshake deadline passes (gRPC: enough bytes for the HTTP/2 preface);
   * without it only `handshaken()` marks one.
   */
  readonly isHandshaken?: ((socket: Socket) => boolean) | undefined;
  /** At most one warning per this many ms per port; the rest are counted into the next one. */
  readonly logIntervalMs?: number | undefined;
}

type Tracked = TrackedConnection<Socket>;

const DEFAULT_LOG_INTERVAL_MS = 10_000;

/**
 * Applies a ConnectionTable to the sockets of one listening port: admits,
 * displaces or refuses each new socket (destroying the loser at once), closes
 * sockets that miss the handshake deadline, counts what it closed and warns
 * about it at most once per interval. Sockets are looked up by their remote
 * address and port, which a gRPC call also reports.
 */
export class ConnectionGuard {
  private readonly table: ConnectionTable<Socket>;
  private readonly byPeer = new Map<string, Tracked>();
  private readonly closed: Record<GuardReason, number> = { refused: 0, evicted: 0, handshake_timeout: 0 };
  private readonly unlogged: Record<GuardReason, number> = { refused: 0, evicted: 0, handshake_timeout: 0 };
  private lastLogMs = Number.NEGATIVE_INFINITY;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly options: ConnectionGuardOptions) {
    this.table = new ConnectionTable(options);
  }

  /**
   * A new socket: returns its entry when admitted (after destroying the
   * connection it displaced), or undefined after destroying it.
   */
  accept(socket: Socket): Tracked | undefined {
    const now = this.options.clock.nowMs();
    const { admitted, evict } = this.table.admit(socket, now);
    if (evict !== undefined) this.close(evict, 'evicted');
    if (admitted === undefined) {
      socket.destroy();
      this.count('refused');
      return undefined;
    }
    const key = peerKey(socket.remoteAddress, socket.remotePort);
    this.byPeer.set(key, admitted);
    socket.once('close', () => {
      this.table.remove(admitted);
      if (this.byPeer.get(key) === admitted) this.byPeer.delete(key);
    });
    this.startSweeping();
    return admitted;
  }

  /** The tracked connection from `address`:`port`, if any (a gRPC call's connection info). */
  lookup(address: string | undefined, port: number | undefined): Tracked | undefined {
    return this.byPeer.get(peerKey(address, port));
  }

  callStarted(connection: Tracked): void {
    this.table.callStarted(connection);
  }

  callEnded(connection: Tracked): void {
    this.table.callEnded(connection, this.options.clock.nowMs());
  }

  /** Closes connections whose handshake deadline passed; runs on a timer while some are pending. */
  sweep(): void {
    const overdue = this.table.overdueHandshakes(this.options.clock.nowMs());
    for (const connection of overdue) {
      if (this.options.isHandshaken?.(connection.handle)) this.table.handshaken(connection);
      else this.close(connection, 'handshake_timeout');
    }
    if (!this.table.hasPendingHandshakes()) this.stopSweeping();
  }

  stats(): ConnectionGuardStats {
    return { open: this.table.size, closed: { ...this.closed } };
  }

  /** Stops the handshake timer (on shutdown); the sockets are the server's to close. */
  stop(): void {
    this.stopSweeping();
  }

  private close(connection: Tracked, reason: GuardReason): void {
    this.table.remove(connection);
    connection.handle.destroy();
    this.count(reason);
  }

  private count(reason: GuardReason): void {
    this.closed[reason] += 1;
    this.unlogged[reason] += 1;
    const now = this.options.clock.nowMs();
    if (now - this.lastLogMs < (this.options.logIntervalMs ?? DEFAULT_LOG_INTERVAL_MS)) return;
    this.lastLogMs = now;
    this.options.logger.warn(
      {
        port: this.options.port,
        maxConnections: this.options.maxConnections,
        open: this.table.size,
        ...this.unlogged,
      },
      'connections closed by the connection limits (counts since the last such line)',
    );
    this.unlogged.refused = 0;
    this.unlogged.evicted = 0;
    this.unlogged.handshake_timeout = 0;
  }

  private startSweeping(): void {
    const timeout = this.options.handshakeTimeoutMs;
    if (this.sweeper !== undefined || timeout <= 0) return;
    // a deadline is enforced within a quarter of the timeout (at most 1 s) after it passes
    this.sweeper = setInterval(() => this.sweep(), Math.max(10, Math.min(1_000, timeout / 4)));
    this.sweeper.unref();
  }

  private stopSweeping(): void {
    if (this.sweeper === undefined) return;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}

function peerKey(address: string | undefined, port: number | undefined): string {
  return `${address}|${port}`;
}
