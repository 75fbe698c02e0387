import { afterEach, describe, expect, it } from 'vitest';
import {
  AccessLogStream,
  adaptiveView,
  ask,
  CLOSE_DELAY_MS,
  checkoutEntries,
  errorRateConfig,
  metric,
  nextBoundary,
  pollFor,
  postSignal,
  REFRESH_MS,
  rlsClient,
  SLACK_MS,
  SteadyLoad,
  sleep,
  TOKEN,
  text,
} from '../support/adaptive-e2e.js';
import type { RlsTestClient } from '../support/grpc-client.js';
import { startServer, type TestServer } from '../support/server.js';

/*
 * The adaptive module end to end on the memory backend: the real app (startServer), real
 * gRPC (ShouldRateLimit, Envoy's StreamAccessLogs), real HTTP (POST /v1/signals, /metrics)
 * and the debug port (/v1/adaptive, /rlconfig). Time is the system clock: the bounds
 * asserted are the documented reaction and recovery times plus SLACK_MS, never speed.
 */

const INTERVAL_MS = 1_000;
const LIMIT = 100;

const servers: TestServer[] = [];
const clients: RlsTestClient[] = [];
const loads: SteadyLoad[] = [];

afterEach(async () => {
  await Promise.all(loads.splice(0).map((l) => l.stop()));
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function start(config: string, env: Record<string, string> = { ADAPTIVE_SIGNAL_TOKEN: TOKEN }) {
  const server = await startServer({ config: { 'api.yaml': config }, env });
  servers.push(server);
  const client = rlsClient(server.grpcAddress);
  clients.push(client);
  return { server, client };
}

function steady(client: RlsTestClient, perTick = 2): SteadyLoad {
  const load = new SteadyLoad(client, ['path=/checkout'], perTick);
  loads.push(load);
  return load;
}

const SAMPLE = { domain: 'api', controller: 'checkout-health', total: 40, errors: 20 };

describe('adaptive error_rate on the memory backend', () => {
  it('an error spike in Envoy access logs halves current_limit within the reaction time; healthy logs restore it', async () => {
    const { server, client } = await start(errorRateConfig());
    // 2 per 100 ms = 20/s: under even the floor's 25/s, so every answer is OK throughout
    const load = steady(client);
    const before = await load.first(0, () => load.answers.length >= 6, 5_000);
    expect(load.answers.every((a) => a.code === 'OK' && a.limit === LIMIT)).toBe(true);
    expect(before.limit).toBe(LIMIT);

    // The spike: every 100 ms one StreamAccessLogs message of 20 `checkout` entries, 10 of them
    // 503 (ratio 0.5 > 0.2). The first message alone holds min_samples (10), so the interval
    // the spike starts in already counts. It runs ≥ 2 s and ends on an interval boundary, so
    // the intervals after it hold healthy entries only.
    const stream = new AccessLogStream(server.grpcAddress);
    const spikeStart = Date.now();
    const spikeEnd = (Math.floor((spikeStart + 2_000) / INTERVAL_MS) + 1) * INTERVAL_MS;
    const spiking = (async () => {
      while (Date.now() < spikeEnd - 50) {
        await stream.send(checkoutEntries(20, 10));
        await sleep(100);
      }
    })();
    // Reaction bound: the interval holding the spike's start ends ≤ 1 interval later, is
    // closed by the first refresh tick ≥ its end + close delay (1.5 s), and ticks come every
    // refresh (1 s): ≤ interval + closeDelay + refresh = 3.5 s (= 2 intervals + the close
    // delay with interval = refresh = 1 s), + SLACK_MS for a shared CI machine.
    const reactionBound = INTERVAL_MS + CLOSE_DELAY_MS + REFRESH_MS + SLACK_MS;
    const lowered = await load.first(spikeStart, (a) => a.limit !== undefined && a.limit < LIMIT, reactionBound);
    const reactionMs = lowered.at - spikeStart;
    expect(lowered.limit).toBe(LIMIT * 0.5); // one closed bad interval: factor 1 × decrease
    expect(reactionMs).toBeLessThanOrEqual(reactionBound);
    await spiking;

    // Recovery: healthy entries only, 20 per 100 ms (≥ min_samples per interval).
    const healing = { on: true };
    const healthy = (async () => {
      while (healing.on) {
        await stream.send(checkoutEntries(20, 0));
        await sleep(100);
      }
    })();
    // Documented recovery: ceil((1 − factor) / increase) healthy intervals after the spike's
    // end, + close delay + one tick. The lowest factor a 2-3 interval spike reaches is the
    // floor (0.5 → 0.25), so 2 intervals; + SLACK_MS.
    const steps = Math.ceil((1 - 0.25) / 0.5);
    const recoveryBound = steps * INTERVAL_MS + CLOSE_DELAY_MS + REFRESH_MS + SLACK_MS;
    const restored = await load.first(
      Math.max(spikeEnd, lowered.at),
      (a) => a.limit === LIMIT,
      recoveryBound + 1_000,
    );
    healing.on = false;
    await healthy;
    expect((await stream.end()).code).toBe(0);
    const recoveryMs = restored.at - spikeEnd;
    const minFactor = Math.min(...load.since(spikeStart).map((a) => a.limit ?? LIMIT)) / LIMIT;
    const path = load
      .since(spikeStart)
      .map((a) => a.limit)
      .filter((l, i, all) => i === 0 || l !== all[i - 1]);
    console.log(
      `[adaptive-e2e] access logs: reaction ${reactionMs} ms (bound ${reactionBound}), recovery ${recoveryMs} ms (bound ${recoveryBound}), limits ${path.join(' → ')}, lowest factor ${minFactor}`,
    );
    expect(path[0]).toBe(LIMIT);
    expect(path[1]).toBe(50);
    expect(path.at(-1)).toBe(LIMIT);
    expect(recoveryMs).toBeLessThanOrEqual(recoveryBound);
    // every answer of the run was OK: the limit moved, nothing failed
    expect(load.answers.filter((a) => a.code !== 'OK')).toEqual([]);
  }, 30_000);
});
