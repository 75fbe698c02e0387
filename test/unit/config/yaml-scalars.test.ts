import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../src/config/rules/build-config.js';
import type { RateLimitConfig } from '../../../src/config/rules/rate-limit-config.js';
import { desc, problemLines } from './fixtures.js';

/**
 * How gopkg.in/yaml.v2 (the reference's parser) types a plain scalar, read from its
 * resolve.go (branch v2): only a sign, digit or `.` first can make a number, so `e1` is a
 * string; `0x`/`0o`/`0b`/leading-0 octal and `_` make ints; a decimal past uint64, or `08`,
 * is a float; `2026-01-01` is a timestamp, which every field we have reads as its text.
 */
type GoType =
  | { kind: 'str' | 'null' | 'float' | 'uint64' }
  | { kind: 'int'; value: number }
  | { kind: 'bool'; value: boolean };

const STR = { kind: 'str' } as const;
const NULL = { kind: 'null' } as const;
const FLOAT = { kind: 'float' } as const;
const int = (value: number) => ({ kind: 'int', value }) as const;
const bool = (value: boolean) => ({ kind: 'bool', value }) as const;

const SCALARS: readonly [literal: string, go: GoType][] = [
  ['e1', STR],
  ['E5', STR],
  ['1e5', FLOAT],
  ['1.5', FLOAT],
  ['-.5', FLOAT],
  ['.inf', FLOAT],
  ['.', STR],
  ['.5_0', STR],
  ['1_0e1_0', FLOAT],
  ['1e400', STR],
  ['0x1F', int(31)],
  ['0X1F', int(31)],
  ['-0x1F', int(-31)],
  ['0o17', int(15)],
  ['017', int(15)],
  ['08', FLOAT],
  ['0b101', int(5)],
  ['1_000', int(1000)],
  ['+5', int(5)],
  ['4294967296', int(4294967296)],
  ['9223372036854775808', { kind: 'uint64' }],
  ['18446744073709551616', FLOAT],
  ['true', bool(true)],
  ['yes', bool(true)],
  ['Y', bool(true)],
  ['on', bool(true)],
  ['off', bool(false)],
  ['n', bool(false)],
  ['tRUE', STR],
  ['~', NULL],
  ['null', NULL],
  ['NULL', NULL],
  ['', NULL],
  ['2026-01-01', STR],
  ['1:20', STR],
  ['10.0.0.1', STR],
  ['::1', STR],
  ['2001:db8::1', STR],
];

/** How our messages name a value of each yaml.v2 type. */
function found(literal: string, go: GoType): string {
  const names = { str: `string '${literal}'`, bool: 'boolean', int: 'integer', float: 'float' } as const;
  if (go.kind === 'str') return names.str;
  if (go.kind === 'uint64') return `unsigned 64-bit integer ${literal}`;
  return go.kind === 'null' ? 'null' : `${names[go.kind]} ${literal}`;
}

type Outcome = { value: unknown } | { problem: string };

/**
 * What the reference loads for a string field: the text as written for every type but
 * float and uint64 (which its key check refuses: `error checking config`); null is ''.
 */
function asString(literal: string, go: GoType, name: string): Outcome {
  if (go.kind === 'null') return { value: '' };
  if (go.kind !== 'float' && go.kind !== 'uint64') return { value: literal };
  return {
    problem: `config error, '${name}' must be a string, found ${found(literal, go)} (quote it: '${literal}')`,
  };
}

/** What the reference loads into `requests_per_unit` (uint32): an int in range; null is 0. */
function asUint32(literal: string, go: GoType): Outcome {
  if (go.kind === 'null') return { value: 0 };
  if (go.kind === 'int' && go.value >= 0 && go.value <= 4294967295) return { value: go.value };
  return {
    problem: `config error, 'requests_per_unit' must be an integer from 0 to 4294967295, found ${found(literal, go)}`,
  };
}

/** What the reference loads into a bool field: a bool; null is false. */
function asBool(literal: string, go: GoType, name: string): Outcome {
  if (go.kind === 'null') return { value: false };
  if (go.kind === 'bool') return { value: go.value };
  return { problem: `config error, '${name}' must be true or false, found ${found(literal, go)}` };
}

const LIMIT = '    rate_limit:\n      unit: second\n      requests_per_unit: 1\n';
const rule = (c: RateLimitConfig) => c.match('d', desc('k='))?.rule;
const describedKey = (c: RateLimitConfig) => c.describe()[0]?.split(': unit=')[0];

