/** Binding and graceful closing of the app's listeners (gRPC, HTTP, debug); part of the composition root. */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Server as GrpcServer, ServerCredentials } from '@grpc/grpc-js';

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Binds `host:port` without TLS; resolves with the bound port (`port` 0: one the OS chose). */
export function bindGrpc(server: GrpcServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(hostPort(host, port), ServerCredentials.createInsecure(), (error, boundPort) =>
      error ? reject(error) : resolve(boundPort),
    );
  });
}

/** Listens on `host:port`; resolves with the bound port (`port` 0: one the OS chose). */
export function listen(server: HttpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Refuses new calls at once; in-flight calls get `graceMs`, then connections are cut. */
export function shutdownGrpc(server: GrpcServer, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.forceShutdown(), graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
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
