import { StatsD } from 'hot-shots';
import type { StatsdSinkSettings } from '../config/settings/stats-settings.js';
import type { Logger } from '../log/logger.js';
import type { MetricsSnapshot } from './service-metrics.js';
import { gostatsTaggedName, type StatsdTotals, statsdTotals } from './statsd-names.js';

/** Bytes per datagram: gostats' UDP default (fits a 1500-byte MTU); a TCP stream can take larger writes. */
const UDP_BUFFER = 1432;
const TCP_BUFFER = 8192;
/** A connection error is logged at most this often (a pod without statsd must not flood its log). */
const ERROR_LOG_INTERVAL_MS = 300_000;
/** hot-shots never calls back from flush/close on a TCP socket that never connected: stop waiting after this. */
const SOCKET_WAIT_MS = 1000;

/** Waits for a hot-shots callback, at most SOCKET_WAIT_MS. */
function settled(call: (done: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, SOCKET_WAIT_MS);
    call(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Pushes the reference's stats to statsd or DogStatsD (hot-shots). Nothing is
 * sent per request: every STATS_FLUSH_INTERVAL the sink reads the running
 * totals the service already keeps (a metrics snapshot), and sends one
 * counter line per stat that changed since the last flush, with the change;
 * hot-shots packs the lines into datagrams of up to UDP_BUFFER bytes.
 * `ratelimit_server.<Method>.response_time` is sent as one timer line per
 * interval, the mean call time of the interval (the reference sends one per call).
 *
 * Under --workers N every worker runs its own sink and sends its own changes;
 * statsd and DogStatsD add up counters from any number of senders, so the
 * pod's totals come out right without the primary's help.
 */
export class StatsdSink {
  /** Opened by start(): an app that is built but never started opens no socket. */
  private client: StatsD | undefined;
  private readonly sent = new Map<string, number>();
  private readonly timersSent = new Map<string, { sumMs: number; count: number }>();
  private timer: NodeJS.Timeout | undefined;
  private lastErrorLog = Number.NEGATIVE_INFINITY;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly settings: StatsdSinkSettings,
    private readonly snapshot: () => Promise<MetricsSnapshot>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.client ??= this.open();
    this.timer ??= setInterval(() => void this.flush(), this.settings.flushIntervalMs);
    this.timer.unref();
  }

  private open(): StatsD {
    const { settings } = this;
    const dog = settings.flavor === 'dogstatsd';
    return new StatsD({
      host: settings.host,
      port: settings.port,
      protocol: settings.protocol,
      // DogStatsD: EXTRA_TAGS as `|#k:v` (the reference's datadog-go client also adds DD_ENV, DD_SERVICE, …)
      globalTags: dog ? settings.tags.map(([key, value]) => `${key}:${value}`) : [],
      includeDataDogTags: dog,
      maxBufferSize: settings.protocol === 'udp' ? UDP_BUFFER : TCP_BUFFER,
      // lines leave at the end of each flush (flush() below); this only bounds a forgotten remainder
      bufferFlushInterval: 1000,
      cacheDns: true,
      errorHandler: (error) => this.onError(error),
    });
  }

  /** Sends what changed since the last flush; one flush at a time. */
  flush(): Promise<void> {
    this.flushing ??= this.flushOnce().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /** Stops the interval, sends the last changes and closes the socket. */
  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) await settled((done) => client.close(done));
  }

  private async flushOnce(): Promise<void> {
    const client = this.client;
    if (client === undefined) return;
    let totals: StatsdTotals;
    try {
      totals = statsdTotals(await this.snapshot());
    } catch (error) {
      this.onError(error as Error);
      return;
    }
    for (const [name, total] of totals.counters) {
      const delta = total - (this.sent.get(name) ?? 0);
      this.sent.set(name, total);
      if (delta > 0) client.increment(this.name(name), delta);
    }
    for (const [name, total] of totals.timers) {
      const last = this.timersSent.get(name) ?? { sumMs: 0, count: 0 };
      this.timersSent.set(name, total);
      const count = total.count - last.count;
      if (count > 0) client.timing(this.name(name), (total.sumMs - last.sumMs) / count);
    }
    await settled((done) => client.flush(done));
  }

  /** Plain statsd carries EXTRA_TAGS in the name, as gostats does; DogStatsD as tags. */
  private name(name: string): string {
    return this.settings.flavor === 'statsd' ? gostatsTaggedName(name, this.settings.tags) : name;
  }

  private onError(error: Error): void {
    const now = Date.now();
    if (now - this.lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    this.lastErrorLog = now;
    this.logger.warn(
      {
        error: error.message,
        target: `${this.settings.protocol}://${this.settings.host}:${this.settings.port}`,
      },
      'stats: could not send to statsd (set USE_STATSD=false when no statsd runs; logged at most every 5 minutes)',
    );
  }
}
