/**
 * The one catalogue of failures. Over-limit is never an error: it is a decision.
 * Every failure is a RateLimitError with one of these codes; transports map `code`
 * to their status (gRPC/HTTP) in one table each. The start-up failures
 * (SETTING_INVALID, CONFIG_INVALID, a RedisConnectError) end the process through
 * the CLI instead of reaching a transport.
 */
export type ErrorCode =
  /** The request is malformed (InvalidArgumentError). */
  | 'INVALID_ARGUMENT'
  /** No rate limit configuration is loaded yet (NoConfigError). */
  | 'NO_CONFIG'
  /** The counter store cannot answer (BackendUnavailableError, RedisConnectError). */
  | 'BACKEND_UNAVAILABLE'
  /** Config files cannot be read or are invalid (ConfigFilesError, InitialConfigError). */
  | 'CONFIG_INVALID'
  /** An env var or flag has a bad value (SettingError). */
  | 'SETTING_INVALID';

export class RateLimitError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RateLimitError';
    this.code = code;
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
    super('NO_CONFIG', 'no rate limit configuration loaded');
    this.name = 'NoConfigError';
  }
}

export class BackendUnavailableError extends RateLimitError {
  constructor(message: string, cause?: unknown) {
    super('BACKEND_UNAVAILABLE', message, { cause });
    this.name = 'BackendUnavailableError';
  }
}

/** Startup could not reach a usable Redis (credentials refused, or REDIS_STARTUP_MAX_ELAPSED_TIME passed). */
export class RedisConnectError extends BackendUnavailableError {
  constructor(message: string) {
    super(message);
    this.name = 'RedisConnectError';
  }
}

/**
 * An env var or flag has a bad value, or settings that are valid alone are not
 * together. The message names the variable and the offending value, so a typo
 * stops the start with something an operator can act on.
 */
export class SettingError extends RateLimitError {
  /** `name: expected <expected>, got '<raw>'`. */
  constructor(name: string, raw: string, expected: string);
  /** A whole message, for settings that are valid alone but not together. */
  constructor(message: string);
  constructor(nameOrMessage: string, raw?: string, expected?: string) {
    super(
      'SETTING_INVALID',
      raw === undefined ? nameOrMessage : `${nameOrMessage}: expected ${expected}, got '${raw}'`,
    );
    this.name = 'SettingError';
  }
}

/**
 * One thing wrong with a config file, with the position of the YAML node that
 * caused it. Every load reports all problems it can find, not just the first.
 */
export interface ConfigProblem {
  /** The file's path as the loader was given it. */
  file: string;
  /** 1-based line; 0 when the problem has no position (e.g. the file could not be read). */
  line: number;
  /** 1-based column; 0 when the problem has no position. */
  col: number;
  /** The reference's message text where it has one (e.g. `config error, unknown key 'ratelimit'`). */
  message: string;
}

/** The initial config is invalid and FORCE_START_WITHOUT_INITIAL_CONFIG is off. */
export class InitialConfigError extends RateLimitError {
  /**
   * @param problems the problems listed (at most CONFIG_MAX_PROBLEMS)
   * @param problemCount every problem found, listed or not
   */
  constructor(
    readonly problems: readonly ConfigProblem[],
    readonly problemCount: number = problems.length,
  ) {
    const unlisted = problemCount > problems.length ? `; the first ${problems.length} listed` : '';
    super(
      'CONFIG_INVALID',
      `invalid initial config (${problemCount} problem${problemCount === 1 ? '' : 's'}${unlisted})`,
    );
    this.name = 'InitialConfigError';
  }
}
