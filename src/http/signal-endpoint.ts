import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkSignalAuth } from '../adaptive/signals/signal-auth.js';
import { parseSignalBody } from '../adaptive/signals/signal-body.js';
import {
  deliverSignal,
  type SignalApi,
  type SignalRequestOutcome,
  tooManySignals,
} from '../adaptive/signals/signal-gate.js';
import type { Logger } from '../log/logger.js';
import { readBodyBytes } from './body-reader.js';

/** The signal API's path on the HTTP port. */
export const SIGNALS_PATH = '/v1/signals';

/**
 * `POST /v1/signals` (DESIGN.md "Signals in", docs/limits.md "Adaptive signals"). The
 * order of checks and why is in signal-gate.ts. Every answer is JSON: 202
 * `{"status":"accepted"}`, else `{"error": reason}` with
 *   403 no token configured (the API is off; `api` undefined is the same)
 *   401 no or wrong token, with WWW-Authenticate
 *   429 over ADAPTIVE_SIGNAL_MAX_PER_SECOND, with Retry-After
 *   413 body over ADAPTIVE_SIGNAL_MAX_BODY_BYTES (the rest is not read)
 *   400 a body that breaks a rule, or one the sink refuses (unknown domain/controller/type)
 *   405 any other method, with Allow: POST
 *   500 the sink threw (logged)
 * Answers given before the body is read close the connection when a body may
 * follow, so that nobody waits for (or drains) bytes that will not be used.
 */
export async function handleSignals(
  req: IncomingMessage,
  res: ServerResponse,
  api: SignalApi | undefined,
  logger: Logger,
): Promise<void> {
  if (req.method !== 'POST') {
    answerEarly(req, res, 405, { error: `${SIGNALS_PATH} accepts POST only` }, { allow: 'POST' });
    return;
  }
  const count = (outcome: SignalRequestOutcome): void => api?.onOutcome?.('http', outcome);
  const auth = checkSignalAuth(req.headers.authorization, api?.token);
  if (!auth.ok) {
    count(auth.status === 403 ? 'forbidden' : 'unauthorized');
    const headers: Record<string, string> =
      auth.challenge === undefined ? {} : { 'www-authenticate': auth.challenge };
    answerEarly(req, res, auth.status, { error: auth.reason }, headers);
    return;
  }
  // auth.ok implies a token, hence an api
  const { rate, limits, sink } = api as SignalApi;
  const retryAfter = rate.take();
  if (retryAfter !== undefined) {
    count('too_many');
    const error = tooManySignals(rate.perSecond, retryAfter);
    answerEarly(req, res, 429, { error }, { 'retry-after': String(retryAfter) });
    return;
  }
  const body = await readBodyBytes(req, limits.maxBodyBytes);
  if (body === undefined) {
    count('invalid');
    res.setHeader('connection', 'close');
    sendJson(res, 413, { error: `request body larger than ${limits.maxBodyBytes} bytes` });
    return;
  }
  const parsed = parseSignalBody(body, limits);
  if (!parsed.ok) {
    count('invalid');
    sendJson(res, parsed.status, { error: parsed.reason });
    return;
  }
  let outcome: ReturnType<typeof deliverSignal>;
  try {
    outcome = deliverSignal(sink, parsed.signal);
  } catch (error) {
    count('error');
    logger.error({ err: error }, `${SIGNALS_PATH}: the signal sink failed`);
    sendJson(res, 500, { error: 'internal error' });
    return;
  }
  if (!outcome.ok) {
    count('invalid');
    sendJson(res, 400, { error: outcome.reason });
    return;
  }
  count('accepted');
  sendJson(res, 202, { status: 'accepted' });
}

/** An answer before the body was read: closes the connection if a body may follow. */
function answerEarly(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string>,
): void {
  const mayHaveBody =
    req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length']) > 0;
  if (mayHaveBody && !req.complete) res.setHeader('connection', 'close');
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  sendJson(res, status, body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
