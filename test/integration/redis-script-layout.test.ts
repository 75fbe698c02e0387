import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APPLY_ARGS_PER_CHECK,
  APPLY_HEADER_ARGS,
  APPLY_REPLY_PER_CHECK,
  APPLY_REQUEST_ARGS,
  type ApplyScript,
  LUA_FILES,
  loadApplyScript,
} from '../../src/storage/redis/lua-scripts.js';
import { type RedisTestServer, startRedisServer } from '../support/redis-server.js';

/**
 * Pins the script's contract (lua/apply.lua's header): KEYS = one per check of
 * every request; ARGV = 5 call values [clock, stop_increment, jitter_s,
 * extra_ttl_ms, R], then per request [client_now_ms, n] + 7 per check; reply =
 * 4 values per check. Calls go through plain EVAL with literal KEYS/ARGV, so a
 * change of layout on either side fails here.
 */

let server: RedisTestServer;
let client: Redis;
let script: ApplyScript;

beforeAll(async () => {
  server = await startRedisServer();
  client = new Redis(server.url);
  script = await loadApplyScript();
});

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

const T = '1000000000'; // ms: 1_000_000 s, 40 s into a minute

function evalApply(keys: string[], argv: string[]): Promise<unknown> {
  return client.eval(script.lua, keys.length, ...keys, ...argv);
}

