import type { Clock } from './clock.js';

/** The one place that reads the wall clock. */
export const systemClock: Clock = { nowMs: () => Date.now() };
