import { fileURLToPath } from 'node:url';
import {
  Server,
  type ServerInterceptor,
  type ServerOptions,
  type ServerUnaryCall,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { type HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import type { SignalApi } from '../adaptive/signals/signal-gate.js';
import type { RateLimitResult } from '../core/decision.js';
import type { RateLimitRequest } from '../core/descriptor.js';
import type { RateLimitResponse } from '../gen/envoy/service/ratelimit/v3/rls.js';
import type { Logger } from '../log/logger.js';
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from '../service/request-validation.js';
import { GrpcCallSpan } from '../tracing/call-span.js';
import type { Tracing } from '../tracing/tracing.js';
import {
  ACCESS_LOG_SERVICE_DEFINITION,
  type AccessLogHandlerOptions,
  accessLogHandler,
} from './access-log-service.js';
import { grpcStatusFor } from './error-status.js';
import { responseToProto } from './rls-codec.js';
import { decodeRateLimitRequest, maxRequestMessageBytes } from './rls-request-decoder.js';
import { RATE_LIMIT_SERVICE_DEFINITION } from './rls-service-definition.js';
import { SIGNAL_SERVICE_DEFINITION, signalServiceHandlers } from './signal-service.js';

/** The use case the transport calls; nothing else of the service leaks in here. */
export interface RateLimitHandler {
  shouldRateLimit(request: RateLimitRequest): Promise<RateLimitResult>;
}

export interface GrpcServerOptions {
  readonly handler: RateLimitHandler;
  readonly health: HealthImplementation;
  readonly logger: Logger;
  /** Server keepalive (GRPC_MAX_CONNECTION_AGE / _GRACE), ms. */
  readonly maxConnectionAgeMs: number;
  readonly maxConnectionAgeGraceMs: number;
  /** GOAWAY to a connection with no call for this long, ms (GRPC_MAX_CONNECTION_IDLE); 0 = never. */
  readonly maxConnectionIdleMs?: number | undefined;
  /** SETTINGS_MAX_CONCURRENT_STREAMS per connection (GRPC_MAX_CONCURRENT_STREAMS); unset: unlimited. */
  readonly maxConcurrentStreams?: number | undefined;
  /** Run around every call, of every service (the connection guard's call tracking). */
  readonly interceptors?: readonly ServerInterceptor[] | undefined;
  /** Called once per ShouldRateLimit call (errors included) with the method name and its duration in seconds. */
  readonly onCall?: ((method: string, seconds: number) => void) | undefined;
  /** When set (tracing on), each ShouldRateLimit call gets a server span; undefined adds no work per call. */
  readonly tracing?: Tracing | undefined;
  /** Size limits of one request: decoding stops at the first one crossed; they also size the largest message accepted. */
  readonly requestLimits?: RequestLimits | undefined;
  /**
   * ratelimit.adaptive.v1.SignalService (signal-service.ts). Registered whether
   * or not this is given; without it (or without a token in it) every call
   * answers PERMISSION_DENIED, as POST /v1/signals answers 403.
   */
  readonly signals?: SignalApi | undefined;
  /**
   * Envoy's AccessLogService (access-log-service.ts), registered only when
   * given: without a sink, UNIMPLEMENTED tells an Envoy pointed here that
   * nothing counts its entries, where an OK would hide it.
   */
  readonly accessLog?: AccessLogHandlerOptions | undefined;
}

/** Our .proto files, found beside src/ or dist/ (both sit one level below the repo root). */
const PROTO_ROOT = fileURLToPath(new URL('../../proto/', import.meta.url));

/**
 * A gRPC server with the rate limit service, the adaptive signal service (and
 * Envoy's access-log service when given a sink), grpc.health.v1 and server
 * reflection registered. Binding and shutdown are the caller's.
 */
export function createGrpcServer(options: GrpcServerOptions): Server {
  const limits = options.requestLimits ?? DEFAULT_REQUEST_LIMITS;
  const server = new Server({
    'grpc.max_connection_age_ms': options.maxConnectionAgeMs,
    'grpc.max_connection_age_grace_ms': options.maxConnectionAgeGraceMs,
    ...connectionOptions(options),
    // one cap for every service: large enough for the largest request and access-log message allowed
    'grpc.max_receive_message_length': Math.max(
      maxRequestMessageBytes(limits),
      options.accessLog?.limits.maxMessageBytes ?? 0,
    ),
  });
  server.addService(RATE_LIMIT_SERVICE_DEFINITION, {
    shouldRateLimit: shouldRateLimitHandler(options, limits),
  });
  server.addService(SIGNAL_SERVICE_DEFINITION, signalServiceHandlers(options.signals, options.logger));
  if (options.accessLog !== undefined) {
    server.addService(ACCESS_LOG_SERVICE_DEFINITION, {
      streamAccessLogs: accessLogHandler(options.accessLog),
    });
  }
  options.health.addToServer(server);
  new ReflectionService(reflectionPackage()).addToServer(server);
  return server;
}

/** grpc-js options for the optional connection bounds; an absent one keeps grpc-js's default. */
function connectionOptions(options: GrpcServerOptions): ServerOptions {
  const extra: ServerOptions = {};
  // grpc-js reads 0 as "idle at once": 0 here means never, i.e. leave the option out
  if (options.maxConnectionIdleMs) extra['grpc.max_connection_idle_ms'] = options.maxConnectionIdleMs;
  if (options.maxConcurrentStreams !== undefined) {
    extra['grpc.max_concurrent_streams'] = options.maxConcurrentStreams;
  }
  if (options.interceptors !== undefined) extra.interceptors = [...options.interceptors];
  return extra;
}

function shouldRateLimitHandler(options: GrpcServerOptions, limits: RequestLimits) {
  const { handler, logger, onCall, tracing } = options;
  return (call: ServerUnaryCall<Buffer, RateLimitResponse>, done: sendUnaryData<RateLimitResponse>): void => {
    const span =
      tracing === undefined ? undefined : new GrpcCallSpan(tracing, SHOULD_RATE_LIMIT, call.metadata);
    const answer = onCall === undefined ? done : timed(done, onCall);
    const callback = span === undefined ? answer : ending(answer, span);
    const fail = (error: unknown): void => {
      const { code, details, unexpected } = grpcStatusFor(error);
      if (unexpected) logger.error({ err: error }, 'ShouldRateLimit failed unexpectedly');
      span?.failed(code, details);
      callback({ code, details });
    };
    let request: RateLimitRequest;
    try {
      request = decodeRateLimitRequest(call.request, limits);
    } catch (error) {
      fail(error);
      return;
    }
    if (span === undefined) {
      handler.shouldRateLimit(request).then((result) => callback(null, responseToProto(result)), fail);
      return;
    }
    span.request(request);
    span
      .run(() => handler.shouldRateLimit(request))
      .then((result) => {
        span.decided(result);
        callback(null, responseToProto(result));
      }, fail);
  };
}

/** Wraps `done` so that the span ends (and, with a simple processor, is exported) before the answer goes out. */
function ending(
  done: sendUnaryData<RateLimitResponse>,
  span: GrpcCallSpan,
): sendUnaryData<RateLimitResponse> {
  return (error, value) => {
    span.end();
    done(error, value);
  };
}

/** Wraps `done` so that answering reports the call's duration (ratelimit_server.<Method>.response_time). */
function timed(
  done: sendUnaryData<RateLimitResponse>,
  onCall: (method: string, seconds: number) => void,
): sendUnaryData<RateLimitResponse> {
  const start = performance.now();
  return (error, value) => {
    onCall(SHOULD_RATE_LIMIT, (performance.now() - start) / 1000);
    done(error, value);
  };
}

const SHOULD_RATE_LIMIT = 'ShouldRateLimit';

/** Descriptors for reflection, read once at startup from the same protos the server serves. */
function reflectionPackage() {
  return loadSync(
    ['envoy/service/ratelimit/v3/rls.proto', 'ratelimit/adaptive/v1/signals.proto', healthProtoPath],
    {
      includeDirs: [PROTO_ROOT],
      keepCase: true,
    },
  );
}