describe('lua/apply.lua layout', () => {
  it('is prelude, the four algorithms and the driver, in that order, with 5 + Σ(2 + 7n) ARGV and 4 reply values per check', () => {
    expect(LUA_FILES).toEqual([
      'prelude.lua',
      'fixed_window.lua',
      'sliding_window.lua',
      'sliding_log.lua',
      'token_bucket.lua',
      'apply.lua',
    ]);
    expect([APPLY_HEADER_ARGS, APPLY_REQUEST_ARGS, APPLY_ARGS_PER_CHECK, APPLY_REPLY_PER_CHECK]).toEqual([
      5, 2, 7, 4,
    ]);
  });

  it('answers [admitted, remaining, duration_ms, used] per check, in KEYS order', async () => {
    const reply = await evalApply(
      ['pin_a_1000000', '{pin_b_}tb'],
      [
        ...['caller', '0', '0', '0', '1'],
        ...[T, '2'],
        ...['fixed_window', '10', '1', '10', '1', '1', '1'],
        ...['token_bucket', '10', '1', '20', '1', '1', '0'],
      ],
    );
    // fixed: 1 of 10, window ends in 1000 ms; bucket 10/s burst 20: one 100 ms token taken
    expect(reply).toEqual([1, 9, '1000', '1', 1, 19, '100', '1']);
  });

  it('returns fractional durations as exact strings (a 3/s bucket emits every 333.333984375 ms)', async () => {
    const reply = await evalApply(
      ['{pin_c_}tb'],
      [...['caller', '0', '0', '0', '1'], ...[T, '1'], ...['token_bucket', '3', '1', '1', '1', '1', '0']],
    );
    // 1000/3 ms rounded up to a multiple of 2^-10 ms, as src/core/token-bucket.ts does
    expect(reply).toEqual([1, 0, '333.333984375', '1']);
    // stored with 17 significant digits, which read back as the same double
    expect(await client.get('{pin_c_}tb')).toBe('1000000333.3339844');
    expect(Number('1000000333.3339844')).toBe(1_000_000_333 + 342 / 1024);
  });

  it('reports OVER_LIMIT as admitted 0 with the retry duration, and charges nothing else in the call', async () => {
    const keys = ['{pin_d_}sl', '{pin_d_}tb'];
    const argv = (hits: string) => [
      ...['caller', '0', '0', '0', '1'],
      ...[T, '2'],
      ...['sliding_log', '1', '60', '1', hits, '1', '0'],
      ...['token_bucket', '5', '60', '5', hits, '1', '0'],
    ];
    expect(await evalApply(keys, argv('1'))).toEqual([1, 0, '60000', '1', 1, 4, '12000', '1']);
    expect(await evalApply(keys, argv('1'))).toEqual([0, 0, '60000', '1', 1, 4, '12000', '1']);
    expect(await client.get('{pin_d_}tb')).toBe('1000012000');
  });

  it("charges a rejected check only when its charged_when_rejected field is '1' (a lone fixed window)", async () => {
    const window = (chargedWhenRejected: string) => [
      'fixed_window',
      '1',
      '1',
      '1',
      '2',
      '1',
      chargedWhenRejected,
    ];
    const reply = await evalApply(
      ['pin_k_1000000', '{pin_l_}fw1_1000000'],
      [...['caller', '0', '0', '0', '1'], ...[T, '2'], ...window('1'), ...window('0')],
    );
    // uncharged, the second keeps its 1 request left
    expect(reply).toEqual([0, 0, '1000', '2', 0, 1, '1000', '0']);
    expect(await client.get('pin_k_1000000')).toBe('2');
    expect(await client.exists('{pin_l_}fw1_1000000')).toBe(0);
  });

  it('runs several requests in order in one call, each checked and committed on its own', async () => {
    const bucket = ['token_bucket', '1', '60', '1', '1', '1', '0'];
    const reply = await evalApply(
      ['{pin_h_}tb', '{pin_h_}sl', '{pin_h_}tb', '{pin_h_}tb'],
      [
        ...['caller', '0', '0', '0', '3'],
        ...[T, '1', ...bucket],
        // the second request is rejected by the bucket, so its log check is not charged
        ...[T, '2', ...['sliding_log', '5', '60', '5', '1', '1', '0'], ...bucket],
        ...['1000060000', '1', ...bucket],
      ],
    );
    expect(reply).toEqual([
      ...[1, 0, '60000', '1'],
      ...[1, 5, '0', '0', 0, 0, '60000', '1'],
      ...[1, 0, '60000', '1'],
    ]);
    expect(await client.exists('{pin_h_}sl')).toBe(0);
  });

  it('fails only the request whose Redis commands fail, reporting -1 and the Redis error', async () => {
    await client.hset('{pin_i_}tb', 'a', 'hash');
    const bucket = ['token_bucket', '1', '60', '1', '1', '1', '0'];
    const reply = await evalApply(
      ['{pin_i_}tb', '{pin_j_}tb'],
      [...['caller', '0', '0', '0', '2'], ...[T, '1', ...bucket], ...[T, '1', ...bucket]],
    );
    expect(reply).toEqual([-1, 0, expect.stringMatching(/^WRONGTYPE/), '0', 1, 0, '60000', '1']);
  });

  it('rejects KEYS/ARGV counts that do not match the request headers, before running anything', async () => {
    await expect(
      evalApply(
        ['{pin_e_}tb'],
        [...['caller', '0', '0', '0', '1'], ...[T, '1'], 'token_bucket', '3', '1', '1', '1', '1'],
      ),
    ).rejects.toThrow(/1 requests need 14 ARGV and 1 KEYS, got 13 and 1/);
    await expect(
      evalApply(
        ['{pin_e_}tb', '{pin_e_}x'],
        [...['caller', '0', '0', '0', '1'], ...[T, '1'], 'token_bucket', '3', '1', '1', '1', '1', '0'],
      ),
    ).rejects.toThrow(/1 requests need 14 ARGV and 1 KEYS, got 14 and 2/);
    expect(await client.exists('{pin_e_}tb')).toBe(0);
  });

  it('reports an unknown algorithm as a failed request', async () => {
    const reply = await evalApply(
      ['{pin_f_}x'],
      [...['caller', '0', '0', '0', '1'], ...[T, '1'], 'leaky_bucket', '3', '1', '1', '1', '1', '0'],
    );
    expect(reply).toEqual([-1, 0, expect.stringMatching(/unknown algorithm leaky_bucket/), '0']);
  });

  it("reads Redis TIME when ARGV[1] is 'redis', and keeps the caller's clock for fixed windows", async () => {
    const before = Date.now();
    const reply = (await evalApply(
      ['pin_g_1000000', '{pin_g_}tb'],
      [
        ...['redis', '0', '0', '0', '1'],
        ...[T, '2'],
        ...['fixed_window', '10', '60', '10', '1', '1', '1'],
        ...['token_bucket', '1', '3600', '1', '1', '1', '0'],
      ],
    )) as unknown[];
    // the fixed window answers from ARGV[1] (1_000_000 s: 20 s left in its minute), the bucket from Redis time
    expect(reply.slice(0, 4)).toEqual([1, 9, '20000', '1']);
    const tat = Number(await client.get('{pin_g_}tb'));
    expect(tat).toBeGreaterThanOrEqual(Math.floor(before) + 3_600_000 - 1_000);
    expect(tat).toBeLessThanOrEqual(Date.now() + 3_600_000 + 1_000);
  });
});
