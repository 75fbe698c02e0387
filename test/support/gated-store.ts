import type { CounterCheck, CounterDecision, CounterStore } from '../../src/storage/counter-store.js';
import { MemoryCounterStore } from '../../src/storage/memory-store.js';

/**
 * A memory store whose answers wait until the test opens the gate, or that
 * fails every call: lets tests hold a call in flight or simulate a broken backend.
 */
export class GatedStore implements CounterStore {
  readonly kind = 'gated';
  private readonly inner = new MemoryCounterStore();
  private waiting: (() => void)[] = [];
  private open = true;
  /** When set, every apply rejects with this error. */
  failWith: Error | undefined;
  /** Number of apply calls that have started. */
  started = 0;

  close(): Promise<void> {
    return this.inner.close();
  }

  isReady(): boolean {
    return this.inner.isReady();
  }

  hold(): void {
    this.open = false;
  }

  release(): void {
    this.open = true;
    for (const resume of this.waiting.splice(0)) resume();
  }

  async apply(checks: readonly CounterCheck[], nowMs: number): Promise<CounterDecision[]> {
    this.started++;
    if (!this.open) await new Promise<void>((resolve) => this.waiting.push(resolve));
    if (this.failWith !== undefined) throw this.failWith;
    return this.inner.apply(checks, nowMs);
  }
}
