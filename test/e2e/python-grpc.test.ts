import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';

/*
 * Talks to the real server through Python's gRPC (Debian python3-grpcio, a C-core stack, not
 * grpc-js), with stubs generated at test time from the same proto/ files: what Envoy sees.
 */

// Debian's interpreter: a python3 earlier on PATH may not see python3-grpcio.
const PYTHON = '/usr/bin/python3';
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLIENT = path.join(repoRoot, 'test/e2e/python/rls_client.py');
const RLS_PROTOS = [
  'envoy/service/ratelimit/v3/rls.proto',
  'envoy/extensions/common/ratelimit/v3/ratelimit.proto',
  'envoy/type/v3/ratelimit_unit.proto',
  'envoy/config/core/v3/base.proto',
];
const CONFIG = {
  'e2e.yaml': `domain: e2e
descriptors:
  - key: user
    rate_limit: { unit: minute, requests_per_unit: 3 }
  - key: plan
    rate_limit: { unit: hour, requests_per_unit: 10 }
`,
};

interface Status {
  code: string;
  limit_remaining: number;
  current_limit: { requests_per_unit: number; unit: string; name: string } | null;
  duration_until_reset: number | null;
}
interface Answer {
  overall_code: string;
  statuses: Status[];
  response_headers: [string, string][];
}
type Result = Answer | { grpc_error: string; details: string };
interface Call {
  domain: string;
  descriptors: { entries: [string, string][]; hits_addend?: number }[];
  hits_addend?: number;
}

const children = new Set<ChildProcess>();

/** Runs `/usr/bin/python3 args`, feeding `input`; SIGKILLs it after `timeoutMs`. */
function runPython(args: string[], input = '', timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, args, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      if (code === 0) resolve(stdout);
      else reject(new Error(`python ${args.join(' ')} exited ${code ?? signal}\n${stderr}`));
    });
    child.stdin.end(input);
  });
}

function jsonLines<T>(out: string): T[] {
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

/** Fixed windows are epoch-aligned: keep the calls of one scenario inside one minute. */
async function awayFromMinuteEnd(): Promise<void> {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 55_000) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 100));
}

function answer(result: Result | undefined): Answer {
  if (!result || 'grpc_error' in result) throw new Error(`expected an answer, got ${JSON.stringify(result)}`);
  return result;
}

const user = (value: string, hits_addend?: number) => ({
  entries: [['user', value]] as [string, string][],
  ...(hits_addend === undefined ? {} : { hits_addend }),
});

let server: TestServer;
let stubs: string;
let uniq = 0;
const unique = (name: string) => `${name}-${process.pid}-${Date.now()}-${uniq++}`;

async function rls(target: string, calls: Call[]): Promise<Result[]> {
  const out = await runPython([CLIENT, '--target', target, '--stubs', stubs, 'rls'], JSON.stringify(calls));
  const results = jsonLines<Result>(out);
  expect(results).toHaveLength(calls.length);
  return results;
}

beforeAll(async () => {
  const probe = ['-c', 'import grpc, grpc_tools.protoc'];
  await runPython(probe).catch(async () => {
    // Installs python3-grpcio/python3-grpc-tools as root, or says exactly what to install.
    await new Promise<void>((resolve, reject) => {
      const p = spawn(path.join(repoRoot, 'scripts/ensure-system-packages.sh'), { stdio: 'inherit' });
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve() : reject(new Error('python3-grpcio missing'))));
    });
    await runPython(probe);
  });
  stubs = await mkdtemp(path.join(tmpdir(), 'rls-py-stubs-'));
  const include = (
    await runPython([
      '-c',
      'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))',
    ])
  ).trim();
  const protoc = ['-m', 'grpc_tools.protoc', '-I', 'proto', '-I', include];
  await runPython([...protoc, `--python_out=${stubs}`, `--grpc_python_out=${stubs}`, ...RLS_PROTOS]);
  server = await startServer({ config: CONFIG });
}, 300_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await server?.stop();
  if (stubs) await rm(stubs, { recursive: true, force: true });
});

