import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './free-port.js';

const repoRoot = resolve(import.meta.dirname, '../..');

/** A Prometheus server started by a test on 127.0.0.1, its TSDB in a temp dir. */
export interface PrometheusTestServer {
  readonly url: string;
  /** Instant query at now: the result vector (or scalar as one sample), or throws on a query error. */
  query(expr: string): Promise<PromSample[]>;
  stderr(): string;
  stop(): Promise<void>;
}

export interface PromSample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

/** Debian's prometheus package's binaries (`prometheus`, `promtool`), installed by scripts/ensure-system-packages.sh when missing. */
export async function prometheusBinary(name: 'prometheus' | 'promtool'): Promise<string> {
  const find = () =>
    (process.env.PATH ?? '')
      .split(':')
      .map((p) => join(p, name))
      .find((p) => existsSync(p));
  if (find() === undefined) {
    const code = await exitCode(
      spawn(join(repoRoot, 'scripts/ensure-system-packages.sh'), { stdio: 'inherit' }),
    );
    if (code !== 0) throw new Error(`${name} missing; run scripts/ensure-system-packages.sh`);
  }
  const found = find();
  if (found === undefined) throw new Error(`${name} missing; run scripts/ensure-system-packages.sh`);
  return found;
}

/** Runs promtool with `args` (and `stdin`), resolving with its exit code and output. */
export async function promtool(
  args: readonly string[],
  stdin?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(await prometheusBinary('promtool'), args, { cwd: repoRoot, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end(stdin ?? '');
  const code = await exitCode(child);
  return { code, stdout, stderr };
}

/** Starts `prometheus` scraping `targets` (host:port) as job `job` every second, and waits until it is ready. */
export async function startPrometheus(
  job: string,
  targets: readonly string[],
): Promise<PrometheusTestServer> {
  const binary = await prometheusBinary('prometheus');
  const dir = await mkdtemp(join(tmpdir(), 'rl-prometheus-'));
  const port = await freePort();
  const config = join(dir, 'prometheus.yml');
  await writeFile(
    config,
    [
      'global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      `  - job_name: ${job}`,
      `    static_configs: [{ targets: [${targets.map((t) => `"${t}"`).join(', ')}] }]`,
      '',
    ].join('\n'),
  );
  const child = spawn(
    binary,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(url, child, () => stderr);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    stderr: () => stderr,
    stop,
    async query(expr) {
      const answer = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
      const body = (await answer.json()) as {
        status: string;
        error?: string;
        data?: { resultType: string; result: unknown };
      };
      if (body.status !== 'success' || body.data === undefined) {
        throw new Error(`query failed: ${expr}: ${body.error ?? answer.status}`);
      }
      if (body.data.resultType === 'scalar')
        return [{ metric: {}, value: body.data.result as [number, string] }];
      return body.data.result as PromSample[];
    },
  };
}

async function waitReady(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${stderr()}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`prometheus not ready within 15 s: ${stderr()}`);
}

/** SIGTERM to this child's PID, SIGKILL after 5 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = exitCode(child);
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  }, 5_000);
  await exited;
  clearTimeout(timer);
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolveExit, reject) => {
    if (child.exitCode !== null) return resolveExit(child.exitCode);
    child.once('error', reject);
    child.once('close', (code) => resolveExit(code));
  });
}

/**
 * What to query for an alert's `expr` so that it returns series whether or not the alert
 * would fire: the expression is split at its top-level `or` / `and` / `unless`; each operand
 * loses a trailing top-level comparison with a number (`> 0.01`, `== 0`); an operand that is
 * `absent(X)` (empty exactly when X has series) is replaced by X. Each probe must return series.
 */
export function alertProbes(expr: string): string[] {
  return splitTopLevel(expr.trim(), /^(or|and|unless)\b/).map((operand) => {
    const bare = unwrap(stripComparison(unwrap(operand)));
    const absent = /^absent\(([\s\S]*)\)$/.exec(bare);
    return absent?.[1] !== undefined && balanced(absent[1]) ? absent[1].trim() : bare;
  });
}

/** Splits at matches of `operator` outside brackets and quotes. */
function splitTopLevel(expr: string, operator: RegExp): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr.charAt(i);
    if (quote !== undefined) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    else if (depth === 0 && /\s/.test(expr.charAt(i - 1))) {
      const match = operator.exec(expr.slice(i));
      if (match !== null && /\s/.test(expr.charAt(i + match[0].length))) {
        parts.push(expr.slice(start, i).trim());
        start = i + match[0].length;
        i = start - 1;
      }
    }
  }
  parts.push(expr.slice(start).trim());
  return parts;
}

/** `A > 0.01` → `A` (a comparison outside brackets, with a number on its right). */
function stripComparison(expr: string): string {
  const parts = splitTopLevel(expr, /^(==|!=|>=|<=|>|<)/);
  if (parts.length === 2 && /^(bool\s+)?-?[\d.]+(e-?\d+)?$/.test(parts[1] ?? '')) return parts[0] ?? expr;
  return expr;
}

/** `(A)` → `A` when the brackets enclose the whole expression. */
function unwrap(expr: string): string {
  const trimmed = expr.trim();
  if (trimmed.startsWith('(') && trimmed.endsWith(')') && balanced(trimmed.slice(1, -1))) {
    return unwrap(trimmed.slice(1, -1));
  }
  return trimmed;
}

function balanced(text: string): boolean {
  let depth = 0;
  for (const c of text) {
    if (c === '(') depth++;
    else if (c === ')' && --depth < 0) return false;
  }
  return depth === 0;
}
