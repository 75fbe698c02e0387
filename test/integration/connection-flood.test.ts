import { readdir } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RateLimitResponse_Code as Code } from '../../src/gen/envoy/service/ratelimit/v3/rls.js';
import { CLI, type ServeProcess, startServeProcess } from '../support/cli-process.js';
import { createRlsClient, entries, type RlsTestClient } from '../support/grpc-client.js';
import { isRunning } from '../support/proc.js';
import { writeConfigDir } from '../support/server.js';

/**
 * Issue "hostile input", item 4: idle connections must not exhaust the
 * process's file descriptors. The built CLI runs under `ulimit -n 1024`
 * (soft and hard: Node raises a lower soft limit to the hard one by itself).
 */

const FILE_LIMIT = 1024;
const CONFIG = {
  'shop.yaml':
    'domain: shop\ndescriptors:\n  - key: user\n    rate_limit: { unit: minute, requests_per_unit: 100 }\n',
};

let server: ServeProcess | undefined;
let client: RlsTestClient | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  client?.close();
  client = undefined;
  await server?.stop();
  server = undefined;
});

/** Opens `count` TCP connections to `port` that never send a byte; resolves with how many connected. */
async function openIdle(port: number, count: number): Promise<number> {
  let connected = 0;
  for (let start = 0; start < count; start += 100) {
    const batch = Math.min(100, count - start);
    await Promise.all(
      Array.from(
        { length: batch },
        () =>
          new Promise<void>((resolve) => {
            const socket = connect({ port, host: '127.0.0.1' });
            sockets.push(socket);
            const done = setTimeout(resolve, 2_000);
            socket.once('connect', () => {
              connected += 1;
              clearTimeout(done);
              resolve();
            });
            socket.on('error', () => {
              clearTimeout(done);
              resolve();
            });
          }),
      ),
    );
  }
  return connected;
}

async function openFiles(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

describe(`a flood of idle connections under ulimit -n ${FILE_LIMIT}`, () => {
  it('still answers a new gRPC client and a new /healthcheck, below the fd limit', async () => {
    const configDir = await writeConfigDir(CONFIG);
    server = await startServeProcess(['--config', configDir, '--backend', 'memory'], {}, 'listening', {
      cli: CLI,
      openFileLimit: FILE_LIMIT,
    });
    const pid = server.child.pid ?? 0;

    await openIdle(server.grpcPort, 1_100);
    await openIdle(server.httpPort, 200);

    client = createRlsClient(`127.0.0.1:${server.grpcPort}`, { 'grpc.use_local_subchannel_pool': 1 });
    const answer = await client.shouldRateLimit({
      domain: 'shop',
      descriptors: [{ entries: entries('user=alice') }],
    });
    expect(answer.overallCode).toBe(Code.OK);

    const health = await fetch(`http://127.0.0.1:${server.httpPort}/healthcheck`, {
      signal: AbortSignal.timeout(5_000),
    });
    expect(health.status).toBe(200);

    expect(await isRunning(pid)).toBe(true);
    expect(await openFiles(pid)).toBeLessThan(FILE_LIMIT);
    // the newcomers displaced idle connections: counted, never an error
    const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    const evicted = /ratelimit_connections_closed_total\{port="grpc",reason="evicted"\} (\d+)/.exec(metrics);
    expect(Number(evicted?.[1])).toBeGreaterThan(0);
  }, 60_000);
});
