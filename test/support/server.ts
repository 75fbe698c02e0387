import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { type App, createApp } from '../../src/app.js';
import { loadSettings } from '../../src/config/settings/settings.js';
import type { Clock } from '../../src/core/clock.js';
import { systemClock } from '../../src/core/system-clock.js';
import { type Logger, silentLogger } from '../../src/log/logger.js';
import type { CounterStore } from '../../src/storage/counter-store.js';

export interface TestServer {
  /** "127.0.0.1:port" of the gRPC listener. */
  readonly grpcAddress: string;
  readonly httpUrl: string;
  readonly debugUrl: string;
  readonly configDir: string;
  readonly app: App;
  stop(): Promise<void>;
}

export interface StartServerOptions {
  /** File name → YAML content, written to a fresh temp dir that the server loads. */
  readonly config: Record<string, string>;
  /** Env-style settings, e.g. { LIMIT_RESPONSE_HEADERS_ENABLED: 'true' }. */
  readonly env?: Record<string, string>;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** A store to use instead of the memory backend. */
  readonly store?: CounterStore;
  /** With tracing on (env TRACING_ENABLED=true), receives the spans instead of an OTLP exporter. */
  readonly spanProcessor?: SpanProcessor;
}

/** Writes `files` into a new temp directory and returns its path. */
export async function writeConfigDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rl-config-'));
  await Promise.all(Object.entries(files).map(([name, content]) => writeFile(join(dir, name), content)));
  return dir;
}

/** Starts the real app in-process on 127.0.0.1 with ports chosen by the OS. */
export async function startServer(options: StartServerOptions): Promise<TestServer> {
  const configDir = await writeConfigDir(options.config);
  const { settings } = loadSettings(
    {
      GRPC_HOST: '127.0.0.1',
      HOST: '127.0.0.1',
      DEBUG_HOST: '127.0.0.1',
      GRPC_PORT: '0',
      PORT: '0',
      DEBUG_PORT: '0',
      SHUTDOWN_GRACE_PERIOD: '2s',
      CONFIG_RELOAD_DEBOUNCE: '50ms',
      // the reference's default is on (TCP to localhost:8125); tests that want it say so
      USE_STATSD: 'false',
      ...options.env,
    },
    { config: [configDir] },
  );
  const app = createApp(settings, {
    logger: options.logger ?? silentLogger(),
    clock: options.clock ?? systemClock,
    store: options.store,
    spanProcessor: options.spanProcessor,
  });
  const ports = await app.start();
  return {
    grpcAddress: `127.0.0.1:${ports.grpcPort}`,
    httpUrl: `http://127.0.0.1:${ports.httpPort}`,
    debugUrl: `http://127.0.0.1:${ports.debugPort}`,
    configDir,
    app,
    async stop() {
      await app.stop();
      await rm(configDir, { recursive: true, force: true });
    },
  };
}
