import { createServer, type Socket, type Server as TcpServer } from 'node:net';
import { type Server as GrpcServer, ServerCredentials } from '@grpc/grpc-js';
import type { ConnectionGuard } from '../connections/connection-guard.js';

/** The HTTP/2 client connection preface: 24 bytes of magic, then a SETTINGS frame (9-byte header at least). */
export const HTTP2_PREFACE_BYTES = 24 + 9;

/** True once `socket` has received at least the HTTP/2 client preface. */
export function hasHttp2Preface(socket: Socket): boolean {
  return socket.bytesRead >= HTTP2_PREFACE_BYTES;
}

/**
 * The gRPC port's own TCP listener. grpc-js's `bindAsync` accepts every
 * connection; here a net.Server accepts, the port's ConnectionGuard admits,
 * displaces or refuses each socket, and only admitted ones are handed to
 * grpc-js through its connection injector (`Server.createConnectionInjector`,
 * grpc-js >= 1.11). grpc-js still runs each HTTP/2 session: max connection
 * age and idle, keepalive, streams, and tryShutdown/forceShutdown, which
 * cover injected sessions too. Binding and closing are the caller's
 * (server-lifecycle.ts); under node:cluster workers share it as any net.Server.
 *
 * With TLS credentials (GRPC_SERVER_USE_TLS, tls-credentials.ts) the injector is
 * grpc-js's TLS server: the guard sees the raw TCP socket (admission, cap,
 * eviction, handshake deadline on bytes read), grpc-js runs the TLS handshake on
 * it, then HTTP/2 over TLS (ALPN h2).
 */
export function createGrpcListener(
  server: GrpcServer,
  guard: ConnectionGuard,
  credentials: ServerCredentials = ServerCredentials.createInsecure(),
): TcpServer {
  const injector = server.createConnectionInjector(credentials);
  return createServer((socket) => {
    if (guard.accept(socket) !== undefined) injector.injectConnection(socket);
  });
}
