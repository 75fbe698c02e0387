import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Algorithm } from '../../../src/core/algorithm.js';
import type { DescriptorEntry } from '../../../src/core/descriptor.js';
import {
  type CachedCheckRef,
  counterKey,
  type KeyFormat,
  keyTag,
  localCacheKey,
  redisKey,
  stateKey,
  windowStartSeconds,
} from '../../../src/core/key-layout.js';
import { MODELS } from '../../../src/core/models.js';
import { UNIT_SECONDS, type Unit } from '../../../src/core/units.js';
import { hashSlot } from '../../../src/storage/redis/hash-slot.js';

/**
 * Injectivity of the escaped key format (the proof is in core/key-layout.ts):
 * every key a backend builds — memory state key, Redis key, local cache key —
 * parses back to its domain, entries, tag and window start, so distinct
 * (domain, entries, limit) never share one. Parts are adversarial: mostly
 * `_`, `\`, `{`, `}` and NUL, plus unicode and empty strings.
 */

const ADVERSARIAL = fc.constantFrom('_', '_', '\\', '\\', '{', '}', '\u0000', 'a', '1', 'é', '😀');
const part = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: ADVERSARIAL, maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
);
const ALGORITHMS: readonly Algorithm[] = ['fixed_window', 'sliding_window', 'sliding_log', 'token_bucket'];
const UNITS = Object.keys(UNIT_SECONDS) as Unit[];

interface Check {
  readonly domain: string;
  readonly entries: readonly DescriptorEntry[];
  readonly algorithm: Algorithm;
  readonly unit: Unit;
  readonly inList: boolean;
  readonly nowMs: number;
  readonly hits: number;
  readonly requestsPerUnit: number;
  readonly burst: number;
}

const check: fc.Arbitrary<Check> = fc.record({
  domain: part,
  entries: fc.array(fc.record({ key: part, value: part }), { maxLength: 4 }),
  algorithm: fc.constantFrom(...ALGORITHMS),
  unit: fc.constantFrom(...UNITS),
  inList: fc.boolean(),
  nowMs: fc.integer({ min: 0, max: 4_000_000_000_000 }),
  hits: fc.nat(5),
  requestsPerUnit: fc.integer({ min: 1, max: 1_000 }),
  burst: fc.integer({ min: 1, max: 1_000 }),
});

/** What a key names: the parts, the limit's tag and the window start ('' when not windowed). */
interface Named {
  readonly domain: string;
  readonly entries: readonly DescriptorEntry[];
  readonly tag: string;
  readonly window: string;
}

function ref(prefix: string, c: Check, format: KeyFormat = 'escaped'): CachedCheckRef {
  return {
    key: counterKey(prefix, c.domain, c.entries, format),
    tag: keyTag(c.algorithm, c.unit, c.inList),
    unitSeconds: UNIT_SECONDS[c.unit],
    hits: c.hits,
    requestsPerUnit: c.requestsPerUnit,
    algorithm: c.algorithm,
    burst: c.burst,
  };
}

function named(c: Check): Named {
  const windowed = MODELS[c.algorithm].windowed;
  return {
    domain: c.domain,
    entries: c.entries.map(({ key, value }) => ({ key, value })),
    tag: keyTag(c.algorithm, c.unit, c.inList),
    window: windowed ? String(windowStartSeconds(c.nowMs, UNIT_SECONDS[c.unit])) : '',
  };
}

/**
 * Splits `text` at unescaped `_` (a `\` takes the next character literally),
 * stopping before the first unescaped `stop` character: the unescaped fields,
 * what follows the last `_` (raw), and where it stopped.
 */
function fields(text: string, stop?: string): { fields: string[]; rest: string; end: number } {
  const out: string[] = [];
  let field = '';
  let raw = '';
  let i = 0;
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === stop) break;
    if (ch === '\\') {
      if (i + 1 >= text.length) throw new Error('dangling escape');
      field += text[i + 1];
      raw += ch + text[i + 1];
      i++;
    } else if (ch === '_') {
      out.push(field);
      field = '';
      raw = '';
    } else {
      field += ch;
      raw += ch;
    }
  }
  return { fields: out, rest: raw, end: i };
}

