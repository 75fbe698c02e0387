import type { MetricsSnapshot } from '../metrics/service-metrics.js';

/**
 * The messages a primary and its workers exchange over the node:cluster IPC
 * channel (JSON serialised). Each `type` is prefixed so that messages of
 * other libraries on the same channel (prom-client's own, node's internal
 * ones) are never mistaken for ours.
 */
export type WorkerMessage =
  /** worker → primary: the app is listening on these ports. */
  | { readonly type: 'ratelimit:ready'; readonly ports: WorkerPorts }
  /** worker → primary: a GET /metrics arrived; send the pod's metrics back under `id`. */
  | { readonly type: 'ratelimit:pod-metrics-request'; readonly id: number }
  /** worker → primary: this worker's metrics for collection `id`, or why it has none. */
  | {
      readonly type: 'ratelimit:metrics-snapshot';
      readonly id: number;
      readonly metrics?: MetricsSnapshot;
      readonly error?: string;
    };

export type PrimaryMessage =
  /** primary → worker: stop gracefully (the primary got SIGTERM or SIGINT). */
  | { readonly type: 'ratelimit:shutdown' }
  /** primary → every worker: send your metrics snapshot for collection `id`. */
  | { readonly type: 'ratelimit:metrics-collect'; readonly id: number }
  /** primary → the asking worker: the pod's metrics for its request `id`, or the error. */
  | {
      readonly type: 'ratelimit:pod-metrics';
      readonly id: number;
      readonly contentType?: string;
      readonly body?: string;
      readonly error?: string;
    };

export interface WorkerPorts {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly debugPort: number;
}

const WORKER_TYPES: ReadonlySet<string> = new Set([
  'ratelimit:ready',
  'ratelimit:pod-metrics-request',
  'ratelimit:metrics-snapshot',
]);
const PRIMARY_TYPES: ReadonlySet<string> = new Set([
  'ratelimit:shutdown',
  'ratelimit:metrics-collect',
  'ratelimit:pod-metrics',
]);

function typeOf(message: unknown): string | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const type = (message as { type?: unknown }).type;
  return typeof type === 'string' ? type : undefined;
}

/** True for a message a worker sent with our protocol (the channel also carries other messages). */
export function isWorkerMessage(message: unknown): message is WorkerMessage {
  return WORKER_TYPES.has(typeOf(message) ?? '');
}

export function isPrimaryMessage(message: unknown): message is PrimaryMessage {
  return PRIMARY_TYPES.has(typeOf(message) ?? '');
}
