/**
 * Builds the ioredis client for one Redis endpoint (single, Sentinel or
 * Cluster) from REDIS_* settings, and connects it the way the reference does
 * at startup: retried with jittered exponential backoff until Redis answers.
 *
 * Client choices, and why:
 * - `enableAutoPipelining` on Cluster only: the store already coalesces one
 *   tick's requests into one script call per (node, slot), so a single Redis
 *   gets one command per tick and ioredis's per-tick Pipeline would only cost
 *   time (measured: docs/performance.md); a
 *   Cluster tick carries one call per slot, which auto-pipelining sends to
 *   each node in one write. This is what REDIS_PIPELINE_WINDOW tunes in the
 *   reference.
 * - `enableOfflineQueue: false`: while disconnected a command fails at once
 *   instead of queueing in memory; what to answer is decided above the store
 *   (FAILURE_MODE), not by waiting.
 * - `maxRetriesPerRequest: 0`: a command in flight when the connection drops
 *   is failed, never resent: a counting script may already have run, and a
 *   resend would charge the hits twice.
 * - `commandTimeout` = REDIS_TIMEOUT. The reference's default (10 s) is far
 *   above Envoy's 20 ms rate limit timeout; we keep the default for drop-in
 *   manifests, but operators should set it under Envoy's timeout. The connect
 *   timeout is REDIS_TIMEOUT too, but at least 1 s.
 */
import { readFile } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import {
  describeRedisEndpoint,
  type RedisEndpoint,
  type RedisSettings,
  redactUrl,
} from '../../config/settings/redis-settings.js';
import { RedisConnectError } from '../../core/errors.js';
import type { Logger } from '../../log/logger.js';

export type RedisClient = Redis | Cluster;

/** ready: connected and usable; lost: the connection dropped, reconnecting; ended: no more reconnects. */
export type RedisConnectionState = 'ready' | 'lost' | 'ended';

export interface RedisConnection {
  readonly client: RedisClient;
  /** Log-safe: type and addresses, never credentials. */
  readonly description: string;
  /**
   * Connects (once; later calls return the same promise). Resolves when the
   * client is ready; rejects with RedisConnectError when the credentials are
   * refused or the startup backoff gives up. Reconnects after that are automatic.
   */
  connect(): Promise<void>;
  /** Called on every change: each `ready`, each loss of a ready connection, and the final `end`. */
  onStateChange(listener: (state: RedisConnectionState) => void): void;
  /** QUIT (or disconnect if not connected); stops reconnecting. */
  close(): Promise<void>;
}

/** Bound on one question to a sentinel (get-master-addr-by-name), ms. */
const SENTINEL_COMMAND_TIMEOUT_MS = 1_000;
/**
 * Reconnect backoff after the first successful connect: 50 ms ×1.5 per
 * attempt, capped at 400 ms (each delay drawn from 0.5–1.5× that), so a
 * Redis that comes back is found within about 0.6 s; a refused connect
 * costs Redis next to nothing, even from a large fleet.
 */
const RECONNECT_INITIAL_MS = 50;
const RECONNECT_MAX_MS = 400;
const MIN_CONNECT_TIMEOUT_MS = 1_000;

/**
 * cenkalti/backoff's ExponentialBackOff as the reference uses it: the
 * interval grows ×1.5 per attempt up to `maxMs`, and each delay is drawn
 * from [0.5, 1.5) × interval so that many instances do not retry in step.
 */
export function backoffDelayMs(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const interval = Math.min(maxMs, initialMs * 1.5 ** Math.max(0, attempt - 1));
  return Math.max(1, Math.round(interval * (0.5 + random())));
}

/** Errors that retrying cannot fix: the server refused our credentials. */
function isAuthError(error: unknown): boolean {
  const messages = [errorMessage(error), errorMessage((error as { lastNodeError?: unknown })?.lastNodeError)];
  return messages.some((m) =>
    /WRONGPASS|NOAUTH|invalid password|AUTH failed|invalid username-password/i.test(m),
  );
}

