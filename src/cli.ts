#!/usr/bin/env node
/**
 * The command line: `serve`, `validate`, `check`. The only module (with
 * commands it calls) that reads process.env and argv, handles signals and
 * sets the exit code.
 */
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { createApp, type ListeningPorts } from './app.js';
import { checkCommand } from './commands/check.js';
import { validateCommand } from './commands/validate.js';
import { formatProblem } from './config/rules/config-problem.js';
import { loadConfigLoadSettings } from './config/settings/config-load-settings.js';
import { loadSettings, type Settings } from './config/settings/settings.js';
import { parseBool } from './config/settings/settings-parsers.js';
import { InitialConfigError, SettingError } from './core/errors.js';
import { systemClock } from './core/system-clock.js';
import { createLogger, type Logger } from './log/logger.js';
import type { WorkerLink } from './workers/worker-link.js';

const USAGE = `usage: ratelimit <command> [options]

commands:
  serve     start the rate limit service
            --config PATH (file or directory, repeatable; default RUNTIME_ROOT/RUNTIME_SUBDIRECTORY/RUNTIME_APPDIRECTORY)
            --grpc-port N (GRPC_PORT, 8081)  --http-port N (PORT, 8080)  --debug-port N (DEBUG_PORT, 6070)
            --backend memory|redis (BACKEND_TYPE; redis when REDIS_URL is set)  --log-level L (LOG_LEVEL, info)  --log-format json|text (LOG_FORMAT)
            --force-start-without-initial-config (FORCE_START_WITHOUT_INITIAL_CONFIG)
            --workers N|auto (WORKERS, 1): processes sharing the ports, one per CPU with 0 or auto;
              above 1 needs the redis backend (the memory backend counts per process)
            port 0 picks a free port (with --workers, once, in the primary); a flag beats its env var
  validate  PATH...  check config files as serve loads them; prints file:line:col: message, exit 1 on any problem
  check     --domain D --descriptor k=v[,k=v]... [--descriptor ...] [--hits N] [--addr host:port (127.0.0.1:8081)]
            ask a running service; exit 0 OK, 2 OVER_LIMIT, 1 error
`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'validate':
      return validate(rest);
    case 'check':
      return check(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`unknown command '${command}'\n\n${USAGE}`);
      return 1;
  }
}

async function serve(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      config: { type: 'string', multiple: true },
      'grpc-port': { type: 'string' },
      'http-port': { type: 'string' },
      'debug-port': { type: 'string' },
      backend: { type: 'string' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      'force-start-without-initial-config': { type: 'boolean' },
      workers: { type: 'string' },
    },
  });
  const { settings, warnings } = loadSettings(process.env, {
    config: values.config,
    grpcPort: values['grpc-port'],
    httpPort: values['http-port'],
    debugPort: values['debug-port'],
    backend: values.backend,
    logLevel: values['log-level'],
    logFormat: values['log-format'],
    forceStartWithoutInitialConfig: values['force-start-without-initial-config'],
    workers: values.workers,
  });
  const logger = createLogger({ level: settings.logLevel, format: settings.logFormat });
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));
  if (settings.workers > 1 && cluster.isPrimary) {
    for (const warning of warnings) logger.warn(warning);
    return servePrimary(settings, logger, args);
  }
  if (settings.workers > 1) {
    // a cluster worker: the primary logged the warnings and prints the banner
    const { WorkerLink } = await import('./workers/worker-link.js');
    return serveApp(settings, logger, new WorkerLink(process));
  }
  for (const warning of warnings) logger.warn(warning);
  return serveApp(settings, logger, undefined);
}

/** The primary of --workers N: forks the workers, relays SIGTERM/SIGINT to them. */
async function servePrimary(settings: Settings, logger: Logger, args: readonly string[]): Promise<number> {
  const { ClusterPrimary } = await import('./workers/primary.js');
  const { portFlags, resolveListenPorts } = await import('./workers/free-ports.js');
  const ports = await resolveListenPorts(settings);
  const primary = new ClusterPrimary({
    workers: settings.workers,
    args: ['serve', ...args, ...portFlags(ports)],
    logger,
    // each worker has the grace period to finish its calls, then a little longer to close Redis and exit
    stopTimeoutMs: settings.shutdownGraceMs + 5_000,
    onListening: (ports) => printBanner(settings, ports),
  });
  const onSignal = (signal: NodeJS.Signals) => primary.stop(signal);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return primary.run();
}

