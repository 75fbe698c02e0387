import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

export type LogFormat = 'json' | 'text';

export interface LoggerOptions {
  /** pino level name: trace, debug, info, warn, error, fatal, silent. */
  readonly level: string;
  readonly format: LogFormat;
}

/**
 * The service logger: JSON lines by default; `text` pretty-prints for humans
 * (synchronously, so lines are not lost on exit). Never log secrets: the
 * Redis password and auth tokens are redacted by path.
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = {
    level: options.level,
    redact: { paths: ['password', '*.password', 'auth', '*.auth', 'redisAuth'], censor: '[redacted]' },
  };
  if (options.format === 'text') {
    // In the main thread, synchronously: lines keep their order with other output and survive exit.
    return pino(base, pretty({ sync: true, colorize: false, destination: 1 }));
  }
  return pino(base);
}

/** A logger that writes nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
