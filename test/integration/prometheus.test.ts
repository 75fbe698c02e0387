import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createRlsClient, entries, type RlsTestClient } from '../support/grpc-client.js';
import { alertProbes, type PrometheusTestServer, promtool, startPrometheus } from '../support/prometheus.js';
import { type RedisTestServer, startRedisServer } from '../support/redis-server.js';
import { startServer, type TestServer } from '../support/server.js';

// Debian's prometheus package (server and promtool) against the shipped alert rules and
// Grafana dashboard, and a real Prometheus scraping a real service. See docs/metrics.md.

const repoRoot = resolve(import.meta.dirname, '../..');
const ALERTS = 'deploy/prometheus/ratelimit-alerts.yaml';
const ALERT_TESTS = 'deploy/prometheus/ratelimit-alerts.test.yaml';
const DASHBOARD = 'deploy/grafana/ratelimit-dashboard.json';

/**
 * The reference's counter names (envoyproxy/ratelimit's Prometheus mapping), kept for drop-in
 * dashboards and alerts: promtool wants `_total` on counters and says so for each of these.
 */
const REFERENCE_COUNTERS_WITHOUT_TOTAL = [
  'ratelimit_service_config_load_error',
  'ratelimit_service_config_load_success',
  'ratelimit_service_domain_not_found',
  'ratelimit_service_rate_limit_near_limit',
  'ratelimit_service_rate_limit_over_limit',
  'ratelimit_service_rate_limit_shadow_mode',
  'ratelimit_service_rate_limit_total_hits',
  'ratelimit_service_rate_limit_within_limit',
  'ratelimit_service_should_rate_limit_error',
  'ratelimit_service_total_requests',
];

const CONFIG = `domain: shop
adaptive:
  - { name: health, type: error_rate }
  - { name: abusers, type: abuse }
descriptors:
  - key: user
    rate_limit: { unit: hour, requests_per_unit: 10 }
  - key: path
    value: /api/*
    descriptors:
      - key: method
        value: GET
        shadow_mode: true
        rate_limit: { unit: hour, requests_per_unit: 2 }
  - key: tenant
    detailed_metric: true
    rate_limit: { unit: hour, requests_per_unit: 100 }
  - key: client
    rate_limit: { unit: hour, requests_per_unit: 100 }
    adaptive: [health, abusers]
`;
const SIGNAL_TOKEN = 'prometheus-test-token';

/** Dashboard template variables → the values this test's data has. */
const VARIABLES: Record<string, string> = { domain: 'shop', __rate_interval: '1m', __range: '5m' };

let redis: RedisTestServer;
let service: TestServer;
let client: RlsTestClient;
let prometheus: PrometheusTestServer | undefined;

beforeAll(async () => {
  // Redis: the backend, circuit breaker, failure-mode and local cache series are a remote backend's
  redis = await startRedisServer();
  service = await startServer({
    config: { 'shop.yaml': CONFIG },
    env: {
      REDIS_URL: redis.url,
      BACKEND_TYPE: 'redis',
      LOCAL_CACHE_ENTRIES: '1000',
      ADAPTIVE_SIGNAL_TOKEN: SIGNAL_TOKEN,
    },
  });
  client = createRlsClient(service.grpcAddress);
});

afterAll(async () => {
  await prometheus?.stop();
  client?.close();
  await service?.stop();
  await redis?.stop();
});

/**
 * One round of traffic that moves every series the dashboard and the alerts read: OK, near and
 * over the limit (then from the local over-limit cache), a shadow rule over its limit, a
 * detailed_metric rule, an unknown domain and an invalid request.
 */
async function traffic(round: number): Promise<void> {
  const ask = (domain: string, ...pairs: string[]) =>
    client.shouldRateLimit({ domain, descriptors: [{ entries: entries(...pairs) }] });
  for (let i = 0; i < 8; i++) await ask('shop', `user=u${round}`);
  for (let i = 0; i < 3; i++) await ask('shop', `path=/api/r${round}`, 'method=GET');
  await ask('shop', `tenant=t${round}`);
  await ask('nowhere', 'user=x');
  await expect(client.shouldRateLimit({ domain: '', descriptors: [] })).rejects.toMatchObject({ code: 3 });
  for (let i = 0; i < 5; i++) await ask('shop', 'user=hot'); // over the limit of 10 from round 2 on
  // the adaptive panels: a rule under controllers, and a signal accepted by the signal API
  await ask('shop', `client=c${round}`);
  const signal = await fetch(`${service.httpUrl}/v1/signals`, {
    method: 'POST',
    headers: { authorization: `Bearer ${SIGNAL_TOKEN}` },
    body: JSON.stringify({ domain: 'shop', controller: 'health', total: 10, errors: 1 }),
  });
  expect(signal.status).toBe(202);
}

