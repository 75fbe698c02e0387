import { describe, expect, it } from 'vitest';
import {
  type CachedCheckRef,
  counterKey,
  keyTag,
  localCacheKey,
  redisKey,
  stateKey,
  windowStartMs,
  windowStartSeconds,
} from '../../../src/core/key-layout.js';

describe('counterKey, reference format', () => {
  it("builds the reference's key without the window: prefix + domain + key_value_ per entry", () => {
    expect(counterKey('', 'domain', [{ key: 'key', value: 'value' }], 'reference')).toBe('domain_key_value_');
    expect(
      counterKey(
        'pfx:',
        'domain',
        [
          { key: 'key2', value: 'value2' },
          { key: 'subkey2', value: 'subvalue2' },
        ],
        'reference',
      ),
    ).toBe('pfx:domain_key2_value2_subkey2_subvalue2_');
  });

  it('keeps an empty value as an empty field and a descriptor without entries as just the domain', () => {
    expect(counterKey('', 'd', [{ key: 'k', value: '' }], 'reference')).toBe('d_k__');
    expect(counterKey('', 'd', [], 'reference')).toBe('d_');
  });

  it('escapes nothing, byte for byte as envoyproxy/ratelimit writes it', () => {
    expect(counterKey('p_', 'x_y', [{ key: 'generic_key', value: 'a\\b{c}_' }], 'reference')).toBe(
      'p_x_y_generic_key_a\\b{c}__',
    );
  });

  it('does not escape "_", so (a, b_c) and (a_b, c) share a counter as in the reference', () => {
    expect(counterKey('', 'd', [{ key: 'a', value: 'b_c' }], 'reference')).toBe(
      counterKey('', 'd', [{ key: 'a_b', value: 'c' }], 'reference'),
    );
    expect(counterKey('', 'x', [{ key: 'y_z', value: 'v' }], 'reference')).toBe(
      counterKey('', 'x_y', [{ key: 'z', value: 'v' }], 'reference'),
    );
  });
});

describe('counterKey, escaped format (default)', () => {
  it('writes parts without \\ _ { } exactly as the reference format does', () => {
    const entries = [
      { key: 'user', value: 'alice' },
      { key: 'path', value: '/login' },
    ];
    expect(counterKey('rl:', 'api', entries, 'escaped')).toBe('rl:api_user_alice_path_/login_');
    expect(counterKey('rl:', 'api', entries, 'escaped')).toBe(counterKey('rl:', 'api', entries, 'reference'));
    expect(counterKey('', 'd', [{ key: 'k', value: '' }], 'escaped')).toBe('d_k__');
    expect(counterKey('', 'd', [], 'escaped')).toBe('d_');
  });

  it('precedes \\, _, { and } in the domain, keys and values with a backslash; the prefix stays as given', () => {
    expect(counterKey('rl_', 'x_y', [{ key: 'generic_key', value: 'a\\b{c}' }], 'escaped')).toBe(
      'rl_x\\_y_generic\\_key_a\\\\b\\{c\\}_',
    );
  });

  it('keeps user=alice_path_/login apart from (user=alice, path=/login)', () => {
    const crafted = counterKey('', 'api', [{ key: 'user', value: 'alice_path_/login' }], 'escaped');
    const real = counterKey(
      '',
      'api',
      [
        { key: 'user', value: 'alice' },
        { key: 'path', value: '/login' },
      ],
      'escaped',
    );
    expect(crafted).toBe('api_user_alice\\_path\\_/login_');
    expect(real).toBe('api_user_alice_path_/login_');
  });

  it('keeps domain x + key y_z apart from domain x_y + key z, and a trailing backslash in its field', () => {
    expect(counterKey('', 'x', [{ key: 'y_z', value: 'v' }], 'escaped')).toBe('x_y\\_z_v_');
    expect(counterKey('', 'x_y', [{ key: 'z', value: 'v' }], 'escaped')).toBe('x\\_y_z_v_');
    expect(counterKey('', 'd', [{ key: 'k', value: 'a\\' }], 'escaped')).not.toBe(
      counterKey('', 'd', [{ key: 'k', value: 'a_' }], 'escaped'),
    );
  });
});

describe('keyTag', () => {
  it("keeps '' for a lone fixed_window rate_limit, the reference's exact key", () => {
    expect(keyTag('fixed_window', 'MINUTE', false)).toBe('');
  });

  it('tags every other limit with its algorithm and unit length in seconds', () => {
    expect(keyTag('fixed_window', 'MONTH', true)).toBe('fw2592000_');
    expect(keyTag('sliding_window', 'MINUTE', false)).toBe('sw60_');
    expect(keyTag('sliding_log', 'HOUR', true)).toBe('sl3600_');
    expect(keyTag('token_bucket', 'WEEK', false)).toBe('tb604800_');
  });
});

describe('window starts', () => {
  /** An epoch-aligned minute (and second). */
  const W = 1_700_000_040_000;

  it('aligns windows to the Unix epoch, not to the first hit', () => {
    expect(windowStartMs(W + 59_999, 60_000)).toBe(W);
    expect(windowStartMs(W + 60_000, 60_000)).toBe(W + 60_000);
  });

  it('gives the same start in whole Unix seconds, as the reference keys carry it', () => {
    expect(windowStartSeconds(1_234_000, 1)).toBe(1234);
    expect(windowStartSeconds(1_234_999, 1)).toBe(1234);
    expect(windowStartSeconds(1_234_000, 60)).toBe(1200);
    expect(windowStartSeconds(1_000_000_000, 3_600)).toBe(997_200);
    expect(windowStartSeconds(W + 59_999, 60)).toBe(windowStartMs(W + 59_999, 60_000) / 1000);
  });
});

describe('store keys', () => {
  const at = 1_234_000;
  const lone = { key: 'd_k_v_', tag: '', unitSeconds: 60 };
  const tagged = { key: 'd_k_v_', tag: 'fw60_', unitSeconds: 60 };
  const bucket = { key: 'd_k_v_', tag: 'tb60_', unitSeconds: 60 };

  it('keys memory state by counter key + tag, plus the window start when windowed', () => {
    expect(stateKey(lone, true, at)).toBe('d_k_v_1200');
    expect(stateKey(tagged, true, at)).toBe('d_k_v_fw60_1200');
    expect(stateKey(bucket, false, at)).toBe('d_k_v_tb60_');
  });

  it("keys Redis by the reference's key for an untagged window, else by the hash-tagged counter key", () => {
    expect(redisKey(lone, true, at)).toBe('d_k_v_1200');
    expect(redisKey(tagged, true, at)).toBe('{d_k_v_}fw60_1200');
    expect(redisKey(bucket, false, at)).toBe('{d_k_v_}tb60_');
  });

  it('keys the local cache by counter, window (windowed only), hits and limit, NUL-separated', () => {
    const check: CachedCheckRef = {
      ...lone,
      hits: 2,
      requestsPerUnit: 10,
      algorithm: 'fixed_window',
      burst: 10,
    };
    expect(localCacheKey(check, true, at)).toBe(
      'd_k_v_\u00001200\u00002\u000010\u000060\u0000fixed_window\u000010',
    );
    const tb: CachedCheckRef = {
      ...bucket,
      hits: 1,
      requestsPerUnit: 5,
      algorithm: 'token_bucket',
      burst: 8,
    };
    expect(localCacheKey(tb, false, at)).toBe(
      'd_k_v_tb60_\u0000\u00001\u00005\u000060\u0000token_bucket\u00008',
    );
  });
});
