import { type InvalidCase, MUST } from './invalid-cases.js';

const ALGORITHMS = 'fixed_window, sliding_window, sliding_log, token_bucket';
const BURST = (found: string) => `${MUST('burst', 'an integer from 1 to 4294967295')}, found ${found}`;
const BURST_ALONE = (algorithm: string) =>
  `'burst' only applies to algorithm token_bucket, but this limit's algorithm is ${algorithm}`;
const DUPLICATE = (algorithm: string, unit: string) =>
  `duplicate limit in 'rate_limits': an earlier entry already has algorithm ${algorithm} and unit ${unit}, and the two would share one counter; change the unit or algorithm of one, or keep only the stricter`;

/**
 * One fixture per rule of the config extensions (DESIGN.md, "Extensions to the config"):
 * `algorithm`, `burst` and `rate_limits`.
 */
export const LIMIT_CASES: readonly InvalidCase[] = [
  [
    'unknown-algorithm.yaml',
    [
      `unknown-algorithm.yaml:7:18: invalid rate limit algorithm 'leaky_bucket'; valid algorithms: ${ALGORITHMS}`,
    ],
  ],
  [
    'unlimited-with-algorithm.yaml',
    ['unlimited-with-algorithm.yaml:6:18: should not specify rate limit algorithm when unlimited'],
  ],
  [
    'burst-without-token-bucket.yaml',
    [
      `burst-without-token-bucket.yaml:4:61: ${BURST_ALONE('fixed_window')}`,
      `burst-without-token-bucket.yaml:7:80: ${BURST_ALONE('sliding_window')}`,
    ],
  ],
  [
    'burst-below-one.yaml',
    [`burst-below-one.yaml:4:86: ${BURST('integer 0')}`, `burst-below-one.yaml:6:86: ${BURST('integer -3')}`],
  ],
  [
    'burst-not-integer.yaml',
    [
      `burst-not-integer.yaml:4:86: ${BURST('float 2.5')}`,
      `burst-not-integer.yaml:6:86: ${BURST("string '20'")}`,
    ],
  ],
  [
    'sliding-log-too-large.yaml',
    [
      'sliding-log-too-large.yaml:8:26: sliding_log keeps one entry per admitted request, so its memory grows with the limit: requests_per_unit must be at most 10000, found 10001 (use sliding_window or token_bucket for larger limits)',
    ],
  ],
  [
    'rate-limit-and-rate-limits.yaml',
    [
      "rate-limit-and-rate-limits.yaml:5:5: a descriptor cannot have both 'rate_limit' and 'rate_limits'; put all of its limits in 'rate_limits'",
    ],
  ],
  [
    'empty-rate-limits.yaml',
    [
      "empty-rate-limits.yaml:4:18: 'rate_limits' must list at least one limit; remove it for a descriptor without a limit",
    ],
  ],
  [
    'rate-limits-not-list.yaml',
    [`rate-limits-not-list.yaml:4:18: ${MUST('rate_limits', 'a list')}, found a map`],
  ],
  [
    'duplicate-limit-in-rate-limits.yaml',
    [
      `duplicate-limit-in-rate-limits.yaml:7:9: ${DUPLICATE('fixed_window', 'MINUTE')}`,
      `duplicate-limit-in-rate-limits.yaml:8:9: ${DUPLICATE('token_bucket', 'SECOND')}`,
    ],
  ],
  [
    'unlimited-in-rate-limits.yaml',
    [
      "unlimited-in-rate-limits.yaml:6:10: config error, key 'unlimited' is not allowed in a 'rate_limits' entry; an unlimited descriptor has no limits to combine: use 'rate_limit: {unlimited: true}'",
    ],
  ],
  [
    'rate-limits-entry-missing-unit.yaml',
    ["rate-limits-entry-missing-unit.yaml:6:9: invalid rate limit unit ''"],
  ],
  [
    'rate-limits-replaces-own-name.yaml',
    ['rate-limits-replaces-own-name.yaml:10:19: replaces should not contain name of same descriptor'],
  ],
  [
    'misplaced-key-in-rate-limits-entry.yaml',
    [
      "misplaced-key-in-rate-limits-entry.yaml:7:9: config error, key 'shadow_mode' is not allowed in a 'rate_limits' entry; it belongs in a descriptor",
    ],
  ],
];
