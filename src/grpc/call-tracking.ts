import { ServerInterceptingCall, type ServerInterceptor } from '@grpc/grpc-js';
import type { ConnectionGuard } from '../connections/connection-guard.js';

/**
 * A server interceptor that tells the gRPC port's ConnectionGuard when a call
 * starts and ends on a connection, so the connection is not displaced while
 * busy and counts as used. Every method is seen (health Watch streams
 * included). A call ends once: with its status, or when the client cancels or
 * the stream closes.
 */
export function connectionCallTracking(guard: ConnectionGuard): ServerInterceptor {
  return (_method, call) => {
    const { remoteAddress, remotePort } = call.getConnectionInfo();
    const connection = guard.lookup(remoteAddress, remotePort);
    if (connection === undefined) return new ServerInterceptingCall(call);
    guard.callStarted(connection);
    let open = true;
    const end = (): void => {
      if (!open) return;
      open = false;
      guard.callEnded(connection);
    };
    return new ServerInterceptingCall(call, {
      start: (next) => next({ onCancel: end }),
      sendStatus: (status, next) => {
        end();
        next(status);
      },
    });
  };
}
