import type { RateLimitResult } from '../core/decision.js';
import type { DescriptorEntry, RateLimitRequest, RequestDescriptor } from '../core/descriptor.js';
import { InvalidArgumentError } from '../core/errors.js';
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from '../service/request-validation.js';

/**
 * `/auth`: the rate limit check for HTTP gateways that ask an external
 * service before proxying (nginx `auth_request`, Traefik `forwardAuth`, Caddy
 * `forward_auth`, HAProxy/Kong-style checks). The subrequest names the domain
 * and descriptors in headers (or query arguments); the answer is the status
 * and headers below, with the same decision as ShouldRateLimit.
 */

/** The over-limit status nginx understands: `auth_request` treats 401 and 403 as denials, anything else as 500. */
export const DEFAULT_OVER_LIMIT_STATUS = 403;

const UINT32_MAX = 4_294_967_295;

/** Headers arrive lower-cased; `headersDistinct` keeps repeated headers apart (Node joins them with ", "). */
export type DistinctHeaders = Readonly<Record<string, readonly string[] | undefined>>;

/**
 * Builds the ShouldRateLimit request from the gateway's subrequest.
 * - domain: header `X-RateLimit-Domain`, else query `domain`.
 * - descriptors: each `X-RateLimit-Descriptor: key=value, key2=value2` header is one
 *   descriptor, then each query `descriptor=key=value,key2=value2`; keys and values are
 *   percent-decoded after splitting on `,` and the first `=`, so `%2C`/`%3D` carry literal ones.
 * - hits: header `X-RateLimit-Hits`, else query `hits` (uint32; 0 counts as 1, as in Envoy).
 * The number of descriptors and of entries in each is checked against `limits`
 * before any is decoded (the service checks the rest); Node's HTTP parser
 * already caps the request line and headers together at 16 KiB (maxHeaderSize).
 * @throws InvalidArgumentError naming what is missing, malformed or over a limit (→ 400).
 */
export function authRequestFromHttp(
  headers: DistinctHeaders,
  url: string,
  limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
): RateLimitRequest {
  const query = parseQuery(url);
  const domain = firstHeader(headers, 'x-ratelimit-domain') ?? decode(query.get('domain')?.[0], 'domain');
  if (domain === undefined || domain.trim() === '')
    throw new InvalidArgumentError('missing domain: send header X-RateLimit-Domain or query domain=');
  const rawDescriptors = [...(headers['x-ratelimit-descriptor'] ?? []), ...(query.get('descriptor') ?? [])];
  if (rawDescriptors.length === 0)
    throw new InvalidArgumentError(
      'missing descriptor: send header X-RateLimit-Descriptor: key=value[, key2=value2] or query descriptor=',
    );
  if (rawDescriptors.length > limits.maxDescriptors) {
    throw new InvalidArgumentError(
      `${rawDescriptors.length} descriptors (X-RateLimit-Descriptor headers and descriptor= query arguments); ` +
        `at most ${limits.maxDescriptors} are allowed`,
    );
  }
  const hitsText = firstHeader(headers, 'x-ratelimit-hits') ?? decode(query.get('hits')?.[0], 'hits');
  return {
    domain: domain.trim(),
    descriptors: rawDescriptors.map((text, index) => parseDescriptor(text, limits.maxEntries, index)),
    hitsAddend: hitsText === undefined ? 0 : parseHits(hitsText),
  };
}

/**
 * One descriptor from `key=value, key2=value2` (whitespace around items ignored,
 * empty items skipped; keys must be non-empty, values may be empty).
 * @throws InvalidArgumentError on an item without `=`, an empty key, a bad `%` escape
 *   or more than `maxEntries` entries (`index` names the descriptor in that message).
 */
