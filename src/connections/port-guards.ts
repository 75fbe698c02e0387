import { type ConnectionSettings, RESERVED_FILES } from '../config/settings/connection-settings.js';
import type { Clock } from '../core/clock.js';
import { hasHttp2Preface } from '../grpc/grpc-listener.js';
import type { Logger } from '../log/logger.js';
import { ConnectionGuard } from './connection-guard.js';

/** One ConnectionGuard per listening port. */
export interface PortGuards {
  readonly grpc: ConnectionGuard;
  readonly http: ConnectionGuard;
  readonly debug: ConnectionGuard;
}

/**
 * The three ports' guards from the settings. Logs the limits once, and warns
 * when the caps together could outrun the open-file limit (then the kernel,
 * not the policy, would refuse: the configured caps are too high).
 */
export function createPortGuards(settings: ConnectionSettings, clock: Clock, logger: Logger): PortGuards {
  const common = {
    clock,
    logger,
    handshakeTimeoutMs: settings.handshakeTimeoutMs,
    evictionMinIdleMs: settings.evictionMinIdleMs,
  };
  const caps = {
    grpc: settings.grpcMaxConnections,
    http: settings.httpMaxConnections,
    debug: settings.debugMaxConnections,
  };
  logger.info(
    {
      openFileLimit: settings.openFileLimit ?? 'unknown',
      maxConnections: caps,
      handshakeTimeoutMs: settings.handshakeTimeoutMs,
      grpcMaxConnectionIdleMs: settings.grpcMaxConnectionIdleMs,
      grpcMaxConcurrentStreams: settings.grpcMaxConcurrentStreams,
      httpIdleTimeoutMs: settings.httpIdleTimeoutMs,
    },
    'connection limits',
  );
  const total = caps.grpc + caps.http + caps.debug + RESERVED_FILES;
  if (settings.openFileLimit !== undefined && total > settings.openFileLimit) {
    logger.warn(
      { openFileLimit: settings.openFileLimit, maxConnections: caps, reserved: RESERVED_FILES },
      'the connection caps exceed the open-file limit: raise ulimit -n or lower *_MAX_CONNECTIONS',
    );
  }
  return {
    grpc: new ConnectionGuard({
      ...common,
      port: 'grpc',
      maxConnections: caps.grpc,
      isHandshaken: hasHttp2Preface,
    }),
    http: new ConnectionGuard({ ...common, port: 'http', maxConnections: caps.http }),
    debug: new ConnectionGuard({ ...common, port: 'debug', maxConnections: caps.debug }),
  };
}
