import type { Server as HttpServer, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionSettings } from '../config/settings/connection-settings.js';
import type { ConnectionGuard } from './connection-guard.js';

/** Node's default `requestTimeout` (a whole request, body included), ms; kept, it must not be below headersTimeout. */
const REQUEST_TIMEOUT_MS = 300_000;

/**
 * node:http options from the connection settings: the keep-alive idle
 * timeout (HTTP_IDLE_TIMEOUT), the time to a complete request head
 * (CONNECTION_HANDSHAKE_TIMEOUT, also for later requests on a connection,
 * answered 408) and the largest head (HTTP_MAX_HEADER_SIZE, answered 431).
 */
export function httpServerOptions(settings: ConnectionSettings): ServerOptions {
  const headersTimeout = settings.handshakeTimeoutMs;
  return {
    keepAliveTimeout: settings.httpIdleTimeoutMs,
    headersTimeout,
    requestTimeout: Math.max(REQUEST_TIMEOUT_MS, headersTimeout),
    // how often Node checks those two deadlines (its default is 30 s)
    connectionsCheckingInterval: Math.max(10, Math.min(1_000, headersTimeout / 4 || 1_000)),
    maxHeaderSize: settings.httpMaxHeaderBytes,
  };
}

/**
 * Puts an HTTP server's connections under `guard`: each new socket is
 * admitted, displaces an idle one or is destroyed before the server sees a
 * byte; each request marks its connection busy until its response closes.
 */
export function guardHttpServer(server: HttpServer, guard: ConnectionGuard): void {
  server.prependListener('connection', (socket: Socket) => {
    guard.accept(socket);
  });
  server.prependListener('request', (req, res) => {
    const connection = guard.lookup(req.socket.remoteAddress, req.socket.remotePort);
    if (connection === undefined) return;
    guard.callStarted(connection);
    res.once('close', () => guard.callEnded(connection));
  });
}
