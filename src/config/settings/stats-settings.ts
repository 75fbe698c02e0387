import { SettingError } from '../../core/errors.js';
import { parseBool, parseChoice, parseDurationMs, parsePort } from './settings-parsers.js';

export type StatsdFlavor = 'statsd' | 'dogstatsd';
export type StatsdProtocol = 'tcp' | 'udp';

/**
 * Pushed stats (statsd / DogStatsD), from envoyproxy/ratelimit's USE_STATSD,
 * STATSD_HOST, STATSD_PORT, USE_DOG_STATSD, EXTRA_TAGS, STATS_FLUSH_INTERVAL,
 * DISABLE_STATS (its src/settings/settings.go, sinks chosen in
 * src/service_cmd/runner/runner.go) and gostats' STATSD_PROTOCOL. Prometheus
 * at /metrics is served either way.
 */
export interface StatsSettings {
  /** Where stats are pushed; undefined = nowhere (USE_STATSD=false, DISABLE_STATS=true, or USE_PROMETHEUS=true). */
  readonly sink: StatsdSinkSettings | undefined;
}

export interface StatsdSinkSettings {
  /** statsd (USE_STATSD, the reference's default) or dogstatsd (USE_DOG_STATSD=true). */
  readonly flavor: StatsdFlavor;
  /** STATSD_HOST (localhost). */
  readonly host: string;
  /** STATSD_PORT (8125). */
  readonly port: number;
  /**
   * statsd: STATSD_PROTOCOL, read by the reference's gostats TCP sink (default
   * tcp, as the reference); dogstatsd: always udp (the reference's datadog-go client).
   */
  readonly protocol: StatsdProtocol;
  /** EXTRA_TAGS `k:v,k2:v2`, on every stat; sorted by key, as gostats serialises them. */
  readonly tags: readonly (readonly [key: string, value: string])[];
  /** STATS_FLUSH_INTERVAL (10s): counters are summed in process and sent once per interval. */
  readonly flushIntervalMs: number;
}

type Env = Readonly<Record<string, string | undefined>>;

const ONE_SINK =
  'unable to use more than one stats sink at the same time. Set one of USE_DOG_STATSD, USE_STATSD, USE_PROMETHEUS.';

/**
 * Reads the stats settings; throws SettingError naming the variable on a bad value.
 * The reference refuses two sinks at once (and USE_STATSD defaults to true,
 * so its DogStatsD and Prometheus users set USE_STATSD=false); here an unset
 * USE_STATSD gives way to USE_DOG_STATSD=true or USE_PROMETHEUS=true, and only
 * an explicit USE_STATSD=true next to one of them is refused, with the reference's message.
 */
export function loadStatsSettings(env: Env): StatsSettings {
  const value = (name: string): string | undefined => {
    const raw = env[name];
    return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
  };
  const flag = (name: string): boolean | undefined => {
    const raw = value(name);
    return raw === undefined ? undefined : parseBool(name, raw);
  };
  const disabled = flag('DISABLE_STATS') ?? false;
  const statsd = flag('USE_STATSD');
  const dog = flag('USE_DOG_STATSD') ?? false;
  const prometheus = flag('USE_PROMETHEUS') ?? false;
  const host = value('STATSD_HOST') ?? 'localhost';
  const port = value('STATSD_PORT');
  const interval = value('STATS_FLUSH_INTERVAL');
  const tagsRaw = value('EXTRA_TAGS');
  const protocolRaw = value('STATSD_PROTOCOL');
  // parsed whatever the sink, so a malformed value fails as it does in the reference
  const common = {
    host,
    port: port === undefined ? 8125 : parsePort('STATSD_PORT', port),
    tags: tagsRaw === undefined ? [] : parseExtraTags(tagsRaw),
    flushIntervalMs: interval === undefined ? 10_000 : positiveDuration('STATS_FLUSH_INTERVAL', interval),
  };
  const protocol =
    protocolRaw === undefined ? 'tcp' : parseChoice('STATSD_PROTOCOL', protocolRaw, ['tcp', 'udp'] as const);
  if (statsd === true && (dog || prometheus)) {
    throw new SettingError(
      `USE_STATSD=true with ${dog ? 'USE_DOG_STATSD' : 'USE_PROMETHEUS'}=true: ${ONE_SINK}`,
    );
  }
  if (dog && prometheus) throw new SettingError(`USE_DOG_STATSD=true with USE_PROMETHEUS=true: ${ONE_SINK}`);
  if (disabled) return { sink: undefined };
  if (dog) return { sink: { flavor: 'dogstatsd', protocol: 'udp', ...common } };
  if (statsd ?? !prometheus) return { sink: { flavor: 'statsd', protocol, ...common } };
  return { sink: undefined };
}

/**
 * EXTRA_TAGS as the reference reads it: `k:v` pairs separated by `,`, split at
 * the first `:`; an entry without `:` is refused (the reference ignores it).
 * gostats then drops pairs with an empty key or value and sorts by key.
 */
export function parseExtraTags(raw: string): (readonly [string, string])[] {
  const tags = new Map<string, string>();
  for (const part of raw.split(',')) {
    const entry = part.trim();
    if (entry === '') continue;
    const colon = entry.indexOf(':');
    if (colon < 0) throw new SettingError('EXTRA_TAGS', raw, 'comma separated key:value pairs');
    const key = entry.slice(0, colon).trim();
    const val = entry.slice(colon + 1).trim();
    if (key !== '' && val !== '') tags.set(key, val);
  }
  return [...tags].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function positiveDuration(name: string, raw: string): number {
  const ms = parseDurationMs(name, raw);
  if (ms <= 0) throw new SettingError(name, raw, 'a duration above 0 such as 10s');
  return ms;
}
