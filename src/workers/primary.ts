import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../log/logger.js';
import { isWorkerMessage, type WorkerMessage, type WorkerPorts } from './messages.js';
import { PodMetricsAggregation } from './metrics-aggregation.js';
import { DEFAULT_RESTART_POLICY, type RestartPolicy, restartDelay } from './restart-backoff.js';

export interface ClusterPrimaryOptions {
  /** Worker processes to keep running (> 1). */
  readonly workers: number;
  /** A worker's arguments after the script, e.g. ['serve', '--config', 'x', '--grpc-port', '8081']. */
  readonly args: readonly string[];
  readonly logger: Logger;
  /** After asking workers to stop, how long before the ones still running are killed, ms. */
  readonly stopTimeoutMs: number;
  readonly restartPolicy?: RestartPolicy | undefined;
  /** How long a pod-wide scrape waits for every worker's metrics, ms. */
  readonly metricsTimeoutMs?: number | undefined;
  /** Called once, when every worker has listened for the first time. */
  readonly onListening?: ((ports: WorkerPorts) => void) | undefined;
}

/** One of the N places a worker runs in; a replacement takes the place of the one that died. */
interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  forkedAt: number;
  listening: boolean;
  failuresInARow: number;
  restartTimer: NodeJS.Timeout | undefined;
}

/**
 * The primary process under --workers N: forks N workers that run the normal
 * `serve` path and share its ports (node:cluster hands the primary's listening
 * sockets' connections to them), restarts a worker that dies (with backoff),
 * gives up with exit 1 if a worker cannot start before the pod ever listened
 * (bad initial config), serves pod-wide metrics to workers, and stops them on
 * request. Signals reach it through `stop()`, called by the CLI.
 * Every worker gets the same `args`, so the same ports: with port 0 the CLI
 * resolves them first (free-ports.ts says why).
 */
export class ClusterPrimary {
  private readonly slots: Slot[];
  private readonly aggregation: PodMetricsAggregation;
  private readonly policy: RestartPolicy;
  private ports: WorkerPorts | undefined;
  private podListening = false;
  private stopping = false;
  private failed = false;
  private killTimer: NodeJS.Timeout | undefined;
  private finish: (code: number) => void = () => {};
  private readonly done = new Promise<number>((resolve) => {
    this.finish = resolve;
  });

  constructor(private readonly options: ClusterPrimaryOptions) {
    this.policy = options.restartPolicy ?? DEFAULT_RESTART_POLICY;
    this.aggregation = new PodMetricsAggregation(options.metricsTimeoutMs ?? 3_000);
    this.slots = Array.from({ length: options.workers }, (_, index) => ({
      index: index + 1,
      worker: undefined,
      forkedAt: 0,
      listening: false,
      failuresInARow: 0,
      restartTimer: undefined,
    }));
  }

  /** Forks the workers; resolves with the exit code once all have exited after `stop()` or a failed start. */
  run(): Promise<number> {
    this.options.logger.info({ workers: this.slots.length }, 'starting workers');
    for (const slot of this.slots) this.fork(slot);
    return this.done;
  }

  /** First call: ask every worker to stop gracefully. A second call: kill them and exit 1 now. */
  stop(reason: string): void {
    const { logger } = this.options;
    if (this.stopping) {
      logger.warn({ reason }, 'stopping again: killing workers and exiting now');
      for (const slot of this.slots) slot.worker?.process.kill('SIGKILL');
      this.finish(1);
      return;
    }
    this.stopping = true;
    logger.info({ reason }, 'stopping workers');
    for (const slot of this.slots) {
      clearTimeout(slot.restartTimer);
      const worker = slot.worker;
      if (worker === undefined) continue;
      // a message, not a signal: Ctrl-C already sends SIGINT to the whole process group, and a
      // forwarded signal would be the worker's second one, which means "exit now"
      if (!this.send(worker, { type: 'ratelimit:shutdown' })) worker.process.kill('SIGTERM');
    }
    this.killTimer = setTimeout(() => {
      for (const slot of this.slots) {
        if (slot.worker === undefined) continue;
        logger.error(
          { worker: slot.index, workerPid: slot.worker.process.pid },
          'worker did not stop in time: killing it',
        );
        slot.worker.process.kill('SIGKILL');
      }
    }, this.options.stopTimeoutMs);
    this.finishIfAllExited();
  }

