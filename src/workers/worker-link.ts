import type { MetricsExposition, ServiceMetrics } from '../metrics/service-metrics.js';
import { isPrimaryMessage, type PrimaryMessage, type WorkerMessage, type WorkerPorts } from './messages.js';

/** The worker's end of the IPC channel (`process` in a cluster worker). */
export interface IpcChannel {
  readonly connected?: boolean;
  send?(message: WorkerMessage): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

interface PendingScrape {
  resolve(exposition: MetricsExposition): void;
  reject(error: Error): void;
  readonly timer: NodeJS.Timeout;
}

/**
 * A worker's half of the protocol in messages.ts: tells the primary when it
 * listens, answers its metrics collections, fetches the pod's merged metrics
 * for GET /metrics, and hands on the primary's shutdown request.
 */
export class WorkerLink {
  private local: ServiceMetrics | undefined;
  private shutdownRequested = false;
  private shutdownListener: (() => void) | undefined;
  private nextId = 0;
  private readonly scrapes = new Map<number, PendingScrape>();
  private readonly listener = (message: unknown) => {
    if (isPrimaryMessage(message)) this.handle(message);
  };

  /** `timeoutMs`: how long GET /metrics waits for the primary's answer. */
  constructor(
    private readonly channel: IpcChannel,
    private readonly timeoutMs = 5_000,
  ) {
    channel.on('message', this.listener);
  }

  /**
   * For AppDeps.podMetrics: answers the primary's collections from `local`
   * and returns what GET /metrics serves instead of `local` alone.
   */
  readonly podMetrics = (local: ServiceMetrics): (() => Promise<MetricsExposition>) => {
    this.local = local;
    return () => this.fetchPodMetrics();
  };

  /** The app listens: the primary may now route scrapes' collections here. */
  ready(ports: WorkerPorts): void {
    this.send({ type: 'ratelimit:ready', ports });
  }

  /** Calls `listener` once the primary asks this worker to stop (at once if it already has). */
  onShutdown(listener: () => void): void {
    this.shutdownListener = listener;
    if (this.shutdownRequested) listener();
  }

  /** Stops listening to the channel; scrapes still waiting fail. */
  close(): void {
    this.channel.off('message', this.listener);
    for (const [id, scrape] of this.scrapes) {
      clearTimeout(scrape.timer);
      scrape.reject(new Error('worker is stopping'));
      this.scrapes.delete(id);
    }
  }

  private fetchPodMetrics(): Promise<MetricsExposition> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.scrapes.delete(id);
        reject(new Error(`the primary sent no pod metrics within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.scrapes.set(id, { resolve, reject, timer });
      if (!this.send({ type: 'ratelimit:pod-metrics-request', id })) {
        clearTimeout(timer);
        this.scrapes.delete(id);
        reject(new Error('no IPC channel to the primary'));
      }
    });
  }

  private handle(message: PrimaryMessage): void {
    switch (message.type) {
      case 'ratelimit:shutdown':
        this.shutdownRequested = true;
        this.shutdownListener?.();
        return;
      case 'ratelimit:metrics-collect':
        this.answerCollection(message.id);
        return;
      case 'ratelimit:pod-metrics': {
        const scrape = this.scrapes.get(message.id);
        if (scrape === undefined) return;
        this.scrapes.delete(message.id);
        clearTimeout(scrape.timer);
        if (message.body !== undefined && message.contentType !== undefined) {
          scrape.resolve({ contentType: message.contentType, body: message.body });
        } else {
          scrape.reject(new Error(`pod metrics unavailable: ${message.error ?? 'no reason given'}`));
        }
        return;
      }
    }
  }

  private answerCollection(id: number): void {
    const local = this.local;
    if (local === undefined) {
      this.send({ type: 'ratelimit:metrics-snapshot', id, error: 'metrics not created yet' });
      return;
    }
    local.snapshot().then(
      (metrics) => this.send({ type: 'ratelimit:metrics-snapshot', id, metrics }),
      (error: Error) => this.send({ type: 'ratelimit:metrics-snapshot', id, error: error.message }),
    );
  }

  /** False when the channel is closed: sending then would raise an 'error' event on `process`. */
  private send(message: WorkerMessage): boolean {
    if (this.channel.connected !== true || this.channel.send === undefined) return false;
    return this.channel.send(message);
  }
}
