import type { DescriptorStatus, RateLimitResult } from '../core/decision.js';
import type { DescriptorEntry, RateLimitRequest, RequestDescriptor } from '../core/descriptor.js';
import { InvalidArgumentError } from '../core/errors.js';
import { parseUnit, type Unit } from '../core/units.js';

/**
 * The protobuf-JSON form of RateLimitRequest/RateLimitResponse used by POST
 * /json. Field names are accepted in camelCase and snake_case; unknown
 * fields and wrong types are errors (400), as in the reference.
 */
export function requestFromJson(body: unknown): RateLimitRequest {
  const request = object(body, 'request');
  allowOnly(request, 'request', ['domain', 'descriptors', 'hitsAddend', 'hits_addend']);
  const descriptors = request.descriptors ?? [];
  if (!Array.isArray(descriptors)) throw bad('descriptors must be a list');
  return {
    domain: optionalString(request.domain, 'domain'),
    descriptors: descriptors.map(descriptorFromJson),
    hitsAddend: optionalUint(request.hitsAddend ?? request.hits_addend, 'hitsAddend') ?? 0,
  };
}

function descriptorFromJson(raw: unknown, index: number): RequestDescriptor {
  const where = `descriptors[${index}]`;
  const descriptor = object(raw, where);
  allowOnly(descriptor, where, ['entries', 'limit', 'hitsAddend', 'hits_addend']);
  const entries = descriptor.entries ?? [];
  if (!Array.isArray(entries)) throw bad(`${where}.entries must be a list`);
  const hits = descriptor.hitsAddend ?? descriptor.hits_addend;
  return {
    entries: entries.map((entry, i) => entryFromJson(entry, `${where}.entries[${i}]`)),
    limit: descriptor.limit === undefined ? undefined : overrideFromJson(descriptor.limit, `${where}.limit`),
    hitsAddend: optionalUint(hits, `${where}.hitsAddend`),
  };
}

function entryFromJson(raw: unknown, where: string): DescriptorEntry {
  const entry = object(raw, where);
  allowOnly(entry, where, ['key', 'value']);
  return {
    key: optionalString(entry.key, `${where}.key`),
    value: optionalString(entry.value, `${where}.value`),
  };
}

function overrideFromJson(raw: unknown, where: string): { requestsPerUnit: number; unit: Unit } {
  const limit = object(raw, where);
  allowOnly(limit, where, ['requestsPerUnit', 'requests_per_unit', 'unit']);
  const unitRaw = limit.unit;
  const unit = typeof unitRaw === 'string' ? parseUnit(unitRaw) : undefined;
  if (unit === undefined)
    throw bad(`${where}.unit must be one of SECOND…YEAR, got ${JSON.stringify(unitRaw)}`);
  const requestsPerUnit = optionalUint(
    limit.requestsPerUnit ?? limit.requests_per_unit,
    `${where}.requestsPerUnit`,
  );
  return { requestsPerUnit: requestsPerUnit ?? 0, unit };
}

function object(raw: unknown, where: string): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad(`${where} must be an object`);
  return raw as Record<string, unknown>;
}

function allowOnly(value: Record<string, unknown>, where: string, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw bad(`${where} has an unknown field '${key}'`);
  }
}

function optionalString(raw: unknown, where: string): string {
  if (raw === undefined || raw === null) return '';
  if (typeof raw !== 'string') throw bad(`${where} must be a string`);
  return raw;
}

/** uint32/uint64 fields may be JSON numbers or decimal strings (protobuf JSON mapping). */
function optionalUint(raw: unknown, where: string): number | undefined {
  if (raw === undefined || raw === null) return undefined;
  const value = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw bad(`${where} must be a non-negative integer`);
  }
  return value;
}

function bad(message: string): InvalidArgumentError {
  return new InvalidArgumentError(message);
}

/** Core result → protobuf JSON (camelCase, enums as names, zero values omitted, durations as "<n>s"). */
export function responseToJson(result: RateLimitResult): Record<string, unknown> {
  const json: Record<string, unknown> = {
    overallCode: result.overallCode,
    statuses: result.statuses.map(statusToJson),
  };
  if (result.responseHeadersToAdd.length > 0) json.responseHeadersToAdd = result.responseHeadersToAdd;
  if (result.dynamicMetadata !== undefined) json.dynamicMetadata = result.dynamicMetadata;
  return json;
}

function statusToJson(status: DescriptorStatus): Record<string, unknown> {
  const json: Record<string, unknown> = { code: status.code };
  const limit = status.currentLimit;
  if (limit !== undefined) {
    json.currentLimit = {
      ...(limit.name === '' ? {} : { name: limit.name }),
      ...(limit.requestsPerUnit === 0 ? {} : { requestsPerUnit: limit.requestsPerUnit }),
      unit: limit.unit,
    };
  }
  if (status.limitRemaining !== 0) json.limitRemaining = status.limitRemaining;
  if (status.durationUntilResetSeconds !== undefined) {
    json.durationUntilReset = `${status.durationUntilResetSeconds}s`;
  }
  return json;
}
