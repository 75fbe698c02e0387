/**
 * How gopkg.in/yaml.v2, the reference's parser, types an untagged plain scalar. The rules
 * (our reading of resolve.go and decode.go on go-yaml's v2 branch,
 * https://github.com/go-yaml/yaml/blob/v2/resolve.go):
 *
 * - Exact words: `""`, `~`, `null`, `Null`, `NULL` are null; `y`, `yes`, `true`, `on` and
 *   `n`, `no`, `false`, `off` (each all-lower, Capitalised or UPPER) are booleans; `.inf`,
 *   `+.inf`, `-.inf`, `.nan` (same three casings) are floats.
 * - Otherwise only text starting with a sign, a digit or `.` can be a number; anything else
 *   (`e1`, `E5`, `::1`, `tRUE`) is a string.
 * - Sign or digit first: `_` are dropped, then Go's `strconv.ParseInt(s, 0, 64)` decides an
 *   int (`0x`/`0o`/`0b` in either case, a leading `0` for octal, a sign); an unsigned value
 *   past int64 but within uint64 is a uint64; else the float syntax
 *   `[-+]?(digits[.digits?] | .digits)([eE][-+]?digits)?` is a float unless it overflows
 *   (so `08` and `1_0e1_0` are floats, `1e400` and `0x1p3` strings).
 * - `.` first: a float when Go's `strconv.ParseFloat` takes the text as is (`.5`, `.5e3`; not
 *   `.5_0` or `.`), else a string.
 * - A date (`2026-01-01`) resolves to a timestamp, but decode.go hands its text back both to
 *   `interface{}` (the reference's key check) and to string fields, and refuses it for ints
 *   and bools as it does a string: it is a string here. Sexagesimal (`1:20`) is not supported.
 *
 * Then decode.go, into the reference's structs: a string field takes any non-null scalar's
 * text as written (`0x1F` stays "0x1F", `yes` stays "yes"); ints and bools must match the
 * field's type; null leaves the zero value. The reference's key check
 * (`validateYamlKeys`, src/config/config_impl.go) refuses every leaf that is not a string,
 * int, bool or null, so float and uint64 scalars fail the load in any field.
 */
export type PlainScalar =
  | { readonly type: 'null'; readonly value: null }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'int' | 'uint64' | 'float'; readonly value: number }
  | { readonly type: 'str'; readonly value: string };

/** The casings yaml.v2 accepts for a word: lower, Capitalised, UPPER. */
const casings = (...words: string[]) =>
  words.flatMap((w) => [w, w.replace(/[a-z]/, (c) => c.toUpperCase()), w.toUpperCase()]);

const WORDS = new Map<string, PlainScalar>([
  ...['', '~', ...casings('null')].map((w) => [w, { type: 'null', value: null }] as const),
  ...casings('y', 'yes', 'true', 'on').map((w) => [w, { type: 'bool', value: true }] as const),
  ...casings('n', 'no', 'false', 'off').map((w) => [w, { type: 'bool', value: false }] as const),
  ...['.nan', '.NaN', '.NAN'].map((w) => [w, { type: 'float', value: Number.NaN }] as const),
  ...casings('.inf', '+.inf').map((w) => [w, { type: 'float', value: Infinity }] as const),
  ...casings('-.inf').map((w) => [w, { type: 'float', value: -Infinity }] as const),
]);

/** Go's base-0 integer syntax: sign, then a 0b/0o/0x prefix, a leading 0 (octal) or decimal. */
const GO_INTEGER = /^([-+]?)(?:0[bB]([01]+)|0[oO]([0-7]+)|0[xX]([0-9a-fA-F]+)|0([0-7]*)|([1-9][0-9]*))$/;

/** yaml.v2's float syntax (a digit or a dot before any exponent). */
const GO_FLOAT = /^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** The yaml.v2 type and JS value of an untagged plain scalar written as `text`. */
export function plainScalar(text: string): PlainScalar {
  const word = WORDS.get(text);
  if (word !== undefined) return word;
  const first = text.charAt(0);
  if (first === '.') return floatOr(text, text);
  if (first !== '+' && first !== '-' && (first < '0' || first > '9')) return { type: 'str', value: text };
  const digits = text.replaceAll('_', '');
  const n = goInteger(digits);
  if (n !== undefined && n >= INT64_MIN && n <= INT64_MAX) return { type: 'int', value: Number(n) };
  if (n !== undefined && n >= 0n && n <= UINT64_MAX && !/^[-+]/.test(digits)) {
    return { type: 'uint64', value: Number(n) };
  }
  return floatOr(digits, text);
}

/** The value of Go integer syntax (any size), or undefined when `s` is not one. */
function goInteger(s: string): bigint | undefined {
  const m = GO_INTEGER.exec(s);
  if (m === null) return undefined;
  const [, sign, bin, oct, hex, leadingZeroOctal, dec] = m;
  const magnitude =
    bin !== undefined
      ? BigInt(`0b${bin}`)
      : oct !== undefined
        ? BigInt(`0o${oct}`)
        : hex !== undefined
          ? BigInt(`0x${hex}`)
          : leadingZeroOctal !== undefined
            ? BigInt(`0o0${leadingZeroOctal}`)
            : BigInt(dec ?? '0');
  return sign === '-' ? -magnitude : magnitude;
}

/** A float when `s` has yaml.v2's float syntax and does not overflow; else the string `text`. */
function floatOr(s: string, text: string): PlainScalar {
  const value = GO_FLOAT.test(s) ? Number(s) : Number.NaN;
  return Number.isFinite(value) ? { type: 'float', value } : { type: 'str', value: text };
}
