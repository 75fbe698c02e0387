/** Number formatting shared by the benchmark reports. */

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const us = (v: number): string =>
  Number.isNaN(v) ? '–' : v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${Math.round(v)} µs`;

/** `v` as a percentage of `base`, or – when there is no base. */
export const share = (v: number, base: number | undefined): string =>
  base === undefined || !Number.isFinite(v / base) ? '–' : `${((v / base) * 100).toFixed(0)}%`;

/** `v / base` as a multiplier ("1.23×"), or – when there is no base. */
export const times = (v: number, base: number | undefined): string =>
  base === undefined || !Number.isFinite(v / base) ? '–' : `${(v / base).toFixed(2)}×`;

export const count = (v: number): string => Math.round(v).toLocaleString('en-US');

export function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}
