import { describe, expect, it } from 'vitest';
import { TestRuleSet } from '../../support/rule-set-builder.js';
import { descriptor, harness, request } from './service-fixture.js';

const ON = { dynamicMetadata: true };

describe('RateLimitService dynamic metadata (envoyproxy/ratelimit src/service/ratelimit.go)', () => {
  it('is absent when disabled (the default)', async () => {
    const result = await harness(new TestRuleSet().domain('d')).service.shouldRateLimit(
      request('d', [descriptor([['k', 'v']])]),
    );
    expect(result).not.toHaveProperty('dynamicMetadata');
  });

  it('lists the domain, every descriptor and a non-zero request hits_addend', async () => {
    const h = harness(new TestRuleSet().domain('d'), ON);
    const req = request(
      'd',
      [
        descriptor([
          ['k', 'v'],
          ['k2', ''],
        ]),
        descriptor([['o', 'x']], { limit: { requestsPerUnit: 10, unit: 'MINUTE' }, hitsAddend: 0 }),
        descriptor([['z', 'y']], { limit: { requestsPerUnit: 0, unit: 'DAY' }, hitsAddend: 3 }),
      ],
      2,
    );
    const result = await h.service.shouldRateLimit(req);
    expect(result.dynamicMetadata).toEqual({
      domain: 'd',
      descriptors: [
        { entries: ['k=v', 'k2='] },
        { entries: ['o=x'], limit: 'requests_per_unit:10 unit:MINUTE', hitsAddend: 0 },
        { entries: ['z=y'], limit: 'unit:DAY', hitsAddend: 3 },
      ],
      hitsAddend: 2,
    });
  });

  it('leaves out a zero request hits_addend and empty metadata, also for an unknown domain', async () => {
    const result = await harness(new TestRuleSet(), ON).service.shouldRateLimit(
      request('nope', [descriptor([['k', 'v']])]),
    );
    expect(result.dynamicMetadata).toEqual({ domain: 'nope', descriptors: [{ entries: ['k=v'] }] });
  });

  it('merges the metadata of passed descriptors only, first wins, nested maps merged', async () => {
    const set = new TestRuleSet()
      .add('d', [['a', '1']], { metadata: { backend: 'a', tags: { tier: 'gold', region: 'eu' } } })
      .add('d', [['b', '1']], { metadata: { backend: 'b', tags: { tier: 'silver', zone: 'z1' }, extra: 1 } })
      .add('d', [['over', '1']], { requestsPerUnit: 0, metadata: { over: true } })
      .add('d', [['shadow', '1']], { requestsPerUnit: 0, shadowMode: true, metadata: { shadow: true } })
      .add('d', [['u', '1']], { unlimited: true, metadata: { unlimited: true } });
    const h = harness(set, ON);
    const names = ['a', 'over', 'b', 'shadow', 'u'];
    const result = await h.service.shouldRateLimit(
      request(
        'd',
        names.map((n) => descriptor([[n, '1']])),
      ),
    );
    expect(result.dynamicMetadata?.metadata).toEqual({
      backend: 'a',
      tags: { tier: 'gold', region: 'eu', zone: 'z1' },
      extra: 1,
      shadow: true,
    });
  });

  it('never changes the config metadata it merges', async () => {
    const first = { tags: { tier: 'gold' } };
    const set = new TestRuleSet()
      .add('d', [['a', '1']], { metadata: first })
      .add('d', [['b', '1']], { metadata: { tags: { zone: 'z1' } } });
    const h = harness(set, ON);
    await h.service.shouldRateLimit(request('d', [descriptor([['a', '1']]), descriptor([['b', '1']])]));
    expect(first).toEqual({ tags: { tier: 'gold' } });
  });

  it('takes no metadata from a replaced rule', async () => {
    const set = new TestRuleSet()
      .add('d', [['a', '1']], { name: 'A', replaces: ['B'] })
      .add('d', [['b', '1']], { name: 'B', metadata: { b: true } });
    const result = await harness(set, ON).service.shouldRateLimit(
      request('d', [descriptor([['a', '1']]), descriptor([['b', '1']])]),
    );
    expect(result.dynamicMetadata).not.toHaveProperty('metadata');
  });
});