interface FieldCase {
  /** The file, with `X` where the literal goes (on `line`, at column `col`; the key at `keyCol`). */
  readonly yaml: string;
  readonly line: number;
  readonly col: number;
  readonly keyCol: number;
  readonly expect: (literal: string, go: GoType) => Outcome;
  readonly read: (c: RateLimitConfig) => unknown;
}

const emptyIs = (message: string, outcome: Outcome): Outcome =>
  'value' in outcome && outcome.value === '' ? { problem: message } : outcome;

const FIELDS: Record<string, FieldCase> = {
  domain: {
    yaml: `domain: X\ndescriptors:\n  - key: k\n${LIMIT}`,
    ...{ line: 1, col: 9, keyCol: 1 },
    expect: (l, go) => emptyIs('config file cannot have empty domain', asString(l, go, 'domain')),
    read: (c) => c.domains()[0]?.domain,
  },
  key: {
    yaml: `domain: d\ndescriptors:\n  - key: X\n${LIMIT}`,
    ...{ line: 3, col: 10, keyCol: 5 },
    expect: (l, go) => emptyIs('descriptor has empty key', asString(l, go, 'key')),
    read: (c) => describedKey(c)?.replace(/^d\./, ''),
  },
  value: {
    yaml: `domain: d\ndescriptors:\n  - key: k\n    value: X\n${LIMIT}`,
    ...{ line: 4, col: 12, keyCol: 5 },
    expect: (l, go) => asString(l, go, 'value'),
    read: (c) => describedKey(c)?.replace(/^d\.k_?/, ''),
  },
  name: {
    yaml: `domain: d\ndescriptors:\n  - key: k\n${LIMIT}      name: X\n`,
    ...{ line: 7, col: 13, keyCol: 7 },
    expect: (l, go) => asString(l, go, 'name'),
    read: (c) => rule(c)?.limits[0]?.name,
  },
  requests_per_unit: {
    yaml: 'domain: d\ndescriptors:\n  - key: k\n    rate_limit:\n      unit: second\n      requests_per_unit: X\n',
    ...{ line: 6, col: 26, keyCol: 7 },
    expect: asUint32,
    read: (c) => rule(c)?.limits[0]?.requestsPerUnit,
  },
  shadow_mode: {
    yaml: `domain: d\ndescriptors:\n  - key: k\n    shadow_mode: X\n${LIMIT}`,
    ...{ line: 4, col: 18, keyCol: 5 },
    expect: (l, go) => asBool(l, go, 'shadow_mode'),
    read: (c) => rule(c)?.shadowMode,
  },
  detailed_metric: {
    yaml: `domain: d\ndescriptors:\n  - key: k\n    detailed_metric: X\n${LIMIT}`,
    ...{ line: 4, col: 22, keyCol: 5 },
    expect: (l, go) => asBool(l, go, 'detailed_metric'),
    read: (c) => rule(c)?.detailedMetric,
  },
};

const ROWS = Object.entries(FIELDS).flatMap(([field, fc]) =>
  SCALARS.map(([literal, go]) => [field, literal, go, fc] as const),
);

describe('plain scalars are typed as yaml.v2 types them', () => {
  it.each(ROWS)('%s: %j', (_field, literal, go, fc) => {
    const result = buildConfig([{ path: 'a.yaml', content: fc.yaml.replace('X', literal) }], {
      mergeDomains: false,
    });
    const expected = fc.expect(literal, go);
    if ('problem' in expected) {
      const col = literal === '' ? fc.keyCol : fc.col;
      expect(problemLines(result)).toEqual([`a.yaml:${fc.line}:${col}: ${expected.problem}`]);
    } else {
      expect(problemLines(result)).toEqual([]);
      expect(result.ok && fc.read(result.config)).toEqual(expected.value);
    }
  });
});

describe('metadata values', () => {
  it('are typed as yaml.v2 decodes them into interface{} (a date stays its text)', () => {
    const yaml = `domain: d\ndescriptors:\n  - key: k\n    metadata:\n      a: e1\n      b: 0o17\n      c: 2026-01-01\n      d: yes\n      e: ~\n${LIMIT}`;
    const result = buildConfig([{ path: 'a.yaml', content: yaml }], { mergeDomains: false });
    expect(problemLines(result)).toEqual([]);
    expect(result.ok && rule(result.config)?.metadata).toEqual({
      a: 'e1',
      b: 15,
      c: '2026-01-01',
      d: true,
      e: null,
    });
  });
});
