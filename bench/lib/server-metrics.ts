/**
 * Counters read from the service's own GET /metrics: what h2load cannot see (grpc-status
 * is in the trailers), taken before and after a load and subtracted.
 */

/** One counter: a metric family and the label values a sample must carry to be summed. */
export interface CounterSelector {
  name: string;
  labels?: Readonly<Record<string, string>>;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One scrape: the declared families (`# TYPE` lines) and every sample. */
export interface Scrape {
  families: ReadonlySet<string>;
  samples: readonly Sample[];
}

const SAMPLE = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/;
const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;

/** Parses the Prometheus text format (the subset prom-client writes). */
export function parseMetrics(text: string): Scrape {
  const families = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      families.add(line.split(' ')[2]!);
      continue;
    }
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(LABEL)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return { families, samples };
}

export async function scrape(httpPort: number): Promise<Scrape> {
  const response = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
  return parseMetrics(await response.text());
}

/**
 * The sum of the samples matching `selector`; 0 when the family is declared without such a
 * sample yet (a labelled counter never incremented), null when this build does not export it.
 */
export function total(from: Scrape, selector: CounterSelector): number | null {
  if (!from.families.has(selector.name)) return null;
  let sum = 0;
  for (const sample of from.samples) {
    if (sample.name !== selector.name) continue;
    const wanted = Object.entries(selector.labels ?? {});
    if (wanted.every(([key, value]) => sample.labels[key] === value)) sum += sample.value;
  }
  return sum;
}

/** after − before for every selector of `counters`, null where the build does not export it. */
export function deltas<K extends string>(
  counters: Readonly<Record<K, CounterSelector>>,
  before: Scrape,
  after: Scrape,
): Record<K, number | null> {
  const out = {} as Record<K, number | null>;
  for (const key of Object.keys(counters) as K[]) {
    const a = total(after, counters[key]);
    const b = total(before, counters[key]);
    out[key] = a === null || b === null ? null : a - b;
  }
  return out;
}
