/**
 * The service's own share of a ShouldRateLimit call, in process and without the
 * network: decode the request bytes (the counting decoder the server runs), decide (memory store, per-rule
 * statistics on, as `serve` wires them), convert back, encode, count the call.
 * What is left of a call's CPU (HTTP/2, grpc-js) is the framework's; compare
 * with "CPU µs/req" of the no-op server in BENCHMARKS.md.
 *
 *   node dist/bench/bench/hot-path.js [--decisions N] [--json]
 *
 * Each scenario runs in alternating rounds and reports the fastest round's CPU
 * ns/decision (the least disturbed by other processes), so before/after ratios
 * of a change can be read off one run.
 */

import { AdaptiveEngine } from '../src/adaptive/adaptive-engine.js';
import { createMemoryAdaptiveState } from '../src/adaptive/memory-adaptive-state.js';
import { buildTrees } from '../src/config/rules/build-config.js';
import { configFromTrees, type RateLimitConfig } from '../src/config/rules/rate-limit-config.js';
import { systemClock } from '../src/core/system-clock.js';
import { RateLimitRequest } from '../src/gen/envoy/service/ratelimit/v3/rls.js';
import { responseToProto } from '../src/grpc/rls-codec.js';
import { decodeRateLimitRequest } from '../src/grpc/rls-request-decoder.js';
import { serializeResponse } from '../src/grpc/rls-service-definition.js';
import { silentLogger } from '../src/log/logger.js';
import { ServiceMetrics } from '../src/metrics/service-metrics.js';
import { decoratedRules } from '../src/service/decorated-rules.js';
import { RateLimitService } from '../src/service/rate-limit-service.js';
import { DEFAULT_SERVICE_OPTIONS } from '../src/service/service-options.js';
import { MemoryCounterStore } from '../src/storage/memory-store.js';

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const DECISIONS = Number(flag('--decisions') ?? 200_000);
const ROUNDS = 5;
const JSON_OUT = argv.includes('--json');

const CONFIG = `domain: bench
descriptors:
  - key: fixed_window
    rate_limit: { unit: second, requests_per_unit: 1000000000 }
  - key: sliding_window
    rate_limit: { unit: second, requests_per_unit: 1000000000, algorithm: sliding_window }
  - key: token_bucket
    rate_limit: { unit: second, requests_per_unit: 1000000000, algorithm: token_bucket }
  - key: user
    descriptors:
      - key: path
        rate_limit: { unit: minute, requests_per_unit: 1000000000 }
`;

/** The domain's controllers, for the scenarios that declare them. */
const CONTROLLERS = `adaptive:
  - { name: health, type: error_rate, match: { upstream_cluster: bench } }
  - { name: abusers, type: abuse }
`;

/** CONFIG with the controllers declared and `adaptive: [names]` on the top-level node `key`. */
function adaptiveConfig(key: string, names: string): string {
  const lines = CONFIG.replace('descriptors:', `${CONTROLLERS}descriptors:`).split('\n');
  const at = lines.findIndex((line) => line === `  - key: ${key}`);
  lines.splice(at + 2, 0, `    adaptive: [${names}]`);
  return lines.join('\n');
}

export interface HotPathScenario {
  readonly name: string;
  /** Encoded requests, used round robin. */
  readonly bodies: readonly Uint8Array[];
  /**
   * The adaptive module, wired as `serve` wires it in every scenario: none declared
   * (default: the config is served as loaded); controllers declared but only the
   * `token_bucket` rule names one (`unused`); the `fixed_window` rule under an error_rate
   * controller at factor 0.5 (`error_rate 0.5`) or under an abuse controller with nothing
   * boxed, whose detector counts every decision per value (`abuse`).
   */
  readonly adaptive?: 'unused' | 'error_rate 0.5' | 'abuse';
}

export interface HotPathResult {
  readonly name: string;
  readonly nsPerDecision: number;
  readonly rounds: readonly number[];
}

function encode(descriptors: { key: string; value: string }[][]): Uint8Array {
  return RateLimitRequest.encode({
    domain: 'bench',
    descriptors: descriptors.map((entries) => ({ entries })),
    hitsAddend: 0,
  }).finish();
}

export function hotPathScenarios(): HotPathScenario[] {
  const keys = 100_000;
  const many: Uint8Array[] = [];
  const four: Uint8Array[] = [];
  for (let i = 0; i < keys; i++) {
    many.push(encode([[{ key: 'fixed_window', value: `user-${i}` }]]));
  }
  for (let i = 0; i < 10_000; i++) {
    four.push(
      encode([
        [{ key: 'fixed_window', value: `user-${i}` }],
        [{ key: 'token_bucket', value: `user-${i}` }],
        [{ key: 'sliding_window', value: `user-${i}` }],
        [
          { key: 'user', value: `user-${i}` },
          { key: 'path', value: '/api/v1/items' },
        ],
      ]),
    );
  }
  const hot = encode([[{ key: 'fixed_window', value: 'hot' }]]);
  return [
    { name: 'fixed_window, 1 hot key', bodies: [hot] },
    { name: 'token_bucket, 1 hot key', bodies: [encode([[{ key: 'token_bucket', value: 'hot' }]])] },
    { name: 'sliding_window, 1 hot key', bodies: [encode([[{ key: 'sliding_window', value: 'hot' }]])] },
    { name: 'fixed_window, 100,000 keys', bodies: many },
    { name: '4 descriptors (4 algorithms/levels), 10,000 users', bodies: four },
    // adaptive controllers: compare with the rows above
    { name: 'fixed_window, 1 hot key, controllers unused', bodies: [hot], adaptive: 'unused' },
    { name: 'fixed_window, 1 hot key, error_rate at 0.5', bodies: [hot], adaptive: 'error_rate 0.5' },
    { name: 'fixed_window, 100,000 keys, error_rate at 0.5', bodies: many, adaptive: 'error_rate 0.5' },
    { name: 'fixed_window, 1 hot key, abuse', bodies: [hot], adaptive: 'abuse' },
    { name: 'fixed_window, 100,000 keys, abuse', bodies: many, adaptive: 'abuse' },
    { name: '4 descriptors, 10,000 users, controllers unused', bodies: four, adaptive: 'unused' },
  ];
}

