import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  RateLimitResponse_Code as Code,
  RateLimitResponse_RateLimit_Unit as Unit,
} from '../../src/gen/envoy/service/ratelimit/v3/rls.js';
import { createRlsClient, entries, type RlsTestClient } from '../support/grpc-client.js';
import { startServer, type TestServer } from '../support/server.js';

// Units of an hour or a day keep these answers independent of the test's own timing.
const CONFIG = {
  'api.yaml': `
domain: api
descriptors:
  - key: fixed
    rate_limit: { unit: hour, requests_per_unit: 2 }
  - key: sliding
    rate_limit: { unit: hour, requests_per_unit: 2, algorithm: sliding_window }
  - key: log
    rate_limit: { unit: hour, requests_per_unit: 2, algorithm: sliding_log }
  - key: bucket
    rate_limit: { unit: hour, requests_per_unit: 1, algorithm: token_bucket, burst: 3 }
  - key: account
    rate_limits:
      - { unit: hour, requests_per_unit: 1, algorithm: token_bucket, burst: 2, name: burst }
      - { unit: day, requests_per_unit: 3, name: daily }
`,
};

let server: TestServer;
let client: RlsTestClient;

beforeAll(async () => {
  server = await startServer({ config: CONFIG });
  client = createRlsClient(server.grpcAddress);
});

afterAll(async () => {
  client.close();
  await server.stop();
});

const ask = (pair: string, hitsAddend = 0) =>
  client.shouldRateLimit({ domain: 'api', descriptors: [{ entries: entries(pair) }], hitsAddend });

describe('every algorithm over gRPC on the memory backend', () => {
  it.each([
    ['fixed=a', 'fixed_window'],
    ['sliding=a', 'sliding_window'],
    ['log=a', 'sliding_log'],
  ])('admits 2 then rejects the 3rd request for a 2/hour limit (%s, %s)', async (pair) => {
    const answers = [await ask(pair), await ask(pair), await ask(pair)];
    expect(answers.map((a) => a.overallCode)).toEqual([Code.OK, Code.OK, Code.OVER_LIMIT]);
    expect(answers.map((a) => a.statuses[0]?.limitRemaining)).toEqual([1, 0, 0]);
    expect(answers[2]?.statuses[0]?.currentLimit).toMatchObject({ requestsPerUnit: 2, unit: Unit.HOUR });
  });

  it('lets a token bucket absorb its burst, then asks the client to wait one refill interval', async () => {
    const answers = [
      await ask('bucket=a'),
      await ask('bucket=a'),
      await ask('bucket=a'),
      await ask('bucket=a'),
    ];
    expect(answers.map((a) => a.overallCode)).toEqual([Code.OK, Code.OK, Code.OK, Code.OVER_LIMIT]);
    expect(answers.map((a) => a.statuses[0]?.limitRemaining)).toEqual([2, 1, 0, 0]);
    // one token per hour: the 4th request fits in 3600 s
    expect(answers[3]?.statuses[0]?.durationUntilReset?.seconds).toBe(3_600);
  });

  it('never charges a rejected token-bucket request', async () => {
    expect((await ask('bucket=b', 4)).overallCode).toBe(Code.OVER_LIMIT);
    expect((await ask('bucket=b', 3)).overallCode).toBe(Code.OK);
  });

  it('applies rate_limits together: the burst decides first, the day limit later', async () => {
    const first = await ask('account=a');
    expect(first.statuses[0]).toMatchObject({
      code: Code.OK,
      limitRemaining: 1,
      currentLimit: { name: 'burst' },
    });
    await ask('account=a');
    const third = await ask('account=a');
    expect(third.statuses[0]).toMatchObject({ code: Code.OVER_LIMIT, currentLimit: { name: 'burst' } });
  });
});

describe('every algorithm over POST /json', () => {
  it('answers 200 then 429 for a sliding log, with the limit that decided', async () => {
    const post = () =>
      fetch(`${server.httpUrl}/json`, {
        method: 'POST',
        body: JSON.stringify({ domain: 'api', descriptors: [{ entries: [{ key: 'log', value: 'json' }] }] }),
      });
    const statuses = [(await post()).status, (await post()).status];
    const third = await post();
    expect([...statuses, third.status]).toEqual([200, 200, 429]);
    expect(await third.json()).toMatchObject({
      overallCode: 'OVER_LIMIT',
      statuses: [{ code: 'OVER_LIMIT', currentLimit: { requestsPerUnit: 2, unit: 'HOUR' } }],
    });
  });

  it('reports a token bucket over JSON with the reset as a duration string', async () => {
    const reply = await fetch(`${server.httpUrl}/json`, {
      method: 'POST',
      body: JSON.stringify({ domain: 'api', descriptors: [{ entries: [{ key: 'bucket', value: 'json' }] }] }),
    });
    expect(await reply.json()).toMatchObject({
      overallCode: 'OK',
      statuses: [{ code: 'OK', limitRemaining: 2, durationUntilReset: '3600s' }],
    });
  });
});
