import { describe, expect, it } from 'vitest';
import { loadStatsSettings, parseExtraTags } from '../../../src/config/settings/stats-settings.js';
import { SettingError } from '../../../src/core/errors.js';

describe('loadStatsSettings', () => {
  it("defaults to the reference's: statsd over TCP to localhost:8125, flushed every 10s, no tags", () => {
    expect(loadStatsSettings({}).sink).toEqual({
      flavor: 'statsd',
      protocol: 'tcp',
      host: 'localhost',
      port: 8125,
      tags: [],
      flushIntervalMs: 10_000,
    });
  });

  it('reads STATSD_HOST, STATSD_PORT, STATSD_PROTOCOL, STATS_FLUSH_INTERVAL and EXTRA_TAGS', () => {
    expect(
      loadStatsSettings({
        STATSD_HOST: 'statsd.monitoring',
        STATSD_PORT: '9125',
        STATSD_PROTOCOL: 'udp',
        STATS_FLUSH_INTERVAL: '1m30s',
        EXTRA_TAGS: 'zone:eu,env:prod',
      }).sink,
    ).toEqual({
      flavor: 'statsd',
      protocol: 'udp',
      host: 'statsd.monitoring',
      port: 9125,
      tags: [
        ['env', 'prod'],
        ['zone', 'eu'],
      ],
      flushIntervalMs: 90_000,
    });
  });

  it('USE_DOG_STATSD=true sends DogStatsD over UDP; an unset USE_STATSD gives way to it', () => {
    const sink = loadStatsSettings({ USE_DOG_STATSD: 'true', STATSD_PROTOCOL: 'tcp' }).sink;
    expect(sink?.flavor).toBe('dogstatsd');
    expect(sink?.protocol).toBe('udp');
    expect(loadStatsSettings({ USE_DOG_STATSD: 'true', USE_STATSD: 'false' }).sink?.flavor).toBe('dogstatsd');
  });

  it('sends nothing with USE_STATSD=false, DISABLE_STATS=true or USE_PROMETHEUS=true', () => {
    expect(loadStatsSettings({ USE_STATSD: 'false' }).sink).toBeUndefined();
    expect(loadStatsSettings({ DISABLE_STATS: 'true', USE_DOG_STATSD: 'true' }).sink).toBeUndefined();
    expect(loadStatsSettings({ USE_PROMETHEUS: 'true' }).sink).toBeUndefined();
  });

  it("refuses two sinks asked for explicitly, with the reference's message", () => {
    expect(() => loadStatsSettings({ USE_STATSD: 'true', USE_DOG_STATSD: 'true' })).toThrow(
      /unable to use more than one stats sink at the same time/,
    );
    expect(() => loadStatsSettings({ USE_STATSD: 'true', USE_PROMETHEUS: 'true' })).toThrow(SettingError);
    expect(() => loadStatsSettings({ USE_DOG_STATSD: 'true', USE_PROMETHEUS: 'true' })).toThrow(SettingError);
  });

  it('refuses malformed values, naming the variable', () => {
    expect(() => loadStatsSettings({ USE_STATSD: 'yes please' })).toThrow(/USE_STATSD/);
    expect(() => loadStatsSettings({ STATSD_PORT: '70000' })).toThrow(/STATSD_PORT/);
    expect(() => loadStatsSettings({ STATSD_PROTOCOL: 'uds' })).toThrow(/STATSD_PROTOCOL/);
    expect(() => loadStatsSettings({ STATS_FLUSH_INTERVAL: '0' })).toThrow(/STATS_FLUSH_INTERVAL/);
    expect(() => loadStatsSettings({ STATS_FLUSH_INTERVAL: 'soon' })).toThrow(/STATS_FLUSH_INTERVAL/);
    expect(() => loadStatsSettings({ EXTRA_TAGS: 'env' })).toThrow(/EXTRA_TAGS/);
  });
});

describe('parseExtraTags', () => {
  it('splits at the first colon, drops empty keys or values, sorts by key, last duplicate wins', () => {
    expect(parseExtraTags('b:x:y, a:1,,c:,a:2')).toEqual([
      ['a', '2'],
      ['b', 'x:y'],
    ]);
  });
});