/** One process serving: the whole service (workers = 1), or one worker of the pod (`link` set). */
async function serveApp(settings: Settings, logger: Logger, link: WorkerLink | undefined): Promise<number> {
  let fatal: ((error: Error) => void) | undefined;
  const app = createApp(settings, {
    logger,
    clock: systemClock,
    onFatal: (error) => fatal?.(error),
    podMetrics: link?.podMetrics,
  });
  let ports: ListeningPorts;
  try {
    ports = await app.start();
  } catch (error) {
    if (error instanceof InitialConfigError) {
      for (const problem of error.problems) process.stderr.write(`${formatProblem(problem)}\n`);
      logger.fatal(
        `${error.message}; not starting (set FORCE_START_WITHOUT_INITIAL_CONFIG=true to start anyway)`,
      );
      return endWorker(link, 1);
    }
    throw error;
  }
  if (link === undefined) printBanner(settings, ports);
  else link.ready(ports);
  const code = await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = () => {
      stopping = true;
      app.stop().then(
        () => resolve(0),
        (error: unknown) => {
          logger.error({ err: error }, 'error during shutdown');
          resolve(1);
        },
      );
    };
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        resolve(1);
        return;
      }
      logger.info({ signal }, 'signal received');
      stop();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // the primary's request; idempotent, so a worker also hit by the terminal's SIGINT stops once, gracefully
    link?.onShutdown(() => {
      if (stopping) return;
      logger.info('shutdown requested by the primary');
      stop();
    });
    // the backend can never become ready (e.g. Redis refused the password): exit non-zero, as the reference does
    fatal = () => {
      if (stopping) return;
      stopping = true;
      app.stop().then(
        () => resolve(1),
        () => resolve(1),
      );
    };
  });
  return endWorker(link, code);
}

/** A worker's IPC channel keeps it alive: close it (as a planned disconnect) so the process can exit. */
function endWorker(link: WorkerLink | undefined, code: number): number {
  if (link !== undefined) {
    link.close();
    cluster.worker?.disconnect();
  }
  return code;
}

function printBanner(settings: Settings, ports: ListeningPorts): void {
  if (settings.logFormat !== 'text') return;
  process.stderr.write(
    `\nratelimit is listening: gRPC 127.0.0.1:${ports.grpcPort}, HTTP http://127.0.0.1:${ports.httpPort}, debug http://127.0.0.1:${ports.debugPort}\n` +
      `try it (in another terminal):\n  node dist/cli.js check --addr 127.0.0.1:${ports.grpcPort} --domain example --descriptor user=alice\n\n`,
  );
}

async function validate(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { 'merge-domain-config': { type: 'boolean' } },
  });
  if (positionals.length === 0) {
    process.stderr.write('validate: give at least one config file or directory\n');
    return 1;
  }
  const env = process.env;
  return validateCommand(
    {
      paths: positionals,
      mergeDomains:
        values['merge-domain-config'] ?? parseBool('MERGE_DOMAIN_CONFIG', env.MERGE_DOMAIN_CONFIG || 'false'),
      ignoreDotfiles: parseBool('RUNTIME_IGNOREDOTFILES', env.RUNTIME_IGNOREDOTFILES || 'false'),
      configLoad: loadConfigLoadSettings(env),
    },
    (line) => process.stdout.write(`${line}\n`),
  );
}

async function check(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      domain: { type: 'string' },
      descriptor: { type: 'string', multiple: true },
      hits: { type: 'string' },
      addr: { type: 'string', default: '127.0.0.1:8081' },
      timeout: { type: 'string', default: '5000' },
    },
  });
  if (values.domain === undefined || values.descriptor === undefined) {
    process.stderr.write('check: --domain and at least one --descriptor are required\n');
    return 1;
  }
  const hits = values.hits === undefined ? undefined : Number(values.hits);
  if (hits !== undefined && (!Number.isInteger(hits) || hits < 0)) {
    process.stderr.write(`check: --hits must be a non-negative integer, got '${values.hits}'\n`);
    return 1;
  }
  return checkCommand(
    {
      address: values.addr,
      domain: values.domain,
      descriptors: values.descriptor,
      hits,
      timeoutMs: Number(values.timeout),
    },
    (line) => process.stdout.write(`${line}\n`),
  );
}

// `ratelimit validate … | head`: when the reader goes away, the rest of the output is
// dropped and the command still ends with its own exit code, instead of dying on EPIPE.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message =
      error instanceof SettingError || error instanceof TypeError ? error.message : String(error);
    process.stderr.write(`ratelimit: ${message}\n`);
    if (!(error instanceof SettingError) && error instanceof Error && error.stack) {
      process.stderr.write(`${error.stack}\n`);
    }
    process.exitCode = 1;
    // a worker's IPC channel (and whatever the failed start left open) would keep it running
    if (cluster.isWorker) process.exit(1);
  },
);
