import type {
  handleClientStreamingCall,
  MethodDefinition,
  ServerReadableStream,
  ServiceDefinition,
  sendUnaryData,
} from '@grpc/grpc-js';
import {
  type AccessLogSummary,
  type ErrorSampleSink,
  recordSummary,
  summarizeEntries,
} from '../adaptive/signals/access-log-classifier.js';
import { type AccessLogLimits, decodeStreamAccessLogsMessage } from './access-log-decoder.js';
import { grpcStatusFor } from './error-status.js';

/**
 * Envoy's `envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs`: a
 * client stream of StreamAccessLogsMessage, answered with an empty
 * StreamAccessLogsResponse when Envoy ends it. Each message is decoded under
 * the limits, classified, and its samples go to the sink before the next one
 * is read; nothing accumulates per stream.
 *
 * Registered on the gRPC port by src/grpc/grpc-server.ts when given a sink
 * (GrpcServerOptions.accessLog), where the server's message size cap,
 * connection caps and GRPC_MAX_CONCURRENT_STREAMS bound streams as they do
 * ShouldRateLimit; the limits come from the ACCESS_LOG_* settings.
 *
 * Messages reach the handler as raw bytes (as in rls-service-definition.ts): a
 * throwing deserializer would make grpc-js answer INTERNAL. A message that is
 * malformed or crosses a bound ends the stream at once with INVALID_ARGUMENT
 * and the decoder's message (which names the bound); the messages before it
 * have been recorded, the rest of the stream is ignored. Envoy then opens a
 * new stream for its next flush.
 */

const EMPTY = Buffer.alloc(0);

/** Envoy's StreamAccessLogsResponse has no fields; any bytes decode to it. */
export type StreamAccessLogsResponse = Record<string, never>;

const streamAccessLogs: MethodDefinition<Buffer, StreamAccessLogsResponse> = {
  path: '/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs',
  requestStream: true,
  responseStream: false,
  requestSerialize: (bytes: Buffer) => bytes,
  requestDeserialize: (bytes: Buffer) => bytes,
  responseSerialize: () => EMPTY,
  responseDeserialize: () => ({}),
  originalName: 'streamAccessLogs',
};

/** For `server.addService(ACCESS_LOG_SERVICE_DEFINITION, { streamAccessLogs: accessLogHandler(…) })`. */
export const ACCESS_LOG_SERVICE_DEFINITION = { streamAccessLogs } satisfies ServiceDefinition;

export interface AccessLogHandlerOptions {
  readonly sink: ErrorSampleSink;
  readonly limits: AccessLogLimits;
  /** Called with each message's summary after the sink got it (metrics: skipped, oversized authorities). */
  readonly onSummary?: (summary: AccessLogSummary) => void;
  /** Called when a stream ends with an error status that is not the caller's fault (a failing sink). */
  readonly onUnexpectedError?: (error: unknown) => void;
}

export function accessLogHandler(
  options: AccessLogHandlerOptions,
): handleClientStreamingCall<Buffer, StreamAccessLogsResponse> {
  const { sink, limits, onSummary, onUnexpectedError } = options;
  return (
    call: ServerReadableStream<Buffer, StreamAccessLogsResponse>,
    done: sendUnaryData<StreamAccessLogsResponse>,
  ) => {
    let finished = false;
    const onData = (bytes: Buffer): void => {
      if (finished) return;
      try {
        const summary = summarizeEntries(decodeStreamAccessLogsMessage(bytes, limits));
        recordSummary(summary, sink);
        onSummary?.(summary);
      } catch (error) {
        finished = true;
        call.off('data', onData);
        const { code, details, unexpected } = grpcStatusFor(error);
        if (unexpected) onUnexpectedError?.(error);
        done({ code, details });
      }
    };
    call.on('data', onData);
    call.on('end', () => {
      if (finished) return;
      finished = true;
      done(null, {});
    });
    // a cancelled stream (Envoy gone) gets no answer; grpc-js has already ended the call
    call.on('error', () => {
      finished = true;
    });
  };
}
