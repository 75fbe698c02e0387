/**
 * Pre-encoded ShouldRateLimit bodies (gRPC frames) for the scenarios h2load cannot send:
 * many distinct keys, four descriptors per request, and an over-limit-heavy mix. The
 * generator (grpc-load.ts) sends them in the order returned, round robin, so each
 * builder already puts its requests in the order they should be sent.
 *
 * Rule keys assumed (all in domain `bench`, each a key-only rule, so every distinct value
 * has its own counter; bench/run.ts CONFIG has all of them):
 * - `fixed_window`, `token_bucket`, `sliding_window`: limits the load never reaches.
 * - `over_limit`: a low limit (100/s in bench/run.ts), so a hot value is mostly rejected.
 */
import { RateLimitRequest } from '../../src/gen/envoy/service/ratelimit/v3/rls.js';
import { grpcFrame } from './grpc-frames.js';

export const BENCH_DOMAIN = 'bench';

/** One descriptor entry: a rule key and the value the request carries for it. */
export interface Entry {
  key: string;
  value: string;
}

/**
 * The descriptors of `fourDescriptors`: three algorithms plus `fixed_window` again with a
 * different value prefix (a second, distinct counter under the same rule), so bench/run.ts
 * CONFIG needs no extra rule. Pass your own list to use e.g. a `fixed_window_2` rule.
 */
export const FOUR_DESCRIPTOR_KEYS: readonly Entry[] = [
  { key: 'fixed_window', value: 'user' },
  { key: 'token_bucket', value: 'user' },
  { key: 'sliding_window', value: 'user' },
  { key: 'fixed_window', value: 'org' },
];

/** A frame for one request: domain, one descriptor per entry list, hits_addend 0 (= 1). */
export function requestFrame(descriptors: readonly (readonly Entry[])[], domain = BENCH_DOMAIN): Buffer {
  const request: RateLimitRequest = {
    domain,
    descriptors: descriptors.map((entries) => ({ entries: entries.map((e) => ({ ...e })) })),
    hitsAddend: 0,
  };
  return grpcFrame(RateLimitRequest.encode(request).finish());
}

/** `user-000042`: zero-padded so every body of a scenario has the same length. */
function indexed(prefix: string, i: number, n: number): string {
  return `${prefix}-${String(i).padStart(String(Math.max(0, n - 1)).length, '0')}`;
}

/** `n` requests, one descriptor each: `[{ key, value: 'user-<i>' }]`, i = 0..n-1 (n distinct counters). */
export function keys(n: number, key: string, domain = BENCH_DOMAIN): Buffer[] {
  const frames = new Array<Buffer>(n);
  for (let i = 0; i < n; i++) frames[i] = requestFrame([[{ key, value: indexed('user', i, n) }]], domain);
  return frames;
}

/**
 * `n` requests with four descriptors each; descriptor d of request i is
 * `[{ key: entries[d].key, value: '<entries[d].value>-<i>' }]`, so 4·n distinct counters
 * (fewer if two entries share key and value prefix).
 */
export function fourDescriptors(n: number, entries: readonly Entry[] = FOUR_DESCRIPTOR_KEYS): Buffer[] {
  const frames = new Array<Buffer>(n);
  for (let i = 0; i < n; i++) {
    frames[i] = requestFrame(entries.map((e) => [{ key: e.key, value: indexed(e.value, i, n) }]));
  }
  return frames;
}

export interface OverLimitMixOptions {
  /** Share of requests that go to the hot keys, 0..1. Default 0.9. */
  hotShare?: number;
  /** Number of distinct hot values. Default 4. */
  hotKeys?: number;
  /** Rule key of the hot requests (a low limit). Default `over_limit`. */
  hotKey?: string;
  /** Rule key of the other requests (a limit never reached). Default `fixed_window`. */
  coldKey?: string;
  /** Seed of the order; the same seed gives the same bodies. Default 1. */
  seed?: number;
}

/**
 * `n` requests, one descriptor each, in a fixed-seed pseudo-random order: a `hotShare`
 * of them `[{ key: hotKey, value: 'hot-<j>' }]` (j < hotKeys), the rest
 * `[{ key: coldKey, value: 'user-<i>' }]`, each cold value distinct.
 *
 * Expected answers over a run at R req/s for S s with the hot rule at L req/s per value:
 * OK ≈ (1 − hotShare)·R·S + min(hotShare·R, hotKeys·L)·S, the rest OVER_LIMIT; with the
 * defaults, L = 100 and R = 10,000 that is ≈ 14% OK, 86% OVER_LIMIT.
 */
export function overLimitMix(n: number, options: OverLimitMixOptions = {}): Buffer[] {
  const { hotShare = 0.9, hotKeys = 4, hotKey = 'over_limit', coldKey = 'fixed_window', seed = 1 } = options;
  if (!(hotShare >= 0 && hotShare <= 1)) throw new RangeError(`hotShare must be in [0, 1], got ${hotShare}`);
  if (!(hotKeys >= 1)) throw new RangeError(`hotKeys must be >= 1, got ${hotKeys}`);
  const hot = Array.from({ length: hotKeys }, (_, j) => requestFrame([[{ key: hotKey, value: `hot-${j}` }]]));
  const random = mulberry32(seed);
  const hotCount = Math.round(n * hotShare);
  // exactly hotCount hot slots: a seeded Fisher-Yates shuffle of a 0/1 pattern
  const isHot = new Uint8Array(n).fill(1, 0, hotCount);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = isHot[i]!;
    isHot[i] = isHot[j]!;
    isHot[j] = t;
  }
  const frames = new Array<Buffer>(n);
  let h = 0;
  for (let i = 0; i < n; i++) {
    frames[i] = isHot[i]
      ? hot[h++ % hotKeys]!
      : requestFrame([[{ key: coldKey, value: indexed('user', i, n) }]]);
  }
  return frames;
}

/** A small seeded PRNG (mulberry32) returning floats in [0, 1); good enough to shuffle bodies. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
