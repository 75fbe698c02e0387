import { readFileSync } from 'node:fs';
import { SignalToken } from '../../adaptive/signals/signal-auth.js';
import { DEFAULT_SIGNAL_LIMITS, type SignalLimits } from '../../adaptive/signals/signal-body.js';
import { SettingError } from '../../core/errors.js';
import { type AccessLogLimits, DEFAULT_ACCESS_LOG_LIMITS } from '../../grpc/access-log-decoder.js';
import { parseDurationMs, parseIntIn } from './settings-parsers.js';

/**
 * The adaptive module's inputs (DESIGN.md "Adaptive limits", "Signals in";
 * docs/limits.md "Adaptive signals"): the signal API's token and bounds, and the bounds of
 * Envoy's access-log stream.
 */
export interface SignalSettings {
  /**
   * ADAPTIVE_SIGNAL_TOKEN or ADAPTIVE_SIGNAL_TOKEN_FILE (read once, at startup);
   * undefined = neither set: the signal API answers 403 / PERMISSION_DENIED.
   * Kept only as a digest (SignalToken), so the settings can never log it.
   */
  readonly token: SignalToken | undefined;
  /** ADAPTIVE_SIGNAL_MAX_BODY_BYTES, ADAPTIVE_SIGNAL_MAX_SAMPLE_TOTAL, ADAPTIVE_SIGNAL_MAX_PENALTY_TTL. */
  readonly limits: SignalLimits;
  /** ADAPTIVE_SIGNAL_MAX_PER_SECOND: authenticated signal requests per second per process (HTTP and gRPC together). */
  readonly maxPerSecond: number;
  /** ACCESS_LOG_MAX_MESSAGE_BYTES, _MAX_ENTRIES_PER_MESSAGE, _MAX_NAME_BYTES, _MAX_AUTHORITY_BYTES. */
  readonly accessLog: AccessLogLimits;
}

export const DEFAULT_SIGNAL_MAX_PER_SECOND = 100;

type Env = Readonly<Record<string, string | undefined>>;

/** How the token file is read; tests pass their own. */
export type ReadTextFile = (path: string) => string;

const readText: ReadTextFile = (path) => readFileSync(path, 'utf8');

/** @throws SettingError naming the variable (never quoting the token, nor a token file's content). */
export function loadSignalSettings(env: Env, readFile: ReadTextFile = readText): SignalSettings {
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    return raw === undefined || raw === '' ? fallback : parseIntIn(name, raw, min, max);
  };
  const maxPenaltyTtl = env.ADAPTIVE_SIGNAL_MAX_PENALTY_TTL;
  const limits: SignalLimits = {
    ...DEFAULT_SIGNAL_LIMITS,
    maxBodyBytes: int('ADAPTIVE_SIGNAL_MAX_BODY_BYTES', DEFAULT_SIGNAL_LIMITS.maxBodyBytes, 64, 1_048_576),
    maxSampleTotal: int(
      'ADAPTIVE_SIGNAL_MAX_SAMPLE_TOTAL',
      DEFAULT_SIGNAL_LIMITS.maxSampleTotal,
      1,
      Number.MAX_SAFE_INTEGER,
    ),
    maxPenaltyTtlMs:
      maxPenaltyTtl === undefined || maxPenaltyTtl === ''
        ? DEFAULT_SIGNAL_LIMITS.maxPenaltyTtlMs
        : penaltyTtlMs(maxPenaltyTtl),
  };
  const A = DEFAULT_ACCESS_LOG_LIMITS;
  return {
    token: loadToken(env, readFile),
    limits,
    maxPerSecond: int('ADAPTIVE_SIGNAL_MAX_PER_SECOND', DEFAULT_SIGNAL_MAX_PER_SECOND, 1, 1_000_000),
    accessLog: {
      maxMessageBytes: int('ACCESS_LOG_MAX_MESSAGE_BYTES', A.maxMessageBytes, 1, 16_777_216),
      maxEntriesPerMessage: int('ACCESS_LOG_MAX_ENTRIES_PER_MESSAGE', A.maxEntriesPerMessage, 1, 1_000_000),
      maxNameBytes: int('ACCESS_LOG_MAX_NAME_BYTES', A.maxNameBytes, 1, 65_536),
      maxAuthorityBytes: int('ACCESS_LOG_MAX_AUTHORITY_BYTES', A.maxAuthorityBytes, 1, 65_536),
    },
  };
}

/**
 * The token from the variable or the file. A variable that is set but empty is
 * an error, not "off": an operator who wrote ADAPTIVE_SIGNAL_TOKEN= most likely
 * meant to set it (a template that expanded to nothing), and failing the start
 * says so where silently turning the API off would not.
 */
function loadToken(env: Env, readFile: ReadTextFile): SignalToken | undefined {
  const inline = env.ADAPTIVE_SIGNAL_TOKEN;
  const file = env.ADAPTIVE_SIGNAL_TOKEN_FILE;
  if (inline !== undefined && file !== undefined) {
    throw new SettingError(
      'ADAPTIVE_SIGNAL_TOKEN and ADAPTIVE_SIGNAL_TOKEN_FILE are both set; set only one of them',
    );
  }
  if (inline !== undefined) return SignalToken.fromSecret(inline, 'ADAPTIVE_SIGNAL_TOKEN');
  if (file === undefined) return undefined;
  if (file.trim() === '')
    throw new SettingError('ADAPTIVE_SIGNAL_TOKEN_FILE is empty; name a file or unset it');
  let secret: string;
  try {
    secret = readFile(file);
  } catch (error) {
    // the error's code only (ENOENT, EACCES, EISDIR): never the content, which is the secret
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new SettingError(`ADAPTIVE_SIGNAL_TOKEN_FILE ${JSON.stringify(file)} cannot be read (${code})`);
  }
  // fromSecret trims surrounding whitespace: the file's trailing newline goes
  return SignalToken.fromSecret(secret, `ADAPTIVE_SIGNAL_TOKEN_FILE ${JSON.stringify(file)}`);
}

/** A duration of at least 1 s and at most 30 days (ms). */
function penaltyTtlMs(raw: string): number {
  const name = 'ADAPTIVE_SIGNAL_MAX_PENALTY_TTL';
  const ms = parseDurationMs(name, raw);
  if (ms < 1_000 || ms > 30 * 86_400_000) throw new SettingError(name, raw, 'a duration from 1s to 720h');
  return Math.ceil(ms);
}
