import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI, as a user runs it after `make build`. */
export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node dist/cli.js ...args` to completion; after `timeoutMs` it is killed (SIGTERM) and the result has code 1. */
export function runCli(
  args: readonly string[],
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, ...env }, timeout: timeoutMs },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly debugPort: number;
  /** Every JSON log line printed so far. */
  readonly logs: Record<string, unknown>[];
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Which CLI to run and from where; by default the repository's dist/cli.js, from the test's cwd. */
export interface CliLocation {
  readonly cli: string;
  readonly cwd?: string | undefined;
  /**
   * Runs the CLI under this `ulimit -n` (open files), soft and hard: Node raises
   * its soft limit to the hard one at startup, so a soft limit alone changes nothing.
   */
  readonly openFileLimit?: number | undefined;
}

/** How long `startServeProcess` waits for the ready log line before it kills the process. */
const READY_TIMEOUT_MS = 30_000;

/**
 * Starts `serve` on ports chosen by the OS and waits for its "listening" log line
 * (`readyMessage`: with --workers N the primary's "workers listening").
 * Rejects with the output if the process exits first, or kills it and rejects
 * when the line does not come within READY_TIMEOUT_MS.
 */
export function startServeProcess(
  args: readonly string[],
  env: Record<string, string> = {},
  readyMessage = 'listening',
  location: CliLocation = { cli: CLI },
): Promise<ServeProcess> {
  const argv = [location.cli, 'serve', '--grpc-port', '0', '--http-port', '0', '--debug-port', '0', ...args];
  const limit = location.openFileLimit;
  const child = spawn(
    limit === undefined ? process.execPath : 'bash',
    limit === undefined
      ? argv
      : ['-c', `ulimit -n ${Math.trunc(limit)} && exec "$0" "$@"`, process.execPath, ...argv],
    {
      cwd: location.cwd,
      env: { ...process.env, GRPC_HOST: '127.0.0.1', HOST: '127.0.0.1', DEBUG_HOST: '127.0.0.1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    // a process that never says it is listening is killed, never left behind
    const giveUp = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not log '${readyMessage}' within ${READY_TIMEOUT_MS} ms\n${stderr}`));
    }, READY_TIMEOUT_MS);
    let buffer = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf('\n');
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === readyMessage) {
          clearTimeout(giveUp);
          resolve({
            child,
            grpcPort: entry.grpcPort as number,
            httpPort: entry.httpPort as number,
            debugPort: entry.debugPort as number,
            logs,
            stop: () => {
              child.kill('SIGTERM');
              return exited;
            },
          });
        }
      }
    });
    exited.then((code) => {
      clearTimeout(giveUp);
      reject(new Error(`serve exited with ${code}\n${stderr}\n${JSON.stringify(logs)}`));
    });
  });
}
