import { status } from '@grpc/grpc-js';
import { type ErrorCode, RateLimitError } from '../core/errors.js';

/**
 * The one error → gRPC status table. Deliberately more precise than the
 * reference (which answers UNKNOWN for everything): a bad request is
 * INVALID_ARGUMENT; "cannot decide now" is UNAVAILABLE, so Envoy's
 * failure_mode_deny decides what the client sees.
 */
const STATUS_BY_CODE: Readonly<Record<ErrorCode, status>> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NO_CONFIG: status.UNAVAILABLE,
  BACKEND_UNAVAILABLE: status.UNAVAILABLE,
  CONFIG_INVALID: status.FAILED_PRECONDITION,
  SETTING_INVALID: status.FAILED_PRECONDITION,
};

export interface GrpcErrorStatus {
  readonly code: status;
  readonly details: string;
  /** True for failures that are not the caller's fault and deserve an error log. */
  readonly unexpected: boolean;
}

export function grpcStatusFor(error: unknown): GrpcErrorStatus {
  if (error instanceof RateLimitError) {
    return { code: STATUS_BY_CODE[error.code], details: error.message, unexpected: false };
  }
  return { code: status.INTERNAL, details: 'internal error', unexpected: true };
}
