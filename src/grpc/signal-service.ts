import {
  Metadata,
  type MethodDefinition,
  type ServerUnaryCall,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import { checkSignalAuth } from '../adaptive/signals/signal-auth.js';
import type { SignalLimits } from '../adaptive/signals/signal-body.js';
import {
  type SignalParseResult,
  validateErrorRateSample,
  validatePenalty,
} from '../adaptive/signals/signal-body.js';
import {
  deliverSignal,
  type SignalApi,
  type SignalRequestOutcome,
  tooManySignals,
} from '../adaptive/signals/signal-gate.js';
import type { Logger } from '../log/logger.js';
import { grpcStatusFor } from './error-status.js';
import { decodeErrorRateSample, decodePenalty } from './signal-decoder.js';

/**
 * `ratelimit.adaptive.v1.SignalService` (proto/ratelimit/adaptive/v1/signals.proto),
 * the gRPC form of POST /v1/signals, on the gRPC port. Same checks, same order
 * (signal-gate.ts), same validation code:
 *   PERMISSION_DENIED   no token configured (the API is off; `api` undefined is the same)
 *   UNAUTHENTICATED     no, malformed or wrong `authorization: Bearer <token>` metadata
 *   RESOURCE_EXHAUSTED  over ADAPTIVE_SIGNAL_MAX_PER_SECOND (details say when to retry;
 *                       `retry-after` trailing metadata in whole seconds, as the HTTP header)
 *   INVALID_ARGUMENT    a malformed or oversized message, a broken rule, or the sink's refusal
 *   INTERNAL            the sink threw (logged)
 *   OK                  SignalAccepted (empty)
 * Requests reach the handlers as raw bytes and are decoded by signal-decoder.ts.
 */

/** SignalAccepted has no fields. */
export type SignalAccepted = Record<string, never>;

const EMPTY = Buffer.alloc(0);

function method(name: string, originalName: string): MethodDefinition<Buffer, SignalAccepted> {
  return {
    path: `/ratelimit.adaptive.v1.SignalService/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (bytes: Buffer) => bytes,
    requestDeserialize: (bytes: Buffer) => bytes,
    responseSerialize: () => EMPTY,
    responseDeserialize: () => ({}),
    originalName,
  };
}

export const SIGNAL_SERVICE_DEFINITION = {
  recordErrorRate: method('RecordErrorRate', 'recordErrorRate'),
  penalize: method('Penalize', 'penalize'),
} as const;

type UnaryHandler = (
  call: ServerUnaryCall<Buffer, SignalAccepted>,
  done: sendUnaryData<SignalAccepted>,
) => void;

/** For `server.addService(SIGNAL_SERVICE_DEFINITION, signalServiceHandlers(api, logger))`. */
export function signalServiceHandlers(
  api: SignalApi | undefined,
  logger: Logger,
): { recordErrorRate: UnaryHandler; penalize: UnaryHandler } {
  return {
    recordErrorRate: handler(api, logger, 'RecordErrorRate', (bytes, limits) =>
      validateErrorRateSample(decodeErrorRateSample(bytes, limits), limits),
    ),
    penalize: handler(api, logger, 'Penalize', (bytes, limits) =>
      validatePenalty(decodePenalty(bytes, limits), limits),
    ),
  };
}

function handler(
  api: SignalApi | undefined,
  logger: Logger,
  name: string,
  parse: (bytes: Buffer, limits: SignalLimits) => SignalParseResult,
): UnaryHandler {
  return (call, done) => {
    const count = (outcome: SignalRequestOutcome): void => api?.onOutcome?.('grpc', outcome);
    const auth = checkSignalAuth(singleValue(call.metadata.get('authorization')), api?.token);
    if (!auth.ok) {
      const forbidden = auth.status === 403;
      count(forbidden ? 'forbidden' : 'unauthorized');
      done({ code: forbidden ? status.PERMISSION_DENIED : status.UNAUTHENTICATED, details: auth.reason });
      return;
    }
    // auth.ok implies a token, hence an api
    const { rate, limits, sink } = api as SignalApi;
    const retryAfter = rate.take();
    if (retryAfter !== undefined) {
      count('too_many');
      const metadata = new Metadata();
      metadata.set('retry-after', String(retryAfter));
      done({
        code: status.RESOURCE_EXHAUSTED,
        details: tooManySignals(rate.perSecond, retryAfter),
        metadata,
      });
      return;
    }
    try {
      const parsed = parse(call.request, limits);
      if (!parsed.ok) {
        count('invalid');
        done({ code: status.INVALID_ARGUMENT, details: parsed.reason });
        return;
      }
      const outcome = deliverSignal(sink, parsed.signal);
      if (!outcome.ok) {
        count('invalid');
        done({ code: status.INVALID_ARGUMENT, details: outcome.reason });
        return;
      }
    } catch (error) {
      const { code, details, unexpected } = grpcStatusFor(error);
      count(unexpected ? 'error' : 'invalid');
      if (unexpected) logger.error({ err: error }, `${name} failed unexpectedly`);
      done({ code, details });
      return;
    }
    count('accepted');
    done(null, {});
  };
}

/** The one string value of a metadata key; several values (or a binary one) count as malformed. */
function singleValue(values: readonly (string | Buffer)[]): string | undefined {
  const [only] = values;
  return values.length === 1 && typeof only === 'string' ? only : undefined;
}
