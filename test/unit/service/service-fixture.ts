import type { LimitOverride, RateLimitRequest, RequestDescriptor } from '../../../src/core/descriptor.js';
import type { RuleSet } from '../../../src/core/rule-set.js';
import { RateLimitService } from '../../../src/service/rate-limit-service.js';
import { DEFAULT_SERVICE_OPTIONS, type ServiceOptions } from '../../../src/service/service-options.js';
import type { CounterCheck, CounterDecision, CounterStore } from '../../../src/storage/counter-store.js';
import { MemoryCounterStore } from '../../../src/storage/memory-store.js';
import { ManualClock } from '../../support/manual-clock.js';
import { type EntryPairs, entries } from '../../support/rule-set-builder.js';

/** A real memory store that records every `apply` call. */
export class RecordingStore implements CounterStore {
  readonly calls: { checks: CounterCheck[]; nowMs: number }[] = [];

  constructor(readonly inner: CounterStore = new MemoryCounterStore()) {}

  get kind(): string {
    return this.inner.kind;
  }

  apply(checks: readonly CounterCheck[], nowMs: number): Promise<CounterDecision[]> {
    this.calls.push({ checks: [...checks], nowMs });
    return this.inner.apply(checks, nowMs);
  }

  isReady(): boolean {
    return this.inner.isReady();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface Harness {
  readonly service: RateLimitService;
  readonly store: RecordingStore;
  readonly clock: ManualClock;
}

/** Options on top of the defaults; `responseHeaders` fields merge with the default header names. */
export interface OptionOverrides extends Partial<Omit<ServiceOptions, 'responseHeaders'>> {
  readonly responseHeaders?: Partial<ServiceOptions['responseHeaders']>;
}

/** A service over `rules` (a TestRuleSet or a config built from YAML), a recording memory store and a manual clock at 1_000_000 s. */
export function harness(
  rules: RuleSet | undefined,
  overrides: OptionOverrides = {},
  inner?: CounterStore,
): Harness {
  const store = new RecordingStore(inner);
  const clock = new ManualClock(1_000_000_000);
  const options: ServiceOptions = {
    ...DEFAULT_SERVICE_OPTIONS,
    ...overrides,
    responseHeaders: { ...DEFAULT_SERVICE_OPTIONS.responseHeaders, ...overrides.responseHeaders },
  };
  return { service: new RateLimitService({ rules: () => rules, store, clock, options }), store, clock };
}

export interface DescriptorExtras {
  readonly limit?: LimitOverride;
  readonly hitsAddend?: number;
}

export function descriptor(pairs: EntryPairs, extras: DescriptorExtras = {}): RequestDescriptor {
  return { entries: entries(pairs), ...extras };
}

export function request(domain: string, descriptors: RequestDescriptor[], hitsAddend = 0): RateLimitRequest {
  return { domain, descriptors, hitsAddend };
}

/** Sends the same request `times` times and returns the last result. */
export async function repeat(h: Harness, req: RateLimitRequest, times: number) {
  let last = await h.service.shouldRateLimit(req);
  for (let i = 1; i < times; i++) last = await h.service.shouldRateLimit(req);
  return last;
}
