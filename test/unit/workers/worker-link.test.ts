import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ServiceMetrics } from '../../../src/metrics/service-metrics.js';
import type { PrimaryMessage, WorkerMessage } from '../../../src/workers/messages.js';
import { WorkerLink } from '../../../src/workers/worker-link.js';

/** The worker's end of an IPC channel: records what it sends; `deliver` plays the primary. */
class FakeChannel extends EventEmitter {
  connected = true;
  readonly sent: WorkerMessage[] = [];
  send(message: WorkerMessage): boolean {
    this.sent.push(message);
    return true;
  }
  deliver(message: PrimaryMessage): void {
    this.emit('message', message);
  }
}

describe('WorkerLink', () => {
  it('serves the metrics the primary sends back for its request', async () => {
    const channel = new FakeChannel();
    const expose = new WorkerLink(channel).podMetrics(new ServiceMetrics());
    const scrape = expose();
    expect(channel.sent).toEqual([{ type: 'ratelimit:pod-metrics-request', id: 0 }]);
    channel.deliver({ type: 'ratelimit:pod-metrics', id: 0, contentType: 'text/plain', body: 'x 1\n' });
    await expect(scrape).resolves.toEqual({ contentType: 'text/plain', body: 'x 1\n' });
  });

  it("fails the scrape with the primary's reason", async () => {
    const channel = new FakeChannel();
    const scrape = new WorkerLink(channel).podMetrics(new ServiceMetrics())();
    channel.deliver({
      type: 'ratelimit:pod-metrics',
      id: 0,
      error: 'worker 2 sent no metrics within 3000 ms',
    });
    await expect(scrape).rejects.toThrow('pod metrics unavailable: worker 2 sent no metrics within 3000 ms');
  });

  it('fails the scrape at once when the channel to the primary is closed', async () => {
    const channel = new FakeChannel();
    channel.connected = false;
    await expect(new WorkerLink(channel).podMetrics(new ServiceMetrics())()).rejects.toThrow(
      'no IPC channel to the primary',
    );
  });

  it("answers a collection with this process's metrics", async () => {
    const channel = new FakeChannel();
    const metrics = new ServiceMetrics();
    metrics.grpcCall('ShouldRateLimit', 0.001);
    new WorkerLink(channel).podMetrics(metrics);
    channel.deliver({ type: 'ratelimit:metrics-collect', id: 7 });
    await expect.poll(() => channel.sent.length).toBe(1);
    const [answer] = channel.sent;
    expect(answer).toMatchObject({ type: 'ratelimit:metrics-snapshot', id: 7 });
    const names = answer?.type === 'ratelimit:metrics-snapshot' ? answer.metrics?.map((m) => m.name) : [];
    expect(names).toContain('ratelimit_service_total_requests');
  });

  it('hands on a shutdown request that arrived before anyone listened for it', () => {
    const channel = new FakeChannel();
    const link = new WorkerLink(channel);
    channel.deliver({ type: 'ratelimit:shutdown' });
    let stops = 0;
    link.onShutdown(() => stops++);
    expect(stops).toBe(1);
  });

  it('ignores messages of other protocols on the same channel', () => {
    const channel = new FakeChannel();
    const link = new WorkerLink(channel);
    let stops = 0;
    link.onShutdown(() => stops++);
    channel.emit('message', { type: 'prom-client:getMetricsReq', requestId: 1 });
    channel.emit('message', 'shutdown');
    expect(stops).toBe(0);
    expect(channel.sent).toEqual([]);
  });
});
