import { describe, expect, it } from 'vitest';
import {
  ESTIMATED_ENTRY_BYTES,
  entriesForBytes,
  loadResilienceSettings,
} from '../../../src/config/settings/resilience-settings.js';
import { SettingError } from '../../../src/core/errors.js';

describe('loadResilienceSettings', () => {
  it('defaults to failure mode error, a 250 ms budget, 10 failures and half the calls in 1 s, 100 ms → 10 s backoff, no cache', () => {
    expect(loadResilienceSettings({})).toEqual({
      failureMode: 'error',
      backendTimeoutMs: 250,
      breaker: {
        minFailures: 10,
        failureRatio: 0.5,
        windowMs: 1_000,
        minBackoffMs: 100,
        maxBackoffMs: 10_000,
      },
      localCacheSizeBytes: 0,
      localCacheEntries: 0,
    });
  });

  it('reads every variable, durations in Go syntax', () => {
    const settings = loadResilienceSettings({
      FAILURE_MODE: 'Local',
      BACKEND_TIMEOUT: '8ms',
      CIRCUIT_BREAKER_FAILURES: '5',
      CIRCUIT_BREAKER_FAILURE_RATIO: '0.25',
      CIRCUIT_BREAKER_WINDOW: '5s',
      CIRCUIT_BREAKER_MIN_BACKOFF: '250ms',
      CIRCUIT_BREAKER_MAX_BACKOFF: '1m30s',
    });
    expect(settings).toMatchObject({
      failureMode: 'local',
      backendTimeoutMs: 8,
      breaker: {
        minFailures: 5,
        failureRatio: 0.25,
        windowMs: 5_000,
        minBackoffMs: 250,
        maxBackoffMs: 90_000,
      },
    });
  });

  it('accepts BACKEND_TIMEOUT=0 as no budget and treats empty values as unset', () => {
    expect(loadResilienceSettings({ BACKEND_TIMEOUT: '0', FAILURE_MODE: '' })).toMatchObject({
      backendTimeoutMs: 0,
      failureMode: 'error',
    });
  });

  it('turns LOCAL_CACHE_SIZE_IN_BYTES into entries at 256 bytes each', () => {
    expect(loadResilienceSettings({ LOCAL_CACHE_SIZE_IN_BYTES: '1048576' })).toMatchObject({
      localCacheSizeBytes: 1_048_576,
      localCacheEntries: 4096,
    });
  });

  it('takes LOCAL_CACHE_ENTRIES as a count', () => {
    expect(loadResilienceSettings({ LOCAL_CACHE_ENTRIES: '5000' }).localCacheEntries).toBe(5000);
  });

  it.each([
    [{ FAILURE_MODE: 'open' }, "FAILURE_MODE: expected one of error, allow, local, got 'open'"],
    [{ BACKEND_TIMEOUT: '15' }, 'BACKEND_TIMEOUT: expected a duration'],
    [{ BACKEND_TIMEOUT: '2m' }, "BACKEND_TIMEOUT: expected a duration from 0 ms to 60 s, got '2m'"],
    [{ CIRCUIT_BREAKER_FAILURES: '0' }, 'CIRCUIT_BREAKER_FAILURES: expected an integer from 1'],
    [{ CIRCUIT_BREAKER_MIN_BACKOFF: '0' }, 'CIRCUIT_BREAKER_MIN_BACKOFF: expected a duration from 1 ms'],
    [
      { CIRCUIT_BREAKER_FAILURE_RATIO: '0' },
      "CIRCUIT_BREAKER_FAILURE_RATIO: expected a number greater than 0 and at most 1, e.g. 0.5, got '0'",
    ],
    [
      { CIRCUIT_BREAKER_FAILURE_RATIO: '1.5' },
      'CIRCUIT_BREAKER_FAILURE_RATIO: expected a number greater than 0',
    ],
    [
      { CIRCUIT_BREAKER_FAILURE_RATIO: 'half' },
      'CIRCUIT_BREAKER_FAILURE_RATIO: expected a number greater than 0',
    ],
    [{ CIRCUIT_BREAKER_WINDOW: '10ms' }, 'CIRCUIT_BREAKER_WINDOW: expected a duration from 100 ms'],
    [
      { CIRCUIT_BREAKER_MIN_BACKOFF: '2s', CIRCUIT_BREAKER_MAX_BACKOFF: '1s' },
      "CIRCUIT_BREAKER_MAX_BACKOFF: expected a duration ≥ CIRCUIT_BREAKER_MIN_BACKOFF (2000 ms), got '1s'",
    ],
    [{ CIRCUIT_BREAKER_MIN_BACKOFF: '20s' }, 'CIRCUIT_BREAKER_MAX_BACKOFF: expected a duration ≥'],
    [{ LOCAL_CACHE_SIZE_IN_BYTES: '-1' }, 'LOCAL_CACHE_SIZE_IN_BYTES: expected an integer from 0'],
    [{ LOCAL_CACHE_ENTRIES: '1.5' }, 'LOCAL_CACHE_ENTRIES: expected an integer from 0'],
    [
      { LOCAL_CACHE_SIZE_IN_BYTES: '1000000', LOCAL_CACHE_ENTRIES: '10' },
      'LOCAL_CACHE_ENTRIES: expected to be unset or 0 when LOCAL_CACHE_SIZE_IN_BYTES is set',
    ],
  ])('rejects %o naming the variable', (env, message) => {
    expect(() => loadResilienceSettings(env)).toThrow(SettingError);
    expect(() => loadResilienceSettings(env)).toThrow(message);
  });
});

describe('entriesForBytes', () => {
  it('turns LOCAL_CACHE_SIZE_IN_BYTES into entries at the documented estimate', () => {
    expect(ESTIMATED_ENTRY_BYTES).toBe(256);
    expect(entriesForBytes(0)).toBe(0);
    expect(entriesForBytes(255)).toBe(0);
    expect(entriesForBytes(1024 * 1024)).toBe(4096);
  });
});
