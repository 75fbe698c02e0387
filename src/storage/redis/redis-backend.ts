import type { AdaptiveStateStore } from '../../adaptive/adaptive-state.js';
import type { RedisSettings } from '../../config/settings/redis-settings.js';
import { BackendUnavailableError } from '../../core/errors.js';
import type { Logger } from '../../log/logger.js';
import type { Backend, ReadyListener } from '../backend.js';
import type { CounterCheck, CounterDecision, CounterStore } from '../counter-store.js';
import { createRedisAdaptiveState } from './redis-adaptive-state.js';
import { createRedisClient, type RedisConnection } from './redis-connection.js';
import { RedisCounterStore } from './redis-store.js';

export interface RedisBackendOptions {
  readonly redis: RedisSettings;
  /** STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT. */
  readonly stopIncrementWhenOverLimit: boolean;
  readonly logger: Logger;
  /**
   * Health, as the reference's (envoyproxy/ratelimit src/server/health.go):
   * ready once every connection was up and warm; a later outage counts only
   * with REDIS_HEALTH_CHECK_ACTIVE_CONNECTION (a restart never fixes Redis).
   */
  readonly setReady: ReadyListener;
  /** Redis can never become ready (credentials refused, REDIS_STARTUP_MAX_ELAPSED_TIME passed); logged at fatal first. */
  readonly onFatal?: ((error: Error) => void) | undefined;
  /** CACHE_KEY_PREFIX, also in front of the adaptive module's keys. */
  readonly keyPrefix: string;
  /** More fields for the "backend redis: connecting" line (the composition root adds how calls are guarded). */
  readonly logFields?: Readonly<Record<string, unknown>>;
}

/**
 * BACKEND_TYPE=redis: the main connection (and REDIS_PERSECOND's), the
 * RedisCounterStore over them, and their state. The store is usable at once
 * but answers not-ready until start() has built it (TLS files and scripts are
 * read asynchronously) and connected; each connection that comes up loads the
 * script (SCRIPT LOAD) before it counts as up.
 */
export function createRedisBackend(options: RedisBackendOptions): Backend {
  const { redis, logger, setReady } = options;
  let redisStore: RedisCounterStore | undefined;
  const store: CounterStore = {
    kind: 'redis',
    apply(checks: readonly CounterCheck[], nowMs: number): Promise<CounterDecision[]> {
      if (redisStore === undefined)
        return Promise.reject(new BackendUnavailableError('redis backend not started'));
      return redisStore.apply(checks, nowMs);
    },
    isReady: () => redisStore?.isReady() ?? false,
    close: async () => redisStore?.close(),
  };

  let stopping = false;
  /** Every connection was up and warm at least once: health waits for this (a warm start). */
  let warm = false;
  const connections: RedisConnection[] = [];
  /** Connections that are ready and have the script loaded. */
  const up = new Set<RedisConnection>();
  const upListeners: (() => void)[] = [];
  const allUp = () => connections.length > 0 && up.size === connections.length;
  const updateHealth = () => setReady(warm && (allUp() || !redis.healthCheckActiveConnection));

  /** A connection reported ready: load the script on it, then count it up. */
  const warmUp = (connection: RedisConnection, store: RedisCounterStore) => {
    store.warmUp(connection.client).then(
      () => markUp(connection),
      (error: Error) => {
        // calls still work (EVALSHA falls back to EVAL); a broken connection shows there
        logger.warn({ error: error.message, redis: connection.description }, 'redis: SCRIPT LOAD failed');
        markUp(connection);
      },
    );
  };
  const markUp = (connection: RedisConnection) => {
    if (stopping || connection.client.status !== 'ready') return;
    up.add(connection);
    if (!allUp()) return;
    if (!warm) logger.info('backend redis: connected and warm');
    warm = true;
    for (const listener of upListeners) listener();
    updateHealth();
  };

  return {
    store,
    remote: true,
    async start() {
      for (const endpoint of redis.perSecond === undefined ? [redis.main] : [redis.main, redis.perSecond]) {
        connections.push(await createRedisClient(redis, logger, endpoint));
      }
      const [main, perSecond] = connections as [RedisConnection, RedisConnection | undefined];
      const created = await RedisCounterStore.create({
        client: main.client,
        perSecondClient: perSecond?.client,
        expirationJitterMaxSeconds: redis.expirationJitterMaxSeconds,
        stopIncrementWhenOverLimit: options.stopIncrementWhenOverLimit,
        clockSource: 'redis',
      });
      redisStore = created;
      for (const connection of connections) {
        connection.onStateChange((state) => {
          if (state === 'ready') return warmUp(connection, created);
          up.delete(connection);
          updateHealth();
        });
        connection.connect().catch((error: Error) => {
          if (stopping) return;
          logger.fatal({ error: error.message }, 'redis backend cannot start');
          options.onFatal?.(error);
        });
      }
      logger.info(
        { redis: connections.map((c) => c.description), ...options.logFields },
        'backend redis: connecting',
      );
    },
    async stop() {
      stopping = true;
      await Promise.all(connections.map((connection) => connection.close()));
    },
    status: () => ({ kind: 'redis', warm, connected: allUp() }),
    onUp(listener) {
      upListeners.push(listener);
    },
    adaptiveState: () => lazyAdaptiveState(() => connections[0]?.client, options.keyPrefix),
  };
}

/**
 * The adaptive state on the main connection, which exists once start() has run; until
 * then every call rejects (the engine counts it and applies the configured limits).
 */
function lazyAdaptiveState(
  client: () => RedisConnection['client'] | undefined,
  prefix: string,
): AdaptiveStateStore {
  let store: AdaptiveStateStore | undefined;
  const ready = (): AdaptiveStateStore => {
    if (store !== undefined) return store;
    const current = client();
    if (current === undefined) throw new BackendUnavailableError('redis backend not started');
    store = createRedisAdaptiveState(current, { prefix });
    return store;
  };
  const call = <T>(f: (s: AdaptiveStateStore) => Promise<T>): Promise<T> => {
    try {
      return f(ready());
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return {
    scope: 'shared',
    addSamples: (adds) => call((s) => s.addSamples(adds)),
    readErrorRate: (id, start) => call((s) => s.readErrorRate(id, start)),
    writeErrorRate: (id, expected, next, ttl) => call((s) => s.writeErrorRate(id, expected, next, ttl)),
    flag: (id, penalty, value, now, options) => call((s) => s.flag(id, penalty, value, now, options)),
    penalties: (id, now, limit) => call((s) => s.penalties(id, now, limit)),
    close: async () => store?.close(),
  };
}
