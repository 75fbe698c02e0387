import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../../src/config/settings/settings.js';
import { SettingError } from '../../../src/core/errors.js';

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

describe('loadSettings: transport security it cannot provide stops the start', () => {
  it.each([
    ['GRPC_SERVER_USE_TLS', 'true'],
    ['GRPC_SERVER_USE_TLS', 'TRUE'],
    ['GRPC_SERVER_USE_TLS', '1'],
  ])('refuses %s=%s, naming it and saying TLS is not implemented', (name, value) => {
    const { message } = refusal({ [name]: value });
    expect(message).toContain(`${name}=${value}`);
    expect(message).toContain('TLS is not implemented yet');
    expect(message).toContain(`unset ${name}`);
    expect(message).not.toContain('\n');
  });

  it('says what to do instead of gRPC server TLS: terminate it in front of the service', () => {
    expect(refusal({ GRPC_SERVER_USE_TLS: 'true' }).message).toMatch(/terminate TLS in a sidecar/);
  });

  it('names the certificate and client-CA settings that came with the refused switch (mTLS)', () => {
    const { message } = refusal({
      GRPC_SERVER_USE_TLS: 'true',
      GRPC_SERVER_TLS_CERT: '/tls/cert.pem',
      GRPC_SERVER_TLS_KEY: '/tls/key.pem',
      GRPC_CLIENT_TLS_CACERT: '/tls/ca.pem',
      GRPC_CLIENT_TLS_SAN: 'envoy.internal',
    });
    expect(message).toMatch(/^GRPC_SERVER_USE_TLS=true \(with GRPC_CLIENT_TLS_CACERT, GRPC_CLIENT_TLS_SAN, /);
    expect(message).toContain('GRPC_SERVER_TLS_CERT, GRPC_SERVER_TLS_KEY)');
    expect(message).toContain('mutual TLS');
    // names only: file paths and SANs stay out of the error
    expect(message).not.toContain('/tls/');
    expect(message).not.toContain('envoy.internal');
  });

  it('does not refuse CONFIG_GRPC_XDS_SERVER_USE_TLS=true: xDS client TLS is implemented (docs/xds.md)', () => {
    const { settings } = loadSettings({
      CONFIG_TYPE: 'GRPC_XDS_SOTW',
      CONFIG_GRPC_XDS_SERVER_USE_TLS: 'true',
      CONFIG_GRPC_XDS_SERVER_TLS_SAN: 'xds.internal',
    });
    expect(settings.xds?.tls).toMatchObject({ serverName: 'xds.internal', caCert: undefined });
    // with file config the xDS switch asks for nothing: warned as ignored, not refused
    const { warnings } = loadSettings({ CONFIG_GRPC_XDS_SERVER_USE_TLS: 'true' });
    expect(warnings).toEqual([
      'CONFIG_GRPC_XDS_SERVER_USE_TLS is set but ignored: it is read only with CONFIG_TYPE=GRPC_XDS_SOTW',
    ]);
  });

  it('refuses before any other setting is judged, so a bad port does not hide it', () => {
    expect(refusal({ GRPC_SERVER_USE_TLS: 'true', GRPC_PORT: 'eighty' }).message).toContain(
      'GRPC_SERVER_USE_TLS=true',
    );
  });

  it.each(['GRPC_SERVER_USE_TLS', 'CONFIG_GRPC_XDS_SERVER_USE_TLS'])(
    'rejects a %s value that is neither true nor false',
    (name) => {
      expect(refusal({ [name]: 'yes' }).message).toBe(`${name}: expected true or false, got 'yes'`);
    },
  );

  it.each(['false', 'False', '0', ''])('starts silently with GRPC_SERVER_USE_TLS=%j', (value) => {
    const { warnings } = loadSettings({ GRPC_SERVER_USE_TLS: value, CONFIG_GRPC_XDS_SERVER_USE_TLS: value });
    expect(warnings).toEqual([]);
  });

  it('only warns about certificate settings without their switch: the reference reads them only with it on', () => {
    const { warnings } = loadSettings({
      GRPC_SERVER_USE_TLS: 'false',
      GRPC_SERVER_TLS_CERT: '/tls/cert.pem',
      GRPC_SERVER_TLS_KEY: '/tls/key.pem',
      GRPC_CLIENT_TLS_CACERT: '/tls/ca.pem',
      GRPC_CLIENT_TLS_SAN: 'envoy.internal',
      CONFIG_GRPC_XDS_SERVER_TLS_CACERT: '/x/ca.pem',
    });
    const ignored = (name: string, by: string) =>
      `${name} is set but ignored: it is read only with ${by}=true (as in the reference), which this version refuses: TLS is not implemented yet`;
    expect(warnings).toEqual([
      'CONFIG_GRPC_XDS_SERVER_TLS_CACERT is set but ignored: it is read only with CONFIG_TYPE=GRPC_XDS_SOTW',
      ignored('GRPC_CLIENT_TLS_CACERT', 'GRPC_SERVER_USE_TLS'),
      ignored('GRPC_CLIENT_TLS_SAN', 'GRPC_SERVER_USE_TLS'),
      ignored('GRPC_SERVER_TLS_CERT', 'GRPC_SERVER_USE_TLS'),
      ignored('GRPC_SERVER_TLS_KEY', 'GRPC_SERVER_USE_TLS'),
    ]);
  });
});
