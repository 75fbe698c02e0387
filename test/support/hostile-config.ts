/**
 * Config texts of the "hostile input" issue: big, nested through aliases, or many files.
 * Shared by the integration, e2e and fuzz tests of config loading.
 */

/** `count` descriptors `user: uNNNNNN` (limit `i % 100 + 1` per second) in one domain: ~96 bytes each. */
export function manyDescriptors(domain: string, count: number): string {
  const parts = [`domain: ${domain}\ndescriptors:\n`];
  for (let i = 0; i < count; i++) {
    const value = `u${String(i).padStart(6, '0')}`;
    parts.push(
      `  - key: user\n    value: ${value}\n    rate_limit:\n      unit: second\n      requests_per_unit: ${(i % 100) + 1}\n`,
    );
  }
  return parts.join('');
}

/**
 * A "billion laughs" config of well under 1 KiB: `levels` anchors, each a descriptor
 * listing the previous one `fanOut` times, the innermost with an invalid unit. Expanded in
 * full it is fanOut^levels descriptors, each with problems.
 */
export function aliasBomb(levels = 8, fanOut = 9): string {
  const lines = ['domain: bomb', 'a0: &a0 {key: k, rate_limit: {unit: lightyear, requests_per_unit: 1}}'];
  for (let i = 1; i < levels; i++) {
    const refs = Array.from({ length: fanOut }, () => `*a${i - 1}`).join(', ');
    lines.push(`a${i}: &a${i} {key: k, descriptors: [${refs}]}`);
  }
  lines.push(`descriptors: [*a${levels - 1}]`);
  return `${lines.join('\n')}\n`;
}

/** A small valid file of domain `d<i>`. */
export function smallFile(i: number): string {
  return `domain: d${i}\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, requests_per_unit: 1}\n`;
}
