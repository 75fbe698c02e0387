/**
 * Is the Node load generator the bottleneck? Loads the no-op grpc-js server
 * (bench/noop-server.ts) with h2load and with grpc-load.ts, one after the other in the same
 * run, at each concurrency, and prints req/s of both plus the generator's own CPU.
 *
 * Run after `make build && npx tsc -p bench/tsconfig.json`:
 *   node dist/bench/bench/load/generator-ceiling.js [--seconds 5] [--concurrency 16,64,256]
 *     [--connections 2,4]   (generator connection counts to try; default defaultConnections)
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { writeFrames } from './grpc-frames.js';
import { keys } from './request-bodies.js';
import { defaultConnections, runGrpcLoad } from './run-grpc-load.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const PATH = '/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit';

/** h2load's connections × streams for a concurrency, as bench/run.ts shape() has them. */
function h2loadShape(concurrency: number): { c: number; m: number } {
  const c = concurrency >= 256 ? 8 : 4;
  return { c, m: Math.max(1, Math.round(concurrency / c)) };
}

/** h2load's req/s and its own CPU per request (GNU time around it), in µs. */
async function h2loadRun(port: number, dataFile: string, concurrency: number, seconds: number) {
  const { c, m } = h2loadShape(concurrency);
  const args = ['-D', String(seconds), '-c', String(c), '-m', String(m), '-t', '1', `--data=${dataFile}`];
  args.push('-H', 'content-type: application/grpc', '-H', 'te: trailers', `http://127.0.0.1:${port}${PATH}`);
  const { stdout, stderr } = await run('/usr/bin/time', ['-f', 'cpu %U %S', 'h2load', ...args], {
    timeout: (seconds + 30) * 1000,
  });
  const finished = /finished in [\d.]+(?:ms|s), ([\d.]+) req\/s/.exec(stdout);
  const counts = /requests: (\d+) total.*?(\d+) failed, (\d+) errored/s.exec(stdout);
  const cpu = /cpu ([\d.]+) ([\d.]+)/.exec(stderr);
  if (!finished || !counts || !cpu) throw new Error(`cannot parse h2load output:\n${stdout}\n${stderr}`);
  const cpuSeconds = Number(cpu[1]) + Number(cpu[2]);
  return {
    reqPerSec: Number(finished[1]),
    failed: Number(counts[2]) + Number(counts[3]),
    cpuUsPerReq: (cpuSeconds * 1e6) / Number(counts[1]),
    c,
    m,
  };
}

function startNoop(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [join(here, '..', 'noop-server.js'), '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`noop-server exited with ${code}`)));
    child.stdout!.setEncoding('utf8').once('data', (line: string) => {
      const port = Number(/listening (\d+)/.exec(line)?.[1]);
      if (port > 0) resolve({ child, port });
      else reject(new Error(`unexpected noop-server output: ${line}`));
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      concurrency: { type: 'string', default: '16,64,256' },
      connections: { type: 'string' },
    },
  });
  const seconds = Number(values.seconds);
  const work = await mkdtemp(join(tmpdir(), 'rl-gen-ceiling-'));
  const bodiesFile = join(work, 'bodies.bin');
  const oneBody = join(work, 'one.bin');
  const bodies = keys(100_000, 'fixed_window');
  await writeFrames(bodiesFile, bodies);
  await writeFrames(oneBody, [bodies[0]!]);
  const noop = await startNoop();
  const rows: string[] = [
    '| conc. | h2load req/s (c×m) | h2load CPU µs/req | generator conns | generator req/s | vs h2load | generator CPU µs/req | generator CPU | generator ELU | generator p50 | generator p99 |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  try {
    for (const concurrency of values.concurrency.split(',').map(Number)) {
      const h2 = await h2loadRun(noop.port, oneBody, concurrency, seconds);
      const tries = values.connections?.split(',').map(Number) ?? [defaultConnections(concurrency)];
      for (const connections of tries) {
        const r = await runGrpcLoad({
          port: noop.port,
          bodiesFile,
          concurrency,
          connections,
          seconds,
          warmupSeconds: 1,
        });
        const row = [
          concurrency,
          `${Math.round(h2.reqPerSec)} (${h2.c}×${h2.m}${h2.failed ? `, ${h2.failed} failed` : ''})`,
          h2.cpuUsPerReq.toFixed(1),
          connections,
          `${Math.round(r.reqPerSec)}${r.failed + r.errored ? ` (${r.failed + r.errored} failed)` : ''}`,
          `${((r.reqPerSec / h2.reqPerSec) * 100).toFixed(0)}%`,
          ((r.generatorCpuPercent * 1e4) / r.reqPerSec).toFixed(1),
          `${r.generatorCpuPercent.toFixed(0)}%`,
          r.generatorEventLoopUtilization.toFixed(2),
          `${Math.round(r.p50Us)} µs`,
          `${Math.round(r.p99Us)} µs`,
        ].join(' | ');
        rows.push(`| ${row} |`);
        process.stderr.write(`| ${row} |\n`);
      }
    }
  } finally {
    noop.child.kill('SIGTERM');
    await rm(work, { recursive: true, force: true });
  }
  process.stdout.write(`${rows.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `generator-ceiling: ${error instanceof Error ? (error.stack ?? error.message) : error}\n`,
  );
  process.exit(1);
});
