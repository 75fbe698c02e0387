import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  rlsAnswer as answer,
  type RlsCall as Call,
  PYTHON_CLIENT as CLIENT,
  ensurePythonGrpc,
  generateStubs,
  jsonLines,
  killPythonChildren,
  type RlsResult as Result,
  RLS_PROTOS,
  removeStubs,
  runClient,
  runPython,
} from '../support/python-grpc.js';
import { startServer, type TestServer } from '../support/server.js';

/*
 * Talks to the real server through Python's gRPC (Debian python3-grpcio, a C-core stack, not
 * grpc-js), with stubs generated at test time from the same proto/ files: what Envoy sees.
 */

const CONFIG = {
  'e2e.yaml': `domain: e2e
descriptors:
  - key: user
    rate_limit: { unit: minute, requests_per_unit: 3 }
  - key: plan
    rate_limit: { unit: hour, requests_per_unit: 10 }
`,
};

/** Fixed windows are epoch-aligned: keep the calls of one scenario inside one minute. */
async function awayFromMinuteEnd(): Promise<void> {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 55_000) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 100));
}

const user = (value: string, hits_addend?: number) => ({
  entries: [['user', value]] as [string, string][],
  ...(hits_addend === undefined ? {} : { hits_addend }),
});

let server: TestServer;
let stubs: string;
let uniq = 0;
const unique = (name: string) => `${name}-${process.pid}-${Date.now()}-${uniq++}`;

async function rls(target: string, calls: Call[]): Promise<Result[]> {
  const results = await runClient<Result>(target, stubs, ['rls'], calls);
  expect(results).toHaveLength(calls.length);
  return results;
}

beforeAll(async () => {
  await ensurePythonGrpc();
  stubs = await generateStubs(RLS_PROTOS);
  server = await startServer({ config: CONFIG });
}, 300_000);

afterAll(async () => {
  killPythonChildren();
  await server?.stop();
  await removeStubs(stubs);
});

describe('ShouldRateLimit through Python grpcio', () => {
  it('answers OK with 2, 1, 0 remaining and then OVER_LIMIT on the 4th hit of a 3/minute limit', async () => {
    await awayFromMinuteEnd();
    const call = { domain: 'e2e', descriptors: [user(unique('alice'))] };
    const results = (await rls(server.grpcAddress, [call, call, call, call])).map(answer);
    expect(results.map((r) => r.overall_code)).toEqual(['OK', 'OK', 'OK', 'OVER_LIMIT']);
    expect(results.map((r) => r.statuses[0]?.code)).toEqual(['OK', 'OK', 'OK', 'OVER_LIMIT']);
    expect(results.map((r) => r.statuses[0]?.limit_remaining)).toEqual([2, 1, 0, 0]);
    for (const r of results) {
      const status = r.statuses[0]!;
      expect(status.current_limit).toMatchObject({ requests_per_unit: 3, unit: 'MINUTE' });
      expect(status.duration_until_reset).toBeGreaterThan(0);
      expect(status.duration_until_reset).toBeLessThanOrEqual(60);
      expect(r.response_headers).toEqual([]);
    }
  });

  it('charges the request hits_addend: 2 hits leave 1 of 3 and 2 more are OVER_LIMIT', async () => {
    await awayFromMinuteEnd();
    const call = { domain: 'e2e', descriptors: [user(unique('bob'))], hits_addend: 2 };
    const [first, second] = (await rls(server.grpcAddress, [call, call])).map(answer);
    expect(first?.statuses[0]).toMatchObject({ code: 'OK', limit_remaining: 1 });
    expect(second?.overall_code).toBe('OVER_LIMIT');
  });

  it('treats a descriptor hits_addend of 0 as check only, even over a request hits_addend', async () => {
    await awayFromMinuteEnd();
    const name = unique('carol');
    const check = { domain: 'e2e', descriptors: [user(name, 0)], hits_addend: 3 };
    const hit = { domain: 'e2e', descriptors: [user(name)] };
    const results = (await rls(server.grpcAddress, [check, hit, check, check])).map(answer);
    expect(results.map((r) => r.statuses[0]?.code)).toEqual(['OK', 'OK', 'OK', 'OK']);
    expect(results.map((r) => r.statuses[0]?.limit_remaining)).toEqual([3, 2, 2, 2]);
  });

  it('answers two descriptors with two statuses in request order', async () => {
    await awayFromMinuteEnd();
    const call = {
      domain: 'e2e',
      descriptors: [{ entries: [['plan', unique('gold')]] }, user(unique('dave'))],
    };
    const [result] = (await rls(server.grpcAddress, [call as Call])).map(answer);
    expect(result?.statuses).toHaveLength(2);
    expect(result?.statuses[0]).toMatchObject({ code: 'OK', limit_remaining: 9 });
    expect(result?.statuses[0]?.current_limit).toMatchObject({ requests_per_unit: 10, unit: 'HOUR' });
    expect(result?.statuses[1]).toMatchObject({ code: 'OK', limit_remaining: 2 });
    expect(result?.statuses[1]?.current_limit).toMatchObject({ requests_per_unit: 3, unit: 'MINUTE' });
  });

  it('answers OK with bare statuses (no limit, no reset) for a domain with no config', async () => {
    const call = { domain: unique('nowhere'), descriptors: [user('x'), { entries: [['k', 'v']] }] };
    const [result] = (await rls(server.grpcAddress, [call as Call])).map(answer);
    expect(result?.overall_code).toBe('OK');
    const bare = { code: 'OK', limit_remaining: 0, current_limit: null, duration_until_reset: null };
    expect(result?.statuses).toEqual([bare, bare]);
  });

  it('rejects an empty domain with INVALID_ARGUMENT and a message', async () => {
    const [result] = await rls(server.grpcAddress, [{ domain: '', descriptors: [user('x')] }]);
    expect(result).toMatchObject({ grpc_error: 'INVALID_ARGUMENT' });
    expect((result as { details: string }).details).toMatch(/domain/i);
  });

  it('adds RateLimit-Limit, -Remaining and -Reset when LIMIT_RESPONSE_HEADERS_ENABLED=true', async () => {
    const withHeaders = await startServer({
      config: CONFIG,
      env: { LIMIT_RESPONSE_HEADERS_ENABLED: 'true' },
    });
    try {
      await awayFromMinuteEnd();
      const call = { domain: 'e2e', descriptors: [user(unique('erin'))] };
      const [result] = (await rls(withHeaders.grpcAddress, [call])).map(answer);
      const headers = result?.response_headers ?? [];
      expect(headers.map(([k]) => k)).toEqual(['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset']);
      expect(headers[0]?.[1]).toBe('3');
      expect(headers[1]?.[1]).toBe('2');
      expect(Number(headers[2]?.[1])).toBeGreaterThanOrEqual(1);
      expect(Number(headers[2]?.[1])).toBeLessThanOrEqual(60);
      expect(headers[2]?.[1]).toMatch(/^\d+$/);
    } finally {
      await withHeaders.stop();
    }
  });
});

describe('grpc.health.v1 through Python grpcio', () => {
  it('reports SERVING for the service names "" and "ratelimit"', async () => {
    const args = [
      CLIENT,
      '--target',
      server.grpcAddress,
      'health',
      '--service',
      '',
      '--service',
      'ratelimit',
    ];
    expect(jsonLines(await runPython(args))).toEqual([
      { service: '', status: 'SERVING' },
      { service: 'ratelimit', status: 'SERVING' },
    ]);
  });
});
