import { afterAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../../src/config/settings/settings.js';
import { SettingError } from '../../../src/core/errors.js';
import { hasSan } from '../../../src/grpc/client-san.js';
import { createTestPki } from '../../support/tls-certs.js';

/** The SettingError loadSettings throws for `env`, or a failure if it starts. */
function refusal(env: Record<string, string>): SettingError {
  try {
    loadSettings(env);
  } catch (error) {
    if (error instanceof SettingError) return error;
    throw error;
  }
  throw new Error(`loadSettings accepted ${JSON.stringify(env)}`);
}

const pki = createTestPki();
afterAll(() => pki.remove());
const ca = pki.ca('ca');
const server = ca.issue('server', 'DNS:localhost');
const other = ca.issue('other', 'DNS:localhost');
const TLS = {
  GRPC_SERVER_USE_TLS: 'true',
  GRPC_SERVER_TLS_CERT: server.certFile,
  GRPC_SERVER_TLS_KEY: server.keyFile,
};

describe('loadSettings: gRPC server TLS (GRPC_SERVER_USE_TLS)', () => {
  it('reads the certificate and key; a client CA makes it mutual, with an optional SAN', () => {
    expect(loadSettings(TLS).settings.grpcTls).toMatchObject({
      certFile: server.certFile,
      keyFile: server.keyFile,
      cert: server.cert.toString(),
      clientCa: undefined,
      clientSan: undefined,
    });
    const mutual = loadSettings({
      ...TLS,
      GRPC_CLIENT_TLS_CACERT: ca.certFile,
      GRPC_CLIENT_TLS_SAN: 'envoy',
    });
    expect(mutual.settings.grpcTls).toMatchObject({ clientCa: ca.cert.toString(), clientSan: 'envoy' });
    expect(mutual.warnings).toEqual([]);
  });

  it.each(['false', 'False', '0', ''])('is plaintext, silently, with GRPC_SERVER_USE_TLS=%j', (value) => {
    const { settings, warnings } = loadSettings({ GRPC_SERVER_USE_TLS: value });
    expect(settings.grpcTls).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it.each([
    ['GRPC_SERVER_TLS_CERT', 'the server certificate chain file (PEM)'],
    ['GRPC_SERVER_TLS_KEY', 'the server private key file (PEM)'],
  ])('refuses to start without %s', (name, what) => {
    expect(refusal({ ...TLS, [name]: '' }).message).toBe(
      `${name} is not set: GRPC_SERVER_USE_TLS=true needs ${what}`,
    );
  });

  it.each(['GRPC_SERVER_TLS_CERT', 'GRPC_SERVER_TLS_KEY', 'GRPC_CLIENT_TLS_CACERT'])(
    'names %s and its path when the file cannot be read (SETTING_INVALID)',
    (name) => {
      const path = `${pki.dir}/absent.pem`;
      const error = refusal({ ...TLS, [name]: path });
      expect(error.code).toBe('SETTING_INVALID');
      expect(error.message).toBe(
        `${name}: cannot read '${path}' (ENOENT); GRPC_SERVER_USE_TLS=true needs it, and the service will not start without it`,
      );
    },
  );

  it('refuses a key that does not match the certificate, without quoting either', () => {
    const { message } = refusal({ ...TLS, GRPC_SERVER_TLS_KEY: other.keyFile });
    expect(message).toMatch(
      /^GRPC_SERVER_TLS_CERT \('.*'\) and GRPC_SERVER_TLS_KEY \('.*'\): expected a PEM/,
    );
    expect(message).not.toContain('PRIVATE KEY');
  });

  it('refuses a client CA file without a certificate', () => {
    expect(refusal({ ...TLS, GRPC_CLIENT_TLS_CACERT: server.keyFile }).message).toMatch(
      /^GRPC_CLIENT_TLS_CACERT \('.*'\): expected PEM CA certificates/,
    );
  });

  it('refuses certificate and key in different directories, as the reference does', () => {
    expect(refusal({ ...TLS, GRPC_SERVER_TLS_KEY: '/elsewhere/tls.key' }).message).toMatch(
      /^GRPC_SERVER_TLS_CERT and GRPC_SERVER_TLS_KEY must be in the same directory/,
    );
  });

  it('refuses GRPC_CLIENT_TLS_SAN without GRPC_CLIENT_TLS_CACERT: nothing would check it', () => {
    expect(refusal({ ...TLS, GRPC_CLIENT_TLS_SAN: 'envoy' }).message).toMatch(
      /^GRPC_CLIENT_TLS_SAN is set without GRPC_CLIENT_TLS_CACERT/,
    );
  });

  it.each(['GRPC_SERVER_USE_TLS', 'CONFIG_GRPC_XDS_SERVER_USE_TLS'])(
    'rejects a %s value that is neither true nor false',
    (name) => {
      expect(refusal({ [name]: 'yes' }).message).toBe(`${name}: expected true or false, got 'yes'`);
    },
  );

  it('only warns about TLS settings without their switch: the reference reads them only with it on', () => {
    const { warnings } = loadSettings({
      GRPC_SERVER_USE_TLS: 'false',
      GRPC_SERVER_TLS_CERT: '/tls/cert.pem',
      GRPC_SERVER_TLS_KEY: '/tls/key.pem',
      GRPC_CLIENT_TLS_CACERT: '/tls/ca.pem',
      GRPC_CLIENT_TLS_SAN: 'envoy.internal',
      CONFIG_GRPC_XDS_SERVER_TLS_CACERT: '/x/ca.pem',
    });
    const ignored = (name: string) =>
      `${name} is set but ignored: it is read only with GRPC_SERVER_USE_TLS=true (as in the reference)`;
    expect(warnings).toEqual([
      'CONFIG_GRPC_XDS_SERVER_TLS_CACERT is set but ignored: it is read only with CONFIG_TYPE=GRPC_XDS_SOTW',
      ignored('GRPC_CLIENT_TLS_CACERT'),
      ignored('GRPC_CLIENT_TLS_SAN'),
      ignored('GRPC_SERVER_TLS_CERT'),
      ignored('GRPC_SERVER_TLS_KEY'),
    ]);
  });

  it("warns that Envoy Gateway's GRPC_SERVER_TLS_CA_CERT is not read: only GRPC_CLIENT_TLS_CACERT asks for client certificates", () => {
    const { settings, warnings } = loadSettings({ ...TLS, GRPC_SERVER_TLS_CA_CERT: ca.certFile });
    expect(settings.grpcTls?.clientCa).toBeUndefined();
    expect(warnings).toEqual([
      'GRPC_SERVER_TLS_CA_CERT is set but ignored: the reference does not read it either; client certificates are required and verified only with GRPC_CLIENT_TLS_CACERT',
    ]);
  });

  it('does not refuse CONFIG_GRPC_XDS_SERVER_USE_TLS=true: xDS client TLS is implemented (docs/xds.md)', () => {
    const { settings } = loadSettings({
      CONFIG_TYPE: 'GRPC_XDS_SOTW',
      CONFIG_GRPC_XDS_SERVER_USE_TLS: 'true',
      CONFIG_GRPC_XDS_SERVER_TLS_SAN: 'xds.internal',
    });
    expect(settings.xds?.tls).toMatchObject({ serverName: 'xds.internal', caCert: undefined });
  });
});

describe('hasSan (GRPC_CLIENT_TLS_SAN matching, as Go VerifyHostname)', () => {
  it.each([
    ['DNS:envoy.internal', 'envoy.internal', true],
    ['DNS:a.b, DNS:Envoy.Internal', 'envoy.internal', true],
    ['DNS:*.internal', 'envoy.internal', true],
    ['DNS:*.internal', 'a.envoy.internal', false],
    ['DNS:*.internal', 'internal', false],
    ['DNS:envoy.internal.evil', 'envoy.internal', false],
    ['IP Address:10.0.0.1', '10.0.0.1', true],
    ['DNS:10.0.0.2', '10.0.0.1', false],
    [undefined, 'envoy.internal', false],
  ])('%j names %j: %j', (altNames, wanted, expected) => {
    expect(hasSan(altNames, wanted)).toBe(expected);
  });
});
