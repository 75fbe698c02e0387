import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateCommand } from '../../../src/commands/validate.js';
import { buildConfig, buildTrees, type ConfigFile } from '../../../src/config/rules/build-config.js';
import { ConfigAssembler, compactBatches, compactTail } from '../../../src/config/rules/compact-config.js';
import { formatProblem } from '../../../src/config/rules/config-problem.js';
import { DESIGN_EXAMPLE } from './adaptive-example.js';
import { configFrom, desc, expectConfig, problemLines } from './fixtures.js';

const CONTROLLERS =
  'adaptive:\n  - {name: health, type: error_rate, min_samples: 5}\n  - {name: abusers, type: abuse}\n';
const file = (path: string, content: string): ConfigFile => ({ path, content });
/** Domain `d` with the two controllers above and `descriptors`, in `a.yaml`. */
const withNodes = (descriptors: string) => `domain: d\n${CONTROLLERS}descriptors:\n${descriptors}`;
const problems = (yaml: string) => problemLines(buildConfig([file('a.yaml', yaml)], { mergeDomains: false }));

describe("a descriptor's adaptive list: problems at file:line:col", () => {
  it('names an undeclared controller, saying which are declared', () => {
    expect(
      problems(
        withNodes(
          '  - key: k\n    rate_limit: {unit: second, requests_per_unit: 10}\n    adaptive: [health, nope]\n',
        ),
      ),
    ).toEqual([
      "a.yaml:8:24: adaptive controller 'nope' is not declared in the domain's 'adaptive' list; domain 'd' declares: health, abusers",
    ]);
    expect(
      problems(
        'domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, requests_per_unit: 10}\n    adaptive: [x]\n',
      ),
    ).toEqual([
      "a.yaml:5:16: adaptive controller 'x' is not declared in the domain's 'adaptive' list; domain 'd' declares none",
    ]);
  });

  it('refuses a name listed twice and an item that is not a name', () => {
    expect(
      problems(
        withNodes(
          '  - key: k\n    rate_limit: {unit: second, requests_per_unit: 10}\n    adaptive: [health, {a: 1}, health]\n',
        ),
      ),
    ).toEqual([
      "a.yaml:8:24: config error, 'adaptive' must list controller names, found a map",
      "a.yaml:8:32: adaptive controller 'health' is listed twice in this descriptor's 'adaptive'",
    ]);
  });

  it('refuses a node with nothing to scale: no limit, or unlimited', () => {
    expect(
      problems(
        withNodes(
          '  - key: a\n    adaptive: [health]\n    descriptors:\n      - {key: b, rate_limit: {unit: second, requests_per_unit: 1}}\n  - key: u\n    rate_limit: {unlimited: true}\n    adaptive: [health]\n',
        ),
      ),
    ).toEqual([
      "a.yaml:7:5: 'adaptive' scales this descriptor's limits, but it has no 'rate_limit' or 'rate_limits'",
      "a.yaml:12:5: 'adaptive' has nothing to scale on an unlimited descriptor",
    ]);
  });

  it('refuses an abuse controller on a node with a fixed value, at any depth', () => {
    expect(
      problems(
        withNodes(
          '  - key: route\n    value: login\n    descriptors:\n      - key: ip\n        value: 10.0.0.1\n        rate_limit: {unit: second, requests_per_unit: 10}\n        adaptive: [abusers]\n',
        ),
      ),
    ).toEqual([
      "a.yaml:12:20: abuse controller 'abusers' judges each value of the descriptor's key, but 'd.route_login.ip_10.0.0.1' has a fixed value, so there is only one; put it on a descriptor without 'value' or with a wildcard value",
    ]);
  });

  it('accepts an abuse controller on a wildcard or key-only node, nested', () => {
    const config = configFrom(
      withNodes(
        '  - key: route\n    value: login\n    descriptors:\n      - key: ip\n        value: "10.*"\n        rate_limit: {unit: second, requests_per_unit: 10}\n        adaptive: [abusers]\n      - key: user\n        rate_limit: {unit: second, requests_per_unit: 10}\n        adaptive: [abusers, health]\n',
      ),
    );
    expect(config.match('d', desc('route=login', 'ip=10.1.2.3'))?.rule.adaptive).toEqual(['abusers']);
    expect(config.match('d', desc('route=login', 'user=u'))?.rule.adaptive).toEqual(['abusers', 'health']);
  });
});

describe('adaptive warnings', () => {
  it('warns when a node at the floor cannot reach min_samples in one interval', () => {
    // 60/minute × 5 s × floor 0.2 = 1 request per interval < min_samples 5; 100/second is plenty
    const result = buildConfig(
      [
        file(
          'a.yaml',
          withNodes(
            '  - {key: slow, rate_limit: {unit: minute, requests_per_unit: 60}, adaptive: [health]}\n  - {key: fast, rate_limit: {unit: second, requests_per_unit: 100}, adaptive: [health]}\n',
          ),
        ),
      ],
      { mergeDomains: false },
    );
    expect(result.ok && result.warnings.map(formatProblem)).toEqual([
      "a.yaml:6:79: error_rate controller 'health' may never recover on 'd.slow': at its floor (0.2) the descriptor admits at most 1 requests per 5s interval, fewer than min_samples (5), and an interval with fewer samples holds the factor",
    ]);
  });

  it('judges a rate_limits node by its strictest limit', () => {
    const result = buildConfig(
      [
        file(
          'a.yaml',
          withNodes(
            '  - key: k\n    rate_limits: [{unit: second, requests_per_unit: 100}, {unit: hour, requests_per_unit: 3600}]\n    adaptive: [health]\n',
          ),
        ),
      ],
      { mergeDomains: false },
    );
    expect(result.ok && result.warnings.map((w) => `${w.line}:${w.col}`)).toEqual(['8:16']);
  });

  it('has none for the DESIGN.md example', () => {
    const result = buildConfig([file('api.yaml', DESIGN_EXAMPLE)], { mergeDomains: false });
    expect(result.ok && result.warnings).toEqual([]);
  });
});

