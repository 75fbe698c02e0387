import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../src/config/rules/build-config.js';
import { fixtureNames, problemLines, readFixture } from './fixtures.js';
import { CASES as CONFIG_CASES, type InvalidCase } from './invalid-cases.js';
import { LIMIT_CASES } from './invalid-limit-cases.js';

const CASES: InvalidCase[] = [...CONFIG_CASES, ...LIMIT_CASES];

describe('buildConfig rejects invalid configs with file:line:col problems', () => {
  it.each(CASES)('%s', (fixture, expected, mergeDomains = false) => {
    const result = buildConfig(readFixture('invalid', fixture), { mergeDomains });
    expect(result.ok).toBe(false);
    expect(problemLines(result)).toEqual(expected);
  });

  it('has a table row for every invalid fixture and a fixture for every row', () => {
    expect(CASES.map(([fixture]) => fixture).sort()).toEqual(fixtureNames('invalid'));
  });

  it('reports a duplicate domain only when merging is off', () => {
    expect(buildConfig(readFixture('invalid', 'duplicate-domain'), { mergeDomains: true }).ok).toBe(true);
  });
});
