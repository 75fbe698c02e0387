import type { DescriptorEntry } from '../core/descriptor.js';

/**
 * The counter identity of one descriptor without its window:
 * `prefix + domain + "_" + (key + "_" + value + "_")` per entry.
 *
 * The store appends the window start (Unix seconds), which gives
 * envoyproxy/ratelimit's key byte for byte (reference §5.1), e.g.
 * `domain_key_value_1234`, so a mixed fleet can share one Redis. `_` is not
 * escaped, as in the reference: `(a, b_c)` and `(a_b, c)` share a counter.
 *
 * `entries` are the match's counter entries (a `share_threshold` wildcard
 * level carries its pattern). The key grows by appending to one string, which
 * V8 keeps as a rope flattened once on first use: linear in the key length.
 */
export function counterKey(prefix: string, domain: string, entries: readonly DescriptorEntry[]): string {
  let key = `${prefix}${domain}_`;
  for (const entry of entries) {
    key += `${entry.key}_${entry.value}_`;
  }
  return key;
}