/** Only the message: ioredis attaches the failed command (AUTH args = the password) to reply errors. */
function errorMessage(error: unknown): string {
  return error instanceof Error ? redactUrl(error.message) : '';
}

/**
 * Creates a lazily connecting client for `endpoint` (default: the main one).
 * TLS files are read here, once. Nothing connects before `connect()`.
 */
export async function createRedisClient(
  settings: RedisSettings,
  logger: Logger,
  endpoint: RedisEndpoint = settings.main,
): Promise<RedisConnection> {
  const description = describeRedisEndpoint(endpoint);
  const log = logger.child({ redis: endpoint.prefix === 'REDIS_' ? 'main' : 'per-second' });
  let startedAt = performance.now();
  let everReady = false;
  let fatal: RedisConnectError | undefined;
  const retry = (attempt: number): number | null => {
    if (fatal !== undefined) return null;
    if (everReady) return backoffDelayMs(attempt, RECONNECT_INITIAL_MS, RECONNECT_MAX_MS);
    const { initialIntervalMs, maxIntervalMs, maxElapsedMs } = settings.startup;
    const delay = backoffDelayMs(attempt, initialIntervalMs, maxIntervalMs);
    if (maxElapsedMs > 0 && performance.now() - startedAt + delay > maxElapsedMs) return null;
    return delay;
  };
  const tls = await tlsOptions(endpoint, settings);
  const client = buildClient(endpoint, tls, retry);

  const listeners: ((state: RedisConnectionState) => void)[] = [];
  const notify = (state: RedisConnectionState) => {
    for (const listener of listeners) listener(state);
  };
  let lastError = '';
  let wasReady = false;
  /** Reconnects after an unexpected 'end', since the last 'ready'. */
  let revivals = 0;
  client.on('ready', () => {
    everReady = true;
    wasReady = true;
    revivals = 0;
    lastError = '';
    log.info({ endpoint: description }, 'redis: ready');
    notify('ready');
  });
  client.on('error', (error: unknown) => {
    const message = errorMessage(error);
    if (fatal === undefined && !everReady && isAuthError(error)) {
      fatal = new RedisConnectError(
        `redis ${description}: the server refused the credentials (${message}); check ${endpoint.prefix}AUTH`,
      );
    }
    if (message !== lastError) log.warn({ endpoint: description, error: message }, 'redis: error');
    lastError = message;
  });
  let closing = false;
  client.on('close', () => {
    if (!wasReady) return;
    wasReady = false;
    if (!closing) log.warn({ endpoint: description }, 'redis: connection lost, reconnecting');
    notify('lost');
  });
  client.on('end', () => {
    wasReady = false;
    notify('ended');
    if (closing) {
      log.info({ endpoint: description }, 'redis: closed');
    } else if (everReady && fatal === undefined) {
      // ioredis can end a client without asking the retry strategy (seen with Sentinel: a
      // +switch-master arriving while a reconnect is asking for the master closes the connector
      // under it); a client that once worked must not stay dead until the pod restarts.
      const delay = backoffDelayMs(revivals++, RECONNECT_INITIAL_MS, RECONNECT_MAX_MS);
      log.warn(
        { endpoint: description, delayMs: Math.round(delay) },
        'redis: connection ended, reconnecting',
      );
      setTimeout(() => {
        if (!closing && client.status === 'end') client.connect().catch(() => {});
      }, delay).unref();
    } else {
      log.warn({ endpoint: description }, 'redis: connection ended, not reconnecting');
    }
  });

  let connecting: Promise<void> | undefined;
  const connect = () => {
    connecting ??= new Promise<void>((resolve, reject) => {
      const onReady = () => {
        client.off('end', onEnd);
        client.off('error', onError);
        resolve();
      };
      const onEnd = () => {
        client.off('ready', onReady);
        client.off('error', onError);
        reject(
          fatal ??
            new RedisConnectError(
              `redis ${description}: not reachable within REDIS_STARTUP_MAX_ELAPSED_TIME`,
            ),
        );
      };
      const onError = () => {
        if (fatal !== undefined) client.disconnect();
      };
      client.once('ready', onReady);
      client.once('end', onEnd);
      client.on('error', onError);
      log.info({ endpoint: description }, 'redis: connecting');
      startedAt = performance.now();
      // A failed first attempt is retried by the retry strategies; 'ready' or 'end' settles this promise.
      client.connect().catch(() => {});
    });
    return connecting;
  };
  return {
    client,
    description,
    connect,
    onStateChange: (listener) => listeners.push(listener),
    async close() {
      closing = true;
      fatal ??= new RedisConnectError(`redis ${description}: closed`);
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
      else client.disconnect();
    },
  };
}

