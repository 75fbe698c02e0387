import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopProcess } from './redis-server.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The shipped configs the test runs: what operators copy. */
export const NGINX_DEPLOY_DIR = join(repoRoot, 'deploy/nginx');

export type FailureVariant = 'fail-open' | 'fail-closed';

export interface NginxConfigOptions {
  /** Loopback port nginx listens on. */
  readonly listenPort: number;
  /** "127.0.0.1:port" of the protected application. */
  readonly appAddress: string;
  /** "127.0.0.1:port" of the rate limit service's HTTP port. */
  readonly ratelimitAddress: string;
  readonly variant: FailureVariant;
}

export interface NginxTestServer {
  /** "http://127.0.0.1:port". */
  readonly url: string;
  readonly process: ChildProcess;
  /** What nginx wrote to stderr so far (error log). */
  stderr(): string;
  /** Stops it by PID (SIGTERM, then SIGKILL) and removes its directory. */
  stop(): Promise<void>;
}

/** Replaces `from` exactly once, so a drift in the shipped file fails the test loudly. */
function replaceOnce(text: string, from: string, to: string, file: string): string {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0)
    throw new Error(`${file}: expected exactly one ${JSON.stringify(from)}`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/**
 * Copies deploy/nginx/*.conf into `dir`, changing only ports/upstreams, the
 * failure variant and (for an unprivileged run) temp paths. Returns nginx.conf's path.
 */
export async function writeNginxConfig(dir: string, options: NginxConfigOptions): Promise<string> {
  for (const name of await readdir(NGINX_DEPLOY_DIR)) {
    if (!name.endsWith('.conf')) continue;
    let text = await readFile(join(NGINX_DEPLOY_DIR, name), 'utf8');
    if (name === 'nginx.conf') {
      text = replaceOnce(text, 'listen 8000;', `listen 127.0.0.1:${options.listenPort};`, name);
      text = replaceOnce(text, 'server 127.0.0.1:3000;', `server ${options.appAddress};`, name);
      text = replaceOnce(text, 'worker_processes auto;', 'worker_processes 1;', name);
      if (options.variant === 'fail-open') {
        text = replaceOnce(text, '        include ratelimit-fail-closed.conf;\n', '', name);
        text = replaceOnce(
          text,
          '# include ratelimit-fail-open.conf;',
          'include ratelimit-fail-open.conf;',
          name,
        );
      }
      const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
        .map((kind) => `    ${kind}_temp_path ${join(dir, `${kind}_temp`)};\n`)
        .join('');
      text = replaceOnce(text, 'http {\n', `http {\n    access_log off;\n${temp}`, name);
    }
    if (name === 'ratelimit-http.conf')
      text = replaceOnce(text, 'server 127.0.0.1:8080;', `server ${options.ratelimitAddress};`, name);
    await writeFile(join(dir, name), text);
  }
  return join(dir, 'nginx.conf');
}

/** The Debian nginx binary: on PATH or in /usr/sbin (not on every user's PATH). */
export async function nginxBinary(): Promise<string> {
  const find = () =>
    ['/usr/sbin/nginx', ...(process.env.PATH ?? '').split(':').map((p) => join(p, 'nginx'))].find((p) =>
      existsSync(p),
    );
  const found = find();
  if (found !== undefined) return found;
  // Installs nginx as root, or says exactly what to install.
  await new Promise<void>((resolveInstall, reject) => {
    const p = spawn(join(repoRoot, 'scripts/ensure-system-packages.sh'), { stdio: 'inherit' });
    p.on('error', reject);
    p.on('close', (code) =>
      code === 0
        ? resolveInstall()
        : reject(new Error('nginx missing; run scripts/ensure-system-packages.sh')),
    );
  });
  const installed = find();
  if (installed === undefined) throw new Error('nginx missing; run scripts/ensure-system-packages.sh');
  return installed;
}

/** Starts nginx in the foreground from the shipped configs and waits until it accepts connections. */
export async function startNginx(options: NginxConfigOptions): Promise<NginxTestServer> {
  const binary = await nginxBinary();
  const dir = await mkdtemp(join(tmpdir(), 'rl-nginx-'));
  await mkdir(join(dir, 'logs'));
  const conf = await writeNginxConfig(dir, options);
  // As root nginx would switch workers to "nobody", who cannot enter the 0700 temp dir.
  const user = process.getuid?.() === 0 ? ' user root;' : '';
  const globals = `daemon off; pid ${join(dir, 'nginx.pid')}; error_log stderr notice;${user}`;
  const child = spawn(binary, ['-e', 'stderr', '-p', dir, '-c', conf, '-g', globals], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(new Error(`cannot start nginx (${error.message})`)));
    child.once('exit', (code) => reject(new Error(`nginx exited with ${code}: ${stderr}`)));
  });
  failed.catch(() => {});
  try {
    await Promise.race([waitForListen(options.listenPort), failed]);
  } catch (error) {
    await stopProcess(child);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `http://127.0.0.1:${options.listenPort}`,
    process: child,
    stderr: () => stderr,
    async stop() {
      await stopProcess(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForListen(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolveProbe) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolveProbe(true);
      });
      socket.once('error', () => resolveProbe(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port} within 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
