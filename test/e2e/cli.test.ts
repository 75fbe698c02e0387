import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, type ServeProcess, startServeProcess } from '../support/cli-process.js';
import { freePort } from '../support/free-port.js';
import { writeConfigDir } from '../support/server.js';

const SHOP = `domain: shop
descriptors:
  - key: user
    rate_limit:
      unit: minute
      requests_per_unit: 3
`;

let serve: ServeProcess | undefined;
const dirs: string[] = [];

afterEach(async () => {
  if (serve !== undefined && serve.child.exitCode === null) await serve.stop();
  serve = undefined;
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** True when something accepts a TCP connection on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function configDir(files: Record<string, string>): Promise<string> {
  const dir = await writeConfigDir(files);
  dirs.push(dir);
  return dir;
}

describe('ratelimit validate', () => {
  it('prints one summary line per domain and exits 0 for a valid config', async () => {
    const dir = await configDir({ 'shop.yaml': SHOP, 'api.yml': 'domain: api\ndescriptors: []\n' });
    const result = await runCli(['validate', dir]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^domain api: 0 limits .*api\.yml/m);
    expect(result.stdout).toMatch(/^domain shop: 1 limit .*shop\.yaml/m);
  });

  it('prints every problem as file:line:col: message and exits 1', async () => {
    const dir = await configDir({
      'a.yaml': 'domain: a\ndescriptors:\n  - key: user\n    rate_limit:\n      unit: fortnight\n',
      'b.yaml': 'domain: b\ndescriptors:\n  - key: ip\n    ratelimit: {}\n',
    });
    const result = await runCli(['validate', dir]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`${join(dir, 'a.yaml')}:5:13: invalid rate limit unit 'fortnight'`);
    expect(result.stdout).toMatch(
      new RegExp(`${join(dir, 'b.yaml')}:4:5: config error, unknown key 'ratelimit'`),
    );
  });

  it('validates the shipped example config', async () => {
    const result = await runCli(['validate', 'deploy/config']);
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout).toContain('domain example:');
  });
});

describe('ratelimit serve and check', () => {
  it('answers OK then OVER_LIMIT to check, and exits 0 on SIGTERM', async () => {
    serve = await startServeProcess(['--config', await configDir({ 'shop.yaml': SHOP })]);
    const check = () =>
      runCli([
        'check',
        '--addr',
        `127.0.0.1:${serve?.grpcPort}`,
        '--domain',
        'shop',
        '--descriptor',
        'user=alice',
      ]);
    // four CLI processes take a few seconds: start them early in a minute so all count in one window
    const intoMinuteMs = Date.now() % 60_000;
    if (intoMinuteMs > 45_000) await new Promise((r) => setTimeout(r, 60_000 - intoMinuteMs + 100));
    const first = await check();
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(
      /^OK {2}domain=shop\n {2}\[0\] user=alice {2}OK {2}limit 3\/minute {2}remaining 2 {2}reset in \d+s\n$/,
    );
    await check();
    await check();
    const over = await check();
    expect(over.code).toBe(2);
    expect(over.stdout).toMatch(/^OVER_LIMIT {2}domain=shop\n.*OVER_LIMIT {2}limit 3\/minute {2}remaining 0/);
    expect(await serve.stop()).toBe(0);
    expect(serve.logs.map((l) => l.msg)).toContain('stopped');
  }, 40_000);

  it('refuses to start on an invalid config and prints file:line:col', async () => {
    const dir = await configDir({ 'bad.yaml': 'domain: shop\ndescriptors:\n  - value: x\n' });
    const result = await runCli([
      'serve',
      '--config',
      dir,
      '--grpc-port',
      '0',
      '--http-port',
      '0',
      '--debug-port',
      '0',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${join(dir, 'bad.yaml')}:3:5: descriptor has empty key`);
  });

  it('warns at startup about reference env vars it does not support', async () => {
    serve = await startServeProcess(['--config', await configDir({ 'shop.yaml': SHOP })], {
      USE_STATSD: 'false',
      USE_DOG_STATSD_MOGRIFIERS: 'tenant',
      GRPC_UDS: '/tmp/rl.sock',
    });
    const warnings = serve.logs.filter((l) => l.level === 40).map((l) => String(l.msg));
    expect(warnings.some((w) => w.startsWith('GRPC_UDS is set but not supported'))).toBe(true);
    expect(warnings.some((w) => w.startsWith('USE_DOG_STATSD_MOGRIFIERS is set but not supported'))).toBe(
      true,
    );
    expect(warnings.some((w) => w.startsWith('USE_STATSD'))).toBe(false);
  });

  it('refuses to start with GRPC_SERVER_USE_TLS=true and no certificate: one stderr line naming it, exit 1, no port opened', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const result = await runCli(
      [
        'serve',
        '--config',
        await configDir({ 'shop.yaml': SHOP }),
        ...['--grpc-port', '--http-port', '--debug-port'].flatMap((flag, i) => [flag, String(ports[i])]),
      ],
      { GRPC_HOST: '127.0.0.1', HOST: '127.0.0.1', DEBUG_HOST: '127.0.0.1', GRPC_SERVER_USE_TLS: 'true' },
      10_000, // a service that starts anyway is killed then, and fails the assertions below
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^ratelimit: GRPC_SERVER_TLS_CERT is not set: GRPC_SERVER_USE_TLS=true needs /,
    );
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    // not a single log line: it stopped while reading its settings, before the logger, the store or any listener
    expect(result.stdout).toBe('');
    for (const port of ports) expect(await listening(port)).toBe(false);
  });

  it('starts plaintext with GRPC_SERVER_USE_TLS=false, without a warning about it', async () => {
    serve = await startServeProcess(['--config', await configDir({ 'shop.yaml': SHOP })], {
      GRPC_SERVER_USE_TLS: 'false',
    });
    expect(await listening(serve.grpcPort)).toBe(true);
    const warnings = serve.logs.filter((l) => l.level === 40).map((l) => String(l.msg));
    expect(warnings.filter((w) => w.includes('TLS'))).toEqual([]);
    expect(await serve.stop()).toBe(0);
  });

  it('stops with a clear message for a bad env value', async () => {
    const result = await runCli(['serve', '--config', 'deploy/config'], { GRPC_PORT: 'eighty' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("GRPC_PORT: expected an integer from 0 to 65535, got 'eighty'");
  });

  it('picks up a Kubernetes ConfigMap update (..data symlink swap) without a restart', async () => {
    const mount = await mkdtemp(join(tmpdir(), 'rl-configmap-'));
    dirs.push(mount);
    const writeVersion = async (name: string, limit: number) => {
      await mkdir(join(mount, name));
      await writeFile(
        join(mount, name, 'shop.yaml'),
        SHOP.replace('requests_per_unit: 3', `requests_per_unit: ${limit}`),
      );
    };
    await writeVersion('..2026_01', 3);
    await symlink('..2026_01', join(mount, '..data'));
    await symlink('..data/shop.yaml', join(mount, 'shop.yaml'));
    serve = await startServeProcess(['--config', mount], { CONFIG_RELOAD_DEBOUNCE: '50ms' });
    const limitSeen = async () => {
      const out = await runCli([
        'check',
        '--addr',
        `127.0.0.1:${serve?.grpcPort}`,
        '--domain',
        'shop',
        '--descriptor',
        'user=k',
      ]);
      return out.stdout.match(/limit (\d+)\/minute/)?.[1];
    };
    expect(await limitSeen()).toBe('3');
    await writeVersion('..2026_02', 50);
    await symlink('..2026_02', join(mount, '..data_tmp'));
    await rename(join(mount, '..data_tmp'), join(mount, '..data'));
    await rm(join(mount, '..2026_01'), { recursive: true });
    await expect.poll(limitSeen, { timeout: 10_000, interval: 200 }).toBe('50');
  });
});

describe('ratelimit validate | head', () => {
  it('stops quietly when the reader of its output goes away (no EPIPE stack trace)', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 300; i++) files[`d${i}.yaml`] = SHOP.replace('domain: shop', `domain: d${i}`);
    const dir = await configDir(files);
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('../support/cli-process.js');
    const child = spawn(process.execPath, [CLI, 'validate', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // like `head -1`: read the first chunk, then close the pipe
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(stderr).not.toMatch(/EPIPE|Unhandled 'error' event/);
    expect(code).toBe(0);
  });
});