export function parseDescriptor(
  text: string,
  maxEntries = DEFAULT_REQUEST_LIMITS.maxEntries,
  index = 0,
): RequestDescriptor {
  const entries: DescriptorEntry[] = [];
  for (const item of text.split(',')) {
    const pair = item.trim();
    if (pair === '') continue;
    if (entries.length === maxEntries) {
      throw new InvalidArgumentError(
        `descriptor ${index} entry ${maxEntries}: at most ${maxEntries} entries per descriptor are allowed`,
      );
    }
    const eq = pair.indexOf('=');
    if (eq <= 0)
      throw new InvalidArgumentError(`bad descriptor entry ${JSON.stringify(pair)}: want key=value`);
    const key = decode(pair.slice(0, eq).trim(), 'descriptor key') ?? '';
    const value = decode(pair.slice(eq + 1).trim(), 'descriptor value') ?? '';
    entries.push({ key, value });
  }
  if (entries.length === 0) throw new InvalidArgumentError(`empty descriptor ${JSON.stringify(text)}`);
  return { entries };
}

/** @throws InvalidArgumentError unless `text` is a whole number in 0..2^32-1. */
export function parseHits(text: string): number {
  const trimmed = text.trim();
  const hits = /^\d{1,10}$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!(hits <= UINT32_MAX))
    throw new InvalidArgumentError(`bad hits ${JSON.stringify(text)}: want a whole number 0..${UINT32_MAX}`);
  return hits;
}

export interface AuthResponse {
  readonly status: number;
  /** Header name → value, names as sent. */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The decision as status + headers: 200 when allowed, `overLimitStatus` when
 * over, with X-RateLimit-Limit/Remaining/Reset (Reset in seconds from now) of
 * the service's deciding status (RateLimitResult.decidingStatus, the one the
 * gRPC RateLimit-* headers describe) and, when over, Retry-After: the
 * service's retryAfterSeconds, when the whole request would pass (which can be
 * later than the deciding status's reset). `responseHeadersToAdd` of the result are passed along unless their
 * name collides with ours.
 */
export function authResponseFor(result: RateLimitResult, overLimitStatus: number): AuthResponse {
  const over = result.overallCode === 'OVER_LIMIT';
  const headers: Record<string, string> = {};
  for (const { key, value } of result.responseHeadersToAdd) headers[key] = value;
  const deciding = result.decidingStatus;
  if (deciding?.currentLimit !== undefined) {
    setHeader(headers, 'X-RateLimit-Limit', String(deciding.currentLimit.requestsPerUnit));
    setHeader(headers, 'X-RateLimit-Remaining', String(deciding.limitRemaining));
    if (deciding.durationUntilResetSeconds !== undefined) {
      setHeader(headers, 'X-RateLimit-Reset', String(deciding.durationUntilResetSeconds));
    }
  }
  if (over && result.retryAfterSeconds !== undefined) {
    setHeader(headers, 'Retry-After', String(result.retryAfterSeconds));
  }
  return { status: over ? overLimitStatus : 200, headers };
}

function setHeader(headers: Record<string, string>, name: string, value: string): void {
  const lower = name.toLowerCase();
  for (const existing of Object.keys(headers)) if (existing.toLowerCase() === lower) delete headers[existing];
  headers[name] = value;
}

function firstHeader(headers: DistinctHeaders, name: string): string | undefined {
  return headers[name]?.[0];
}

/** Raw (still percent-encoded) values of each query parameter, in order. */
function parseQuery(url: string): Map<string, string[]> {
  const params = new Map<string, string[]>();
  const mark = url.indexOf('?');
  if (mark < 0) return params;
  for (const part of url.slice(mark + 1).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    const list = params.get(name);
    if (list === undefined) params.set(name, [value]);
    else list.push(value);
  }
  return params;
}

/** RFC 3986 percent-decoding; `+` stays a plus. */
function decode(text: string | undefined, what: string): string | undefined {
  if (text === undefined) return undefined;
  try {
    return decodeURIComponent(text);
  } catch {
    throw new InvalidArgumentError(`bad percent-encoding in ${what} ${JSON.stringify(text)}`);
  }
}
