import { randomBytes, X509Certificate } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { type ChannelCredentials, credentials, type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RateLimitResponse_Code as Code } from '../../src/gen/envoy/service/ratelimit/v3/rls.js';
import { createRlsClient, entries, type RlsTestClient } from '../support/grpc-client.js';
import { healthCheck } from '../support/grpc-extras.js';
import { startServer, type TestServer } from '../support/server.js';
import { createTestPki, type Issued, type TestCa } from '../support/tls-certs.js';

const CONFIG = {
  'shop.yaml':
    'domain: shop\ndescriptors:\n  - key: user\n    rate_limit: { unit: minute, requests_per_unit: 100 }\n',
};
const SERVER_SAN = 'DNS:localhost,IP:127.0.0.1';

const pki = createTestPki();
let ca: TestCa;
let otherCa: TestCa;
let serverPair: Issued;
let certDir: string;
let server: TestServer | undefined;
const clients: RlsTestClient[] = [];
const sockets: TLSSocket[] = [];

beforeAll(() => {
  ca = pki.ca('ca');
  otherCa = pki.ca('other-ca');
  serverPair = ca.issue('server-first', SERVER_SAN);
  certDir = pki.dir;
});
// the served files (GRPC_SERVER_TLS_CERT / _KEY) start as the first pair in every test
beforeEach(() => rotate(serverPair));
afterAll(() => pki.remove());
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const socket of sockets.splice(0)) socket.destroy();
  await server?.stop();
  server = undefined;
});

function tlsEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    GRPC_SERVER_USE_TLS: 'true',
    GRPC_SERVER_TLS_CERT: join(certDir, 'server.crt'),
    GRPC_SERVER_TLS_KEY: join(certDir, 'server.key'),
    ...extra,
  };
}

/** A client on a connection of its own, over TLS trusting `ca` (with a client certificate when given). */
function client(creds: ChannelCredentials): RlsTestClient {
  const c = createRlsClient(
    server?.grpcAddress ?? '',
    { 'grpc.use_local_subchannel_pool': 1, 'grpc.ssl_target_name_override': 'localhost' },
    creds,
  );
  clients.push(c);
  return c;
}
const tlsTo = (trusted: TestCa, as?: Issued) =>
  credentials.createSsl(trusted.cert, as?.key ?? null, as?.cert ?? null);

const ask = (c: RlsTestClient) =>
  c.shouldRateLimit({ domain: 'shop', descriptors: [{ entries: entries('user=alice') }] });

async function refusal(c: RlsTestClient): Promise<ServiceError> {
  try {
    await ask(c);
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('the call succeeded');
}

/** A raw TLS connection with ALPN h2, as a gRPC client opens; resolves once the handshake is done. */
function handshake(as?: Issued): Promise<TLSSocket> {
  const port = Number(server?.grpcAddress.split(':')[1]);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ca: ca.cert,
      servername: 'localhost',
      ALPNProtocols: ['h2'],
      ...(as === undefined ? {} : { cert: as.cert, key: as.key }),
    });
    sockets.push(socket);
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

async function servedSerial(): Promise<string> {
  const socket = await handshake();
  const serial = socket.getPeerCertificate().serialNumber;
  socket.destroy();
  return serial;
}

/** Replaces the served pair as a Secret rotation does: new files renamed into the watched directory. */
function rotate(pair: { cert: Buffer; key: Buffer }): void {
  writeFileSync(join(certDir, 'server.crt.tmp'), pair.cert);
  writeFileSync(join(certDir, 'server.key.tmp'), pair.key);
  renameSync(join(certDir, 'server.key.tmp'), join(certDir, 'server.key'));
  renameSync(join(certDir, 'server.crt.tmp'), join(certDir, 'server.crt'));
}

