import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { AdaptiveEngine, type DomainControllers } from '../../../src/adaptive/adaptive-engine.js';
import type { AdaptiveStateStore } from '../../../src/adaptive/adaptive-state.js';
import type { ControllerMetrics } from '../../../src/adaptive/controller-metrics.js';
import {
  type AbuseInput,
  abuseParams,
  type ErrorRateInput,
  errorRateParams,
} from '../../../src/adaptive/controller-params.js';
import { createMemoryAdaptiveState } from '../../../src/adaptive/memory-adaptive-state.js';
import type { LimitMatch, LimitRule } from '../../../src/core/limit.js';
import type { CounterDecision } from '../../../src/storage/counter-store.js';
import { ManualClock } from '../../support/manual-clock.js';

const T0 = 1_700_000_000_000; // a multiple of every interval used here
const KEY = { upstreamCluster: 'checkout', routeName: 'r', authority: 'a' };

function rule(adaptive: string[]): LimitRule {
  return {
    fullKey: 'api.path',
    limits: [],
    names: [],
    unlimited: false,
    shadowMode: false,
    quotaMode: false,
    replaces: [],
    detailedMetric: false,
    valueToMetric: false,
    adaptive,
  };
}

function errorRate(input: Partial<ErrorRateInput> = {}) {
  return errorRateParams({
    name: 'health',
    match: { upstreamCluster: 'checkout' },
    intervalMs: 5_000,
    minSamples: 20,
    ...input,
  });
}

function abuse(input: Partial<AbuseInput> = {}) {
  return abuseParams({ name: 'abusers', minRequests: 10, intervalMs: 10_000, ...input });
}

/** Metrics per controller as plain values. */
class MetricsRecorder {
  readonly series = new Map<string, { factor?: number; boxed?: number; shadowed: number; errors: number }>();
  readonly factory = (domain: string, controller: string): ControllerMetrics => {
    const key = `${domain}/${controller}`;
    const s = { shadowed: 0, errors: 0 } as {
      factor?: number;
      boxed?: number;
      shadowed: number;
      errors: number;
    };
    this.series.set(key, s);
    return {
      factor: (v) => {
        s.factor = v;
      },
      boxed: (n) => {
        s.boxed = n;
      },
      shadowed: () => {
        s.shadowed++;
      },
      stateError: () => {
        s.errors++;
      },
      remove: () => this.series.delete(key),
    };
  };
}

function setup(controllers: DomainControllers, state: AdaptiveStateStore = createMemoryAdaptiveState()) {
  const clock = new ManualClock(T0);
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const metrics = new MetricsRecorder();
  const engine = new AdaptiveEngine({ state, clock, logger, metrics: metrics.factory });
  engine.configure(controllers);
  return { engine, clock, lines, metrics, state };
}

/** Moves to `intervals` intervals after T0 plus the close delay, and refreshes. */
async function closeThrough(s: ReturnType<typeof setup>, endMs: number): Promise<void> {
  s.clock.set(endMs + s.engine.closeDelayMs);
  await s.engine.tick();
}

const overLimit = (over: boolean) => ({ overLimit: over }) as CounterDecision;
const matchOf = (r: LimitRule) =>
  ({ rule: r, counterEntries: [], fromOverride: false }) as unknown as LimitMatch;