/** Domain, entries and tag body from counter-key fields (odd count: no tag). */
function fromFields(fs: readonly string[]): Omit<Named, 'window'> {
  const tagged = fs.length % 2 === 0;
  const parts = tagged ? fs.slice(0, -1) : fs;
  const entries: DescriptorEntry[] = [];
  for (let i = 1; i < parts.length; i += 2) entries.push({ key: parts[i]!, value: parts[i + 1]! });
  return { domain: parts[0]!, entries, tag: tagged ? `${fs.at(-1)}_` : '' };
}

function stripPrefix(key: string, prefix: string): string {
  if (!key.startsWith(prefix)) throw new Error('no prefix');
  return key.slice(prefix.length);
}

/** Memory state key, and a Redis key with tag '': fields, then the window start. */
function parseStateKey(key: string, prefix: string): Named {
  const { fields: fs, rest } = fields(stripPrefix(key, prefix));
  if (!/^\d*$/.test(rest)) throw new Error(`not a window start: ${rest}`);
  return { ...fromFields(fs), window: rest };
}

function parseRedisKey(key: string, prefix: string): Named {
  if (!key.startsWith(`{${prefix}`)) return parseStateKey(key, prefix);
  const body = key.slice(1 + prefix.length);
  const counter = fields(body, '}');
  if (counter.rest !== '' || counter.end === body.length) return parseStateKey(key, prefix);
  const after = body.slice(counter.end + 1);
  const tagEnd = after.indexOf('_');
  const window = after.slice(tagEnd + 1);
  if (tagEnd < 1 || !/^[a-z]+\d+$/.test(after.slice(0, tagEnd)) || !/^\d*$/.test(window)) {
    throw new Error(`bad tag/window: ${after}`);
  }
  return { ...fromFields(counter.fields), tag: after.slice(0, tagEnd + 1), window };
}

function parseLocalCacheKey(key: string, prefix: string): Named & { readonly limit: string[] } {
  const pieces = key.split('\u0000');
  const limit = pieces.splice(-6);
  const { fields: fs, rest } = fields(stripPrefix(pieces.join('\u0000'), prefix));
  if (rest !== '') throw new Error(`trailing ${rest}`);
  return { ...fromFields(fs), window: limit[0]!, limit: limit.slice(1) };
}

const prefix = fc.oneof(fc.constant(''), fc.string({ unit: ADVERSARIAL, maxLength: 4 }));

describe('escaped keys parse back to what they name', () => {
  it('memory state key: prefix, domain, entries, tag, window start', () => {
    fc.assert(
      fc.property(prefix, check, (p, c) => {
        const key = stateKey(ref(p, c), MODELS[c.algorithm].windowed, c.nowMs);
        expect(parseStateKey(key, p)).toEqual(named(c));
      }),
      { numRuns: 2_000 },
    );
  });

  it('Redis key: the tag-less reference layout or the hash-tagged one', () => {
    fc.assert(
      fc.property(prefix, check, (p, c) => {
        const key = redisKey(ref(p, c), MODELS[c.algorithm].windowed, c.nowMs);
        expect(parseRedisKey(key, p)).toEqual(named(c));
      }),
      { numRuns: 2_000 },
    );
  });

  it('local cache key: counter key + tag, then the window start and the limit after the last six NULs', () => {
    fc.assert(
      fc.property(prefix, check, (p, c) => {
        const key = localCacheKey(ref(p, c), MODELS[c.algorithm].windowed, c.nowMs);
        const parsed = parseLocalCacheKey(key, p);
        expect(parsed).toEqual({
          ...named(c),
          limit: [c.hits, c.requestsPerUnit, UNIT_SECONDS[c.unit], c.algorithm, c.burst].map(String),
        });
      }),
      { numRuns: 2_000 },
    );
  });
});

