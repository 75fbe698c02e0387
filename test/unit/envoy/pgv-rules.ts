// The protoc-gen-validate rules Envoy enforces when it loads a config (`[(validate.rules)...]` on fields,
// `option (validate.required)` on oneofs), evaluated on proto3-JSON values. Covered: message.required;
// string/bytes length, const, in/not_in, prefix/suffix/contains, pattern, HTTP header well_known_regex;
// bool const; number/enum const, bounds, in/not_in; duration required + bounds; any required + in/not_in;
// repeated min/max_items + per-item rules; map min/max_pairs. Not covered: map keys/values rules, timestamp
// rules, string formats (email, hostname, ip, uri, ...).
import type protobuf from 'protobufjs';

export type Report = (path: string, message: string) => void;
// biome-ignore lint/suspicious/noExplicitAny: PGV rule trees are untyped option objects.
type Rules = Record<string, any>;

const MAX_DURATION_SECONDS = 315_576_000_000n;

/** A proto3-JSON Duration ("1.5s", "-0.020s") as nanoseconds; undefined if malformed or out of range. */
export function parseDuration(text: string): bigint | undefined {
  const m = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(text);
  if (!m) return undefined;
  const seconds = BigInt(m[2]!);
  if (seconds > MAX_DURATION_SECONDS) return undefined;
  const nanos = seconds * 1_000_000_000n + BigInt((m[3] ?? '').padEnd(9, '0'));
  return m[1] ? -nanos : nanos;
}

function merge(into: Rules, from: Rules): Rules {
  for (const [k, v] of Object.entries(from)) {
    into[k] = v && typeof v === 'object' && !Array.isArray(v) ? merge(into[k] ?? {}, v) : v;
  }
  return into;
}

function validateOptions(item: { parsedOptions?: Rules[] | null }, key: string): Rules | undefined {
  const found = (item.parsedOptions ?? []).filter((o) => key in o).map((o) => o[key] as Rules);
  return found.length ? found.reduce((acc, r) => merge(acc, r), {}) : undefined;
}

/** `option (validate.required) = true;` inside a oneof: exactly one member must be set. */
export const oneofRequired = (oneof: protobuf.OneOf): boolean =>
  oneof.options?.['(validate.required)'] === true;

