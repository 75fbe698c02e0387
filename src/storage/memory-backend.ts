import { createMemoryAdaptiveState } from '../adaptive/memory-adaptive-state.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../log/logger.js';
import type { Backend, ReadyListener } from './backend.js';
import { MemoryCounterStore } from './memory-store.js';

export interface MemoryBackendOptions {
  /** STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT. */
  readonly stopIncrementWhenOverLimit: boolean;
  /** Lets the store sweep expired windows on a timer even when no traffic arrives. */
  readonly clock: Clock;
  readonly logger: Logger;
  readonly setReady: ReadyListener;
}

/** BACKEND_TYPE=memory: counters in this process, ready at start. */
export function createMemoryBackend(options: MemoryBackendOptions): Backend {
  const { logger, setReady } = options;
  const store = new MemoryCounterStore({
    stopIncrementWhenOverLimit: options.stopIncrementWhenOverLimit,
    clock: options.clock,
  });
  return {
    store,
    remote: false,
    async start() {
      logger.warn(
        'backend memory: limits are counted per instance, NOT shared across replicas; set REDIS_URL (or BACKEND_TYPE=redis) for global limits',
      );
      setReady(store.isReady());
    },
    stop: async () => {},
    status: () => ({ kind: 'memory', warm: true, connected: true }),
    onUp: () => {},
    adaptiveState: () => createMemoryAdaptiveState({ clock: options.clock }),
  };
}
