import { readFileSync } from 'node:fs';
import { SettingError } from '../../core/errors.js';
import { parseBool, parseChoice, parseDurationMs, parseIntIn } from './settings-parsers.js';
import type { ReadTextFile } from './signal-settings.js';

type Env = Readonly<Record<string, string | undefined>>;

/** CONFIG_TYPE: files (default) or the config pushed by an xDS management server. */
export type ConfigType = 'FILE' | 'GRPC_XDS_SOTW';

/** Client TLS to the management server (CONFIG_GRPC_XDS_SERVER_USE_TLS=true): PEM contents, not paths. */
export interface XdsTls {
  /** CONFIG_GRPC_XDS_SERVER_TLS_CACERT; undefined: the system's roots. */
  readonly caCert: Buffer | undefined;
  /** CONFIG_GRPC_XDS_CLIENT_TLS_CERT and _KEY: a client certificate (mutual TLS), both or neither. */
  readonly clientCert: Buffer | undefined;
  readonly clientKey: Buffer | undefined;
  /** CONFIG_GRPC_XDS_SERVER_TLS_SAN: the name the server's certificate must carry, instead of the URL's host. */
  readonly serverName: string | undefined;
}

/** Reconnect backoff after a stream breaks (the reference's XDS_CLIENT_BACKOFF_*). */
export interface XdsBackoff {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Growth per attempt; below 1 (the reference's default 0.5) the delay stays at `initialMs`. */
  readonly factor: number;
  /** Each delay is drawn between `initialMs` and the computed one. */
  readonly jitter: boolean;
}

/** Everything the xDS config client is configured with (envoyproxy/ratelimit's names and defaults). */
export interface XdsSettings {
  /** CONFIG_GRPC_XDS_SERVER_URL, host:port. */
  readonly serverUrl: string;
  /** CONFIG_GRPC_XDS_NODE_ID. */
  readonly nodeId: string;
  /** CONFIG_GRPC_XDS_NODE_METADATA, `k1=v1,k2=v2`: string fields of the node's metadata. */
  readonly nodeMetadata: Readonly<Record<string, string>>;
  /** CONFIG_GRPC_XDS_CLIENT_ADDITIONAL_HEADERS, `k1:v1,k2:v2`: gRPC metadata on the stream. */
  readonly additionalHeaders: Readonly<Record<string, string>>;
  /** CONFIG_GRPC_XDS_SERVER_CONNECT_RETRY_INTERVAL: while the server cannot be reached, a new attempt this often, ms. */
  readonly connectRetryIntervalMs: number;
  readonly backoff: XdsBackoff;
  /** XDS_CLIENT_MAX_MSG_SIZE_IN_BYTES; undefined: gRPC's default (4 MiB). */
  readonly maxReceiveMessageBytes: number | undefined;
  /** undefined: plaintext (CONFIG_GRPC_XDS_SERVER_USE_TLS unset or false). */
  readonly tls: XdsTls | undefined;
}

const readFile: ReadTextFile = (path) => readFileSync(path, 'utf8');

/** CONFIG_TYPE, case-insensitive as the reference's comparison is not: FILE or GRPC_XDS_SOTW. */
export function loadConfigType(env: Env): ConfigType {
  const raw = env.CONFIG_TYPE;
  if (raw === undefined || raw === '') return 'FILE';
  return parseChoice('CONFIG_TYPE', raw, ['file', 'grpc_xds_sotw'] as const).toUpperCase() as ConfigType;
}

/**
 * The xDS client settings. @throws SettingError on a malformed value, or when TLS is asked
 * for with files that cannot be read or a certificate without its key: never a silent
 * fall-back to plaintext or to no client certificate.
 */
export function loadXdsSettings(env: Env, read: ReadTextFile = readFile): XdsSettings {
  const str = (name: string, fallback: string): string => {
    const raw = env[name];
    return raw === undefined || raw === '' ? fallback : raw;
  };
  const duration = (name: string, fallback: number): number => {
    const raw = env[name];
    return raw === undefined || raw === '' ? fallback : parseDurationMs(name, raw);
  };
  const initialMs = duration('XDS_CLIENT_BACKOFF_INITIAL_INTERVAL', 10_000);
  const maxMs = duration('XDS_CLIENT_BACKOFF_MAX_INTERVAL', 60_000);
  if (maxMs < initialMs) {
    throw new SettingError(
      `XDS_CLIENT_BACKOFF_MAX_INTERVAL (${maxMs} ms) must not be below XDS_CLIENT_BACKOFF_INITIAL_INTERVAL (${initialMs} ms)`,
    );
  }
  const factorRaw = env.XDS_CLIENT_BACKOFF_RANDOM_FACTOR;
  const factor = factorRaw === undefined || factorRaw === '' ? 0.5 : parseFactor(factorRaw);
  const jitterRaw = env.XDS_CLIENT_BACKOFF_JITTER;
  const maxMsgRaw = env.XDS_CLIENT_MAX_MSG_SIZE_IN_BYTES;
  return {
    serverUrl: str('CONFIG_GRPC_XDS_SERVER_URL', 'localhost:18000'),
    nodeId: str('CONFIG_GRPC_XDS_NODE_ID', 'default'),
    nodeMetadata: parsePairs('CONFIG_GRPC_XDS_NODE_METADATA', env.CONFIG_GRPC_XDS_NODE_METADATA, '='),
    additionalHeaders: parsePairs(
      'CONFIG_GRPC_XDS_CLIENT_ADDITIONAL_HEADERS',
      env.CONFIG_GRPC_XDS_CLIENT_ADDITIONAL_HEADERS,
      ':',
    ),
    connectRetryIntervalMs: Math.max(1, duration('CONFIG_GRPC_XDS_SERVER_CONNECT_RETRY_INTERVAL', 3_000)),
    backoff: {
      initialMs: Math.max(1, initialMs),
      maxMs: Math.max(1, maxMs),
      factor,
      jitter:
        jitterRaw === undefined || jitterRaw === ''
          ? true
          : parseBool('XDS_CLIENT_BACKOFF_JITTER', jitterRaw),
    },
    maxReceiveMessageBytes:
      maxMsgRaw === undefined || maxMsgRaw === '' || maxMsgRaw === '0'
        ? undefined
        : parseIntIn('XDS_CLIENT_MAX_MSG_SIZE_IN_BYTES', maxMsgRaw, 1, 2_147_483_647),
    tls: loadTls(env, read),
  };

  function parseFactor(raw: string): number {
    const value = Number(raw.trim());
    if (raw.trim() === '' || !Number.isFinite(value) || value <= 0 || value > 100) {
      throw new SettingError('XDS_CLIENT_BACKOFF_RANDOM_FACTOR', raw, 'a number above 0, at most 100');
    }
    return value;
  }
}

function loadTls(env: Env, read: ReadTextFile): XdsTls | undefined {
  const raw = env.CONFIG_GRPC_XDS_SERVER_USE_TLS;
  if (raw === undefined || raw === '' || !parseBool('CONFIG_GRPC_XDS_SERVER_USE_TLS', raw)) return undefined;
  const file = (name: string): Buffer | undefined => {
    const path = env[name];
    if (path === undefined || path === '') return undefined;
    try {
      return Buffer.from(read(path));
    } catch (err) {
      const reason =
        (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
      throw new SettingError(
        `${name}: cannot read '${path}' (${reason}); CONFIG_GRPC_XDS_SERVER_USE_TLS=true needs it, and the service will not connect without it`,
      );
    }
  };
  const clientCert = file('CONFIG_GRPC_XDS_CLIENT_TLS_CERT');
  const clientKey = file('CONFIG_GRPC_XDS_CLIENT_TLS_KEY');
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    const missing =
      clientCert === undefined ? 'CONFIG_GRPC_XDS_CLIENT_TLS_CERT' : 'CONFIG_GRPC_XDS_CLIENT_TLS_KEY';
    throw new SettingError(
      `${missing} is not set: a client certificate for the xDS server needs both CONFIG_GRPC_XDS_CLIENT_TLS_CERT and CONFIG_GRPC_XDS_CLIENT_TLS_KEY`,
    );
  }
  const san = env.CONFIG_GRPC_XDS_SERVER_TLS_SAN;
  return {
    caCert: file('CONFIG_GRPC_XDS_SERVER_TLS_CACERT'),
    clientCert,
    clientKey,
    serverName: san === undefined || san === '' ? undefined : san,
  };
}

/**
 * `k1<sep>v1,k2<sep>v2` into a record (the value may hold the separator). Empty entries are
 * skipped; an entry without the separator or with an empty key is refused (the reference
 * drops a malformed metadata entry silently).
 */
function parsePairs(name: string, raw: string | undefined, separator: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined || raw.trim() === '') return out;
  for (const entry of raw.split(',')) {
    if (entry.trim() === '') continue;
    const at = entry.indexOf(separator);
    // the value is not quoted: headers may carry credentials
    if (at <= 0)
      throw new SettingError(
        `${name}: expected entries of the form key${separator}value, separated by commas`,
      );
    out[entry.slice(0, at).trim()] = entry.slice(at + 1).trim();
  }
  return out;
}