describe('ShouldRateLimit through Python grpcio', () => {
  it('answers OK with 2, 1, 0 remaining and then OVER_LIMIT on the 4th hit of a 3/minute limit', async () => {
    await awayFromMinuteEnd();
    const call = { domain: 'e2e', descriptors: [user(unique('alice'))] };
    const results = (await rls(server.grpcAddress, [call, call, call, call])).map(answer);
    expect(results.map((r) => r.overall_code)).toEqual(['OK', 'OK', 'OK', 'OVER_LIMIT']);
    expect(results.map((r) => r.statuses[0]?.code)).toEqual(['OK', 'OK', 'OK', 'OVER_LIMIT']);
    expect(results.map((r) => r.statuses[0]?.limit_remaining)).toEqual([2, 1, 0, 0]);
    for (const r of results) {
      const status = r.statuses[0]!;
      expect(status.current_limit).toMatchObject({ requests_per_unit: 3, unit: 'MINUTE' });
      expect(status.duration_until_reset).toBeGreaterThan(0);
      expect(status.duration_until_reset).toBeLessThanOrEqual(60);
      expect(r.response_headers).toEqual([]);
    }
  });

  it('charges the request hits_addend: 2 hits leave 1 of 3 and 2 more are OVER_LIMIT', async () => {
    await awayFromMinuteEnd();
    const call = { domain: 'e2e', descriptors: [user(unique('bob'))], hits_addend: 2 };
    const [first, second] = (await rls(server.grpcAddress, [call, call])).map(answer);
    expect(first?.statuses[0]).toMatchObject({ code: 'OK', limit_remaining: 1 });
    expect(second?.overall_code).toBe('OVER_LIMIT');
  });

  it('treats a descriptor hits_addend of 0 as check only, even over a request hits_addend', async () => {
    await awayFromMinuteEnd();
    const name = unique('carol');
    const check = { domain: 'e2e', descriptors: [user(name, 0)], hits_addend: 3 };
    const hit = { domain: 'e2e', descriptors: [user(name)] };
    const results = (await rls(server.grpcAddress, [check, hit, check, check])).map(answer);
    expect(results.map((r) => r.statuses[0]?.code)).toEqual(['OK', 'OK', 'OK', 'OK']);
    expect(results.map((r) => r.statuses[0]?.limit_remaining)).toEqual([3, 2, 2, 2]);
  });

  it('answers two descriptors with two statuses in request order', async () => {
    await awayFromMinuteEnd();
    const call = {
      domain: 'e2e',
      descriptors: [{ entries: [['plan', unique('gold')]] }, user(unique('dave'))],
    };
    const [result] = (await rls(server.grpcAddress, [call as Call])).map(answer);
    expect(result?.statuses).toHaveLength(2);
    expect(result?.statuses[0]).toMatchObject({ code: 'OK', limit_remaining: 9 });
    expect(result?.statuses[0]?.current_limit).toMatchObject({ requests_per_unit: 10, unit: 'HOUR' });
    expect(result?.statuses[1]).toMatchObject({ code: 'OK', limit_remaining: 2 });
    expect(result?.statuses[1]?.current_limit).toMatchObject({ requests_per_unit: 3, unit: 'MINUTE' });
  });

  it('answers OK with bare statuses (no limit, no reset) for a domain with no config', async () => {
    const call = { domain: unique('nowhere'), descriptors: [user('x'), { entries: [['k', 'v']] }] };
    const [result] = (await rls(server.grpcAddress, [call as Call])).map(answer);
    expect(result?.overall_code).toBe('OK');
    const bare = { code: 'OK', limit_remaining: 0, current_limit: null, duration_until_reset: null };
    expect(result?.statuses).toEqual([bare, bare]);
  });

  it('rejects an empty domain with INVALID_ARGUMENT and a message', async () => {
    const [result] = await rls(server.grpcAddress, [{ domain: '', descriptors: [user('x')] }]);
    expect(result).toMatchObject({ grpc_error: 'INVALID_ARGUMENT' });
    expect((result as { details: string }).details).toMatch(/domain/i);
  });

  it('adds RateLimit-Limit, -Remaining and -Reset when LIMIT_RESPONSE_HEADERS_ENABLED=true', async () => {
    const withHeaders = await startServer({
      config: CONFIG,
      env: { LIMIT_RESPONSE_HEADERS_ENABLED: 'true' },
    });
    try {
      await awayFromMinuteEnd();
      const call = { domain: 'e2e', descriptors: [user(unique('erin'))] };
      const [result] = (await rls(withHeaders.grpcAddress, [call])).map(answer);
      const headers = result?.response_headers ?? [];
      expect(headers.map(([k]) => k)).toEqual(['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset']);
      expect(headers[0]?.[1]).toBe('3');
      expect(headers[1]?.[1]).toBe('2');
      expect(Number(headers[2]?.[1])).toBeGreaterThanOrEqual(1);
      expect(Number(headers[2]?.[1])).toBeLessThanOrEqual(60);
      expect(headers[2]?.[1]).toMatch(/^\d+$/);
    } finally {
      await withHeaders.stop();
    }
  });
});

describe('grpc.health.v1 through Python grpcio', () => {
  it('reports SERVING for the service names "" and "ratelimit"', async () => {
    const args = [
      CLIENT,
      '--target',
      server.grpcAddress,
      'health',
      '--service',
      '',
      '--service',
      'ratelimit',
    ];
    expect(jsonLines(await runPython(args))).toEqual([
      { service: '', status: 'SERVING' },
      { service: 'ratelimit', status: 'SERVING' },
    ]);
  });
});