/** Waits until Prometheus holds `count` scrapes of the service. */
async function waitForScrapes(server: PrometheusTestServer, count: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const [sample] = await server.query('count_over_time(up{job="ratelimit"}[5m])');
    if (sample !== undefined && Number(sample.value[1]) >= count) return;
    if (Date.now() > deadline) throw new Error(`fewer than ${count} scrapes in 15 s: ${server.stderr()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('promtool on the shipped alert rules', () => {
  it('check rules: the rules file is valid', async () => {
    const result = await promtool(['check', 'rules', ALERTS]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });

  it(`test rules: every alert fires on series that trip it and only on those (${ALERT_TESTS})`, async () => {
    const result = await promtool(['test', 'rules', ALERT_TESTS]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });
});

describe('a real Prometheus scraping the service', () => {
  it('every dashboard query and every alert expression returns series', async () => {
    prometheus = await startPrometheus('ratelimit', [new URL(service.httpUrl).host]);
    await waitForScrapes(prometheus, 1);
    await traffic(1);
    await waitForScrapes(prometheus, 3);
    await traffic(2);
    // rate() and increase() need the counters to move between two scrapes inside the window
    const [before] = await prometheus.query('count_over_time(up{job="ratelimit"}[5m])');
    await waitForScrapes(prometheus, Number(before?.value[1]) + 2);

    const dashboard = JSON.parse(await readFile(resolve(repoRoot, DASHBOARD), 'utf8')) as { panels: Panel[] };
    const dashboardExprs = panelTargets(dashboard.panels).map(({ title, expr }) => ({
      what: `dashboard panel "${title}"`,
      expr: substitute(expr),
    }));
    const rules = parse(await readFile(resolve(repoRoot, ALERTS), 'utf8')) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    const alertExprs = rules.groups
      .flatMap((group) => group.rules)
      .flatMap((rule) => alertProbes(rule.expr).map((expr) => ({ what: `alert ${rule.alert}`, expr })));
    expect(dashboardExprs.length).toBeGreaterThan(20);
    expect(alertExprs.length).toBeGreaterThan(15);

    const empty: string[] = [];
    for (const { what, expr } of [...dashboardExprs, ...alertExprs]) {
      const result = await prometheus.query(expr);
      if (result.length === 0) empty.push(`${what}: ${expr}`);
    }
    expect(empty, `queries that returned no series:\n${empty.join('\n')}`).toEqual([]);
  }, 40_000);

  it("promtool check metrics: its only complaints are the reference's counter names without _total", async () => {
    const scrape = await (await fetch(`${service.httpUrl}/metrics`)).text();
    const result = await promtool(['check', 'metrics'], scrape);
    const complaints = `${result.stdout}${result.stderr}`
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '');
    const expected = REFERENCE_COUNTERS_WITHOUT_TOTAL.map(
      (name) => `${name} counter metrics should have "_total" suffix`,
    );
    expect(complaints.sort()).toEqual(expected);
  });
});

interface Panel {
  readonly title?: string;
  readonly targets?: readonly { readonly expr?: string }[];
  readonly panels?: readonly Panel[];
}

/** Every target's expr, rows' nested panels included. */
function panelTargets(panels: readonly Panel[]): { title: string; expr: string }[] {
  return panels.flatMap((panel) => [
    ...(panel.targets ?? []).flatMap((t) =>
      t.expr === undefined ? [] : [{ title: panel.title ?? '(untitled)', expr: t.expr }],
    ),
    ...panelTargets(panel.panels ?? []),
  ]);
}

/** `$name` / `${name}` → VARIABLES[name]; a variable this test does not know fails. */
function substitute(expr: string): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (_, name: string) => {
    const value = VARIABLES[name];
    if (value === undefined) throw new Error(`dashboard variable $${name} has no test value: ${expr}`);
    return value;
  });
}
