import { readFileSync } from 'node:fs';
import { SettingError } from '../../core/errors.js';
import { parseDurationMs, parseIntIn } from './settings-parsers.js';

/**
 * Listener and connection bounds of the three ports (docs/limits.md).
 * Each is a setting; the per-port connection caps default to shares of the
 * process's open-file limit, so an idle-connection flood can never use up the
 * descriptors the service needs to answer.
 */
export interface ConnectionSettings {
  /** The process's open-file limit read at startup (after Node raised the soft limit to the hard one); undefined where unknown. */
  readonly openFileLimit: number | undefined;
  /** GRPC_MAX_CONNECTIONS: open connections on the gRPC port (per process); default from the open-file limit. */
  readonly grpcMaxConnections: number;
  /** HTTP_MAX_CONNECTIONS: open connections on the HTTP port (per process). */
  readonly httpMaxConnections: number;
  /** DEBUG_MAX_CONNECTIONS: open connections on the debug port (per process). */
  readonly debugMaxConnections: number;
  /**
   * CONNECTION_HANDSHAKE_TIMEOUT, ms (default 10 000; 0 = none): a gRPC
   * connection must have sent the HTTP/2 client preface and its SETTINGS, an
   * HTTP/1 connection a complete request head, within this time or it is closed.
   */
  readonly handshakeTimeoutMs: number;
  /**
   * CONNECTION_EVICTION_MIN_IDLE, ms (default 1 000): at the limit, a newcomer
   * may displace a connection that has completed calls only when it has had
   * none in flight for this long. Connections that never made a call may be
   * displaced at any age (oldest first).
   */
  readonly evictionMinIdleMs: number;
  /**
   * GRPC_MAX_CONNECTION_IDLE, ms (default 1 h; 0 = never): a gRPC connection
   * with no call for this long gets GOAWAY (grpc.max_connection_idle_ms, as
   * grpc-go's MaxConnectionIdle); the client reconnects on its next call.
   */
  readonly grpcMaxConnectionIdleMs: number;
  /** GRPC_MAX_CONCURRENT_STREAMS (default 1 000): SETTINGS_MAX_CONCURRENT_STREAMS advertised per gRPC connection. */
  readonly grpcMaxConcurrentStreams: number;
  /** HTTP_IDLE_TIMEOUT, ms (default 65 000): an HTTP/1 keep-alive connection with no request for this long is closed. */
  readonly httpIdleTimeoutMs: number;
  /** HTTP_MAX_HEADER_SIZE, bytes (default 16 384): the largest HTTP/1 request head; larger gets 431. */
  readonly httpMaxHeaderBytes: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Descriptors kept out of the per-port shares: stdio, libuv's internals, the
 * config watchers, Redis connections (the pool and Sentinel/Cluster links),
 * DNS and the three listening sockets themselves.
 */
export const RESERVED_FILES = 128;
/** What the defaults assume when the limit cannot be read (the usual Linux soft limit). */
export const ASSUMED_OPEN_FILE_LIMIT = 1024;
const DEBUG_DEFAULT = 16;
/** Above these the defaults stop growing with the limit: each idle HTTP/2 session also costs memory. */
const GRPC_DEFAULT_CAP = 16_384;
const HTTP_DEFAULT_CAP = 4_096;

/**
 * Per-port defaults from an open-file limit: after RESERVED_FILES, debug gets
 * 16, HTTP a quarter, gRPC the rest (656 / 224 / 16 under 1024).
 */
export function defaultMaxConnections(openFileLimit: number | undefined): {
  grpc: number;
  http: number;
  debug: number;
} {
  const available = Math.max(64, (openFileLimit ?? ASSUMED_OPEN_FILE_LIMIT) - RESERVED_FILES);
  const debug = Math.min(DEBUG_DEFAULT, Math.floor(available / 8));
  const http = Math.min(HTTP_DEFAULT_CAP, Math.floor(available / 4));
  const grpc = Math.min(GRPC_DEFAULT_CAP, available - http - debug);
  return { grpc, http, debug };
}

const MAX_CONNECTIONS = 1_000_000;
const MAX_TIMEOUT_MS = 86_400_000;

/** Reads the connection settings; throws SettingError naming the variable on a bad value. */
export function loadConnectionSettings(
  env: Env,
  openFileLimit: number | undefined = readOpenFileLimit(),
): ConnectionSettings {
  const read = <T>(name: string, fallback: T, parse: (name: string, raw: string) => T): T => {
    const raw = env[name];
    return raw === undefined || raw === '' ? fallback : parse(name, raw);
  };
  const count = (name: string, fallback: number, min = 1, max = MAX_CONNECTIONS) =>
    read(name, fallback, (n, r) => parseIntIn(n, r, min, max));
  const duration = (name: string, fallback: number) =>
    read(name, fallback, (n, r) => durationUpTo(n, r, MAX_TIMEOUT_MS));
  const defaults = defaultMaxConnections(openFileLimit);
  return {
    openFileLimit,
    grpcMaxConnections: count('GRPC_MAX_CONNECTIONS', defaults.grpc),
    httpMaxConnections: count('HTTP_MAX_CONNECTIONS', defaults.http),
    debugMaxConnections: count('DEBUG_MAX_CONNECTIONS', defaults.debug),
    handshakeTimeoutMs: duration('CONNECTION_HANDSHAKE_TIMEOUT', 10_000),
    evictionMinIdleMs: duration('CONNECTION_EVICTION_MIN_IDLE', 1_000),
    grpcMaxConnectionIdleMs: duration('GRPC_MAX_CONNECTION_IDLE', 3_600_000),
    grpcMaxConcurrentStreams: count('GRPC_MAX_CONCURRENT_STREAMS', 1_000, 1, 2 ** 31 - 1),
    // above nginx's and most load balancers' 60 s upstream keep-alive: the client, not
    // us, should close an idle connection, or a request sent as we close it is lost
    httpIdleTimeoutMs: duration('HTTP_IDLE_TIMEOUT', 65_000),
    httpMaxHeaderBytes: count('HTTP_MAX_HEADER_SIZE', 16_384, 1_024, 1_048_576),
  };
}

function durationUpTo(name: string, raw: string, maxMs: number): number {
  const ms = parseDurationMs(name, raw);
  if (ms > maxMs) throw new SettingError(name, raw, `a duration from 0 to ${maxMs / 3_600_000}h`);
  return ms;
}

/**
 * "Max open files" (the soft limit) of /proc/self/limits, read once at
 * startup; undefined off Linux or when unreadable. Node has already raised a
 * lower soft limit to the hard one by then, so this is what the process gets.
 */
export function readOpenFileLimit(path = '/proc/self/limits'): number | undefined {
  try {
    return parseOpenFileLimit(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The soft "Max open files" value of a /proc/PID/limits text; undefined for `unlimited` or when absent. */
export function parseOpenFileLimit(text: string): number | undefined {
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  const value = match?.[1];
  return value === undefined || value === 'unlimited' ? undefined : Number(value);
}
