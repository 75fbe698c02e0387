/**
 * The one catalogue of failures. Over-limit is never an error: it is a decision.
 * Transports map `code` to their status (gRPC/HTTP) in one table each.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NO_CONFIG'
  | 'BACKEND_UNAVAILABLE'
  | 'CONFIG_INVALID'
  | 'SHUTTING_DOWN';

export class RateLimitError extends Error {
  readonly code: ErrorCode;
  /** True when retrying the same call later may succeed. */
  readonly transient: boolean;

  constructor(code: ErrorCode, message: string, options: { transient?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RateLimitError';
    this.code = code;
    this.transient = options.transient ?? false;
  }
}

export class InvalidArgumentError extends RateLimitError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
    this.name = 'InvalidArgumentError';
  }
}

export class NoConfigError extends RateLimitError {
  constructor() {
    super('NO_CONFIG', 'no rate limit configuration loaded', { transient: true });
    this.name = 'NoConfigError';
  }
}

export class BackendUnavailableError extends RateLimitError {
  constructor(message: string, cause?: unknown) {
    super('BACKEND_UNAVAILABLE', message, { transient: true, cause });
    this.name = 'BackendUnavailableError';
  }
}
