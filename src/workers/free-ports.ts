import { createServer, type Server } from 'node:net';
import type { Settings } from '../config/settings/settings.js';
import type { WorkerPorts } from './messages.js';

export type ListenAddresses = Pick<
  Settings,
  'grpcHost' | 'grpcPort' | 'httpHost' | 'httpPort' | 'debugHost' | 'debugPort'
>;

/**
 * The ports every worker listens on: the configured ones, each 0 replaced by
 * a port the OS has free on that host now (all probed at once, so they
 * differ; then released for the workers).
 *
 * Why the primary picks: node:cluster shares a listening socket between
 * workers by address *and port as given*, so workers that all listen(0)
 * share one OS-chosen port, but a replacement started with that port number
 * would ask for a second socket on it (EADDRINUSE), and one started with 0
 * after every worker died would get a new port. With concrete ports from the
 * start every worker, first or replacement, asks for the same socket.
 */
export async function resolveListenPorts(addresses: ListenAddresses): Promise<WorkerPorts> {
  const probes: Server[] = [];
  try {
    const pick = async (host: string, port: number): Promise<number> => {
      if (port !== 0) return port;
      const server = createServer();
      probes.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port: 0, exclusive: true }, resolve);
      });
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error(`no port on ${host}`);
      return address.port;
    };
    return {
      grpcPort: await pick(addresses.grpcHost, addresses.grpcPort),
      httpPort: await pick(addresses.httpHost, addresses.httpPort),
      debugPort: await pick(addresses.debugHost, addresses.debugPort),
    };
  } finally {
    await Promise.all(probes.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** `serve` flags that set these ports; later flags win in parseArgs, so they replace earlier ones. */
export function portFlags(ports: WorkerPorts): string[] {
  return [
    '--grpc-port',
    `${ports.grpcPort}`,
    '--http-port',
    `${ports.httpPort}`,
    '--debug-port',
    `${ports.debugPort}`,
  ];
}
