/**
 * Parsers for environment-style setting values. Each throws SettingError with
 * the variable name and the offending value, so a typo stops the start with a
 * message an operator can act on.
 */

import { SettingError } from '../../core/errors.js';

/** Go's strconv.ParseBool spellings, which the reference accepts. */
const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

export function parseBool(name: string, raw: string): boolean {
  if (TRUE.has(raw)) return true;
  if (FALSE.has(raw)) return false;
  throw new SettingError(name, raw, 'true or false');
}

export function parseIntIn(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw.trim());
  if (raw.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    throw new SettingError(name, raw, `an integer from ${min} to ${max}`);
  }
  return value;
}

export function parsePort(name: string, raw: string): number {
  return parseIntIn(name, raw, 0, 65_535);
}

export function parseRatio(name: string, raw: string): number {
  const value = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new SettingError(name, raw, 'a number from 0 to 1');
  }
  return value;
}

const DURATION_UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

/** Go duration strings as the reference's env vars use them ("10s", "1h30m", "250ms"); result in ms. */
export function parseDurationMs(name: string, raw: string): number {
  const text = raw.trim();
  if (text === '0') return 0;
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let index = 0;
  while (index < text.length) {
    part.lastIndex = index;
    const match = part.exec(text);
    if (match === null) throw new SettingError(name, raw, 'a duration such as 10s, 250ms or 1h');
    total += Number(match[1]) * (DURATION_UNIT_MS[match[2] ?? ''] ?? 0);
    index = part.lastIndex;
  }
  if (text === '') throw new SettingError(name, raw, 'a duration such as 10s, 250ms or 1h');
  return total;
}

export function parseChoice<T extends string>(name: string, raw: string, choices: readonly T[]): T {
  const lower = raw.trim().toLowerCase();
  const found = choices.find((choice) => choice === lower);
  if (found === undefined) throw new SettingError(name, raw, `one of ${choices.join(', ')}`);
  return found;
}

/**
 * A worker process count: a positive integer, or `0` / `auto` for one per
 * CPU (`cpuCount()`, i.e. os.availableParallelism()).
 */
export function parseWorkerCount(name: string, raw: string, cpuCount: () => number): number {
  const text = raw.trim().toLowerCase();
  if (text === 'auto' || text === '0') return Math.max(1, cpuCount());
  const value = Number(text);
  if (text === '' || !Number.isInteger(value) || value < 1 || value > 1024) {
    throw new SettingError(name, raw, 'an integer from 1 to 1024, or 0 / auto for one per CPU');
  }
  return value;
}