describe('AdaptiveEngine, error_rate', () => {
  it('halves the factor after a bad interval, then adds `increase` per healthy interval up to 1', async () => {
    const s = setup(new Map([['api', [errorRate()]]]));
    const factor = s.engine.ruleFactor('api', rule(['health']))!;
    s.engine.record(KEY, 100, 50, 3);
    await closeThrough(s, T0 + 5_000);
    expect(factor.factor('')).toBe(0.5);
    expect(s.metrics.series.get('api/health')?.factor).toBe(0.5);
    expect(s.lines.find((l) => l.msg === 'adaptive: factor changed')).toMatchObject({
      domain: 'api',
      controller: 'health',
      factor: 0.5,
      previous: 1,
      decision: 'decrease',
      samples: 100,
      errors: 50,
    });
    const seen: number[] = [];
    for (let i = 1; i <= 6; i++) {
      s.clock.set(T0 + i * 5_000 + 100);
      s.engine.record(KEY, 100, 0, 0);
      await closeThrough(s, T0 + (i + 1) * 5_000);
      seen.push(factor.factor(''));
    }
    expect(seen).toEqual([0.6, 0.7, 0.8, 0.9, 1, 1]);
  });

  it('ignores samples of other clusters and intervals with fewer than min_samples', async () => {
    const s = setup(new Map([['api', [errorRate()]]]));
    const factor = s.engine.ruleFactor('api', rule(['health']))!;
    s.engine.record({ ...KEY, upstreamCluster: 'other' }, 1_000, 1_000, 0);
    s.engine.record(KEY, 19, 19, 0);
    await closeThrough(s, T0 + 5_000);
    expect(factor.factor('')).toBe(1);
    expect(s.engine.view().controllers[0]).toMatchObject({ decision: 'insufficient_samples' });
  });

  it('takes POST /v1/signals samples and answers unknown or wrong-type controllers with a reason', async () => {
    const s = setup(new Map([['api', [errorRate({ match: {} }), abuse()]]]));
    expect(s.engine.errorRate('api', 'health', 40, 20)).toEqual({ ok: true });
    expect(s.engine.errorRate('api', 'nope', 1, 0)).toEqual({
      ok: false,
      reason: 'domain "api" has no adaptive controller "nope" (declared: health, abusers)',
    });
    expect(s.engine.errorRate('api', 'abusers', 1, 0)).toMatchObject({ ok: false });
    expect(s.engine.penalize('api', 'health', 'v', 1_000, 'x')).toMatchObject({ ok: false });
    expect(s.engine.errorRate('other', 'health', 1, 0)).toMatchObject({ ok: false });
    await closeThrough(s, T0 + 5_000);
    expect(s.engine.ruleFactor('api', rule(['health']))!.factor('')).toBe(0.5);
  });

  it('shadow_mode computes and reports the factor, enforces 1, and counts the requests it spared', async () => {
    const s = setup(new Map([['api', [errorRate({ shadowMode: true })]]]));
    const factor = s.engine.ruleFactor('api', rule(['health']))!;
    s.engine.record(KEY, 100, 90, 0);
    await closeThrough(s, T0 + 5_000);
    expect(factor.factor('')).toBe(1);
    expect(factor.factor('')).toBe(1);
    expect(s.metrics.series.get('api/health')).toMatchObject({ factor: 0.5, shadowed: 2 });
    expect(s.engine.view().controllers[0]).toMatchObject({
      factor: 0.5,
      enforcedFactor: 1,
      shadowMode: true,
    });
  });

  it('two engines on one shared store apply the same factor when only one got the samples', async () => {
    const shared = createMemoryAdaptiveState();
    const a = setup(new Map([['api', [errorRate()]]]), shared);
    const b = setup(new Map([['api', [errorRate()]]]), shared);
    a.engine.record(KEY, 30, 20, 0);
    await closeThrough(a, T0 + 5_000);
    await closeThrough(b, T0 + 5_000);
    expect(a.engine.ruleFactor('api', rule(['health']))!.factor('')).toBe(0.5);
    expect(b.engine.ruleFactor('api', rule(['health']))!.factor('')).toBe(0.5);
  });

  it('fails static: while the state cannot be read the configured limits apply, counted; then it resumes', async () => {
    const inner = createMemoryAdaptiveState();
    let broken = false;
    const guard = <T>(f: () => Promise<T>) => (broken ? Promise.reject(new Error('redis down')) : f());
    const flaky: AdaptiveStateStore = {
      scope: 'shared',
      addSamples: (adds) => guard(() => inner.addSamples(adds)),
      readErrorRate: (id, start) => guard(() => inner.readErrorRate(id, start)),
      writeErrorRate: (id, expected, next, ttl) => guard(() => inner.writeErrorRate(id, expected, next, ttl)),
      flag: (id, p, v, now, o) => guard(() => inner.flag(id, p, v, now, o)),
      penalties: (id, now, limit) => guard(() => inner.penalties(id, now, limit)),
      close: () => inner.close(),
    };
    const s = setup(new Map([['api', [errorRate()]]]), flaky);
    const factor = s.engine.ruleFactor('api', rule(['health']))!;
    s.engine.record(KEY, 100, 90, 0);
    await closeThrough(s, T0 + 5_000);
    expect(factor.factor('')).toBe(0.5);
    broken = true;
    s.clock.advance(1_000);
    await s.engine.tick();
    expect(factor.factor('')).toBe(1);
    expect(s.metrics.series.get('api/health')?.errors).toBe(1);
    expect(s.lines.some((l) => String(l.msg).includes('configured limits apply'))).toBe(true);
    broken = false;
    s.clock.advance(1_000);
    await s.engine.tick();
    expect(factor.factor('')).toBe(0.5);
  });

  it('a reload with the same parameters keeps the factor; a changed controller keeps its last state; a dropped one loses its series', async () => {
    const s = setup(new Map([['api', [errorRate()]]]));
    s.engine.record(KEY, 100, 90, 0);
    await closeThrough(s, T0 + 5_000);
    s.engine.configure(new Map([['api', [errorRate()]]]));
    expect(s.engine.ruleFactor('api', rule(['health']))!.factor('')).toBe(0.5);
    s.engine.configure(new Map([['api', [errorRate({ floor: 0.3 })]]]));
    expect(s.engine.ruleFactor('api', rule(['health']))!.factor('')).toBe(0.5);
    s.engine.configure(new Map());
    expect(s.engine.ruleFactor('api', rule(['health']))).toBeUndefined();
    expect(s.metrics.series.has('api/health')).toBe(false);
  });
});

