import { InvalidArgumentError, RateLimitError } from '../core/errors.js';
import {
  decodeString,
  expectEnd,
  LEN,
  malformed,
  readLength,
  readTag,
  readVarint,
  skipField,
  VARINT,
  varintText,
  WireReader,
  wrongWireType,
} from './protobuf-wire.js';

/**
 * A counting decoder of Envoy's `envoy.service.accesslog.v3.StreamAccessLogsMessage`
 * that keeps only what the adaptive controllers need from each HTTP entry, with
 * the same wire primitives and the same guarantees as rls-request-decoder.ts:
 * every bound is checked before the bytes it guards are decoded, unknown fields
 * (and every field we do not need) are skipped without being copied, and every
 * failure is an InvalidArgumentError naming the bound or "malformed request: …".
 *
 * Not wired into the servers yet (the access-log service, access-log-service.ts,
 * is registered by the next change).
 *
 * Field numbers, from the copy of Envoy's API in @grpc/grpc-js-xds
 * (deps/envoy-api; test/unit/adaptive/signals/access-log-fields.test.ts checks
 * every number below against those files):
 *   envoy/service/accesslog/v3/als.proto
 *     StreamAccessLogsMessage  1 identifier (skipped), 2 http_logs HTTPAccessLogEntries, 3 tcp_logs (skipped)
 *     HTTPAccessLogEntries     1 log_entry HTTPAccessLogEntry (repeated)
 *   envoy/data/accesslog/v3/accesslog.proto
 *     HTTPAccessLogEntry       1 common_properties AccessLogCommon, 3 request HTTPRequestProperties,
 *                              4 response HTTPResponseProperties
 *     AccessLogCommon          15 upstream_cluster string, 16 response_flags ResponseFlags, 19 route_name string
 *     HTTPRequestProperties    3 authority string
 *     HTTPResponseProperties   1 response_code google.protobuf.UInt32Value (1 value uint32)
 *     ResponseFlags            1..28 bool (13 unauthorized_details is a message, skipped)
 * As protobuf requires, a repeated singular field keeps its last value and
 * submessages sent twice merge.
 */

/** Bounds on one StreamAccessLogsMessage; settings may change them (all ≥ 1). */
export interface AccessLogLimits {
  /** Largest message, in bytes, checked before anything is decoded. */
  readonly maxMessageBytes: number;
  /** Most HTTP entries in one message. */
  readonly maxEntriesPerMessage: number;
  /** Longest upstream_cluster and route_name (UTF-8 bytes); longer ones reject the message. */
  readonly maxNameBytes: number;
  /**
   * Longest authority kept (UTF-8 bytes). The authority is the downstream
   * client's Host header, so a longer one does not reject the message (a client
   * could otherwise cut the stream of every entry): the entry keeps its cluster
   * and route and gets `authority: ''` with `authorityTooLong: true`.
   */
  readonly maxAuthorityBytes: number;
}

/**
 * Defaults. Envoy's gRPC access logger flushes its buffer at `buffer_size_bytes`
 * (default 16 KiB, a soft limit) or every `buffer_flush_interval` (1 s), so a
 * message of 1 MiB or 4,096 entries is far above what a default Envoy sends.
 */
export const DEFAULT_ACCESS_LOG_LIMITS: AccessLogLimits = Object.freeze({
  maxMessageBytes: 1024 * 1024,
  maxEntriesPerMessage: 4096,
  maxNameBytes: 1024,
  maxAuthorityBytes: 1024,
});

/** What the controllers need from one HTTP access-log entry. */
export interface AccessLogEntry {
  /** common_properties.upstream_cluster; '' when absent. */
  readonly upstreamCluster: string;
  /** common_properties.route_name; '' when absent. */
  readonly routeName: string;
  /** request.authority; '' when absent or longer than maxAuthorityBytes. */
  readonly authority: string;
  readonly authorityTooLong: boolean;
  /** response.response_code; 0 when absent (no response was sent, e.g. a reset). */
  readonly responseCode: number;
  /** Bit (n - 1) is set when the boolean field n of ResponseFlags is true (RESPONSE_FLAG). */
  readonly responseFlags: number;
}