function benchConfig(text: string): RateLimitConfig {
  const built = buildTrees([{ path: 'bench.yaml', content: text }], { mergeDomains: false });
  if (!built.ok) throw new Error(`bench config: ${JSON.stringify(built.problems)}`);
  return configFromTrees(built.trees);
}

async function service(scenario: HotPathScenario): Promise<{
  service: RateLimitService;
  metrics: ServiceMetrics;
  store: MemoryCounterStore;
}> {
  const text =
    scenario.adaptive === undefined
      ? CONFIG
      : scenario.adaptive === 'unused'
        ? adaptiveConfig('token_bucket', 'health')
        : adaptiveConfig('fixed_window', scenario.adaptive === 'abuse' ? 'abusers' : 'health');
  const config = benchConfig(text);
  const state = createMemoryAdaptiveState();
  const engine = new AdaptiveEngine({ state, clock: systemClock, logger: silentLogger() });
  engine.configure(config.adaptiveControllers());
  if (scenario.adaptive === 'error_rate 0.5') {
    // the shared record as a closed bad interval leaves it; the engine's refresh applies it
    const record = {
      factor: 0.5,
      decision: 'decrease',
      closedStartMs: 0,
      samples: 100,
      errors: 50,
      sinceMs: 0,
    } as const;
    await state.writeErrorRate({ domain: 'bench', name: 'health' }, undefined, record, 3_600_000);
    await engine.tick();
  }
  const metrics = new ServiceMetrics();
  const store = new MemoryCounterStore({ sweepIntervalMs: 0 });
  const svc = new RateLimitService({
    rules: decoratedRules(() => config, engine.decorate),
    store,
    clock: systemClock,
    observers: [metrics.ruleStats(0.8), engine],
    options: DEFAULT_SERVICE_OPTIONS,
  });
  return { service: svc, metrics, store };
}

/** One pass of `count` calls; resolves to CPU ns per call. Calls are issued 64 at a time, as a busy server sees them. */
async function pass(
  target: Awaited<ReturnType<typeof service>>,
  bodies: readonly Uint8Array[],
  count: number,
): Promise<number> {
  const batch = 64;
  let next = 0;
  const one = async (): Promise<void> => {
    const start = performance.now();
    const body = bodies[next++ % bodies.length]!;
    const result = await target.service.shouldRateLimit(
      decodeRateLimitRequest(body, DEFAULT_SERVICE_OPTIONS.requestLimits),
    );
    serializeResponse(responseToProto(result));
    target.metrics.grpcCall('ShouldRateLimit', (performance.now() - start) / 1000);
  };
  // CPU time, not wall time: on a shared machine the process may wait for a core
  const t0 = process.cpuUsage();
  for (let done = 0; done < count; done += batch) {
    const calls: Promise<void>[] = [];
    for (let i = 0; i < batch; i++) calls.push(one());
    await Promise.all(calls);
  }
  const used = process.cpuUsage(t0);
  return ((used.user + used.system) * 1000) / count;
}

export async function runHotPath(decisions = DECISIONS): Promise<HotPathResult[]> {
  const scenarios = hotPathScenarios();
  const targets = await Promise.all(scenarios.map((s) => service(s)));
  const rounds: number[][] = scenarios.map(() => []);
  // warm-up (JIT, store filled), then alternating measured rounds
  for (let s = 0; s < scenarios.length; s++) await pass(targets[s]!, scenarios[s]!.bodies, decisions / 4);
  for (let r = 0; r < ROUNDS; r++) {
    for (let s = 0; s < scenarios.length; s++) {
      rounds[s]!.push(await pass(targets[s]!, scenarios[s]!.bodies, decisions));
    }
  }
  for (const t of targets) await t.store.close();
  return scenarios.map((s, i) => {
    const sorted = [...rounds[i]!].sort((a, b) => a - b);
    return { name: s.name, nsPerDecision: sorted[0]!, rounds: rounds[i]! };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await runHotPath();
  if (JSON_OUT) process.stdout.write(`${JSON.stringify(results)}\n`);
  else {
    for (const r of results) {
      process.stdout.write(
        `${r.name.padEnd(52)} ${(r.nsPerDecision / 1000).toFixed(2)} CPU µs/decision  (rounds ${r.rounds
          .map((v) => (v / 1000).toFixed(2))
          .join(' ')})\n`,
      );
    }
  }
}