async function eventually(check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('gRPC server TLS (GRPC_SERVER_USE_TLS=true)', () => {
  it('answers a client that trusts the CA, refuses plaintext, and serves gRPC health over TLS', async () => {
    server = await startServer({ config: CONFIG, env: tlsEnv() });
    expect((await ask(client(tlsTo(ca)))).overallCode).toBe(Code.OK);
    const plain = await refusal(client(credentials.createInsecure()));
    expect(plain.code).toBe(status.UNAVAILABLE);
    // a client that trusts another CA refuses the server's certificate
    expect((await refusal(client(tlsTo(otherCa)))).code).toBe(status.UNAVAILABLE);
    expect(await healthCheck(server.grpcAddress, '', tlsTo(ca))).toBe('SERVING');
    // TLS only: a client certificate is neither asked for nor needed
    expect((await handshake()).alpnProtocol).toBe('h2');
  });

  it('reloads a rotated certificate for new connections; an established one stays open', async () => {
    server = await startServer({ config: CONFIG, env: tlsEnv() });
    const before = await servedSerial();
    const old = await handshake();
    const oldClient = client(tlsTo(ca));
    expect((await ask(oldClient)).overallCode).toBe(Code.OK);

    const next = ca.issue('server-next', SERVER_SAN);
    rotate(next);
    const expected = new X509Certificate(next.cert).serialNumber;
    expect(expected).not.toBe(before);
    await eventually(async () => (await servedSerial()) === expected);
    // the connection made before the rotation keeps its session, and the old client still gets answers
    expect(old.destroyed).toBe(false);
    expect(old.getPeerCertificate().serialNumber).toBe(before);
    expect((await ask(oldClient)).overallCode).toBe(Code.OK);
    expect((await ask(client(tlsTo(ca)))).overallCode).toBe(Code.OK);

    // a half-written rotation (a key that does not match) is not applied: the last good pair stays
    writeFileSync(join(certDir, 'server.key'), randomKeyPem());
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await servedSerial()).toBe(expected);
    expect((await ask(client(tlsTo(ca)))).overallCode).toBe(Code.OK);
  });

  it('stops the start when a file is missing, naming the variable and the path', async () => {
    const missing = join(certDir, 'absent.crt');
    await expect(
      startServer({ config: CONFIG, env: tlsEnv({ GRPC_SERVER_TLS_CERT: missing }) }),
    ).rejects.toThrow(`GRPC_SERVER_TLS_CERT: cannot read '${missing}' (ENOENT)`);
  });
});

describe('mutual TLS (GRPC_CLIENT_TLS_CACERT)', () => {
  it('requires a client certificate signed by the client CA', async () => {
    server = await startServer({ config: CONFIG, env: tlsEnv({ GRPC_CLIENT_TLS_CACERT: ca.certFile }) });
    const good = ca.issue('client', 'DNS:envoy.internal');
    const stranger = otherCa.issue('stranger', 'DNS:envoy.internal');
    expect((await ask(client(tlsTo(ca, good)))).overallCode).toBe(Code.OK);
    // without a certificate, or with one from another CA, the handshake fails: no call is made
    expect((await refusal(client(tlsTo(ca)))).code).toBe(status.UNAVAILABLE);
    expect((await refusal(client(tlsTo(ca, stranger)))).code).toBe(status.UNAVAILABLE);
    expect(await healthCheck(server.grpcAddress, '', tlsTo(ca, good))).toBe('SERVING');
  });

  it('GRPC_CLIENT_TLS_SAN: a verified certificate without the name gets UNAUTHENTICATED', async () => {
    server = await startServer({
      config: CONFIG,
      env: tlsEnv({ GRPC_CLIENT_TLS_CACERT: ca.certFile, GRPC_CLIENT_TLS_SAN: 'envoy.internal' }),
    });
    const named = ca.issue('client-named', 'DNS:other.internal,DNS:envoy.internal');
    const wildcard = ca.issue('client-wildcard', 'DNS:*.internal');
    const unnamed = ca.issue('client-unnamed', 'DNS:someone.else');
    expect((await ask(client(tlsTo(ca, named)))).overallCode).toBe(Code.OK);
    expect((await ask(client(tlsTo(ca, wildcard)))).overallCode).toBe(Code.OK);
    const refused = await refusal(client(tlsTo(ca, unnamed)));
    expect(refused.code).toBe(status.UNAUTHENTICATED);
    expect(refused.details).toContain('subject alternative name');
    // every method is covered, health included
    await expect(healthCheck(server.grpcAddress, '', tlsTo(ca, unnamed))).rejects.toMatchObject({
      code: status.UNAUTHENTICATED,
    });
    // and the refused calls ended for the connection guard: a second one is refused the same way
    expect((await refusal(client(tlsTo(ca, unnamed)))).code).toBe(status.UNAUTHENTICATED);
  });
});

function randomKeyPem(): string {
  return `-----BEGIN PRIVATE KEY-----\n${randomBytes(48).toString('base64')}\n-----END PRIVATE KEY-----\n`;
}
