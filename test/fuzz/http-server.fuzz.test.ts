import { request as httpRequest } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzBudget } from '../support/fuzz-budget.js';
import { FUZZ_CONFIG_YAML } from '../support/fuzz-requests.js';
import { startServer, type TestServer } from '../support/server.js';

/*
 * Random POST /json bodies and /auth requests against the real HTTP server:
 * the answer is always 200, 429 (/json over limit), 403 (/auth over limit),
 * 400 or 413, never 500, and /healthcheck still answers afterwards.
 */

const budget = fuzzBudget(3, 200);
let server: TestServer;
let port: number;

beforeAll(async () => {
  server = await startServer({ config: { 'fuzz.yaml': FUZZ_CONFIG_YAML } });
  port = Number(new URL(server.httpUrl).port);
});

afterAll(async () => {
  await server?.stop();
});

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** A raw request (no client-side validation of what is sent beyond Node's header checks). */
function send(
  method: string,
  path: string,
  headers: Record<string, string[]>,
  body?: Buffer,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const SEPARATORS = ['_', ':', '{', '}', '\0', '=', ',', '%', '"', '\\', 'é', '😀', '\ud800'];
const text = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: fc.constantFrom(...SEPARATORS, 'user', 'a'), maxLength: 20 }),
);
const numberish = fc.oneof(
  fc.constantFrom(
    0,
    1,
    2 ** 32 - 1,
    2 ** 32,
    2 ** 53,
    -1,
    1.5,
    '18446744073709551615',
    '4294967296',
    'x',
    null,
    true,
  ),
  fc.integer(),
);
const entryJson = fc.record({ key: fc.oneof(fc.constant('user'), text), value: text }, { requiredKeys: [] });
const descriptorJson = fc.record(
  {
    entries: fc.oneof(
      fc.array(entryJson, { maxLength: 4 }),
      fc.constantFrom(33, 65).map((n) => Array(n).fill({ key: 'user', value: 'v' })),
    ),
    limit: fc.record(
      {
        requestsPerUnit: numberish,
        unit: fc.oneof(fc.constantFrom('SECOND', 'YEAR', 'WEEK', 'weekly'), text),
      },
      { requiredKeys: [] },
    ),
    hitsAddend: numberish,
  },
  { requiredKeys: [] },
);
const requestJson = fc.record(
  {
    domain: fc.oneof(fc.constantFrom('fuzz', '', 'x'.repeat(257)), text),
    descriptors: fc.oneof(
      fc.array(descriptorJson, { maxLength: 4 }),
      fc.constant(Array(65).fill({ entries: [] })),
    ),
    hits_addend: numberish,
    extra: fc.anything(),
  },
  { requiredKeys: [] },
);
const jsonBody = fc.oneof(
  requestJson.map((r) => Buffer.from(JSON.stringify(r) ?? '')),
  fc.json().map((j) => Buffer.from(j)),
  requestJson.chain((r) =>
    fc.nat().map((cut) => {
      const s = Buffer.from(JSON.stringify(r) ?? '');
      return s.subarray(0, cut % (s.length + 1));
    }),
  ),
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc.nat(3).map((n) =>
    Buffer.from(
      `{"descriptors":[${Array(1000 * (n + 1))
        .fill('{}')
        .join(',')}]}`,
    ),
  ),
);

const OK_JSON = [200, 429, 400, 413];
const OK_AUTH = [200, 403, 400, 431];

function percentEncode(value: string): string {
  return [...Buffer.from(value)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
}

/** Percent-encoding that never throws (lone surrogates become %EF%BF%BD), plus raw bytes of the URL alphabet. */
const queryValue = fc.oneof(
  text.map(percentEncode),
  fc.string({
    unit: fc.constantFrom('a', '=', ',', '%', '%2', '%ZZ', '%C3%A9', '%ED%A0%80', '+', '&'),
    maxLength: 12,
  }),
);
/** Header values Node lets a client send: visible ASCII and spaces. */
const headerValue = fc.string({
  unit: fc.constantFrom('user', '=', ',', ' ', 'a', '%', '%2C', '%ZZ', ':', '{', '}', '_'),
  maxLength: 16,
});

describe('HTTP fuzzing through the real server', () => {
  it(
    'answers POST /json with 200, 429, 400 or 413, never 500',
    async () => {
      await fc.assert(
        fc.asyncProperty(jsonBody, async (body) => {
          const { status, body: text } = await send('POST', '/json', {}, body);
          expect(OK_JSON).toContain(status);
          if (status === 400) expect(text.trim()).not.toBe('');
        }),
        budget.params,
      );
      expect((await send('GET', '/healthcheck', {})).status).toBe(200);
    },
    budget.testTimeoutMs,
  );

  it(
    'answers /auth with 200, 403, 400 or 431, never 500',
    async () => {
      const auth = fc.record({
        domain: fc.option(fc.oneof(fc.constant('fuzz'), headerValue), { nil: undefined }),
        descriptors: fc.oneof(fc.array(headerValue, { maxLength: 4 }), fc.constant(Array(65).fill('user=a'))),
        hits: fc.option(fc.oneof(headerValue, fc.constantFrom('0', '4294967295', '4294967296', '-1')), {
          nil: undefined,
        }),
        query: fc.array(fc.tuple(fc.constantFrom('domain', 'descriptor', 'hits', 'x'), queryValue), {
          maxLength: 6,
        }),
        method: fc.constantFrom('GET', 'POST', 'HEAD'),
      });
      await fc.assert(
        fc.asyncProperty(auth, async ({ domain, descriptors, hits, query, method }) => {
          const headers: Record<string, string[]> = {};
          if (domain !== undefined) headers['x-ratelimit-domain'] = [domain];
          if (descriptors.length > 0) headers['x-ratelimit-descriptor'] = descriptors;
          if (hits !== undefined) headers['x-ratelimit-hits'] = [hits];
          const path = `/auth?${query.map(([k, v]) => `${k}=${v}`).join('&')}`;
          const { status } = await send(method, path, headers);
          expect(OK_AUTH).toContain(status);
        }),
        budget.params,
      );
      expect((await send('GET', '/healthcheck', {})).status).toBe(200);
    },
    budget.testTimeoutMs,
  );
});