/** ResponseFlags boolean fields by number, as bits of AccessLogEntry.responseFlags. */
export const RESPONSE_FLAG = Object.freeze({
  failed_local_healthcheck: 1,
  no_healthy_upstream: 2,
  upstream_request_timeout: 3,
  local_reset: 4,
  upstream_remote_reset: 5,
  upstream_connection_failure: 6,
  upstream_connection_termination: 7,
  upstream_overflow: 8,
  no_route_found: 9,
  delay_injected: 10,
  fault_injected: 11,
  rate_limited: 12,
  rate_limit_service_error: 14,
  downstream_connection_termination: 15,
  upstream_retry_limit_exceeded: 16,
  stream_idle_timeout: 17,
  invalid_envoy_request_headers: 18,
  downstream_protocol_error: 19,
  upstream_max_stream_duration_reached: 20,
  response_from_cache_filter: 21,
  no_filter_config_found: 22,
  duration_timeout: 23,
  upstream_protocol_error: 24,
  no_cluster_found: 25,
  overload_manager: 26,
  dns_resolution_failure: 27,
  downstream_remote_reset: 28,
} as const);

/**
 * The field numbers this decoder reads, by message and field name as in the
 * .proto files (the field-number test compares each with them).
 */
export const ACCESS_LOG_FIELDS = Object.freeze({
  'envoy.service.accesslog.v3.StreamAccessLogsMessage': { http_logs: 2 },
  'envoy.service.accesslog.v3.StreamAccessLogsMessage.HTTPAccessLogEntries': { log_entry: 1 },
  'envoy.data.accesslog.v3.HTTPAccessLogEntry': { common_properties: 1, request: 3, response: 4 },
  'envoy.data.accesslog.v3.AccessLogCommon': { upstream_cluster: 15, response_flags: 16, route_name: 19 },
  'envoy.data.accesslog.v3.HTTPRequestProperties': { authority: 3 },
  'envoy.data.accesslog.v3.HTTPResponseProperties': { response_code: 1 },
  'google.protobuf.UInt32Value': { value: 1 },
  'envoy.data.accesslog.v3.ResponseFlags': { unauthorized_details: 13 },
} as const);

const F = ACCESS_LOG_FIELDS;
const HTTP_LOGS = F['envoy.service.accesslog.v3.StreamAccessLogsMessage'].http_logs;
const LOG_ENTRY = F['envoy.service.accesslog.v3.StreamAccessLogsMessage.HTTPAccessLogEntries'].log_entry;
const COMMON_PROPERTIES = F['envoy.data.accesslog.v3.HTTPAccessLogEntry'].common_properties;
const REQUEST = F['envoy.data.accesslog.v3.HTTPAccessLogEntry'].request;
const RESPONSE = F['envoy.data.accesslog.v3.HTTPAccessLogEntry'].response;
const UPSTREAM_CLUSTER = F['envoy.data.accesslog.v3.AccessLogCommon'].upstream_cluster;
const RESPONSE_FLAGS = F['envoy.data.accesslog.v3.AccessLogCommon'].response_flags;
const ROUTE_NAME = F['envoy.data.accesslog.v3.AccessLogCommon'].route_name;
const AUTHORITY = F['envoy.data.accesslog.v3.HTTPRequestProperties'].authority;
const RESPONSE_CODE = F['envoy.data.accesslog.v3.HTTPResponseProperties'].response_code;
const WRAPPER_VALUE = F['google.protobuf.UInt32Value'].value;
/** ResponseFlags.unauthorized_details: a message, not a boolean; skipped. */
const UNAUTHORIZED_DETAILS = F['envoy.data.accesslog.v3.ResponseFlags'].unauthorized_details;
const MAX_FLAG_FIELD = 28;
const MAX_UINT32 = 4_294_967_295;

/** The bit of AccessLogEntry.responseFlags for a ResponseFlags field number. */
export function flagBit(field: number): number {
  return 2 ** (field - 1);
}

/**
 * The HTTP entries of one StreamAccessLogsMessage (TCP entries and the
 * identifier are skipped).
 * @throws InvalidArgumentError, never anything else.
 */
