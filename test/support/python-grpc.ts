import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * Python's gRPC (Debian python3-grpcio, a C-core stack, not grpc-js) as a second client of
 * the real server, driving test/e2e/python/rls_client.py with stubs generated at test time
 * from this repository's proto/ by grpc_tools.protoc.
 */

// Debian's interpreter: a python3 earlier on PATH may not see python3-grpcio.
const PYTHON = '/usr/bin/python3';
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PYTHON_CLIENT = path.join(repoRoot, 'test/e2e/python/rls_client.py');

/** What ShouldRateLimit needs, for --stubs of the `rls` subcommand. */
export const RLS_PROTOS = [
  'envoy/service/ratelimit/v3/rls.proto',
  'envoy/extensions/common/ratelimit/v3/ratelimit.proto',
  'envoy/type/v3/ratelimit_unit.proto',
  'envoy/config/core/v3/base.proto',
];
/** What the `signal` subcommand needs. */
export const SIGNAL_PROTOS = ['ratelimit/adaptive/v1/signals.proto'];

export interface RlsStatus {
  code: string;
  limit_remaining: number;
  current_limit: { requests_per_unit: number; unit: string; name: string } | null;
  duration_until_reset: number | null;
}
export interface RlsAnswer {
  overall_code: string;
  statuses: RlsStatus[];
  response_headers: [string, string][];
}
export interface GrpcError {
  grpc_error: string;
  details: string;
}
export type RlsResult = RlsAnswer | GrpcError;
export interface RlsCall {
  domain: string;
  descriptors: { entries: [string, string][]; hits_addend?: number }[];
  hits_addend?: number;
}

const children = new Set<ChildProcess>();

/** Runs `/usr/bin/python3 args` in the repo root, feeding `input`; SIGKILLs it after `timeoutMs`. */
export function runPython(args: string[], input = '', timeoutMs = 20_000): Promise<string> {
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

/** SIGKILLs the Python processes still running (for afterAll). */
export function killPythonChildren(): void {
  for (const child of children) child.kill('SIGKILL');
}

export function jsonLines<T>(out: string): T[] {
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

/** Makes sure grpcio and grpc_tools import, installing them when run as root. */
export async function ensurePythonGrpc(): Promise<void> {
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
}

/** Generates the *_pb2 and *_pb2_grpc modules of `protos` (paths under proto/) into a new temp dir. */
export async function generateStubs(protos: readonly string[]): Promise<string> {
  const stubs = await mkdtemp(path.join(tmpdir(), 'rls-py-stubs-'));
  const include = (
    await runPython([
      '-c',
      'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))',
    ])
  ).trim();
  const protoc = ['-m', 'grpc_tools.protoc', '-I', 'proto', '-I', include];
  await runPython([...protoc, `--python_out=${stubs}`, `--grpc_python_out=${stubs}`, ...protos]);
  return stubs;
}

export async function removeStubs(stubs: string | undefined): Promise<void> {
  if (stubs) await rm(stubs, { recursive: true, force: true });
}

/** Runs `rls_client.py --target target --stubs stubs command extra...` with `calls` as JSON on stdin. */
export async function runClient<T>(
  target: string,
  stubs: string,
  command: string[],
  calls: readonly unknown[],
): Promise<T[]> {
  const args = [PYTHON_CLIENT, '--target', target, '--stubs', stubs, ...command];
  return jsonLines<T>(await runPython(args, JSON.stringify(calls)));
}

export function rlsAnswer(result: RlsResult | undefined): RlsAnswer {
  if (!result || 'grpc_error' in result) throw new Error(`expected an answer, got ${JSON.stringify(result)}`);
  return result;
}
