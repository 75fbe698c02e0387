import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../../src/adaptive/controller-params.js';
import { buildConfig } from '../../../src/config/rules/build-config.js';
import { DESIGN_EXAMPLE } from './adaptive-example.js';
import { configFrom, desc, problemLines } from './fixtures.js';

const CHECKOUT_HEALTH = {
  type: 'error_rate',
  name: 'checkout-health',
  match: { upstreamCluster: 'checkout' },
  errorThreshold: 0.2,
  minSamples: 20,
  intervalMs: 5_000,
  decrease: 0.5,
  increase: 0.1,
  floor: 0.1,
  shadowMode: false,
};
const ABUSERS = {
  type: 'abuse',
  name: 'abusers',
  overLimitRatio: 0.5,
  spike: 10,
  minRequests: 50,
  intervalMs: 10_000,
  penalty: { factor: 0.1, ttlMs: 60_000, escalate: 2, maxTtlMs: 3_600_000 },
  shadowMode: true,
};

/** The problem lines of one inline file `a.yaml`. */
const problems = (yaml: string) =>
  problemLines(buildConfig([{ path: 'a.yaml', content: yaml }], { mergeDomains: false }));

/** A domain with one controller of `type` (plus `extra` YAML lines at the entry's level) and `descriptors`. */
const domain = (controller: string, descriptors = '') =>
  `domain: d\nadaptive:\n  - name: c\n${controller}${descriptors === '' ? '' : `descriptors:\n${descriptors}`}`;

describe('adaptive config: the DESIGN.md example', () => {
  const config = configFrom(DESIGN_EXAMPLE);

  it('parses the controllers to their params, in declaration order', () => {
    expect(config.adaptiveControllers()).toEqual(new Map([['api', [CHECKOUT_HEALTH, ABUSERS]]]));
    expect(Object.isFrozen(config.adaptiveControllers().get('api')![0])).toBe(true);
  });

  it("fills LimitRule.adaptive with the node's names, and leaves it absent elsewhere", () => {
    expect(config.match('api', desc('path=/checkout'))?.rule.adaptive).toEqual(['checkout-health']);
    expect(config.match('api', desc('remote_address=1.2.3.4'))?.rule.adaptive).toEqual(['abusers']);
    const plain = configFrom(
      'domain: p\ndescriptors:\n  - {key: k, rate_limit: {unit: second, requests_per_unit: 1}}\n',
    );
    expect(plain.match('p', desc('k=v'))?.rule).not.toHaveProperty('adaptive');
    expect(plain.adaptiveControllers()).toEqual(new Map());
  });

  it('appends the names to the /rlconfig lines of adaptive rules only', () => {
    expect(config.describe()).toEqual([
      'api.path_/checkout: unit=SECOND requests_per_unit=100, shadow_mode: false, quota_mode: false, adaptive: [checkout-health]',
      'api.remote_address: unit=MINUTE requests_per_unit=600, shadow_mode: false, quota_mode: false, adaptive: [abusers]',
    ]);
  });

  it('names every controller of a rate_limits node on each of its limits', () => {
    const c = configFrom(
      domain(
        '    type: error_rate\n  - {name: b, type: error_rate}\n',
        '  - key: k\n    rate_limits:\n      - {unit: second, requests_per_unit: 100}\n      - {unit: hour, requests_per_unit: 100000}\n    adaptive: [b, c]\n',
      ),
    );
    expect(c.match('d', desc('k=v'))?.rule.adaptive).toEqual(['b', 'c']);
    expect(c.describe()).toEqual([
      'd.k: unit=SECOND requests_per_unit=100 algorithm=fixed_window, shadow_mode: false, quota_mode: false, adaptive: [b, c]',
      'd.k: unit=HOUR requests_per_unit=100000 algorithm=fixed_window, shadow_mode: false, quota_mode: false, adaptive: [b, c]',
    ]);
  });
});