export function decodeStreamAccessLogsMessage(bytes: Uint8Array, limits: AccessLogLimits): AccessLogEntry[] {
  if (bytes.length > limits.maxMessageBytes) {
    throw new InvalidArgumentError(
      `access log message is ${bytes.length} bytes; at most ${limits.maxMessageBytes} are allowed`,
    );
  }
  const reader = new WireReader(bytes);
  try {
    const entries: AccessLogEntry[] = [];
    readMessage(reader, limits, entries);
    return entries;
  } catch (error) {
    if (error instanceof RateLimitError) throw error;
    throw malformed(reader, error instanceof Error ? error.message : String(error));
  }
}

function readMessage(r: WireReader, limits: AccessLogLimits, out: AccessLogEntry[]): void {
  const end = r.len;
  while (r.pos < end) {
    const tag = readTag(r);
    if (tag >>> 3 === HTTP_LOGS) {
      if ((tag & 7) !== LEN) throw wrongWireType(r, tag, LEN, 'http_logs');
      const length = readLength(r, end);
      readHttpLogs(r, r.pos + length, limits, out);
    } else skipField(r, tag, end, 0);
  }
  expectEnd(r, end);
}

function readHttpLogs(r: WireReader, end: number, limits: AccessLogLimits, out: AccessLogEntry[]): void {
  while (r.pos < end) {
    const tag = readTag(r);
    if (tag >>> 3 === LOG_ENTRY) {
      if ((tag & 7) !== LEN) throw wrongWireType(r, tag, LEN, 'log_entry');
      if (out.length === limits.maxEntriesPerMessage) {
        throw new InvalidArgumentError(
          `access log entry ${out.length}: at most ${limits.maxEntriesPerMessage} entries per message are allowed`,
        );
      }
      const length = readLength(r, end);
      out.push(readEntry(r, r.pos + length, out.length, limits));
    } else skipField(r, tag, end, 0);
  }
  expectEnd(r, end);
}

/** An entry while it is read; strings are positions until the end, so a repeated field costs nothing. */
interface EntryDraft {
  clusterStart: number;
  clusterEnd: number;
  routeStart: number;
  routeEnd: number;
  authorityStart: number;
  authorityEnd: number;
  authorityTooLong: boolean;
  responseCode: number;
  responseFlags: number;
}

function readEntry(r: WireReader, end: number, index: number, limits: AccessLogLimits): AccessLogEntry {
  const d: EntryDraft = {
    clusterStart: 0,
    clusterEnd: 0,
    routeStart: 0,
    routeEnd: 0,
    authorityStart: 0,
    authorityEnd: 0,
    authorityTooLong: false,
    responseCode: 0,
    responseFlags: 0,
  };
  while (r.pos < end) {
    const tag = readTag(r);
    const field = tag >>> 3;
    if (field === COMMON_PROPERTIES || field === REQUEST || field === RESPONSE) {
      if ((tag & 7) !== LEN) throw wrongWireType(r, tag, LEN, `access log entry ${index} field ${field}`);
      const length = readLength(r, end); // before r.pos is read: readLength moves it
      const sub = r.pos + length;
      if (field === COMMON_PROPERTIES) readCommon(r, sub, index, limits, d);
      else if (field === REQUEST) readRequest(r, sub, index, limits, d);
      else readResponse(r, sub, index, d);
    } else skipField(r, tag, end, 0);
  }
  expectEnd(r, end);
  const wire = r.wire;
  return {
    upstreamCluster: decodeString(wire, d.clusterStart, d.clusterEnd),
    routeName: decodeString(wire, d.routeStart, d.routeEnd),
    authority: decodeString(wire, d.authorityStart, d.authorityEnd),
    authorityTooLong: d.authorityTooLong,
    responseCode: d.responseCode,
    responseFlags: d.responseFlags,
  };
}

