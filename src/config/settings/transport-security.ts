import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { SettingError } from '../../core/errors.js';
import { parseBool } from './settings-parsers.js';
import type { ReadTextFile } from './signal-settings.js';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * TLS on the gRPC port (GRPC_SERVER_USE_TLS=true), as envoyproxy/ratelimit reads it
 * (settings.go GrpcServerTlsConfig, server_impl.go, provider/cert_provider.go,
 * server/tls.go). PEM contents as read at startup, and the paths, which are watched
 * for a new certificate and key (grpc/tls-credentials.ts).
 */
export interface GrpcServerTls {
  /** GRPC_SERVER_TLS_CERT: the certificate chain file. */
  readonly certFile: string;
  /** GRPC_SERVER_TLS_KEY: the private key file (in the same directory, as the reference requires). */
  readonly keyFile: string;
  readonly cert: string;
  readonly key: string;
  /**
   * GRPC_CLIENT_TLS_CACERT: when set, client certificates are required and must chain
   * to it (mutual TLS); read once, not reloaded (as in the reference).
   */
  readonly clientCa: string | undefined;
  /** GRPC_CLIENT_TLS_SAN: a DNS name the client certificate must carry (needs GRPC_CLIENT_TLS_CACERT). */
  readonly clientSan: string | undefined;
}

/** The settings read only while GRPC_SERVER_USE_TLS is true (as in the reference). */
export const GRPC_SERVER_TLS_COMPANIONS: readonly string[] = [
  'GRPC_SERVER_TLS_CERT',
  'GRPC_SERVER_TLS_KEY',
  'GRPC_CLIENT_TLS_CACERT',
  'GRPC_CLIENT_TLS_SAN',
];

/**
 * Set by Envoy Gateway (to /certs/ca.crt) but read by no version of the reference:
 * only GRPC_CLIENT_TLS_CACERT turns on client certificate verification.
 */
export const UNREAD_CA_SETTING = 'GRPC_SERVER_TLS_CA_CERT';

const SWITCH = 'GRPC_SERVER_USE_TLS';

/**
 * GRPC_SERVER_USE_TLS and the files it needs; undefined when TLS is off. Any file that
 * is missing, unreadable or not valid PEM stops the start with a SettingError naming
 * the variable and the path: serving plaintext instead would be a silent downgrade
 * (DESIGN.md, "Health, defaults and load"). File contents are never quoted.
 */
export function loadGrpcServerTls(
  env: Env,
  read: ReadTextFile = (path) => readFileSync(path, 'utf8'),
): GrpcServerTls | undefined {
  const raw = env[SWITCH];
  if (raw === undefined || raw === '' || !parseBool(SWITCH, raw)) return undefined;
  const path = (name: string, what: string): string => {
    const value = env[name];
    if (value === undefined || value === '') {
      throw new SettingError(`${name} is not set: ${SWITCH}=true needs ${what}`);
    }
    return value;
  };
  const certFile = path('GRPC_SERVER_TLS_CERT', 'the server certificate chain file (PEM)');
  const keyFile = path('GRPC_SERVER_TLS_KEY', 'the server private key file (PEM)');
  if (directoryOf(certFile) !== directoryOf(keyFile)) {
    // the reference watches one directory for both and exits otherwise (cert_provider.go)
    throw new SettingError(
      `GRPC_SERVER_TLS_CERT and GRPC_SERVER_TLS_KEY must be in the same directory ('${certFile}', '${keyFile}'): ` +
        'that directory is watched for a new certificate and key',
    );
  }
  const cert = readFile(read, 'GRPC_SERVER_TLS_CERT', certFile);
  const key = readFile(read, 'GRPC_SERVER_TLS_KEY', keyFile);
  checkPem(
    `GRPC_SERVER_TLS_CERT ('${certFile}') and GRPC_SERVER_TLS_KEY ('${keyFile}')`,
    'a PEM certificate chain and its private key',
    () => createSecureContext({ cert, key }),
  );
  const caFile = env.GRPC_CLIENT_TLS_CACERT;
  const clientCa =
    caFile === undefined || caFile === '' ? undefined : readFile(read, 'GRPC_CLIENT_TLS_CACERT', caFile);
  if (clientCa !== undefined) {
    const what = `GRPC_CLIENT_TLS_CACERT ('${caFile}')`;
    checkPem(what, 'PEM CA certificates', () => createSecureContext({ ca: clientCa }));
    // OpenSSL accepts a file without any certificate: it would then trust nothing
    if (!clientCa.includes('-----BEGIN CERTIFICATE-----')) {
      throw new SettingError(`${what}: expected PEM CA certificates, found none`);
    }
  }
  const san = env.GRPC_CLIENT_TLS_SAN;
  const clientSan = san === undefined || san === '' ? undefined : san;
  if (clientSan !== undefined && clientCa === undefined) {
    // the reference checks the SAN only on verified chains, so without a client CA it checks
    // nothing: refused here rather than accepted and unenforced
    throw new SettingError(
      'GRPC_CLIENT_TLS_SAN is set without GRPC_CLIENT_TLS_CACERT: client certificates are requested ' +
        'and verified only with GRPC_CLIENT_TLS_CACERT, so the SAN could not be checked',
    );
  }
  return { certFile, keyFile, cert, key, clientCa, clientSan };
}

function readFile(read: ReadTextFile, name: string, path: string): string {
  try {
    return read(path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
    throw new SettingError(
      `${name}: cannot read '${path}' (${reason}); ${SWITCH}=true needs it, and the service will not start without it`,
    );
  }
}

/** Runs an OpenSSL parse; its message names the problem, never the contents. */
function checkPem(what: string, expected: string, parse: () => unknown): void {
  try {
    parse();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new SettingError(`${what}: expected ${expected} (${reason})`);
  }
}

function directoryOf(path: string): string {
  const at = path.lastIndexOf('/');
  return at < 0 ? '.' : at === 0 ? '/' : path.slice(0, at);
}
