import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import type { SignalApi } from '../adaptive/signals/signal-gate.js';
import type { RateLimitResult } from '../core/decision.js';
import type { RateLimitRequest } from '../core/descriptor.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from '../service/request-validation.js';
import { authRequestFromHttp, authResponseFor, DEFAULT_OVER_LIMIT_STATUS } from './auth-request.js';
import { readBodyBytes } from './body-reader.js';
import { httpStatusFor } from './error-status.js';
import { checkJsonShape, maxJsonBodyBytes, requestFromJson, responseToJson } from './json-codec.js';
import { handleSignals, SIGNALS_PATH } from './signal-endpoint.js';

export interface HttpServerOptions {
  readonly handler: { shouldRateLimit(request: RateLimitRequest): Promise<RateLimitResult> };
  readonly isServing: () => boolean;
  /** GET /healthcheck?detail: a JSON view of health and what is degraded (status code as /healthcheck). */
  readonly healthDetail?: () => unknown;
  /** Prometheus text for GET /metrics. */
  readonly metrics?: {
    expose(): Promise<{ contentType: string; body: string }>;
    httpCall(route: string, code: number, seconds: number): void;
  };
  readonly logger: Logger;
  /** Size limits of one request (/json and /auth); by default DEFAULT_REQUEST_LIMITS. */
  readonly requestLimits?: RequestLimits;
  /** Largest /json body accepted, bytes; by default derived from `requestLimits` (maxJsonBodyBytes). */
  readonly maxBodyBytes?: number;
  /** Status of an over-limit answer on /auth (AUTH_REQUEST_OVER_LIMIT_STATUS); default 403, what nginx auth_request needs. */
  readonly authOverLimitStatus?: number;
  /** node:http listener options (timeouts, largest request head); connections/http-limits.ts builds them. */
  readonly serverOptions?: ServerOptions | undefined;
  /**
   * POST /v1/signals (signal-endpoint.ts). The route exists whether or not
   * this is given; without it (or without a token in it) it answers 403.
   */
  readonly signals?: SignalApi | undefined;
}

/** Routes counted by name in the HTTP metrics; any other path is counted as `other`. */
const ROUTES: ReadonlySet<string> = new Set(['/json', '/auth', '/healthcheck', '/metrics', SIGNALS_PATH]);

/**
 * Port 8080 of the reference: `POST /json` (the JSON form of
 * ShouldRateLimit: 200 OK, 429 over limit, 400 malformed, 503 cannot decide)
 * `GET /healthcheck` (200 "OK" when serving, else 500) and `GET /metrics` (Prometheus).
 * Ours: `/auth`, any method, the gateway check (nginx auth_request, forward-auth); see auth-request.ts;
 * `POST /v1/signals`, the adaptive module's signal API; see signal-endpoint.ts.
 */
export function createHttpServer(options: HttpServerOptions): Server {
  const limits = options.requestLimits ?? DEFAULT_REQUEST_LIMITS;
  const maxBody = options.maxBodyBytes ?? maxJsonBodyBytes(limits);
  return createServer(options.serverOptions ?? {}, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const metrics = options.metrics;
    if (metrics !== undefined) {
      const started = performance.now();
      const route = path !== undefined && ROUTES.has(path) ? path : 'other';
      res.once('finish', () => metrics.httpCall(route, res.statusCode, (performance.now() - started) / 1000));
    }
    if (path === '/json') {
      handleJson(req, res, options, limits, maxBody).catch((error: unknown) => {
        options.logger.error({ err: error }, '/json handler failed');
        if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      });
    } else if (path === '/auth') {
      handleAuth(req, res, options, limits).catch((error: unknown) => {
        options.logger.error({ err: error }, '/auth handler failed');
        if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      });
    } else if (path === SIGNALS_PATH) {
      handleSignals(req, res, options.signals, options.logger).catch((error: unknown) => {
        options.logger.error({ err: error }, `${SIGNALS_PATH} handler failed`);
        if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      });
    } else if (path === '/metrics' && options.metrics !== undefined) {
      options.metrics.expose().then(
        ({ contentType, body }) => send(res, 200, contentType, body),
        (error: unknown) => {
          options.logger.error({ err: error }, '/metrics failed');
          send(res, 500, 'text/plain', 'metrics unavailable\n');
        },
      );
    } else if (path === '/healthcheck') {
      const serving = options.isServing();
      if (options.healthDetail !== undefined && wantsDetail(req.url)) {
        send(res, serving ? 200 : 500, 'application/json', JSON.stringify(options.healthDetail()));
      } else if (serving) send(res, 200, 'text/plain', 'OK');
      else send(res, 500, 'text/plain', 'NOT_SERVING');
    } else {
      send(res, 404, 'text/plain', 'not found\n');
    }
  });
}

async function handleJson(
  req: IncomingMessage,
  res: ServerResponse,
  options: HttpServerOptions,
  limits: RequestLimits,
  maxBody: number,
): Promise<void> {
  const body = await readBody(req, maxBody);
  if (body === undefined) {
    // the rest of the body is not read: the connection closes after this answer
    res.setHeader('connection', 'close');
    send(res, 413, 'text/plain', `request body larger than ${maxBody} bytes\n`);
    return;
  }
  try {
    checkJsonShape(body, limits);
    const request = requestFromJson(parseJson(body));
    const result = await options.handler.shouldRateLimit(request);
    const status = result.overallCode === 'OK' ? 200 : 429;
    send(res, status, 'application/json', JSON.stringify(responseToJson(result)));
  } catch (error) {
    const { status, message, unexpected } = httpStatusFor(error);
    if (unexpected) options.logger.error({ err: error }, '/json request failed unexpectedly');
    send(res, status, 'text/plain', `${message}\n`);
  }
}

/** 200 allowed, 403 (configurable) over limit, 400 malformed, 503 cannot decide; any body is ignored. */
async function handleAuth(
  req: IncomingMessage,
  res: ServerResponse,
  options: HttpServerOptions,
  limits: RequestLimits,
): Promise<void> {
  req.resume();
  try {
    const request = authRequestFromHttp(req.headersDistinct, req.url ?? '/', limits);
    const result = await options.handler.shouldRateLimit(request);
    const { status, headers } = authResponseFor(
      result,
      options.authOverLimitStatus ?? DEFAULT_OVER_LIMIT_STATUS,
    );
    res.writeHead(status, { ...headers, 'content-length': 0 });
    res.end();
  } catch (error) {
    const { status, message, unexpected } = httpStatusFor(error);
    if (unexpected) options.logger.error({ err: error }, '/auth request failed unexpectedly');
    send(res, status, 'text/plain', `${message}\n`);
  }
}

/** `?detail` (any value) in the query. */
function wantsDetail(url: string | undefined): boolean {
  const query = url?.split('?')[1];
  return query !== undefined && new URLSearchParams(query).has('detail');
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch (error) {
    throw new InvalidArgumentError(`request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** The whole body as UTF-8, or undefined beyond `maxBytes` (see readBodyBytes). */
async function readBody(req: IncomingMessage, maxBytes: number): Promise<string | undefined> {
  return (await readBodyBytes(req, maxBytes))?.toString('utf8');
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
