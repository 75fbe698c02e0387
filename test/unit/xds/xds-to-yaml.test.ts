import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../src/config/rules/build-config.js';
import { xdsConfigFile, xdsConfigToYaml } from '../../../src/config/xds/xds-to-yaml.js';
import {
  type DeepPartial,
  RateLimitConfig,
  RateLimitUnit,
} from '../../../src/gen/ratelimit/config/ratelimit/v3/rls_conf.js';

const msg = (partial: DeepPartial<RateLimitConfig>): RateLimitConfig => RateLimitConfig.fromPartial(partial);

/** Builds the config of a message and of hand-written YAML under one path; both must describe the same. */
function sameAsYaml(message: RateLimitConfig, yaml: string): void {
  const fromXds = buildConfig([{ path: 'c', content: xdsConfigToYaml(message) }], { mergeDomains: false });
  const fromFile = buildConfig([{ path: 'c', content: yaml }], { mergeDomains: false });
  expect(fromFile.ok).toBe(true);
  expect(fromXds.ok).toBe(true);
  if (fromXds.ok && fromFile.ok) expect(fromXds.config.describe()).toEqual(fromFile.config.describe());
}

describe('RateLimitConfig (xDS) → the YAML config file that says the same', () => {
  it('carries every field: nested descriptors, value-less keys, shadow_mode, detailed_metric, quota_mode, metadata, name, replaces, unlimited', () => {
    const message = msg({
      name: 'res',
      domain: 'gw',
      descriptors: [
        {
          key: 'tenant',
          value: 'acme',
          detailedMetric: true,
          descriptors: [
            {
              key: 'user',
              rateLimit: { unit: RateLimitUnit.MINUTE, requestsPerUnit: 10, name: 'per-user' },
              shadowMode: true,
              quotaMode: true,
              metadata: { team: 'edge', tier: 2 },
            },
            {
              key: 'vip',
              rateLimit: { unit: RateLimitUnit.HOUR, requestsPerUnit: 100, replaces: [{ name: 'per-user' }] },
            },
          ],
        },
        { key: 'internal', rateLimit: { unlimited: true } },
      ],
    });
    const yaml = `domain: gw
descriptors:
  - key: tenant
    value: acme
    detailed_metric: true
    descriptors:
      - key: user
        rate_limit: { unit: minute, requests_per_unit: 10, name: per-user }
        shadow_mode: true
        quota_mode: true
        metadata: { team: edge, tier: 2 }
      - key: vip
        rate_limit: { unit: hour, requests_per_unit: 100, replaces: [{ name: per-user }] }
  - key: internal
    rate_limit: { unlimited: true }
`;
    sameAsYaml(message, yaml);
    const text = xdsConfigToYaml(message);
    expect(text).toContain('shadow_mode: true');
    expect(text).toContain('quota_mode: true');
    expect(text).toContain('detailed_metric: true');
    expect(text).toContain('team: edge');
    expect(text).not.toContain('value: ""');
  });

  it.each([
    [RateLimitUnit.SECOND, 'second'],
    [RateLimitUnit.MINUTE, 'minute'],
    [RateLimitUnit.HOUR, 'hour'],
    [RateLimitUnit.DAY, 'day'],
    [RateLimitUnit.WEEK, 'week'],
    [RateLimitUnit.MONTH, 'month'],
    [RateLimitUnit.YEAR, 'year'],
  ])('unit %s is %s', (unit, name) => {
    sameAsYaml(
      msg({ domain: 'd', descriptors: [{ key: 'k', rateLimit: { unit, requestsPerUnit: 4 } }] }),
      `domain: d\ndescriptors:\n  - key: k\n    rate_limit: { unit: ${name}, requests_per_unit: 4 }\n`,
    );
  });

  it('fails as a file would: UNKNOWN or an unknown enum number without unlimited, a unit with unlimited, duplicates', () => {
    const problems = (message: RateLimitConfig): string[] => {
      const built = buildConfig([xdsConfigFile(message, 0)], { mergeDomains: false });
      return built.ok ? [] : built.problems.map((p) => `${p.file}: ${p.message}`);
    };
    expect(
      problems(
        msg({ name: 'a', domain: 'd', descriptors: [{ key: 'k', rateLimit: { requestsPerUnit: 1 } }] }),
      ),
    ).toEqual(["xds:a: invalid rate limit unit 'UNKNOWN'"]);
    expect(
      problems(
        msg({ name: 'a', domain: 'd', descriptors: [{ key: 'k', rateLimit: { unit: 9 as RateLimitUnit } }] }),
      ),
    ).toEqual(["xds:a: invalid rate limit unit '9'"]);
    expect(
      problems(
        msg({
          name: 'a',
          domain: 'd',
          descriptors: [{ key: 'k', rateLimit: { unit: RateLimitUnit.SECOND, unlimited: true } }],
        }),
      ),
    ).toEqual(['xds:a: should not specify rate limit unit when unlimited']);
    expect(problems(msg({ domain: 'd', descriptors: [{ key: 'k' }, { key: 'k' }] }))[0]).toMatch(
      /^xds:d: .*duplicate/,
    );
    expect(problems(msg({ name: 'e', domain: '' }))).toEqual(['xds:e: config file cannot have empty domain']);
  });

  it('decodes what the reference encodes: its field numbers, independently declared here', () => {
    // envoyproxy/ratelimit api/ratelimit/config/ratelimit/v3/rls_conf.proto, numbers as published
    const root = protobuf.Root.fromJSON({
      nested: {
        C: {
          fields: {
            name: { id: 1, type: 'string' },
            domain: { id: 2, type: 'string' },
            descriptors: { id: 3, type: 'D', rule: 'repeated' },
          },
        },
        D: {
          fields: {
            key: { id: 1, type: 'string' },
            value: { id: 2, type: 'string' },
            rate_limit: { id: 3, type: 'P' },
            descriptors: { id: 4, type: 'D', rule: 'repeated' },
            shadow_mode: { id: 5, type: 'bool' },
            detailed_metric: { id: 6, type: 'bool' },
            quota_mode: { id: 7, type: 'bool' },
          },
        },
        P: {
          fields: {
            unit: { id: 1, type: 'int32' },
            requests_per_unit: { id: 2, type: 'uint32' },
            unlimited: { id: 3, type: 'bool' },
            name: { id: 4, type: 'string' },
            replaces: { id: 5, type: 'R', rule: 'repeated' },
          },
        },
        R: { fields: { name: { id: 1, type: 'string' } } },
      },
    });
    const C = root.lookupType('C');
    const bytes = C.encode(
      C.fromObject({
        name: 'n',
        domain: 'd',
        descriptors: [
          {
            key: 'k',
            value: 'v',
            shadow_mode: true,
            detailed_metric: true,
            quota_mode: true,
            rate_limit: {
              unit: 7,
              requests_per_unit: 9,
              unlimited: false,
              name: 'x',
              replaces: [{ name: 'y' }],
            },
            descriptors: [{ key: 'sub' }],
          },
        ],
      }),
    ).finish();
    expect(RateLimitConfig.decode(bytes)).toEqual(
      msg({
        name: 'n',
        domain: 'd',
        descriptors: [
          {
            key: 'k',
            value: 'v',
            shadowMode: true,
            detailedMetric: true,
            quotaMode: true,
            rateLimit: { unit: RateLimitUnit.WEEK, requestsPerUnit: 9, name: 'x', replaces: [{ name: 'y' }] },
            descriptors: [{ key: 'sub' }],
          },
        ],
      }),
    );
  });
});
