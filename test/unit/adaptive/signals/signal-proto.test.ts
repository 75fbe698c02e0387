import { describe, expect, it } from 'vitest';
import {
  parseSignalBody,
  validateErrorRateSample,
  validatePenalty,
} from '../../../../src/adaptive/signals/signal-body.js';
import {
  ErrorRateSample,
  Penalty,
  SignalAccepted,
  SignalServiceService,
} from '../../../../src/gen/ratelimit/adaptive/v1/signals.js';

/*
 * proto/ratelimit/adaptive/v1/signals.proto mirrors the JSON bodies of
 * POST /v1/signals: same fields, and a message that went over the wire
 * validates to the same signal as the JSON body with the same content.
 */

const sampleJson = { domain: 'api', controller: 'checkout-health', total: 100, errors: 37 };
const penaltyJson = { domain: 'api', controller: 'abusers', value: '1.2.3.4', ttl: '10m', reason: 'waf' };

const viaJson = (body: object) => parseSignalBody(Buffer.from(JSON.stringify(body)));

describe('the gRPC signal messages', () => {
  it('have exactly the fields of the JSON bodies', () => {
    expect(Object.keys(ErrorRateSample.create()).sort()).toEqual(Object.keys(sampleJson).sort());
    expect(Object.keys(Penalty.create()).sort()).toEqual(Object.keys(penaltyJson).sort());
    expect(SignalAccepted.encode({}).finish()).toHaveLength(0);
  });

  it('validate, after a round trip through the wire, to the signal the JSON body gives', () => {
    const sample = ErrorRateSample.decode(
      ErrorRateSample.encode(ErrorRateSample.fromJSON(sampleJson)).finish(),
    );
    expect(validateErrorRateSample(sample)).toEqual(viaJson(sampleJson));
    const penalty = Penalty.decode(Penalty.encode(Penalty.fromJSON(penaltyJson)).finish());
    expect(validatePenalty(penalty)).toEqual(viaJson(penaltyJson));
    expect(validatePenalty({ ...penalty, ttl: '48h' })).toEqual(viaJson({ ...penaltyJson, ttl: '48h' }));
  });

  it('are served at ratelimit.adaptive.v1.SignalService, unary', () => {
    expect(SignalServiceService.recordErrorRate.path).toBe(
      '/ratelimit.adaptive.v1.SignalService/RecordErrorRate',
    );
    expect(SignalServiceService.penalize.path).toBe('/ratelimit.adaptive.v1.SignalService/Penalize');
    for (const m of [SignalServiceService.recordErrorRate, SignalServiceService.penalize]) {
      expect(m.requestStream || m.responseStream).toBe(false);
    }
  });
});
