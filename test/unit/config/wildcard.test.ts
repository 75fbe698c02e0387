import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileWildcard, isWildcard, matchesWildcard } from '../../../src/config/rules/wildcard.js';

const matches = (pattern: string, value: string) => matchesWildcard(compileWildcard(pattern), value);

/** Oracle: the same pattern as an anchored regular expression (`*` = any run of characters). */
function regexMatches(pattern: string, value: string): boolean {
  const body = pattern
    .split('*')
    .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 's').test(value);
}

describe('wildcard patterns', () => {
  it('treats an identity as a wildcard only when it contains *', () => {
    expect(isWildcard('k_foo*')).toBe(true);
    expect(isWildcard('k*')).toBe(true);
    expect(isWildcard('k_foo')).toBe(false);
  });

  it('compiles a pattern into prefix, middle parts and suffix', () => {
    expect(compileWildcard('k_foo*bar*baz')).toEqual({
      source: 'k_foo*bar*baz',
      prefix: 'k_foo',
      middle: ['bar'],
      suffix: 'baz',
      minLength: 11,
    });
  });

  it.each([
    ['foo*', 'foo1', true],
    ['foo*', 'foo', true],
    ['foo*', 'fo', false],
    ['bar*b', 'barab', true],
    ['bar*b', 'bar123b', true],
    ['bar*b', 'barb', true],
    ['bar*b', 'bara', false],
    ['bar*b', 'xbarb', false],
    ['foo*bar*baz', 'foobarbaz', true],
    ['foo*bar*baz', 'foo123bar456baz', true],
    ['foo*bar*baz', 'foo123baz', false],
    ['foo*bar*baz', 'bar456baz', false],
    ['*', '', true],
    ['a**b', 'ab', true],
    ['aba*aba', 'aba', false],
    ['aba*aba', 'ababa', false],
    ['aba*aba', 'abaaba', true],
    ['*x*', 'yyy', false],
    ['*x*', 'yxy', true],
  ])('matches %s against %s: %s', (pattern, value, expected) => {
    expect(matches(pattern, value)).toBe(expected);
  });

  it('does not let a middle part overlap the suffix', () => {
    expect(matches('a*bc*c', 'abc')).toBe(false);
    expect(matches('a*bc*c', 'abcc')).toBe(true);
  });

  it('agrees with an anchored regular expression on random patterns and values', () => {
    const pattern = fc
      .array(fc.constantFrom('a', 'b', '*'), { maxLength: 8 })
      .map((cs) => `${cs.join('')}*`)
      .chain((p) => fc.constantFrom(p, p.slice(0, -1)).filter(isWildcard));
    const value = fc.array(fc.constantFrom('a', 'b'), { maxLength: 10 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(pattern, value, (p, v) => matches(p, v) === regexMatches(p, v)),
      { numRuns: 2_000 },
    );
  });
});
