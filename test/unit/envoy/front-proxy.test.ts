// envoy/front-proxy.yaml and envoy/network-ratelimit.yaml against their rules, envoy/ratelimit-config.yaml:
// every descriptor the route actions (HTTP) and static descriptors (L4) can produce is matched through the
// service's own loader and RuleSet, and every rule is reached by one. The protos check of both files is
// envoy-configs.test.ts (it runs on every envoy/*.yaml).
import { describe, expect, it } from 'vitest';
import {
  actionEntry,
  hitsAddendLayout,
  type ProducedDescriptor,
  producibleDescriptors,
  SAMPLE_ADDRESS,
} from './descriptor-facts.js';
import { envoyYamlToJson } from './envoy-yaml.js';
import { rateLimitFilterFacts } from './ratelimit-filter-facts.js';
import { loadRules, matchAll, readRepoFile, ruleCount, show } from './ratelimit-rules.js';

const RULES = 'envoy/ratelimit-config.yaml';
const rules = loadRules(RULES);
const bootstrap = (rel: string): unknown => envoyYamlToJson(readRepoFile(rel)).value;
const front = bootstrap('envoy/front-proxy.yaml');
const network = bootstrap('envoy/network-ratelimit.yaml');
const produced: ProducedDescriptor[] = [...producibleDescriptors(front), ...producibleDescriptors(network)];

describe('envoy/front-proxy.yaml + envoy/network-ratelimit.yaml against envoy/ratelimit-config.yaml', () => {
  it('produces the descriptors the issue asks for: client IP, path, API key, user, token budgets, L4', () => {
    const shapes = new Set(produced.map((d) => d.entries.map((e) => e.key).join(',')));
    for (const shape of [
      'remote_address',
      'remote_address,path',
      'path',
      'api_key',
      'user',
      'api_key,budget',
      'user,budget',
      'tcp_listener',
      'tcp_listener,remote_address',
    ])
      expect(shapes, shape).toContain(shape);
  });

  it('sends every descriptor in a domain the rules file defines, from a ratelimit filter of its stage', () => {
    for (const d of produced) {
      expect(d.unsupported, show(d)).toEqual([]);
      expect(d.domain, `${show(d)}: no ratelimit filter for its stage`).toBeDefined();
      expect(rules.hasDomain(d.domain!), show(d)).toBe(true);
    }
  });

  it('matches every producible descriptor to a rule with a limit (RuleSet.match of the service)', () => {
    const unmatched = matchAll(rules, produced).filter((m) => m.rule === undefined);
    expect(unmatched.map((m) => show(m.descriptor))).toEqual([]);
  });

  it('reaches every rule of the rules file from some descriptor (no dead rules)', () => {
    const reached = new Set(matchAll(rules, produced).map((m) => m.rule));
    expect(reached.size).toBe(ruleCount(RULES));
  });

  it('gives request-time values to a key-only rule or a wildcard the route guarantees', () => {
    // A request-time value with another sample must reach the same rule: no rule relies on one value.
    for (const { descriptor, rule } of matchAll(rules, produced)) {
      const other = descriptor.entries.map((e) => ({
        key: e.key,
        value: e.requestTime ? (e.value === SAMPLE_ADDRESS ? '198.51.100.9' : `${e.value}-2`) : e.value,
      }));
      expect(rules.match(descriptor.domain!, { entries: other })?.rule.fullKey, show(descriptor)).toBe(rule);
    }
  });

  it('charges tokens by hits_addend only in the stage-1 filter: set_filter_state sits between the two', () => {
    const [layout] = hitsAddendLayout(front);
    const stage0 = layout!.rateLimits.find(([, stage]) => stage === 0)![0];
    const stage1 = layout!.rateLimits.find(([, stage]) => stage === 1)![0];
    expect(layout!.setAt).toBeGreaterThan(stage0);
    expect(layout!.setAt).toBeLessThan(stage1);
    const tokenDescriptors = produced.filter((d) => d.entries.some((e) => e.key === 'budget'));
    expect(tokenDescriptors.length).toBeGreaterThan(0);
    const stage1Filter = rateLimitFilterFacts(front).filter((f) => f.kind === 'http')[1]!;
    expect(stage1Filter.failureModeDeny, 'token budgets fail closed').toBe(true);
  });

  it('knows the action shapes it samples (and reports others instead of guessing)', () => {
    expect(actionEntry({ request_headers: { header_name: ':path' } }, { prefix: '/api/' })).toMatchObject({
      value: '/api/probe',
      requestTime: true,
    });
    expect(actionEntry({ generic_key: { descriptor_value: 'x' } }, {})).toEqual({
      key: 'generic_key',
      value: 'x',
      requestTime: false,
    });
    expect(actionEntry({ masked_remote_address: {} }, {})).toMatch(/^unsupported action/);
    const bad: ProducedDescriptor = {
      source: 's',
      domain: 'edge',
      entries: [{ key: 'path', value: '/other', requestTime: true }],
      unsupported: [],
    };
    expect(matchAll(rules, [bad])[0]!.rule, 'a path outside /api/ and /login has no rule').toBeUndefined();
  });

  it('the network filter is an L4 filter before tcp_proxy, with its domain and failure mode', () => {
    const [l4] = rateLimitFilterFacts(network);
    expect(l4).toMatchObject({ kind: 'network', domain: 'edge', failureModeDeny: false });
    expect(l4!.precedesTerminalRouter).toBe(true);
  });
});