const list = (x: unknown): unknown[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
const show = (v: unknown): string => (typeof v === 'bigint' ? `${v}ns` : JSON.stringify(v));

/** Checks lt/lte/gt/gte (an inverted pair such as gt: 10, lt: 5 means "outside [5, 10]"), const, in, not_in. */
function checkOrdered<T extends number | bigint>(
  v: T,
  r: Rules,
  conv: (x: unknown) => T,
  path: string,
  report: Report,
): void {
  const lo =
    r.gt !== undefined
      ? { b: conv(r.gt), ok: v > conv(r.gt), s: `> ${show(conv(r.gt))}` }
      : r.gte !== undefined
        ? { b: conv(r.gte), ok: v >= conv(r.gte), s: `>= ${show(conv(r.gte))}` }
        : undefined;
  const hi =
    r.lt !== undefined
      ? { b: conv(r.lt), ok: v < conv(r.lt), s: `< ${show(conv(r.lt))}` }
      : r.lte !== undefined
        ? { b: conv(r.lte), ok: v <= conv(r.lte), s: `<= ${show(conv(r.lte))}` }
        : undefined;
  const inverted = lo && hi && hi.b < lo.b;
  const ok = inverted ? lo.ok || hi.ok : (lo?.ok ?? true) && (hi?.ok ?? true);
  if (!ok)
    report(
      path,
      `value ${show(v)} violates validate rule: must be ${[lo?.s, hi?.s].filter(Boolean).join(inverted ? ' or ' : ' and ')}`,
    );
  if (r.const !== undefined && v !== conv(r.const))
    report(path, `value ${show(v)} violates validate rule: must equal ${show(conv(r.const))}`);
  if (r.in !== undefined && !list(r.in).some((x) => conv(x) === v))
    report(path, `value ${show(v)} violates validate rule: must be one of ${show(list(r.in))}`);
  if (list(r.not_in).some((x) => conv(x) === v))
    report(path, `value ${show(v)} violates validate rule: must not be one of ${show(list(r.not_in))}`);
}

const HEADER_NAME_STRICT = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
// PGV's non-strict header regex forbids NUL, LF and CR; the strict value regex all controls but HT (and DEL).
const headerLoose = (v: string): boolean => ![...v].some((c) => c === '\0' || c === '\n' || c === '\r');
const headerValueStrict = (v: string): boolean =>
  ![...v].some((c) => (c < ' ' && c !== '\t') || c === '\x7f');

function checkString(v: string, r: Rules, path: string, report: Report): void {
  const bad = (why: string) => report(path, `string ${JSON.stringify(v)} violates validate rule: ${why}`);
  const chars = [...v].length;
  const bytes = Buffer.byteLength(v);
  if (r.len !== undefined && chars !== Number(r.len)) bad(`length must be ${r.len}`);
  if (r.min_len !== undefined && chars < Number(r.min_len)) bad(`length must be >= ${r.min_len}`);
  if (r.max_len !== undefined && chars > Number(r.max_len)) bad(`length must be <= ${r.max_len}`);
  if (r.min_bytes !== undefined && bytes < Number(r.min_bytes)) bad(`size must be >= ${r.min_bytes} bytes`);
  if (r.max_bytes !== undefined && bytes > Number(r.max_bytes)) bad(`size must be <= ${r.max_bytes} bytes`);
  if (r.const !== undefined && v !== r.const) bad(`must equal ${JSON.stringify(r.const)}`);
  if (r.in !== undefined && !list(r.in).includes(v)) bad(`must be one of ${JSON.stringify(list(r.in))}`);
  if (list(r.not_in).includes(v)) bad(`must not be one of ${JSON.stringify(list(r.not_in))}`);
  if (r.prefix !== undefined && !v.startsWith(r.prefix)) bad(`must start with ${JSON.stringify(r.prefix)}`);
  if (r.suffix !== undefined && !v.endsWith(r.suffix)) bad(`must end with ${JSON.stringify(r.suffix)}`);
  if (r.contains !== undefined && !v.includes(r.contains)) bad(`must contain ${JSON.stringify(r.contains)}`);
  if (r.pattern !== undefined && !new RegExp(r.pattern, 'u').test(v)) bad(`must match /${r.pattern}/`);
  const strict = r.strict !== false;
  if (r.well_known_regex === 'HTTP_HEADER_NAME' && !(strict ? HEADER_NAME_STRICT.test(v) : headerLoose(v)))
    bad('must be an HTTP header name');
  if (r.well_known_regex === 'HTTP_HEADER_VALUE' && !(strict ? headerValueStrict(v) : headerLoose(v)))
    bad('must be an HTTP header value');
}

const WRAPPER_KIND: Record<string, string> = {
  DoubleValue: 'double',
  FloatValue: 'float',
  Int64Value: 'int64',
  UInt64Value: 'uint64',
  Int32Value: 'int32',
  UInt32Value: 'uint32',
  BoolValue: 'bool',
  StringValue: 'string',
  BytesValue: 'bytes',
};
export const wrapperKind = (fullName: string): string | undefined =>
  fullName.startsWith('google.protobuf.')
    ? WRAPPER_KIND[fullName.slice('google.protobuf.'.length)]
    : undefined;

const DEFAULTS: Record<string, unknown> = { string: '', bytes: '', bool: false };

/** Rules for one (non-repeated) value of `field`'s type; `value` undefined means "not set". */
function checkValue(field: protobuf.Field, rules: Rules, value: unknown, path: string, report: Report): void {
  const type = field.resolvedType;
  if (type && 'fields' in type) {
    const name = type.fullName.slice(1);
    if (value === undefined) {
      if (
        rules.message?.required ||
        rules.duration?.required ||
        rules.any?.required ||
        rules.timestamp?.required
      )
        report(path, `required field is not set (validate rule, type ${name})`);
      return;
    }
    if (name === 'google.protobuf.Duration' && rules.duration && typeof value === 'string') {
      const nanos = parseDuration(value);
      if (nanos !== undefined)
        checkOrdered(nanos, rules.duration, (x) => durationRuleNanos(x as Rules), path, report);
    }
    if (name === 'google.protobuf.Any' && rules.any) {
      const url = (value as Rules)['@type'];
      if (rules.any.in !== undefined && !list(rules.any.in).includes(url))
        report(path, `@type ${url} violates validate rule: must be one of ${show(list(rules.any.in))}`);
      if (list(rules.any.not_in).includes(url))
        report(
          path,
          `@type ${url} violates validate rule: must not be one of ${show(list(rules.any.not_in))}`,
        );
    }
    const kind = wrapperKind(name);
    if (kind) checkScalar(kind, rules[kind], value, path, report);
    return;
  }
  const kind = type ? 'enum' : field.type;
  let v = value ?? (kind in DEFAULTS ? DEFAULTS[kind] : 0);
  if (type && typeof v === 'string') v = (type as protobuf.Enum).values[v] ?? v;
  checkScalar(kind, rules[kind], v, path, report);
}

function checkScalar(kind: string, r: Rules | undefined, v: unknown, path: string, report: Report): void {
  if (!r) return;
  if (r.ignore_empty && (v === '' || v === 0 || v === false)) return;
  if (kind === 'string' && typeof v === 'string') checkString(v, r, path, report);
  else if (kind === 'bytes' && typeof v === 'string')
    checkString(Buffer.from(v, 'base64').toString('latin1'), r, path, report);
  else if (kind === 'bool' && r.const !== undefined && v !== r.const)
    report(path, `value ${v} violates validate rule: must equal ${r.const}`);
  else if (kind !== 'bool' && (typeof v === 'number' || typeof v === 'string') && Number.isFinite(Number(v)))
    checkOrdered(Number(v), r, Number, path, report);
}

function durationRuleNanos(d: Rules | undefined): bigint {
  return BigInt(d?.seconds ?? 0) * 1_000_000_000n + BigInt(d?.nanos ?? 0);
}

/** All validate rules of `field` given its JSON value (undefined: not set). */
export function checkFieldRules(field: protobuf.Field, value: unknown, path: string, report: Report): void {
  const rules = validateOptions(field as never, '(validate.rules)');
  if (!rules) return;
  if (field.map) {
    const pairs = value && typeof value === 'object' ? Object.keys(value).length : 0;
    if (rules.map?.ignore_empty && pairs === 0) return;
    if (rules.map?.min_pairs !== undefined && pairs < Number(rules.map.min_pairs))
      report(path, `map needs >= ${rules.map.min_pairs} entries (validate rule)`);
    if (rules.map?.max_pairs !== undefined && pairs > Number(rules.map.max_pairs))
      report(path, `map allows <= ${rules.map.max_pairs} entries (validate rule)`);
    return;
  }
  if (field.repeated) {
    const items = Array.isArray(value) ? value : [];
    const r = rules.repeated ?? {};
    if (r.ignore_empty && items.length === 0) return;
    if (r.min_items !== undefined && items.length < Number(r.min_items))
      report(path, `list needs >= ${r.min_items} items (validate rule), has ${items.length}`);
    if (r.max_items !== undefined && items.length > Number(r.max_items))
      report(path, `list allows <= ${r.max_items} items (validate rule), has ${items.length}`);
    if (r.unique && new Set(items.map((x) => JSON.stringify(x))).size !== items.length)
      report(path, 'list items must be unique (validate rule)');
    if (r.items)
      for (const [i, item] of items.entries()) checkValue(field, r.items, item, `${path}[${i}]`, report);
    return;
  }
  checkValue(field, rules, value, path, report);
}
