/** Binding and graceful closing of the app's listeners (gRPC, HTTP, debug); part of the composition root. */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo, Server as TcpServer } from 'node:net';
import type { Server as GrpcServer } from '@grpc/grpc-js';

/** Listens on `host:port`; resolves with the bound port (`port` 0: one the OS chose). */
export function listen(server: TcpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Stops the gRPC port accepting (`listener`, see grpc/grpc-listener.ts) and
 * refuses new calls at once; in-flight calls get `graceMs`, then connections are cut.
 */
export function shutdownGrpc(server: GrpcServer, listener: TcpServer, graceMs: number): Promise<void> {
  // resolves once every accepted socket has closed, which the sessions' shutdown below brings
  // about; no later than the grace period, when forceShutdown cuts whatever is left
  const closed = new Promise<void>((resolve) => {
    if (!listener.listening) return resolve();
    const cut = setTimeout(resolve, graceMs);
    listener.close(() => {
      clearTimeout(cut);
      resolve();
    });
  });
  const drained = new Promise<void>((resolve) => {
    const timer = setTimeout(() => server.forceShutdown(), graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
  return Promise.all([closed, drained]).then(() => undefined);
}

/** Stops accepting, closes idle connections at once; in-flight requests get `graceMs`, then connections are cut. */
export function closeHttp(server: HttpServer, graceMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
