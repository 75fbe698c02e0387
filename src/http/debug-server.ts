import { createServer, type Server, type ServerOptions } from 'node:http';

export interface DebugServerOptions {
  /** /rlconfig lines of the current config, or undefined when none is loaded. */
  readonly describeConfig: () => readonly string[] | undefined;
  /** GET /v1/adaptive: the adaptive controllers' state, served as JSON. */
  readonly adaptive?: (() => unknown) | undefined;
  /** node:http listener options (timeouts, largest request head). */
  readonly serverOptions?: ServerOptions | undefined;
}

const INDEX = [
  '/rlconfig: the loaded rate limits, one per line, sorted (adaptive ones with their effective limit)',
  '/v1/adaptive: the adaptive controllers, their factors and why, the penalty boxes (JSON)',
  '/healthcheck: see port 8080',
];

/** The debug/admin port (6070 in the reference): `/` lists endpoints, `/rlconfig` dumps the limits. */
export function createDebugServer(options: DebugServerOptions): Server {
  return createServer(options.serverOptions ?? {}, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    let status = 200;
    let body: string;
    let contentType = 'text/plain; charset=utf-8';
    if (path === '/') {
      body = `${INDEX.join('\n')}\n`;
    } else if (path === '/rlconfig') {
      const lines = options.describeConfig();
      if (lines === undefined) {
        status = 503;
        body = 'no rate limit configuration loaded\n';
      } else {
        body = lines.map((line) => `${line}\n`).join('');
      }
    } else if (path === '/v1/adaptive' && options.adaptive !== undefined) {
      contentType = 'application/json';
      body = `${JSON.stringify(options.adaptive(), null, 2)}\n`;
    } else {
      status = 404;
      body = 'not found\n';
    }
    res.writeHead(status, { 'content-type': contentType });
    res.end(body);
  });
}
