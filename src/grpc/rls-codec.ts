import type { DescriptorStatus, RateLimitResult } from '../core/decision.js';
import type { Unit } from '../core/units.js';
import {
  RateLimitResponse_RateLimit_Unit as ProtoUnit,
  type RateLimitResponse,
  RateLimitResponse_Code,
  type RateLimitResponse_DescriptorStatus,
} from '../gen/envoy/service/ratelimit/v3/rls.js';

/**
 * Conversion of the core result to the generated protobuf response (requests
 * are decoded straight from the wire by rls-request-decoder.ts). Both unit
 * enums (envoy.type.v3.RateLimitUnit and RateLimitResponse.RateLimit.Unit)
 * share their numbers, WEEK = 7 included.
 */
export const UNIT_BY_NUMBER: readonly (Unit | undefined)[] = [
  undefined,
  'SECOND',
  'MINUTE',
  'HOUR',
  'DAY',
  'MONTH',
  'YEAR',
  'WEEK',
];

const NUMBER_BY_UNIT: Readonly<Record<Unit, ProtoUnit>> = {
  SECOND: ProtoUnit.SECOND,
  MINUTE: ProtoUnit.MINUTE,
  HOUR: ProtoUnit.HOUR,
  DAY: ProtoUnit.DAY,
  WEEK: ProtoUnit.WEEK,
  MONTH: ProtoUnit.MONTH,
  YEAR: ProtoUnit.YEAR,
};

/** Core result → proto response. */
export function responseToProto(result: RateLimitResult): RateLimitResponse {
  return {
    overallCode: result.overallCode === 'OK' ? RateLimitResponse_Code.OK : RateLimitResponse_Code.OVER_LIMIT,
    statuses: result.statuses.map(statusToProto),
    responseHeadersToAdd: result.responseHeadersToAdd.map((h) => ({
      key: h.key,
      value: h.value,
      rawValue: EMPTY,
    })),
    requestHeadersToAdd: [],
    rawBody: EMPTY,
    dynamicMetadata: result.dynamicMetadata,
    quota: undefined,
  };
}

const EMPTY = Buffer.alloc(0);

function statusToProto(status: DescriptorStatus): RateLimitResponse_DescriptorStatus {
  const limit = status.currentLimit;
  return {
    code: status.code === 'OK' ? RateLimitResponse_Code.OK : RateLimitResponse_Code.OVER_LIMIT,
    currentLimit:
      limit === undefined
        ? undefined
        : { name: limit.name, requestsPerUnit: limit.requestsPerUnit, unit: NUMBER_BY_UNIT[limit.unit] },
    limitRemaining: status.limitRemaining,
    durationUntilReset:
      status.durationUntilResetSeconds === undefined
        ? undefined
        : { seconds: status.durationUntilResetSeconds, nanos: 0 },
    quota: undefined,
  };
}
