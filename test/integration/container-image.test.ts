// The container image without Docker: the final stage of deploy/docker/Dockerfile laid out in a
// temporary directory exactly as its COPY lines say (from the repository after `make build`),
// then its ENTRYPOINT run from its WORKDIR against a real Redis. A file the runtime reads but the
// image lacks (lua/ once) makes `serve --backend redis` fail here as it would in the container.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimitResponse_Code as Code } from '../../src/gen/envoy/service/ratelimit/v3/rls.js';
import { type ServeProcess, startServeProcess } from '../support/cli-process.js';
import { assembleFinalStage, finalStage, parseDockerfile, programOf } from '../support/dockerfile.js';
import { createRlsClient, entries } from '../support/grpc-client.js';
import { healthCheck } from '../support/grpc-extras.js';
import { type RedisTestServer, startRedisServer } from '../support/redis-server.js';
import { writeConfigDir } from '../support/server.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

/** Exit code of the image's HEALTHCHECK command (exec form, run from the WORKDIR) with these env vars. */
async function healthcheckExit(
  cmd: readonly string[],
  cwd: string,
  env: Record<string, string>,
): Promise<number> {
  const [file = '', ...args] = cmd;
  return run(file, args, { cwd, env: { ...process.env, ...env }, timeout: 10_000 }).then(
    () => 0,
    (error: { code?: unknown }) => (typeof error.code === 'number' ? error.code : -1),
  );
}

let image: string | undefined;
let config: string | undefined;
let redis: RedisTestServer | undefined;
let serve: ServeProcess | undefined;

beforeAll(async () => {
  redis = await startRedisServer();
  config = await writeConfigDir({
    'shop.yaml':
      'domain: shop\ndescriptors:\n  - key: user\n    rate_limit: { unit: minute, requests_per_unit: 3 }\n',
  });
});

afterAll(async () => {
  if (serve !== undefined && serve.child.exitCode === null) await serve.stop();
  await redis?.stop();
  for (const dir of [image, config]) if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** Resolves once gRPC health says SERVING; rejects with the logs if the process exits first or after 10 s. */
async function waitServing(process: ServeProcess): Promise<void> {
  const failure = (why: string) => new Error(`${why}; logs: ${JSON.stringify(process.logs)}`);
  if (process.child.exitCode !== null) throw failure(`serve exited with ${process.child.exitCode}`);
  let done = false;
  const exited = new Promise<never>((_, reject) =>
    process.child.once('exit', (code) => {
      if (!done) reject(failure(`serve exited with ${code}`));
    }),
  );
  const serving = (async () => {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const status = await healthCheck(`127.0.0.1:${process.grpcPort}`, 'ratelimit').catch(() => undefined);
      if (status === 'SERVING') return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw failure('not SERVING after 10 s');
  })();
  try {
    await Promise.race([serving, exited]);
  } finally {
    done = true;
  }
}

describe('the container image (final Dockerfile stage, assembled without Docker)', () => {
  it('serves with the redis backend from production dependencies only: SERVING, HEALTHCHECK passes, a ShouldRateLimit answer counted in Redis', async () => {
    const stages = parseDockerfile(await readFile(join(REPO, 'deploy/docker/Dockerfile'), 'utf8'));
    const runtime = finalStage(stages);
    const [command, script] = programOf(runtime.entrypoint ?? []);
    expect(command).toBe('node');
    image = await mkdtemp(join(tmpdir(), 'rl-image-'));
    await assembleFinalStage(stages, REPO, image);
    const workdir = join(image, runtime.workdir);

    serve = await startServeProcess(
      ['--backend', 'redis', '--config', config ?? ''],
      // what is checked is the image's file set, not the 15 ms default deadline on a busy 2-core test machine
      { REDIS_URL: redis?.url ?? '', NODE_ENV: 'production' },
      'listening',
      { cli: join(workdir, script ?? ''), cwd: workdir },
    );
    await waitServing(serve);
    const check = runtime.healthcheck?.cmd ?? [];
    expect(await healthcheckExit(check, workdir, { PORT: String(serve.httpPort) })).toBe(0);

    const client = createRlsClient(`127.0.0.1:${serve.grpcPort}`);
    try {
      const answer = await client.shouldRateLimit({
        domain: 'shop',
        descriptors: [{ entries: entries('user=alice') }],
      });
      expect(answer.overallCode).toBe(Code.OK);
      expect(answer.statuses[0]).toMatchObject({ currentLimit: { requestsPerUnit: 3 }, limitRemaining: 2 });
    } finally {
      client.close();
    }
    // counted in Redis, not answered by a failure mode
    const direct = new Redis(redis?.port ?? 0, '127.0.0.1');
    try {
      expect(await direct.dbsize()).toBe(1);
    } finally {
      direct.disconnect();
    }
    const httpPort = serve.httpPort;
    expect(await serve.stop()).toBe(0);
    // the check fails once nothing answers (it is not a constant exit 0)
    expect(await healthcheckExit(check, workdir, { PORT: String(httpPort) })).toBe(1);
  }, 60_000);
});