function buildClient(
  endpoint: RedisEndpoint,
  tls: ConnectionOptions | undefined,
  retry: (attempt: number) => number | null,
): RedisClient {
  const common: RedisOptions = {
    username: endpoint.auth.username,
    password: endpoint.auth.password,
    tls,
    // At least 1 s: no request waits on a connect (no offline queue), and a TLS handshake
    // to a remote Redis can take longer than a command budget such as 15 ms.
    connectTimeout:
      endpoint.timeoutMs === 0 ? undefined : Math.max(endpoint.timeoutMs, MIN_CONNECT_TIMEOUT_MS),
    commandTimeout: endpoint.timeoutMs || undefined,
    maxRetriesPerRequest: 0,
    connectionName: 'ratelimit',
  };
  if (endpoint.type === 'cluster') {
    const options: ClusterOptions = {
      redisOptions: common,
      scaleReads: 'master',
      enableAutoPipelining: true,
      enableOfflineQueue: false,
      lazyConnect: true,
      clusterRetryStrategy: retry,
      // Redirections during a failover are retried within one command; nothing else is.
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
    };
    return new Cluster(
      endpoint.nodes.map((node) => ('path' in node ? { host: node.path } : node)),
      options,
    );
  }
  const base: RedisOptions = {
    ...common,
    db: endpoint.db,
    enableAutoPipelining: false,
    enableOfflineQueue: false,
    lazyConnect: true,
    retryStrategy: retry,
  };
  if (endpoint.type === 'sentinel') {
    return new Redis({
      ...base,
      sentinels: endpoint.nodes.map((node) => ('path' in node ? { host: node.path } : node)),
      name: endpoint.masterName,
      sentinelUsername: endpoint.sentinelAuth.username,
      sentinelPassword: endpoint.sentinelAuth.password,
      sentinelRetryStrategy: retry,
      // subscribe to +switch-master: reconnect to the new master at once, not when the old one is demoted (~10 s later)
      failoverDetector: true,
      // a hung sentinel must not block finding the master (ioredis waits for ever by default)
      sentinelCommandTimeout: SENTINEL_COMMAND_TIMEOUT_MS,
      // REDIS_TLS covers the sentinels too, as in the reference
      enableTLSForSentinelMode: tls !== undefined,
      sentinelTLS: tls,
    });
  }
  const node = endpoint.nodes[0];
  return new Redis(
    node !== undefined && 'path' in node ? { ...base, path: node.path } : { ...base, ...node },
  );
}

/** REDIS_TLS options: client cert/key and CA from files (shared by both endpoints). */
async function tlsOptions(
  endpoint: RedisEndpoint,
  settings: RedisSettings,
): Promise<ConnectionOptions | undefined> {
  if (!endpoint.tls) return undefined;
  const { clientCert, clientKey, caCert, skipHostnameVerification } = settings.tlsFiles;
  const read = async (name: string, path: string | undefined) => {
    if (path === undefined) return undefined;
    try {
      return await readFile(path);
    } catch (error) {
      throw new RedisConnectError(`${name}: cannot read ${path} (${errorMessage(error)})`);
    }
  };
  const [cert, key, ca] = await Promise.all([
    read('REDIS_TLS_CLIENT_CERT', clientCert),
    read('REDIS_TLS_CLIENT_KEY', clientKey),
    read('REDIS_TLS_CACERT', caCert),
  ]);
  return {
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    ...(ca === undefined ? {} : { ca }),
    // the chain is still verified; only the name check is skipped
    ...(skipHostnameVerification ? { checkServerIdentity: () => undefined } : {}),
  };
}
