import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RateLimitRequest } from '../../src/gen/envoy/service/ratelimit/v3/rls.js';
import { CLI, runCli, type ServeProcess, startServeProcess } from '../support/cli-process.js';
import { aliasBomb, manyDescriptors, smallFile } from '../support/hostile-config.js';
import { percentile, startOpenLoop } from '../support/open-loop.js';

/**
 * The "hostile input" issue, item 3, against the built server (dist/cli.js): loading a
 * config must never stop the answers, and every bound of docs/limits.md must hold.
 */

let serve: ServeProcess | undefined;
const dirs: string[] = [];

afterEach(async () => {
  if (serve !== undefined && serve.child.exitCode === null) await serve.stop();
  serve = undefined;
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rl-hostile-'));
  dirs.push(dir);
  return dir;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const request = (value: string) =>
  RateLimitRequest.fromPartial({ domain: 'big', descriptors: [{ entries: [{ key: 'user', value }] }] });

/** Resident memory of a process, MB (Linux). */
async function rssMb(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

/** The limit the server applies to `user: value` in domain `big` (0 when none). */
function limitOf(reply: { statuses: { currentLimit?: { requestsPerUnit: number } }[] } | undefined): number {
  return reply?.statuses[0]?.currentLimit?.requestsPerUnit ?? 0;
}

describe('config loading under hostile input (built server)', () => {
  it('answers every request while a 50,000-descriptor config reloads, then applies it', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'big.yaml'), manyDescriptors('big', 1));
    serve = await startServeProcess(['--config', dir], { CONFIG_RELOAD_DEBOUNCE: '50ms' });
    // Written before the load starts: only the rename happens during it (the test process
    // is the load's client, and building 4.8 MB of YAML would stall it, not the server).
    await writeFile(join(dir, 'next.txt'), manyDescriptors('big', 50_000));
    const address = `127.0.0.1:${serve.grpcPort}`;
    // u049999 has no limit before the reload and 100/s after it.
    const load = startOpenLoop({ address, ratePerSecond: 600, request: () => request('u049999') });
    const health: boolean[] = [];
    const healthTimer = setInterval(() => {
      fetch(`http://127.0.0.1:${serve?.httpPort}/healthcheck`, { signal: AbortSignal.timeout(2_000) }).then(
        (r) => health.push(r.ok),
        () => health.push(false),
      );
    }, 100);
    try {
      await sleep(1_000);
      const reloadStart = performance.now();
      await rename(join(dir, 'next.txt'), join(dir, 'big.yaml'));
      await expect
        .poll(() => load.samples.some((s) => s.sentAt > reloadStart && limitOf(s.reply) === 100), {
          timeout: 60_000,
          interval: 100,
        })
        .toBe(true);
      const applied = load.samples.find((s) => s.sentAt > reloadStart && limitOf(s.reply) === 100)!;
      const reloadMs = applied.sentAt + applied.latencyMs - reloadStart;
      await sleep(1_000);
      const samples = await load.stop();
      const during = samples.filter((s) => s.sentAt >= reloadStart && s.sentAt <= applied.sentAt);
      const before = samples.filter((s) => s.sentAt < reloadStart);
      const failed = samples.filter((s) => !s.answered);
      const report = {
        requests: samples.length,
        duringReload: during.length,
        failed: failed.length,
        reloadMs: Math.round(reloadMs),
        baselineP99Ms: Math.round(percentile(before, 99)),
        p99Ms: Math.round(percentile(during, 99)),
        maxMs: Math.round(percentile(during, 100)),
        healthFailures: health.filter((ok) => !ok).length,
        rssMb: await rssMb(serve.child.pid),
      };
      console.log('50,000-descriptor reload under 600 req/s:', JSON.stringify(report));
      expect(failed.map((s) => s.error).slice(0, 3)).toEqual([]);
      expect(report.healthFailures).toBe(0);
      expect(during.length).toBeGreaterThan(100);
      // Every answer within its 2 s deadline; loading in the serving thread stalled it ~6 s.
      // (Latencies on a 2-core machine shared with other jobs are too noisy to bound tighter.)
      expect(report.maxMs).toBeLessThan(2_000);
    } finally {
      clearInterval(healthTimer);
      await load.stop();
    }
  }, 120_000);

  it('refuses a file over CONFIG_MAX_BYTES on reload with one clear problem and keeps serving the last good config', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'big.yaml'), manyDescriptors('big', 10));
    serve = await startServeProcess(['--config', dir], { CONFIG_RELOAD_DEBOUNCE: '50ms' });
    // 50 MB without writing 50 MB: the size is refused before anything is read.
    await writeFile(join(dir, 'huge.yaml'), '');
    await truncate(join(dir, 'huge.yaml'), 50 * 1024 * 1024);
    await expect.poll(() => serve?.logs.some((l) => l.level === 50), { timeout: 10_000 }).toBe(true);
    const error = serve.logs.find((l) => l.level === 50)!;
    expect(error.problems).toEqual([
      expect.stringMatching(/huge\.yaml: .*52,428,800 bytes.*8,388,608 bytes.*CONFIG_MAX_BYTES/),
    ]);
    expect(error.msg).toContain('keeping the last good config');
    const check = await runCli([
      'check',
      '--addr',
      `127.0.0.1:${serve.grpcPort}`,
      '--domain',
      'big',
      '--descriptor',
      'user=u000003',
    ]);
    expect(check.stdout).toMatch(/limit 4\/second/);
  }, 60_000);

  it('bounds the problems and the log line of an alias bomb', async () => {
    const dir = await tempDir();
    const bomb = aliasBomb();
    expect(bomb.length).toBeLessThan(1_024);
    await writeFile(join(dir, 'bomb.yaml'), bomb);
    const validate = await runCli(['validate', dir]);
    expect(validate.code).toBe(1);
    const lines = validate.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^config has [\d,]+ problems; the first 100:$/);
    expect(lines).toHaveLength(102);
    expect(validate.stdout.length).toBeLessThan(64 * 1024);
    expect(validate.stderr).toBe('');

    const good = await tempDir();
    await writeFile(join(good, 'bomb.yaml'), smallFile(1));
    serve = await startServeProcess(['--config', good], { CONFIG_RELOAD_DEBOUNCE: '50ms' });
    await writeFile(join(good, 'bomb.yaml'), bomb);
    await expect.poll(() => serve?.logs.some((l) => l.level === 50), { timeout: 20_000 }).toBe(true);
    const error = serve.logs.find((l) => l.level === 50)!;
    expect(JSON.stringify(error).length).toBeLessThan(64 * 1024);
    expect((error.problems as string[]).length).toBe(100);
    expect(error.msg).toMatch(/config has [\d,]+ problems; the first 10:/);
  }, 60_000);

  it('validate refuses 10,000 files with the CONFIG_MAX_FILES problem, not a stack trace', async () => {
    const dir = await tempDir();
    for (let i = 0; i < 10_000; i += 500) {
      await Promise.all(
        Array.from({ length: 500 }, (_, j) => writeFile(join(dir, `f${i + j}.yaml`), smallFile(i + j))),
      );
    }
    const result = await runCli(['validate', dir], {}, 60_000);
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stdout).toMatch(/more than 1,000 YAML files.*CONFIG_MAX_FILES/);
  }, 120_000);

  it('loads more files than its file-descriptor limit (ulimit -n 256): no descriptor is held per file', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'sub'));
    await Promise.all(
      Array.from({ length: 600 }, (_, i) =>
        writeFile(join(dir, i % 2 ? 'sub' : '', `f${i}.yaml`), smallFile(i)),
      ),
    );
    const validate = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('prlimit', ['--nofile=256', process.execPath, CLI, 'validate', dir]);
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      child.on('exit', (code) => resolve({ code, out }));
    });
    expect(validate.out).not.toMatch(/EMFILE/);
    expect(validate.code).toBe(0);
    expect(validate.out.trimEnd().split('\n')).toHaveLength(600);

    serve = await startServeProcess(['--config', dir], { CONFIG_RELOAD_DEBOUNCE: '50ms' }, 'listening', {
      cli: CLI,
      openFileLimit: 256,
    });
    // 300 more files added live (each whole: written aside, then renamed), 900 in all.
    const more = Array.from({ length: 300 }, (_, i) => i);
    await Promise.all(more.map((i) => writeFile(join(dir, `g${i}.txt`), smallFile(1_000 + i))));
    await Promise.all(more.map((i) => rename(join(dir, `g${i}.txt`), join(dir, `g${i}.yaml`))));
    await expect
      .poll(() => serve?.logs.some((l) => l.msg === 'rate limit config loaded' && l.fileCount === 900), {
        timeout: 20_000,
      })
      .toBe(true);
    expect(serve.logs.filter((l) => l.level === 50).map((l) => l.msg)).toEqual([]);
    expect(serve.child.exitCode).toBe(null);
  }, 120_000);
});
