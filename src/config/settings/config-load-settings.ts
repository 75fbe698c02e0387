import { SettingError } from '../../core/errors.js';
import { type ConfigLimits, DEFAULT_CONFIG_LIMITS } from '../rules/config-limits.js';
import { parseDurationMs, parseIntIn } from './settings-parsers.js';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * How rate limit config files are loaded (docs/limits.md): the bounds of one load,
 * checked in the loader thread, and the loader thread's own time and heap budget.
 */
export interface ConfigLoadSettings {
  /** CONFIG_MAX_BYTES, CONFIG_MAX_FILES, CONFIG_MAX_ALIAS_NODES, CONFIG_MAX_PROBLEMS. */
  readonly limits: ConfigLimits;
  /** CONFIG_LOAD_TIMEOUT (default 60s): a load running longer is stopped and fails, ms. */
  readonly timeoutMs: number;
  /**
   * CONFIG_LOAD_MAX_HEAP (default 1024): heap of the loader thread, MiB. Parsing needs about
   * 60 bytes of heap per byte of YAML, so the default fits a CONFIG_MAX_BYTES config.
   */
  readonly maxHeapMb: number;
}

export const DEFAULT_CONFIG_LOAD_SETTINGS: ConfigLoadSettings = Object.freeze({
  limits: DEFAULT_CONFIG_LIMITS,
  timeoutMs: 60_000,
  maxHeapMb: 1_024,
});

const D = DEFAULT_CONFIG_LOAD_SETTINGS;
const L = DEFAULT_CONFIG_LIMITS;

/** Reads the CONFIG_* load settings; throws SettingError on a bad value. */
export function loadConfigLoadSettings(env: Env): ConfigLoadSettings {
  const int = (name: string, fallback: number, min: number, max: number): number =>
    read(env, name, fallback, (n, r) => parseIntIn(n, r, min, max));
  return {
    limits: {
      maxBytes: int('CONFIG_MAX_BYTES', L.maxBytes, 1_024, 1_073_741_824),
      maxFiles: int('CONFIG_MAX_FILES', L.maxFiles, 1, 1_000_000),
      maxAliasNodes: int('CONFIG_MAX_ALIAS_NODES', L.maxAliasNodes, 0, 100_000_000),
      maxProblems: int('CONFIG_MAX_PROBLEMS', L.maxProblems, 1, 1_000_000),
    },
    timeoutMs: read(env, 'CONFIG_LOAD_TIMEOUT', D.timeoutMs, (name, raw) => {
      const ms = parseDurationMs(name, raw);
      if (ms < 1_000 || ms > 3_600_000) throw new SettingError(name, raw, 'a duration from 1s to 1h');
      return ms;
    }),
    maxHeapMb: int('CONFIG_LOAD_MAX_HEAP', D.maxHeapMb, 64, 65_536),
  };
}

function read<T>(env: Env, name: string, fallback: T, parse: (name: string, raw: string) => T): T {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? fallback : parse(name, raw);
}
