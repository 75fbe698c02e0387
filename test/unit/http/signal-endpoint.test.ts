import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SignalToken } from '../../../src/adaptive/signals/signal-auth.js';
import { DEFAULT_SIGNAL_LIMITS } from '../../../src/adaptive/signals/signal-body.js';
import { type SignalApi, SignalRateBound } from '../../../src/adaptive/signals/signal-gate.js';
import { createHttpServer } from '../../../src/http/http-server.js';
import { silentLogger } from '../../../src/log/logger.js';
import { ManualClock } from '../../support/manual-clock.js';
import { RecordingSignalSink } from '../../support/signal-sinks.js';

/* POST /v1/signals on a real node:http server on loopback, with a recording sink. */

const TOKEN = 'op-token.1';
let server: Server | undefined;
let url: string;
let sink: RecordingSignalSink;
let outcomes: string[];

async function start(api: Partial<SignalApi> | 'none' = {}): Promise<void> {
  sink = new RecordingSignalSink();
  outcomes = [];
  const signals: SignalApi | undefined =
    api === 'none'
      ? undefined
      : {
          sink,
          token: SignalToken.fromSecret(TOKEN, 'test'),
          limits: { ...DEFAULT_SIGNAL_LIMITS, maxBodyBytes: 256 },
          rate: new SignalRateBound(1000, new ManualClock()),
          onOutcome: (source, outcome) => outcomes.push(`${source}:${outcome}`),
          ...api,
        };
  server = createHttpServer({
    handler: { shouldRateLimit: () => Promise.reject(new Error('unused')) },
    isServing: () => true,
    logger: silentLogger(),
    signals,
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/signals`;
}

afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve));
  server?.closeAllConnections();
  server = undefined;
});

const SAMPLE = { domain: 'api', controller: 'checkout-health', total: 100, errors: 37 };
const PENALTY = { domain: 'api', controller: 'abusers', value: '1.2.3.4', ttl: '10m', reason: 'waf' };

/** `token` null: no Authorization header. */
function post(body: unknown, token: string | null = TOKEN, init: RequestInit = {}): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  return fetch(url, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
}

describe('POST /v1/signals', () => {
  it('202 for an error-rate sample and a penalty, each handed to the sink', async () => {
    await start();
    const first = await post(SAMPLE);
    expect(first.status).toBe(202);
    expect(first.headers.get('content-type')).toBe('application/json');
    expect(await first.json()).toEqual({ status: 'accepted' });
    expect((await post(PENALTY)).status).toBe(202);
    expect(sink.calls).toEqual([
      ['errorRate', 'api', 'checkout-health', 100, 37],
      ['penalize', 'api', 'abusers', '1.2.3.4', 600_000, 'waf'],
    ]);
    expect(outcomes).toEqual(['http:accepted', 'http:accepted']);
  });

  it('403 when no token is configured, whatever the header (also with no signal options at all)', async () => {
    await start({ token: undefined });
    const answer = await post(SAMPLE);
    expect(answer.status).toBe(403);
    expect(((await answer.json()) as { error: string }).error).toContain('ADAPTIVE_SIGNAL_TOKEN');
    await server?.close();
    await start('none');
    expect((await post(SAMPLE)).status).toBe(403);
    expect(sink.calls).toEqual([]);
  });

  it('401 with a Bearer challenge without a token, and invalid_token with a wrong one', async () => {
    await start();
    const missing = await post(SAMPLE, null);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="ratelimit"');
    const wrong = await post(SAMPLE, 'not-it');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer realm="ratelimit", error="invalid_token"');
    expect(await wrong.json()).toEqual({ error: 'the bearer token is not the configured one' });
    expect(sink.calls).toEqual([]);
    expect(outcomes).toEqual(['http:unauthorized', 'http:unauthorized']);
  });

  it('checks the token before the body: a bad body with a wrong token is a 401, not a 400', async () => {
    await start();
    expect((await post('{nope', 'wrong')).status).toBe(401);
    expect((await post('x'.repeat(10_000), null)).status).toBe(401);
  });

  it('400 with the reason for a body that breaks a rule, and for a signal the sink refuses', async () => {
    await start();
    const bad = await post({ ...SAMPLE, errors: 101 });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'errors (101) must not be more than total (100)' });
    expect(((await (await post('{nope')).json()) as { error: string }).error).toMatch(
      /^request body is not valid JSON/,
    );
    const refused = await post({ ...SAMPLE, controller: 'unknown' });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ error: 'domain has no controller "unknown"' });
    expect(sink.calls).toEqual([]);
    expect(outcomes).toEqual(['http:invalid', 'http:invalid', 'http:invalid']);
  });

  it('413 beyond the body bound, by Content-Length or by the bytes of a chunked body', async () => {
    await start();
    const declared = await post({ ...PENALTY, reason: 'r'.repeat(300) });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toEqual({ error: 'request body larger than 256 bytes' });
    const chunked = await rawRequest(
      `POST /v1/signals HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ntransfer-encoding: chunked\r\n\r\n` +
        `200\r\n${'a'.repeat(512)}\r\n`,
    );
    expect(chunked).toMatch(/^HTTP\/1.1 413 /);
    expect(chunked.toLowerCase()).toContain('connection: close');
  });

  it('405 with Allow: POST for another method', async () => {
    await start();
    const answer = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(answer.status).toBe(405);
    expect(answer.headers.get('allow')).toBe('POST');
  });

  it('429 with Retry-After over the rate bound, counted after the token: strangers do not spend it', async () => {
    const clock = new ManualClock(0);
    await start({ rate: new SignalRateBound(2, clock) });
    for (let i = 0; i < 5; i++) expect((await post(SAMPLE, 'stranger')).status).toBe(401);
    expect((await post(SAMPLE)).status).toBe(202);
    expect((await post('{bad')).status).toBe(400); // a refused body still counts
    const over = await post(SAMPLE);
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toBe('1');
    expect(((await over.json()) as { error: string }).error).toBe(
      'more than 2 signal requests per second; retry in 1s',
    );
    clock.advance(500);
    expect((await post(SAMPLE)).status).toBe(202);
    expect(sink.calls).toHaveLength(2);
    expect(outcomes.filter((o) => o === 'http:too_many')).toHaveLength(1);
  });

  it('500 (logged) when the sink throws, and the server keeps answering', async () => {
    await start();
    const answer = await post({ ...SAMPLE, controller: 'explode' });
    expect(answer.status).toBe(500);
    expect(await answer.json()).toEqual({ error: 'internal error' });
    expect((await post(SAMPLE)).status).toBe(202);
    expect(outcomes).toEqual(['http:error', 'http:accepted']);
  });
});

/** Sends raw bytes and resolves with everything the server answers until it closes. */
function rawRequest(text: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(text));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    setTimeout(() => socket.destroy(), 2000).unref();
  });
}
