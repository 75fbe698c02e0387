// The Grafana dashboard (deploy/grafana/) and the Prometheus alert rules (deploy/prometheus/) we ship
// are checked against docs/metrics.md, the one table of every metric the service serves: a query
// naming a metric we do not export would silently show "No data" or never fire.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = (rel: string): string => fileURLToPath(new URL(`../../../${rel}`, import.meta.url));
const read = (rel: string): string => readFileSync(root(rel), 'utf8');

/** Metric name → type, from the `| \`name\` | type | …` rows of docs/metrics.md. */
function documentedMetrics(markdown: string): Map<string, string> {
  const metrics = new Map<string, string>();
  for (const line of markdown.split('\n')) {
    const row = /^\|\s*`(ratelimit_[a-z_]+)`\s*\|\s*([a-z]+)\s*\|/.exec(line);
    if (row) metrics.set(row[1]!, row[2]!);
  }
  return metrics;
}

const documented = documentedMetrics(read('docs/metrics.md'));
const HISTOGRAM_SERIES = /_(bucket|sum|count)$/;

/** Every `ratelimit_…` identifier in a PromQL expression (the whole identifier, so a suffix is not cut off). */
const metricNames = (expr: string): string[] =>
  [...expr.matchAll(/\bratelimit_[A-Za-z0-9_]*/g)].map((m) => m[0]);

/** Names in `expr` that are neither a documented metric nor a `_bucket`/`_sum`/`_count` series of a documented histogram. */
function undocumented(expr: string): string[] {
  return metricNames(expr).filter((name) => {
    if (documented.has(name)) return false;
    const base = name.replace(HISTOGRAM_SERIES, '');
    return !(base !== name && documented.get(base) === 'histogram');
  });
}

interface Target {
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query: unknown;
  definition?: string;
  datasource?: { type?: string; uid?: string };
}
interface Dashboard {
  schemaVersion: number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}
interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const dashboardText = read('deploy/grafana/ratelimit-dashboard.json');
const rulesText = read('deploy/prometheus/ratelimit-alerts.yaml');
const alertingDoc = read('docs/alerting.md');
// Grafana's `${datasource}` variable reference, spelt so that lint does not take it for a placeholder.
const DATASOURCE = ['$', '{datasource}'].join('');
const headings = [...alertingDoc.matchAll(/^### (.+)$/gm)].map((m) => m[1]!.trim());
/** The anchor GitHub gives a heading: lower case, punctuation dropped, each space a `-`. */
const githubSlug = (heading: string): string =>
  heading
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');

describe('docs/metrics.md table (the source of truth for these checks)', () => {
  it('lists the metrics, with the response time as a histogram', () => {
    expect(documented.size).toBeGreaterThanOrEqual(16);
    expect(documented.get('ratelimit_service_response_time_seconds')).toBe('histogram');
    expect(documented.get('ratelimit_service_rate_limit_over_limit')).toBe('counter');
    expect(documented.get('ratelimit_backend_circuit_open')).toBe('gauge');
  });

  it('the name check rejects what it should', () => {
    expect(undocumented('rate(ratelimit_service_response_time_seconds_bucket[5m])')).toEqual([]);
    expect(undocumented('ratelimit_service_response_time_seconds_count')).toEqual([]);
    // _bucket only exists for histograms; a made-up or misspelt name is caught whole.
    expect(undocumented('ratelimit_backend_circuit_open_bucket')).toEqual([
      'ratelimit_backend_circuit_open_bucket',
    ]);
    expect(undocumented('rate(ratelimit_service_rate_limit_over_limit_total[5m])')).toEqual([
      'ratelimit_service_rate_limit_over_limit_total',
    ]);
    expect(undocumented('ratelimit_backend_errors_total2')).toEqual(['ratelimit_backend_errors_total2']);
  });
});

describe('deploy/grafana/ratelimit-dashboard.json', () => {
  const dashboard = JSON.parse(dashboardText) as Dashboard;
  const all: Panel[] = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  const queryPanels = all.filter((p) => p.type !== 'row');
  const exprs = queryPanels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? '' })),
  );
  const variables = new Map(dashboard.templating.list.map((v) => [v.name, v]));

  it('is a Grafana dashboard model with a uid and a recent schema', () => {
    expect(dashboard.uid).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(queryPanels.length).toBeGreaterThan(10);
  });

  it('has a Prometheus datasource variable and a domain variable over the per rule hits', () => {
    const ds = variables.get('datasource');
    expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const domain = variables.get('domain');
    expect(domain?.type).toBe('query');
    expect(domain?.datasource?.uid).toBe(DATASOURCE);
    const raw = domain?.query;
    const query = typeof raw === 'string' ? raw : (raw as { query: string } | undefined)?.query;
    expect(query).toBe('label_values(ratelimit_service_rate_limit_total_hits, domain)');
    expect(undocumented(query ?? '')).toEqual([]);
  });

  it('every query only uses metrics from docs/metrics.md', () => {
    expect(exprs.length).toBeGreaterThan(0);
    for (const { panel, expr } of exprs) {
      expect(metricNames(expr), `${panel}: ${expr}`).not.toEqual([]);
      expect(undocumented(expr), `${panel}: ${expr}`).toEqual([]);
    }
  });

  it('covers traffic, decisions, health and config metrics', () => {
    const used = new Set(
      exprs.flatMap(({ expr }) => metricNames(expr).map((n) => n.replace(HISTOGRAM_SERIES, ''))),
    );
    for (const name of [
      'ratelimit_service_total_requests',
      'ratelimit_service_response_time_seconds',
      'ratelimit_service_rate_limit_total_hits',
      'ratelimit_service_rate_limit_over_limit',
      'ratelimit_service_rate_limit_within_limit',
      'ratelimit_service_rate_limit_near_limit',
      'ratelimit_service_rate_limit_shadow_mode',
      'ratelimit_service_should_rate_limit_error',
      'ratelimit_backend_errors_total',
      'ratelimit_failure_mode_answers_total',
      'ratelimit_backend_circuit_open',
      'ratelimit_local_cache_hits_total',
      'ratelimit_local_cache_misses_total',
      'ratelimit_service_config_load_success',
      'ratelimit_service_config_load_error',
    ]) {
      expect(used, name).toContain(name);
    }
  });

  it('panel ids are unique', () => {
    const ids = all.map((p) => p.id);
    expect(ids.every((id) => Number.isInteger(id) && id > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('every panel and every query uses the datasource variable', () => {
    for (const p of queryPanels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: DATASOURCE });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe(DATASOURCE);
    }
  });

  it('per rule panels filter on the domain variable', () => {
    for (const { panel, expr } of exprs) {
      if (/ratelimit_service_rate_limit_/.test(expr)) {
        expect(expr, panel).toContain('domain=~"$domain"');
      }
    }
  });

  it('panels fit the 24-column grid without overlapping', () => {
    const cells = new Set<string>();
    for (const p of all) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          const cell = `${i},${j}`;
          expect(cells.has(cell), `${p.title} overlaps at ${cell}`).toBe(false);
          cells.add(cell);
        }
      }
    }
  });
});