describe('adaptive config across files and threads', () => {
  it('keeps controllers and node names through the compact form', () => {
    const built = buildTrees([file('api.yaml', DESIGN_EXAMPLE), file('z.yaml', 'domain: z\n')], {
      mergeDomains: false,
    });
    if (!built.ok) throw new Error('invalid');
    const assembler = new ConfigAssembler();
    for (const batch of compactBatches(built.trees, 1)) assembler.add(JSON.parse(JSON.stringify(batch)));
    const tail = JSON.parse(JSON.stringify(compactTail(built.trees)));
    const config = assembler.finish(tail);
    const direct = expectConfig(buildConfig([file('api.yaml', DESIGN_EXAMPLE)], { mergeDomains: false }));
    expect(config.adaptiveControllers()).toEqual(direct.adaptiveControllers());
    expect(Object.isFrozen(config.adaptiveControllers().get('api')![1])).toBe(true);
    expect(config.match('api', desc('path=/checkout'))?.rule).toEqual(
      direct.match('api', desc('path=/checkout'))?.rule,
    );
    expect(Object.isFrozen(config.match('api', desc('path=/checkout'))?.rule.adaptive)).toBe(true);
    expect(config.describe()).toEqual(direct.describe());
  });

  it('merges the controllers of one domain across files; nodes may name another file’s', () => {
    const a = file(
      'a.yaml',
      'domain: d\nadaptive: [{name: one, type: abuse}]\ndescriptors:\n  - {key: k, rate_limit: {unit: second, requests_per_unit: 100}, adaptive: [one, two]}\n',
    );
    const b = file('b.yaml', 'domain: d\nadaptive: [{name: two, type: error_rate}]\n');
    const config = expectConfig(buildConfig([a, b], { mergeDomains: true }));
    expect(
      config
        .adaptiveControllers()
        .get('d')
        ?.map((c) => c.name),
    ).toEqual(['one', 'two']);
    expect(config.match('d', desc('k=v'))?.rule.adaptive).toEqual(['one', 'two']);
    // without merging, b.yaml is a duplicate domain and a.yaml's node names an undeclared controller
    expect(problemLines(buildConfig([a, b], { mergeDomains: false }))).toEqual([
      "a.yaml:4:82: adaptive controller 'two' is not declared in the domain's 'adaptive' list; domain 'd' declares: one",
      "b.yaml:1:9: duplicate domain 'd' in config file",
    ]);
  });

  it('reports a controller name repeated across merged files, naming both places', () => {
    const a = file('a.yaml', 'domain: d\nadaptive: [{name: one, type: abuse}]\n');
    const b = file('b.yaml', 'domain: d\nadaptive:\n  - {name: one, type: error_rate}\n');
    expect(problemLines(buildConfig([a, b], { mergeDomains: true }))).toEqual([
      "b.yaml:3:12: duplicate adaptive controller name 'one' in domain 'd'; also declared at a.yaml:2:19",
    ]);
  });
});

describe('validate with adaptive controllers', () => {
  it('prints warnings, then each domain with its controllers and adaptive rules', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'validate-adaptive-'));
    try {
      const api = join(dir, 'api.yaml');
      const slow = join(dir, 'slow.yaml');
      await writeFile(api, DESIGN_EXAMPLE);
      await writeFile(
        slow,
        'domain: slow\nadaptive: [{name: h, type: error_rate, match: {}}]\ndescriptors:\n  - {key: k, rate_limit: {unit: hour, requests_per_unit: 10}, adaptive: [h]}\n  - {key: j, rate_limit: {unit: hour, requests_per_unit: 10}}\n',
      );
      const lines: string[] = [];
      const code = await validateCommand({ paths: [dir], mergeDomains: false, ignoreDotfiles: true }, (l) =>
        lines.push(l),
      );
      expect({ code, lines }).toEqual({
        code: 0,
        lines: [
          `${slow}:4:74: warning: error_rate controller 'h' may never recover on 'slow.k': at its floor (0.2) the descriptor admits at most 0.003 requests per 5s interval, fewer than min_samples (20), and an interval with fewer samples holds the factor`,
          `domain api: 2 limits (fixed_window) (${api})`,
          '  adaptive checkout-health: error_rate match={upstream_cluster: checkout} error_threshold=0.2 min_samples=20 interval=5s decrease=0.5 increase=0.1 floor=0.1',
          '  adaptive abusers: abuse over_limit_ratio=0.5 spike=10 min_requests=50 interval=10s penalty={factor: 0.1, ttl: 1m, escalate: 2, max_ttl: 1h} shadow_mode',
          '  api.path_/checkout: unit=SECOND requests_per_unit=100, shadow_mode: false, quota_mode: false, adaptive: [checkout-health]',
          '  api.remote_address: unit=MINUTE requests_per_unit=600, shadow_mode: false, quota_mode: false, adaptive: [abusers]',
          `domain slow: 2 limits (fixed_window) (${slow})`,
          '  adaptive h: error_rate match={} (signals only) error_threshold=0.2 min_samples=20 interval=5s decrease=0.5 increase=0.1 floor=0.2',
          '  slow.k: unit=HOUR requests_per_unit=10, shadow_mode: false, quota_mode: false, adaptive: [h]',
        ],
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