describe('adaptive config: defaults', () => {
  it('applies every default to a controller with only name and type', () => {
    const c = configFrom(
      'domain: d\nadaptive:\n  - {name: e, type: error_rate}\n  - {name: a, type: abuse}\n  - {name: m, type: error_rate, match: {}}\n',
    );
    expect(c.adaptiveControllers().get('d')).toEqual([
      { type: 'error_rate', name: 'e', ...DEFAULTS.errorRate },
      { type: 'abuse', name: 'a', ...DEFAULTS.abuse },
      { type: 'error_rate', name: 'm', ...DEFAULTS.errorRate },
    ]);
  });

  it('fills a partial penalty and reads every duration form', () => {
    const c = configFrom(
      domain('    type: abuse\n    interval: 1m30s\n    penalty: {ttl: 500ms, max_ttl: 2h}\n'),
    );
    expect(c.adaptiveControllers().get('d')).toEqual([
      {
        ...ABUSERS,
        name: 'c',
        shadowMode: false,
        intervalMs: 90_000,
        penalty: { factor: 0.1, ttlMs: 500, escalate: 2, maxTtlMs: 7_200_000 },
      },
    ]);
  });
});

describe('adaptive config: problems at file:line:col', () => {
  it.each([
    [
      'a missing type',
      '    floor: 0.5\n',
      ["a.yaml:3:5: adaptive controller 'c' needs a 'type': error_rate or abuse"],
    ],
    [
      'an unknown type',
      '    type: aimd\n',
      ["a.yaml:4:11: invalid adaptive controller type 'aimd'; valid types: error_rate, abuse"],
    ],
    [
      'a field of the other type',
      '    type: error_rate\n    spike: 3\n',
      [
        "a.yaml:5:5: config error, key 'spike' is not allowed in an error_rate controller; it applies to type abuse",
      ],
    ],
    [
      'an unknown field',
      '    type: abuse\n    floors: 1\n',
      ["a.yaml:5:5: config error, unknown key 'floors'"],
    ],
    [
      'a validator problem at its field',
      '    type: error_rate\n    error_threshold: 1.5\n',
      ["a.yaml:5:22: adaptive controller 'c': 'error_threshold' must be within 0..1, got 1.5"],
    ],
    [
      'an empty match field',
      "    type: error_rate\n    match: {route_name: ''}\n",
      ["a.yaml:5:25: adaptive controller 'c': 'match.route_name' must not be empty"],
    ],
    [
      'an unknown match field',
      '    type: error_rate\n    match: {cluster: x}\n',
      ["a.yaml:5:13: config error, unknown key 'cluster'"],
    ],
    [
      'a penalty problem at its field',
      '    type: abuse\n    penalty: {ttl: 10m, max_ttl: 1m}\n',
      [
        "a.yaml:5:34: adaptive controller 'c': 'penalty.max_ttl' must be ≥ penalty.ttl (600000ms), got 60000ms",
      ],
    ],
    [
      'a short interval',
      '    type: abuse\n    interval: 500ms\n',
      ["a.yaml:5:15: adaptive controller 'c': 'interval' must be ≥ 1s, got 500ms"],
    ],
    [
      'a duration without a unit',
      '    type: abuse\n    interval: 5\n',
      [
        "a.yaml:5:15: config error, 'interval' must be a duration such as 5s, 500ms, 1m or 1h, found integer 5",
      ],
    ],
    [
      'a number that is a string',
      "    type: abuse\n    spike: '3'\n",
      ["a.yaml:5:12: config error, 'spike' must be a number, found string '3'"],
    ],
    [
      'a non-boolean shadow_mode',
      '    type: abuse\n    shadow_mode: 1\n',
      ["a.yaml:5:18: config error, 'shadow_mode' must be true or false, found integer 1"],
    ],
  ])('%s', (_, controller, expected) => {
    expect(problems(domain(controller))).toEqual(expected);
  });

  it('requires a name, refuses an empty one and a repeated one', () => {
    expect(
      problems(
        'domain: d\nadaptive:\n  - {type: abuse}\n  - {name: "", type: abuse}\n  - {name: x, type: abuse}\n  - {name: x, type: error_rate}\n',
      ),
    ).toEqual([
      "a.yaml:3:5: adaptive controller needs a 'name'",
      "a.yaml:4:12: adaptive controller: 'name' must not be empty",
      "a.yaml:6:12: duplicate adaptive controller name 'x' in domain 'd'; also declared at a.yaml:5:12",
    ]);
  });

  it('refuses an adaptive list that is not a list of maps', () => {
    expect(problems('domain: d\nadaptive: {name: x}\n')).toEqual([
      "a.yaml:2:11: config error, 'adaptive' must be a list, found a map",
    ]);
  });
});
