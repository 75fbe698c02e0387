import type { LimitOverride, RateLimitRequest } from '../core/descriptor.js';
import type { LimitMatch } from '../core/limit.js';

type Metadata = Record<string, unknown>;

/**
 * The dynamic metadata struct of a response (RESPONSE_DYNAMIC_METADATA;
 * `ratelimitToMetadata` in envoyproxy/ratelimit src/service/ratelimit.go), as
 * plain JSON-like values, fields in the reference's order:
 * - `domain`;
 * - `descriptors`: per request descriptor `{entries: ["k=v", …], limit?, hitsAddend?}`,
 *   `limit` being the override in protobuf text form and `hitsAddend` present
 *   whenever the descriptor set it (0 included);
 * - `hitsAddend`: the request's, when non-zero;
 * - `metadata`: the `metadata` maps of the rules of passed descriptors (not
 *   OVER_LIMIT, not unlimited) merged in request order, first wins on
 *   conflicts, nested maps merged recursively; omitted when empty.
 *
 * `matches[i]` is descriptor i's rule after `replaces` (undefined for no
 * limit and replaced); `passed[i]` is false for OVER_LIMIT and unlimited
 * descriptors. Config maps are never mutated: merged maps are copies.
 */
export function dynamicMetadata(
  req: RateLimitRequest,
  matches: readonly (LimitMatch | undefined)[],
  passed: readonly boolean[],
): Metadata {
  const descriptors = req.descriptors.map((descriptor) => {
    const out: Metadata = { entries: descriptor.entries.map((e) => `${e.key}=${e.value}`) };
    if (descriptor.limit !== undefined) out.limit = overrideText(descriptor.limit);
    if (descriptor.hitsAddend !== undefined) out.hitsAddend = descriptor.hitsAddend;
    return out;
  });
  const result: Metadata = { domain: req.domain, descriptors };
  if (req.hitsAddend !== 0) result.hitsAddend = req.hitsAddend;
  const merged: Metadata = {};
  for (let i = 0; i < matches.length; i++) {
    const metadata = matches[i]?.rule.metadata;
    if (passed[i] && metadata !== undefined) mergeMetadata(merged, metadata);
  }
  if (Object.keys(merged).length > 0) result.metadata = merged;
  return result;
}

/**
 * A `RateLimitOverride` in protobuf text format, as Go's `String()` prints it:
 * `requests_per_unit:10 unit:MINUTE`, zero-valued fields left out.
 */
export function overrideText(limit: LimitOverride): string {
  return limit.requestsPerUnit === 0
    ? `unit:${limit.unit}`
    : `requests_per_unit:${limit.requestsPerUnit} unit:${limit.unit}`;
}

/** Adds `src`'s fields missing from `dest`; where both hold maps, merges them recursively. */
function mergeMetadata(dest: Metadata, src: Readonly<Metadata>): void {
  for (const key of Object.keys(src)) {
    const value = src[key];
    if (!Object.hasOwn(dest, key)) {
      dest[key] = isMap(value) ? copyMap(value) : value;
    } else {
      const existing = dest[key];
      if (isMap(existing) && isMap(value)) mergeMetadata(existing, value);
    }
  }
}

function copyMap(src: Readonly<Metadata>): Metadata {
  const copy: Metadata = {};
  mergeMetadata(copy, src);
  return copy;
}

function isMap(value: unknown): value is Metadata {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