  private fork(slot: Slot): void {
    cluster.setupPrimary({ args: [...this.options.args] });
    const worker = cluster.fork();
    slot.worker = worker;
    slot.forkedAt = performance.now();
    slot.listening = false;
    this.options.logger.info({ worker: slot.index, workerPid: worker.process.pid }, 'worker started');
    worker.on('message', (message: unknown) => {
      if (isWorkerMessage(message)) this.onMessage(slot, worker, message);
    });
    worker.on('error', (error: Error) =>
      this.options.logger.warn({ worker: slot.index, err: error }, 'worker IPC error'),
    );
    worker.on('exit', (code: number | null, signal: string | null) =>
      this.onExit(slot, worker, code, signal),
    );
  }

  private onMessage(slot: Slot, worker: Worker, message: WorkerMessage): void {
    switch (message.type) {
      case 'ratelimit:ready':
        slot.listening = true;
        this.ports ??= message.ports;
        this.markPodListening();
        return;
      case 'ratelimit:pod-metrics-request':
        this.aggregation.collect(this.listeningWorkers()).then(
          (exposition) => this.send(worker, { type: 'ratelimit:pod-metrics', id: message.id, ...exposition }),
          (error: Error) => {
            this.options.logger.warn({ err: error }, 'pod metrics unavailable');
            this.send(worker, { type: 'ratelimit:pod-metrics', id: message.id, error: error.message });
          },
        );
        return;
      case 'ratelimit:metrics-snapshot':
        this.aggregation.receive(worker.id, message.id, message.metrics, message.error);
        return;
    }
  }

  private onExit(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    const { logger } = this.options;
    this.aggregation.forget(worker.id);
    if (slot.worker === worker) slot.worker = undefined;
    const fields = { worker: slot.index, workerPid: worker.process.pid, code, signal };
    const clean = code === 0 && signal === null;
    if (this.stopping) {
      if (!clean) this.failed = true;
      (clean ? logger.info : logger.warn).call(logger, fields, 'worker exited');
      this.finishIfAllExited();
    } else if (!slot.listening && !this.podListening) {
      // the same config and settings would fail every restart: give up, as a single process does
      logger.fatal(fields, 'worker exited before it listened (its error is above): not starting');
      this.failed = true;
      this.stop('a worker failed to start');
    } else {
      const next = restartDelay(slot.failuresInARow, performance.now() - slot.forkedAt, this.policy);
      slot.failuresInARow = next.failuresInARow;
      logger.error({ ...fields, restartInMs: next.delayMs }, 'worker exited unexpectedly: restarting it');
      slot.restartTimer = setTimeout(() => {
        slot.restartTimer = undefined;
        if (!this.stopping) this.fork(slot);
      }, next.delayMs);
    }
  }

  private markPodListening(): void {
    if (this.podListening || this.ports === undefined || !this.slots.every((slot) => slot.listening)) return;
    this.podListening = true;
    const workerPids = this.slots.map((slot) => slot.worker?.process.pid);
    this.options.logger.info({ workers: this.slots.length, workerPids, ...this.ports }, 'workers listening');
    this.options.onListening?.(this.ports);
  }

  private *listeningWorkers(): Iterable<Worker> {
    for (const slot of this.slots) if (slot.listening && slot.worker !== undefined) yield slot.worker;
  }

  private finishIfAllExited(): void {
    if (!this.stopping || this.slots.some((slot) => slot.worker !== undefined)) return;
    clearTimeout(this.killTimer);
    this.options.logger.info({ failed: this.failed }, 'all workers exited');
    this.finish(this.failed ? 1 : 0);
  }

  /** Sends unless the channel is closed (sending then would emit 'error' on the worker). */
  private send(worker: Worker, message: Parameters<Worker['send']>[0]): boolean {
    return worker.isConnected() && worker.send(message);
  }
}
