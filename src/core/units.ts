/**
 * Units of a rate limit and their window lengths, as envoyproxy/ratelimit
 * defines them: MONTH is 30 days and YEAR 365 days (not calendar units), and
 * windows are aligned to the Unix epoch.
 */
export type Unit = 'SECOND' | 'MINUTE' | 'HOUR' | 'DAY' | 'WEEK' | 'MONTH' | 'YEAR';

/** Window length of each unit, in seconds. */
export const UNIT_SECONDS: Readonly<Record<Unit, number>> = Object.freeze({
  SECOND: 1,
  MINUTE: 60,
  HOUR: 3_600,
  DAY: 86_400,
  WEEK: 604_800,
  MONTH: 2_592_000,
  YEAR: 31_536_000,
});

/** Parses a unit name case-insensitively; undefined for anything else (including "unknown"). */
export function parseUnit(raw: string): Unit | undefined {
  const upper = raw.toUpperCase();
  return Object.hasOwn(UNIT_SECONDS, upper) ? (upper as Unit) : undefined;
}
