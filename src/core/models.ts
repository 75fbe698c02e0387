import type { Algorithm, AlgorithmModel } from './algorithm.js';
import { fixedWindow } from './fixed-window.js';
import { slidingLog } from './sliding-log.js';
import { slidingWindow } from './sliding-window.js';
import { tokenBucket } from './token-bucket.js';

/** The model of each algorithm; state types differ, so stores treat state as opaque. */
export const MODELS: Readonly<Record<Algorithm, AlgorithmModel<unknown>>> = Object.freeze({
  fixed_window: fixedWindow as AlgorithmModel<unknown>,
  sliding_window: slidingWindow as AlgorithmModel<unknown>,
  sliding_log: slidingLog as AlgorithmModel<unknown>,
  token_bucket: tokenBucket as AlgorithmModel<unknown>,
});
