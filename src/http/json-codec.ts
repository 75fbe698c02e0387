import type { DescriptorStatus, RateLimitResult } from '../core/decision.js';
import type { DescriptorEntry, RateLimitRequest, RequestDescriptor } from '../core/descriptor.js';
import { InvalidArgumentError } from '../core/errors.js';
import { parseUnit, type Unit } from '../core/units.js';
import type { RequestLimits } from '../service/request-validation.js';

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

/** Per-entry JSON besides key and value (`{"key":"","value":""},`, with room for whitespace). */
const ENTRY_OVERHEAD = 64;
/** Per-descriptor JSON besides its entries: braces, names, a limit override and a hitsAddend. */
const DESCRIPTOR_OVERHEAD = 256;
/** Room for the request's other fields and for formatting. */
const BODY_SLACK = 64 * 1024;

/**
 * The largest POST /json body a request within `limits` can need: keys, values
 * and the domain counted twice (room for JSON escapes), plus generous overhead;
 * never below 64 KiB. A longer body is refused with 413 before it is parsed.
 * 5.5 MB with the defaults.
 */
export function maxJsonBodyBytes(limits: RequestLimits): number {
  const entry = 2 * (limits.maxKeyBytes + limits.maxValueBytes) + ENTRY_OVERHEAD;
  const descriptor = limits.maxEntries * entry + DESCRIPTOR_OVERHEAD;
  return limits.maxDescriptors * descriptor + 2 * limits.maxDomainBytes + BODY_SLACK;
}

/**
 * Counts the objects and arrays of a JSON text (one pass, nothing allocated)
 * and rejects it before JSON.parse builds them when there are more than a
 * request within `limits` can have: the request, each descriptor, its limit and
 * its entries; the descriptor list and each entry list. So a body of a million
 * `{}` costs a scan, not a million objects.
 * @throws InvalidArgumentError naming the bound.
 */
export function checkJsonShape(body: string, limits: RequestLimits): void {
  const maxObjects = 1 + limits.maxDescriptors * (2 + limits.maxEntries);
  const maxArrays = 1 + limits.maxDescriptors;
  let objects = 0;
  let arrays = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b) {
      if (++objects > maxObjects) throw tooMany('objects', maxObjects, limits);
    } else if (c === 0x5b) {
      if (++arrays > maxArrays) throw tooMany('arrays', maxArrays, limits);
    }
  }
}

function tooMany(what: string, max: number, limits: RequestLimits): InvalidArgumentError {
  return bad(
    `request body has more than ${max} JSON ${what}, the most a request within the limits ` +
      `(${limits.maxDescriptors} descriptors of ${limits.maxEntries} entries) can have`,
  );
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
