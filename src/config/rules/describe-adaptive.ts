import type { ControllerParams } from '../../adaptive/controller-params.js';

/**
 * One controller with its effective parameters (defaults applied), in the YAML's names, for
 * `validate`: `checkout-health: error_rate match={upstream_cluster: checkout} error_threshold=0.2
 * min_samples=20 interval=5s decrease=0.5 increase=0.1 floor=0.1` or `abusers: abuse
 * over_limit_ratio=0.5 spike=10 min_requests=50 interval=10s penalty={factor: 0.1, ttl: 1m,
 * escalate: 2, max_ttl: 1h}`, then ` shadow_mode` when set. An empty match prints
 * `match={} (signals only)`.
 */
export function describeController(p: ControllerParams): string {
  const shadow = p.shadowMode ? ' shadow_mode' : '';
  if (p.type === 'error_rate') {
    const m = p.match;
    const fields = [
      m.upstreamCluster === undefined ? '' : `upstream_cluster: ${m.upstreamCluster}`,
      m.routeName === undefined ? '' : `route_name: ${m.routeName}`,
      m.authority === undefined ? '' : `authority: ${m.authority}`,
    ].filter((f) => f !== '');
    const match = fields.length === 0 ? '{} (signals only)' : `{${fields.join(', ')}}`;
    return (
      `${p.name}: error_rate match=${match} error_threshold=${p.errorThreshold} min_samples=${p.minSamples}` +
      ` interval=${formatDuration(p.intervalMs)} decrease=${p.decrease} increase=${p.increase} floor=${p.floor}${shadow}`
    );
  }
  const { factor, ttlMs, escalate, maxTtlMs } = p.penalty;
  const penalty = `{factor: ${factor}, ttl: ${formatDuration(ttlMs)}, escalate: ${escalate}, max_ttl: ${formatDuration(maxTtlMs)}}`;
  return (
    `${p.name}: abuse over_limit_ratio=${p.overLimitRatio} spike=${p.spike} min_requests=${p.minRequests}` +
    ` interval=${formatDuration(p.intervalMs)} penalty=${penalty}${shadow}`
  );
}

/** A duration in ms in the largest whole unit: `1h`, `90s`, `1m`, `500ms`. */
export function formatDuration(ms: number): string {
  if (ms > 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms > 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms > 0 && ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}
