import type { AdaptiveStateStore } from '../adaptive/adaptive-state.js';
import { createMemoryAdaptiveState } from '../adaptive/memory-adaptive-state.js';
import type { BackendStatus } from '../health/health-detail.js';
import type { CounterStore } from './counter-store.js';

/**
 * What a backend factory builds: a counter store and its lifecycle. The
 * composition root (app.ts) wraps `store` in the decorators the backend needs,
 * closes that chain on shutdown, then calls `stop`.
 */
export interface Backend {
  /** The undecorated store; answers not-ready until `start` has connected it. */
  readonly store: CounterStore;
  /**
   * Calls cross the network, so they can be slow or fail: the composition root
   * times them and guards them (deadline, breaker, FAILURE_MODE, over-limit cache).
   */
  readonly remote: boolean;
  /** Called before the listeners open; Redis connects in the background (health says when it is ready). */
  start(): Promise<void>;
  /** Releases what the backend owns besides the store (Redis: its connections). Call after closing the store. */
  stop(): Promise<void>;
  status(): BackendStatus;
  /**
   * `listener` runs each time the backend is fully up again (Redis: every
   * connection ready and warm), e.g. to let an open breaker probe at once.
   * Backends that cannot go down never call it.
   */
  onUp(listener: () => void): void;
  /**
   * Where the adaptive module keeps what replicas share (factors, interval sums, penalty
   * boxes): Redis for the Redis backend (every replica and worker on it agrees), this
   * process for the others. Usable before `start`; calls fail until the backend is up.
   */
  adaptiveState(): AdaptiveStateStore;
}

/** Reports readiness to health: true once the backend can answer (Redis: see createRedisBackend). */
export type ReadyListener = (ready: boolean) => void;

/** A ready-made store as a backend (tests inject one): ready as the store says, nothing else to start or stop. */
export function createStoreBackend(store: CounterStore, setReady: ReadyListener): Backend {
  return {
    store,
    remote: false,
    start: async () => setReady(store.isReady()),
    stop: async () => {},
    status: () => ({ kind: store.kind, warm: true, connected: store.isReady() }),
    onUp: () => {},
    adaptiveState: () => createMemoryAdaptiveState(),
  };
}