function readCommon(r: WireReader, end: number, index: number, limits: AccessLogLimits, d: EntryDraft): void {
  while (r.pos < end) {
    const tag = readTag(r);
    const field = tag >>> 3;
    if (field === UPSTREAM_CLUSTER || field === ROUTE_NAME) {
      const name = field === UPSTREAM_CLUSTER ? 'upstream_cluster' : 'route_name';
      if ((tag & 7) !== LEN) throw wrongWireType(r, tag, LEN, `access log entry ${index} ${name}`);
      const length = readLength(r, end);
      if (length > limits.maxNameBytes) {
        throw new InvalidArgumentError(
          `access log entry ${index} ${name} is ${length} bytes; at most ${limits.maxNameBytes} are allowed`,
        );
      }
      if (field === UPSTREAM_CLUSTER) {
        d.clusterStart = r.pos;
        d.clusterEnd = r.pos + length;
      } else {
        d.routeStart = r.pos;
        d.routeEnd = r.pos + length;
      }
      r.pos += length;
    } else if (field === RESPONSE_FLAGS) {
      if ((tag & 7) !== LEN) throw wrongWireType(r, tag, LEN, `access log entry ${index} response_flags`);
      const length = readLength(r, end);
      d.responseFlags = readFlags(r, r.pos + length, index, d.responseFlags);
    } else skipField(r, tag, end, 0);
  }
  expectEnd(r, end);
}

function readRequest(
  r: WireReader,
  end: number,
  index: number,
  limits: AccessLogLimits,
  d: EntryDraft,
): void {
  while (r.pos < end) {
    const tag = readTag(r);
    if (tag >>> 3 === AUTHORITY) {
      if ((tag & 7) !== LEN) throw wrongWireType(r, tag, LEN, `access log entry ${index} authority`);
      const length = readLength(r, end);
      const tooLong = length > limits.maxAuthorityBytes;
      d.authorityTooLong = tooLong;
      d.authorityStart = r.pos;
      d.authorityEnd = tooLong ? r.pos : r.pos + length;
      r.pos += length;
    } else skipField(r, tag, end, 0);
  }
  expectEnd(r, end);
}

function readResponse(r: WireReader, end: number, index: number, d: EntryDraft): void {
  while (r.pos < end) {
    const tag = readTag(r);
    if (tag >>> 3 === RESPONSE_CODE) {
      if ((tag & 7) !== LEN) throw wrongWireType(r, tag, LEN, `access log entry ${index} response_code`);
      const length = readLength(r, end);
      d.responseCode = readUInt32Value(r, r.pos + length, index);
    } else skipField(r, tag, end, 0);
  }
  expectEnd(r, end);
}

/** google.protobuf.UInt32Value; a varint wider than uint32 is refused, not truncated. */
function readUInt32Value(r: WireReader, end: number, index: number): number {
  let value = 0;
  while (r.pos < end) {
    const tag = readTag(r);
    if (tag >>> 3 === WRAPPER_VALUE) {
      if ((tag & 7) !== VARINT)
        throw wrongWireType(r, tag, VARINT, `access log entry ${index} response_code value`);
      const start = r.pos;
      value = readVarint(r);
      if (value > MAX_UINT32) {
        throw new InvalidArgumentError(
          `access log entry ${index} response_code must be an integer from 0 to ${MAX_UINT32}, got ${varintText(r, start)}`,
        );
      }
    } else skipField(r, tag, end, 0);
  }
  expectEnd(r, end);
  return value;
}

/** ResponseFlags into bits (merged into `flags`: a submessage sent twice merges). */
function readFlags(r: WireReader, end: number, index: number, flags: number): number {
  let bits = flags;
  while (r.pos < end) {
    const tag = readTag(r);
    const field = tag >>> 3;
    if (field >= 1 && field <= MAX_FLAG_FIELD && field !== UNAUTHORIZED_DETAILS) {
      if ((tag & 7) !== VARINT)
        throw wrongWireType(r, tag, VARINT, `access log entry ${index} response flag ${field}`);
      const bit = flagBit(field);
      // a bool is any varint; non-zero is true, and the last occurrence wins
      if (readVarint(r) !== 0) bits |= bit;
      else bits &= ~bit;
    } else skipField(r, tag, end, 0);
  }
  expectEnd(r, end);
  return bits;
}