describe('deploy/prometheus/ratelimit-alerts.yaml', () => {
  const file = parse(rulesText) as { groups: { name: string; rules: Rule[] }[] };
  const rules = file.groups.flatMap((g) => g.rules);
  const alerts = rules.filter((r) => r.alert !== undefined);

  it('is a rules file with alerts', () => {
    expect(file.groups.length).toBeGreaterThan(0);
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    const names = alerts.map((r) => r.alert);
    expect(new Set(names).size).toBe(names.length);
  });

  it('every expr only uses metrics from docs/metrics.md', () => {
    for (const r of rules) {
      expect(metricNames(r.expr), `${r.alert}: ${r.expr}`).not.toEqual([]);
      expect(undocumented(r.expr), `${r.alert}: ${r.expr}`).toEqual([]);
    }
  });

  it('every alert has a for-duration, a severity, a summary and a documented runbook section', () => {
    for (const r of alerts) {
      const name = r.alert!;
      expect(r.for, name).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning', 'info'], name).toContain(r.labels?.severity);
      expect(r.annotations?.summary, name).toBeTruthy();
      const heading = headings.find((h) => new RegExp(`\\b${name}\\b`).test(h));
      expect(heading, `docs/alerting.md has a ### heading naming ${name}`).toBeDefined();
      expect(r.annotations?.runbook, name).toBe(`docs/alerting.md#${githubSlug(heading!)}`);
      expect(alertingDoc, name).toContain(`| \`${name}\` |`);
    }
  });

  it('covers the failure signals from the docs', () => {
    const byExpr = (metric: string) => alerts.filter((r) => r.expr.includes(metric)).map((r) => r.alert);
    for (const metric of [
      'ratelimit_backend_errors_total',
      'ratelimit_backend_circuit_open',
      'ratelimit_failure_mode_answers_total',
      'ratelimit_service_config_load_error',
      'ratelimit_service_response_time_seconds_bucket',
      'ratelimit_service_rate_limit_over_limit',
      'ratelimit_service_total_requests',
    ]) {
      expect(byExpr(metric), metric).not.toEqual([]);
    }
  });
});