/** Checks whose parts come from a tiny alphabet, so near-collisions (moved separators) are common. */
const tinyCheck = (alphabet: readonly string[]) => {
  const tiny = fc.string({ unit: fc.constantFrom(...alphabet), maxLength: 3 });
  return check.chain((c) =>
    fc
      .record({ domain: tiny, entries: fc.array(fc.record({ key: tiny, value: tiny }), { maxLength: 3 }) })
      .map((parts) => ({ ...c, ...parts, nowMs: 1_234_000 })),
  );
};

function sameName(a: Check, b: Check): boolean {
  return JSON.stringify(named(a)) === JSON.stringify(named(b));
}

function keysOf(format: KeyFormat, p: string, c: Check): string[] {
  const r = ref(p, c, format);
  const windowed = MODELS[c.algorithm].windowed;
  return [
    stateKey(r, windowed, c.nowMs),
    redisKey(r, windowed, c.nowMs),
    localCacheKey(r, windowed, c.nowMs),
  ];
}

/** Two checks, on the same limit half the time. */
const pair = (alphabet: readonly string[]) =>
  fc
    .tuple(tinyCheck(alphabet), tinyCheck(alphabet), fc.boolean())
    .map(([a, b, sameLimit]): [Check, Check] => [
      a,
      sameLimit ? { ...a, domain: b.domain, entries: b.entries } : b,
    ]);

const distinctChecksNeverShareAKey = (format: KeyFormat, alphabet: readonly string[]) =>
  fc.property(prefix, pair(alphabet), (p, [a, b]) => {
    fc.pre(!sameName(a, b));
    const ka = keysOf(format, p, a);
    const kb = keysOf(format, p, b);
    for (let i = 0; i < ka.length; i++) expect(ka[i]).not.toBe(kb[i]);
  });

describe('distinct (domain, entries, limit) never share a key', () => {
  it('in the escaped format, for the memory, Redis and local cache keys', () => {
    for (const alphabet of [
      ['_', 'a'],
      ['_', '\\', '{', '}', 'a'],
    ]) {
      fc.assert(distinctChecksNeverShareAKey('escaped', alphabet), { numRuns: 5_000 });
    }
  });

  it('but do in the reference format (the property can fail: this is what escaping fixes)', () => {
    const limit = {
      algorithm: 'fixed_window',
      unit: 'MINUTE',
      inList: false,
      hits: 1,
      requestsPerUnit: 3,
      burst: 3,
    };
    const crafted: Check = {
      ...limit,
      domain: 'api',
      entries: [{ key: 'user', value: 'alice_path_/login' }],
      nowMs: 0,
    } as Check;
    const real: Check = {
      ...crafted,
      entries: [
        { key: 'user', value: 'alice' },
        { key: 'path', value: '/login' },
      ],
    };
    const property = distinctChecksNeverShareAKey('reference', ['_', 'a']);
    expect(() => fc.assert(property, { numRuns: 1, examples: [['', [crafted, real]]] })).toThrow(
      /Counterexample/,
    );
    expect(() => fc.assert(property, { numRuns: 1, examples: [['pfx_', [crafted, real]]] })).toThrow(
      /Counterexample/,
    );
    expect(() =>
      fc.assert(distinctChecksNeverShareAKey('escaped', ['_', 'a']), {
        numRuns: 1,
        examples: [['', [crafted, real]]],
      }),
    ).not.toThrow();
  });
});

describe('Redis Cluster hash tag', () => {
  it('puts every tagged limit of one descriptor in one slot, whatever its parts (even a leading })', () => {
    fc.assert(
      fc.property(prefix, check, (p, c) => {
        fc.pre(!p.startsWith('}'));
        const slots = new Set(
          ALGORITHMS.flatMap((algorithm) =>
            UNITS.map((unit) => {
              const r = ref(p, { ...c, algorithm, unit, inList: true });
              return hashSlot(redisKey(r, MODELS[algorithm].windowed, c.nowMs));
            }),
          ),
        );
        expect(slots.size).toBe(1);
      }),
      { numRuns: 500 },
    );
    expect(counterKey('', '}x', [], 'escaped')).toBe('\\}x_');
  });
});
