import type { Clock } from '../../src/core/clock.js';

/** A clock that moves only when a test moves it. Times are ms since the Unix epoch. */
export class ManualClock implements Clock {
  private ms: number;

  constructor(startMs = 0) {
    this.ms = startMs;
  }

  nowMs(): number {
    return this.ms;
  }

  /** Jumps to `ms` (may go backwards, to test clock skew). */
  set(ms: number): void {
    this.ms = ms;
  }

  /** Jumps to whole Unix second `seconds`. */
  setSeconds(seconds: number): void {
    this.ms = seconds * 1000;
  }

  advance(ms: number): void {
    this.ms += ms;
  }
}