describe('AdaptiveEngine, abuse', () => {
  it('boxes a value whose OVER_LIMIT share crossed the ratio; other values of the key keep their limit', async () => {
    const s = setup(new Map([['api', [abuse()]]]));
    const r = rule(['abusers']);
    const factor = s.engine.ruleFactor('api', r)!;
    for (let i = 0; i < 20; i++) {
      s.engine.charged(
        'api',
        matchOf(r),
        [{ key: 'ip', value: '6.6.6.6' }],
        1,
        r.limits[0]!,
        overLimit(i >= 5),
      );
      s.engine.charged(
        'api',
        matchOf(r),
        [{ key: 'ip', value: '1.1.1.1' }],
        1,
        r.limits[0]!,
        overLimit(false),
      );
    }
    await closeThrough(s, T0 + 10_000);
    expect(factor.factor('6.6.6.6')).toBe(0.1);
    expect(factor.factor('1.1.1.1')).toBe(1);
    expect(s.metrics.series.get('api/abusers')?.boxed).toBe(1);
    const view = s.engine.view().controllers[0]!;
    expect(view).toMatchObject({
      type: 'abuse',
      boxed: 1,
      penalties: [{ value: '6.6.6.6', reason: 'over_limit_ratio' }],
    });
    expect(s.lines.find((l) => l.msg === 'adaptive: value penalized')).toMatchObject({
      value: '6.6.6.6',
      offences: 1,
    });
    s.clock.advance(60_000);
    expect(factor.factor('6.6.6.6')).toBe(1);
  });

  it('a signal boxes a value here at once, with its own ttl, and the other engine on the store after a refresh', async () => {
    const shared = createMemoryAdaptiveState();
    const a = setup(new Map([['api', [abuse({ penalty: { factor: 0 } })]]]), shared);
    const b = setup(new Map([['api', [abuse({ penalty: { factor: 0 } })]]]), shared);
    expect(a.engine.penalize('api', 'abusers', '9.9.9.9', 600_000, 'waf')).toEqual({ ok: true });
    expect(a.engine.ruleFactor('api', rule(['abusers']))!.factor('9.9.9.9')).toBe(0);
    const fb = b.engine.ruleFactor('api', rule(['abusers']))!;
    expect(fb.factor('9.9.9.9')).toBe(1);
    await b.engine.tick();
    expect(fb.factor('9.9.9.9')).toBe(0);
    expect(fb.factor('9.9.9.8')).toBe(1);
    b.clock.advance(600_001);
    expect(fb.factor('9.9.9.9')).toBe(1);
  });

  it("/v1/adaptive lists a signal's penalty at once, once, and drops it when it expires", async () => {
    const s = setup(new Map([['api', [abuse({ penalty: { factor: 0 } })]]]));
    const listed = () => {
      const view = s.engine.view().controllers[0]!;
      return view.type === 'abuse' ? { boxed: view.boxed, penalties: view.penalties } : undefined;
    };
    s.engine.penalize('api', 'abusers', '9.9.9.9', 60_000, 'waf');
    await Promise.resolve(); // the store's flag answers (memory: at once)
    const entry = { value: '9.9.9.9', factor: 0, reason: 'waf', offences: 1 };
    expect(listed()).toMatchObject({ boxed: 1, penalties: [entry] });
    await s.engine.tick(); // read back from the store: still listed once
    expect(listed()).toMatchObject({ boxed: 1, penalties: [entry] });
    s.engine.penalize('api', 'abusers', '8.8.8.8', 120_000, 'ids');
    await Promise.resolve();
    expect(listed()?.penalties.map((p) => p.value)).toEqual(['8.8.8.8', '9.9.9.9']); // latest expiry first
    s.clock.advance(60_000);
    expect(listed()).toMatchObject({ boxed: 1, penalties: [{ value: '8.8.8.8' }] });
  });

  it('multiplies an error_rate factor and a penalty on one rule; shadow abuse only counts', async () => {
    const s = setup(new Map([['api', [errorRate(), abuse({ shadowMode: true })]]]));
    const factor = s.engine.ruleFactor('api', rule(['health', 'abusers']))!;
    s.engine.record(KEY, 100, 90, 0);
    s.engine.penalize('api', 'abusers', 'x', 60_000, '');
    await closeThrough(s, T0 + 5_000);
    expect(factor.factor('x')).toBe(0.5);
    expect(s.metrics.series.get('api/abusers')?.shadowed).toBe(1);
  });

  it('keeps a signalled value boxed when a refresh reads the shared box before the signal reached it', async () => {
    const inner = createMemoryAdaptiveState();
    let releaseFlag: () => void = () => {};
    const slowFlag: AdaptiveStateStore = {
      ...inner,
      scope: inner.scope,
      flag: async (...args) => {
        await new Promise<void>((resolve) => {
          releaseFlag = resolve;
        });
        return inner.flag(...args);
      },
    };
    const s = setup(new Map([['api', [abuse({ penalty: { factor: 0 } })]]]), slowFlag);
    const factor = s.engine.ruleFactor('api', rule(['abusers']))!;
    s.engine.penalize('api', 'abusers', '9.9.9.9', 60_000, 'waf');
    await s.engine.tick(); // reads the box: the flag is still in flight
    expect(factor.factor('9.9.9.9')).toBe(0);
    releaseFlag();
    await new Promise((resolve) => setImmediate(resolve));
    await s.engine.tick();
    expect(factor.factor('9.9.9.9')).toBe(0);
    expect(s.engine.view().controllers[0]).toMatchObject({
      boxed: 1,
      penalties: [{ value: '9.9.9.9', offences: 1 }],
    });
  });
});
