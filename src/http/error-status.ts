import { type ErrorCode, RateLimitError } from '../core/errors.js';

/**
 * The one error → HTTP status table. 400 only for a malformed request; the
 * service being unable to decide is 503 (the reference answers 400 for both).
 */
const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  NO_CONFIG: 503,
  BACKEND_UNAVAILABLE: 503,
  CONFIG_INVALID: 500,
  SETTING_INVALID: 500,
};

export function httpStatusFor(error: unknown): { status: number; message: string; unexpected: boolean } {
  if (error instanceof RateLimitError) {
    return { status: STATUS_BY_CODE[error.code], message: error.message, unexpected: false };
  }
  return { status: 500, message: 'internal error', unexpected: true };
}
