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
    const lowered = await load.first(
      spikeStart,
      (a) => a.limit !== undefined && a.limit < LIMIT,
      reactionBound,
    );
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

describe('adaptive signals, views and shadow mode on the memory backend', () => {
  it('POST /v1/signals: the factor halves; /v1/adaptive and /rlconfig say why', async () => {
    const { server, client } = await start(errorRateConfig());
    const load = steady(client);
    const sent = Date.now();
    expect((await postSignal(server.httpUrl, SAMPLE)).status).toBe(202);
    // same reaction bound as the access-log spike (the one signal holds min_samples)
    const bound = INTERVAL_MS + CLOSE_DELAY_MS + REFRESH_MS + SLACK_MS;
    // the view as the tick that closed the signal's interval left it (polled every 50 ms; the
    // next tick, 1 s later, closes an empty interval: 'insufficient_samples', factor held)
    const decreased = await pollFor(
      async () => {
        const view = await adaptiveView(server.debugUrl);
        return view.errorRate.factor < 1 ? view : undefined;
      },
      bound,
      'the factor drops',
    );
    expect(decreased.scope).toBe('process');
    expect(decreased.errorRate).toMatchObject({
      name: 'checkout-health',
      factor: 0.5,
      enforcedFactor: 0.5,
      stateReadable: true,
      decision: 'decrease',
      lastInterval: { samples: 40, errors: 20, errorRatio: 0.5 },
    });
    const lowered = await load.first(sent, (a) => a.limit !== undefined && a.limit < LIMIT, bound);
    console.log(`[adaptive-e2e] signal: reaction ${lowered.at - sent} ms (bound ${bound})`);
    expect(lowered.limit).toBe(50);
    const rlconfig = await text(`${server.debugUrl}/rlconfig`);
    expect(rlconfig).toMatch(/api\.path_\/checkout: .*effective: requests_per_unit=50 \(factor 0\.5/);
  });

  it('a wrong token is 401 and changes nothing; with no token configured the API is 403', async () => {
    const { server } = await start(errorRateConfig());
    // all four posts at the start of one interval, so the closed interval below holds them all
    const intervalStart = await nextBoundary(INTERVAL_MS);
    const wrong = await postSignal(server.httpUrl, { ...SAMPLE, total: 100, errors: 100 }, 'not-the-token');
    expect(wrong.status).toBe(401);
    expect((await postSignal(server.httpUrl, SAMPLE, null)).status).toBe(401);
    const penalty = { domain: 'api', controller: 'abusers', value: '6.6.6.6', ttl: '30s', reason: 'waf' };
    expect((await postSignal(server.httpUrl, penalty, 'not-the-token')).status).toBe(401);
    // a healthy sample with the right token in the same interval: the one that counts
    expect((await postSignal(server.httpUrl, { ...SAMPLE, total: 10, errors: 0 })).status).toBe(202);
    const now = await adaptiveView(server.debugUrl);
    expect(now.errorRate.localOpenInterval.errors).toBe(0);
    expect(now.abuse?.penalties).toEqual([]);
    // once the interval is closed: 10 samples, 0 errors, factor 1 (the 100 errors never counted)
    expect(Date.now()).toBeLessThan(intervalStart + INTERVAL_MS);
    const closed = await pollFor(
      async () => {
        const { errorRate } = await adaptiveView(server.debugUrl);
        const start = errorRate.lastInterval === undefined ? 0 : Date.parse(errorRate.lastInterval.start);
        return start >= intervalStart ? errorRate : undefined;
      },
      INTERVAL_MS + CLOSE_DELAY_MS + REFRESH_MS + SLACK_MS,
      'the interval closes',
    );
    expect(closed.factor).toBe(1);
    expect(closed.lastInterval).toMatchObject({
      start: new Date(intervalStart).toISOString(),
      samples: 10,
      errors: 0,
    });
    expect((await adaptiveView(server.debugUrl)).abuse).toMatchObject({ boxed: 0, penalties: [] });
    expect(
      await metric(server.httpUrl, 'ratelimit_adaptive_signals_total{source="http",outcome="unauthorized"}'),
    ).toBe(3);

    const { server: closedApi } = await start(errorRateConfig(), {});
    expect((await postSignal(closedApi.httpUrl, SAMPLE)).status).toBe(403);
    expect((await adaptiveView(closedApi.debugUrl)).errorRate.localOpenInterval.samples).toBe(0);
  });

  it('a penalty signal applies at once where it is received, and /v1/adaptive lists it at once', async () => {
    const { server, client } = await start(errorRateConfig());
    const penalty = { domain: 'api', controller: 'abusers', value: '6.6.6.6', ttl: '30s', reason: 'waf' };
    expect((await ask(client, ['remote_address=6.6.6.6'])).code).toBe('OK');
    const sent = Date.now();
    expect((await postSignal(server.httpUrl, penalty)).status).toBe(202);
    // no refresh tick in between (they come every second): the signal itself applied it
    const [blocked, other, view] = await Promise.all([
      ask(client, ['remote_address=6.6.6.6']),
      ask(client, ['remote_address=1.1.1.1']),
      adaptiveView(server.debugUrl),
    ]);
    expect(Date.now() - sent).toBeLessThan(REFRESH_MS);
    expect(blocked).toMatchObject({ code: 'OVER_LIMIT', limit: 0 });
    expect(other).toMatchObject({ code: 'OK', limit: LIMIT });
    expect(view.abuse).toMatchObject({
      boxed: 1,
      penalties: [{ value: '6.6.6.6', factor: 0, reason: 'waf', offences: 1 }],
    });
  });

  it('shadow_mode: the factor drops in /v1/adaptive and /metrics, every answer is the non-adaptive one', async () => {
    const shadow = await start(errorRateConfig({ shadow: true }));
    const control = await start(errorRateConfig({ adaptive: false }));
    // Each step asks both servers the same: path=/checkout (hits 1), and a fresh user with
    // hits 60, which 100/s admits and the computed 50/s would not.
    const pairs: [string, string][] = [];
    let n = 0;
    const step = async () => {
      const user = `user=u${n++}`;
      const answers = await Promise.all(
        [shadow.client, control.client].flatMap((c) => [ask(c, ['path=/checkout']), ask(c, [user], 60)]),
      );
      const [a, b, c, d] = answers.map((x) => `${x.code}/${x.limit}`) as [string, string, string, string];
      pairs.push([a, c], [b, d]);
    };
    expect((await postSignal(shadow.server.httpUrl, SAMPLE)).status).toBe(202);
    const bound = INTERVAL_MS + CLOSE_DELAY_MS + REFRESH_MS + SLACK_MS;
    const deadline = Date.now() + bound;
    let factor = 1;
    while (factor === 1 && Date.now() < deadline) {
      await step();
      factor = (await adaptiveView(shadow.server.debugUrl)).errorRate.factor;
      await sleep(100);
    }
    expect(factor).toBe(0.5);
    for (let i = 0; i < 10; i++) await step(); // answers while the computed factor is 0.5
    const view = (await adaptiveView(shadow.server.debugUrl)).errorRate;
    expect(view).toMatchObject({ factor: 0.5, enforcedFactor: 1, stateReadable: true });
    expect(pairs.every(([s, c]) => s === c)).toBe(true);
    expect(new Set(pairs.map(([s]) => s))).toEqual(new Set(['OK/100']));
    const shadowed = await metric(
      shadow.server.httpUrl,
      'ratelimit_adaptive_shadow_requests_total{domain="api",controller="checkout-health"}',
    );
    expect(shadowed).toBeGreaterThanOrEqual(20); // the 10 steps after the drop, 2 rule matches each
    expect(
      await metric(
        shadow.server.httpUrl,
        'ratelimit_adaptive_factor{domain="api",controller="checkout-health"}',
      ),
    ).toBe(0.5);
    expect(await text(`${shadow.server.debugUrl}/rlconfig`)).toMatch(
      /requests_per_unit=100 \(factor 1; checkout-health shadow: would apply 0\.5\)/,
    );
  });
});

describe('adaptive abuse from the service own decisions (memory backend)', () => {
  it('a value that keeps going OVER_LIMIT is boxed, blocked in fresh windows too; another value is not', async () => {
    const { server, client } = await start(`
domain: edge
adaptive:
  - name: abusers
    type: abuse
    over_limit_ratio: 0.5
    min_requests: 20
    interval: 1s
    penalty: {factor: 0, ttl: 5s}
descriptors:
  - key: remote_address
    rate_limit: {unit: second, requests_per_unit: 5}
    adaptive: [abusers]
`);
    const good: string[] = [];
    const flood = { on: true };
    const background = (async () => {
      for (let round = 0; flood.on; round++) {
        // every ~200 ms 6.6.6.6 sends 15 against 5/s (≥ 20 per interval even on a slow machine,
        // mostly OVER_LIMIT); every other round 1.1.1.1 sends 1 (≤ 2.5/s: always admitted)
        await Promise.all(
          Array.from({ length: 15 }, () => ask(client, ['remote_address=6.6.6.6'], 1, 'edge')),
        );
        if (round % 2 === 0) good.push((await ask(client, ['remote_address=1.1.1.1'], 1, 'edge')).code);
        await sleep(200);
      }
    })();
    // the interval closes at its end; the next tick (≤ 1 refresh) flags it
    const started = Date.now();
    const listed = await pollFor(
      async () => {
        const view = await fetch(`${server.debugUrl}/v1/adaptive`).then((r) => r.json());
        const abuse = (view as { controllers: { penalties: { value: string; reason: string }[] }[] })
          .controllers[0];
        return abuse?.penalties.find((p) => p.value === '6.6.6.6');
      },
      2 * INTERVAL_MS + REFRESH_MS + SLACK_MS,
      '6.6.6.6 is boxed',
    );
    console.log(`[adaptive-e2e] abuse: boxed after ${Date.now() - started} ms`);
    flood.on = false;
    await background;
    expect(listed).toMatchObject({ value: '6.6.6.6', reason: 'over_limit_ratio', factor: 0 });
    // a fresh window, in which 5/s would admit it: still blocked; 1.1.1.1 still admitted
    await nextBoundary(INTERVAL_MS);
    const blocked = await ask(client, ['remote_address=6.6.6.6'], 1, 'edge');
    const other = await ask(client, ['remote_address=1.1.1.1'], 1, 'edge');
    expect(blocked).toMatchObject({ code: 'OVER_LIMIT', limit: 0 });
    expect(other).toMatchObject({ code: 'OK', limit: 5 });
    expect(good.length).toBeGreaterThan(0);
    expect(good.every((c) => c === 'OK')).toBe(true);
  });
});
