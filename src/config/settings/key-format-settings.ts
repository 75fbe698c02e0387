import { KEY_FORMATS, type KeyFormat } from '../../core/key-layout.js';
import { parseChoice } from './settings-parsers.js';

type Env = Readonly<Record<string, string | undefined>>;

/** The warning logged at startup while CACHE_KEY_FORMAT=reference. */
export const REFERENCE_KEY_FORMAT_WARNING =
  "CACHE_KEY_FORMAT=reference: keys are not escaped, so a caller-chosen value containing '_' " +
  "can land on another limit's counter (user=alice_path_/login spends the limit of " +
  'user=alice + path=/login); use it only while migrating from envoyproxy/ratelimit, then ' +
  'switch to the default (escaped)';

/**
 * CACHE_KEY_FORMAT (ours; the reference has no such setting): `escaped`
 * (default, collision-free) or `reference` (envoyproxy/ratelimit's exact keys, so
 * both services share fixed-window counters during a rolling migration). The
 * formats are defined in core/key-layout.ts. `reference` comes with a warning.
 */
export function loadKeyFormat(env: Env): { format: KeyFormat; warnings: string[] } {
  const raw = env.CACHE_KEY_FORMAT;
  const format: KeyFormat =
    raw === undefined || raw.trim() === '' ? 'escaped' : parseChoice('CACHE_KEY_FORMAT', raw, KEY_FORMATS);
  return { format, warnings: format === 'reference' ? [REFERENCE_KEY_FORMAT_WARNING] : [] };
}
