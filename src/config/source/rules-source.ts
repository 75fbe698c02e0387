import type { RateLimitConfig } from '../rules/rate-limit-config.js';
import type { LoadOutcome } from './config-source.js';

/**
 * Where the live rate limit config comes from: files (ConfigSource, CONFIG_TYPE=FILE) or an
 * xDS management server (XdsConfigSource, CONFIG_TYPE=GRPC_XDS_SOTW). Either swaps a new
 * config in whole and keeps the last good one when an update is invalid.
 */
export interface RulesSource {
  /** The config in force; undefined until one loads. */
  current(): RateLimitConfig | undefined;
  /**
   * The first config: files are read and built now; xDS waits for the management server's
   * first response (however long it takes). Never rejects.
   */
  load(): Promise<LoadOutcome>;
  /** Follows changes from now on (files: watch; xDS: start the stream without waiting). Idempotent. */
  watch(): void;
  /** Stops following changes; nothing keeps the process alive after. */
  close(): Promise<void>;
}
