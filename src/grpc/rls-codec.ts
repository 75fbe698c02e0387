import type { DescriptorStatus, RateLimitResult } from '../core/decision.js';
import type { RateLimitRequest, RequestDescriptor } from '../core/descriptor.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { Unit } from '../core/units.js';
import type { RateLimitDescriptor } from '../gen/envoy/extensions/common/ratelimit/v3/ratelimit.js';
import {
  type RateLimitRequest as ProtoRequest,
  RateLimitResponse_RateLimit_Unit as ProtoUnit,
  type RateLimitResponse,
  RateLimitResponse_Code,
  type RateLimitResponse_DescriptorStatus,
} from '../gen/envoy/service/ratelimit/v3/rls.js';

/**
 * Conversion between the generated protobuf messages and the transport-free
 * core types. Both unit enums (envoy.type.v3.RateLimitUnit and
 * RateLimitResponse.RateLimit.Unit) share their numbers, WEEK = 7 included.
 */
const UNIT_BY_NUMBER: readonly (Unit | undefined)[] = [
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

/** Proto request → core request. Throws InvalidArgumentError for an override with an unknown unit. */
export function requestFromProto(request: ProtoRequest): RateLimitRequest {
  return {
    domain: request.domain,
    descriptors: request.descriptors.map(descriptorFromProto),
    hitsAddend: request.hitsAddend,
  };
}

function descriptorFromProto(descriptor: RateLimitDescriptor, index: number): RequestDescriptor {
  const override = descriptor.limit;
  if (override === undefined) {
    return { entries: descriptor.entries, hitsAddend: descriptor.hitsAddend };
  }
  const unit = UNIT_BY_NUMBER[override.unit];
  if (unit === undefined) {
    throw new InvalidArgumentError(
      `descriptor ${index}: limit override has an unknown unit (${override.unit}); use SECOND to YEAR`,
    );
  }
  return {
    entries: descriptor.entries,
    limit: { requestsPerUnit: override.requestsPerUnit, unit },
    hitsAddend: descriptor.hitsAddend,
  };
}

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
