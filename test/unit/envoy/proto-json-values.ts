// proto3 JSON forms of scalars and of the well-known types with a special JSON mapping.
import { parseDuration, wrapperKind } from './pgv-rules.js';

export type Json = Record<string, unknown>;
export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const describe = (v: unknown): string =>
  Array.isArray(v) ? 'a list' : v === null ? 'null' : `${typeof v} ${JSON.stringify(v)}`;

const INT32: [bigint, bigint] = [-(2n ** 31n), 2n ** 31n - 1n];
const UINT32: [bigint, bigint] = [0n, 2n ** 32n - 1n];
const INT64: [bigint, bigint] = [-(2n ** 63n), 2n ** 63n - 1n];
const UINT64: [bigint, bigint] = [0n, 2n ** 64n - 1n];
const INT_RANGES: Record<string, [bigint, bigint]> = {
  int32: INT32,
  sint32: INT32,
  sfixed32: INT32,
  uint32: UINT32,
  fixed32: UINT32,
  int64: INT64,
  sint64: INT64,
  sfixed64: INT64,
  uint64: UINT64,
  fixed64: UINT64,
};

/** Why `v` is not a valid proto3-JSON value of scalar `kind`, or undefined when it is. */
export function scalarError(kind: string, v: unknown): string | undefined {
  const want = (what: string) => `expected ${what} (${kind}), got ${describe(v)}`;
  const range = INT_RANGES[kind];
  if (range) {
    let n: bigint | undefined;
    if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
    else if (typeof v === 'string' && /^-?\d+$/.test(v)) n = BigInt(v);
    if (n === undefined) return want('an integer');
    return n < range[0] || n > range[1]
      ? `${kind} value ${v} out of range [${range[0]}, ${range[1]}]`
      : undefined;
  }
  switch (kind) {
    case 'string':
      return typeof v === 'string' ? undefined : want('a string');
    case 'bool':
      return typeof v === 'boolean' ? undefined : want('true or false');
    case 'bytes':
      return typeof v === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(v)
        ? undefined
        : want('a base64 string');
    case 'double':
    case 'float': {
      const special = typeof v === 'string' && ['NaN', 'Infinity', '-Infinity'].includes(v);
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
      if (!special && !Number.isFinite(n)) return want('a number');
      return kind === 'float' && Math.abs(n) > 3.4028234663852886e38
        ? `float value ${v} out of range`
        : undefined;
    }
    default:
      return `unsupported scalar type ${kind}`;
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Checks for the well-known types whose JSON is not a plain object of their fields (Any excluded). */
const SPECIAL: Record<string, (v: unknown) => string | undefined> = {
  'google.protobuf.Duration': (v) =>
    typeof v === 'string' && parseDuration(v) !== undefined
      ? undefined
      : `invalid Duration ${describe(v)}: expected a string like "0.02s"`,
  'google.protobuf.Timestamp': (v) =>
    typeof v === 'string' && RFC3339.test(v)
      ? undefined
      : `invalid Timestamp ${describe(v)}: expected RFC 3339`,
  'google.protobuf.FieldMask': (v) =>
    typeof v === 'string' ? undefined : `invalid FieldMask ${describe(v)}: expected a "a.b,c" string`,
  'google.protobuf.Struct': (v) =>
    isObject(v) ? undefined : `expected an object (Struct), got ${describe(v)}`,
  'google.protobuf.ListValue': (v) =>
    Array.isArray(v) ? undefined : `expected a list (ListValue), got ${describe(v)}`,
  'google.protobuf.Value': () => undefined,
};

/**
 * For a well-known type with a special JSON form (wrappers, Duration, Timestamp, FieldMask, Struct, Value,
 * ListValue): `{ error }` (error undefined when `v` is fine). Undefined for ordinary messages and for Any.
 */
export function specialJsonCheck(typeName: string, v: unknown): { error: string | undefined } | undefined {
  const kind = wrapperKind(typeName);
  if (kind) return { error: scalarError(kind, v) };
  const check = SPECIAL[typeName];
  return check ? { error: check(v) } : undefined;
}
