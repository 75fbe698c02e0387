import { describe, expect, it } from 'vitest';
import { buildConfig, type ConfigFile } from '../../../src/config/rules/build-config.js';
import { expectConfig, matched, problemLines } from './fixtures.js';

const file = (path: string, content: string): ConfigFile => ({ path, content });
const a = file(
  'a.yaml',
  'domain: d\ndescriptors:\n  - key: x\n    value: "1*"\n    rate_limit: {unit: second}\n',
);
const b = file(
  'b.yaml',
  'domain: d\ndescriptors:\n  - key: x\n    value: "12*"\n    rate_limit: {unit: hour}\n',
);

describe('MERGE_DOMAIN_CONFIG', () => {
  it('rejects a domain repeated across files when off, blaming the later file', () => {
    expect(problemLines(buildConfig([a, b], { mergeDomains: false }))).toEqual([
      "b.yaml:1:9: duplicate domain 'd' in config file",
    ]);
    expect(problemLines(buildConfig([b, a], { mergeDomains: false }))).toEqual([
      "a.yaml:1:9: duplicate domain 'd' in config file",
    ]);
  });

  it('still validates the descriptors of a file with a duplicate domain', () => {
    const bad = file('c.yaml', 'domain: d\ndescriptors:\n  - key: ""\n');
    expect(problemLines(buildConfig([a, bad], { mergeDomains: false }))).toEqual([
      "c.yaml:1:9: duplicate domain 'd' in config file",
      'c.yaml:3:10: descriptor has empty key',
    ]);
  });

  it('merges the files of one domain when on, wildcards in file order', () => {
    const ab = expectConfig(buildConfig([a, b], { mergeDomains: true }));
    expect(matched(ab, 'd', 'x=123')).toBe('d.x_1*');
    const ba = expectConfig(buildConfig([b, a], { mergeDomains: true }));
    expect(matched(ba, 'd', 'x=123')).toBe('d.x_12*');
    expect(ab.domains()).toEqual([
      { domain: 'd', files: ['a.yaml', 'b.yaml'], limits: 2, algorithms: ['fixed_window'] },
    ]);
  });

  it('rejects the same descriptor identity in two merged files', () => {
    expect(problemLines(buildConfig([a, { ...a, path: 'z.yaml' }], { mergeDomains: true }))).toEqual([
      "z.yaml:3:5: duplicate descriptor composite key 'd.x_1*'",
    ]);
  });
});
