import { getTextEncoding } from '@bufbuild/protobuf/wire';
import { InvalidArgumentError } from '../core/errors.js';

/**
 * Protobuf wire-format primitives for a decoder that checks bounds as it
 * reads (rls-request-decoder.ts): exact varints up to 2^53, lengths checked
 * against the enclosing message, unknown fields skipped without copying, and
 * every malformed byte reported as an InvalidArgumentError.
 */

/**
 * A position in the message. Not @bufbuild/protobuf's BinaryReader, which the
 * generated code uses: building one (a DataView and per-instance closures) was
 * a tenth of a small request's decoding, and its varints are 32-bit or BigInt
 * where the bounds below need exact numbers up to 2^53.
 */
export class WireReader {
  pos = 0;
  readonly len: number;

  constructor(readonly wire: Uint8Array) {
    this.len = wire.length;
  }
}

export const VARINT = 0;
export const FIXED64 = 1;
export const LEN = 2;
export const START_GROUP = 3;
export const END_GROUP = 4;
export const FIXED32 = 5;
/** Tags are uint32 varints; field number 0 (tags below 8) does not exist. */
const MAX_TAG = 4_294_967_295;
/** Nesting of unknown groups skipped before the message counts as malformed. */
const MAX_GROUP_DEPTH = 32;
/** Short ASCII strings are built directly, as the generated decoder's reader does. */
const ASCII_MAX_LENGTH = 32;

/**
 * UTF-8 bytes `start`..`end` as text, exactly as the generated decoder decodes
 * them: @bufbuild/protobuf's decoder (invalid sequences become U+FFFD, a
 * leading U+FEFF is kept) behind the same short-ASCII fast path.
 */
export function decodeString(buf: Uint8Array, start: number, end: number): string {
  const length = end - start;
  if (length <= ASCII_MAX_LENGTH) {
    const codes = new Array<number>(length);
    for (let i = 0; i < length; i++) {
      const byte = buf[start + i]!;
      if (byte > 0x7f) return getTextEncoding().decodeUtf8(buf.subarray(start, end));
      codes[i] = byte;
    }
    return String.fromCharCode.apply(String, codes);
  }
  return getTextEncoding().decodeUtf8(buf.subarray(start, end));
}

/**
 * An unsigned varint of up to 10 bytes as a number: exact up to 2^53 - 1 and
 * at least 2^53 when the value is (rounding is monotone and 2^53 is a double),
 * which is all the bounds above need.
 */
export function readVarint(r: WireReader): number {
  const buf = r.wire;
  let pos = r.pos;
  let byte = buf[pos++];
  if (byte !== undefined && byte < 0x80) {
    r.pos = pos;
    return byte;
  }
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (byte === undefined) throw malformed(r, 'truncated varint');
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      r.pos = pos;
      return value;
    }
    scale *= 128;
    byte = buf[pos++];
  }
  throw malformed(r, 'varint longer than 10 bytes');
}

/** The exact decimal value of the (valid) varint at `start`, for messages. */
export function varintText(r: WireReader, start: number): string {
  let value = 0n;
  let shift = 0n;
  for (let pos = start; pos < r.len; pos++) {
    const byte = r.wire[pos]!;
    value |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) break;
    shift += 7n;
  }
  return BigInt.asUintN(64, value).toString();
}

export function readTag(r: WireReader): number {
  const tag = readVarint(r);
  if (tag > MAX_TAG || tag < 8) throw malformed(r, `invalid tag ${tag}`);
  return tag;
}

/** A length prefix that fits inside the enclosing message (which ends at `end`). */
export function readLength(r: WireReader, end: number): number {
  const length = readVarint(r);
  if (length > end - r.pos) throw malformed(r, `length ${length} runs past the end of its message`);
  return length;
}

/** A field's last varint may not run into the bytes after its message. */
export function expectEnd(r: WireReader, end: number): void {
  if (r.pos !== end) throw malformed(r, `a field runs past the end of its message`);
}

/** Called only on the error path, so that the field's name is not built for every field read. */
export function wrongWireType(
  r: WireReader,
  tag: number,
  wireType: number,
  field: string,
): InvalidArgumentError {
  return malformed(r, `${field} has wire type ${tag & 7}, expected ${wireType}`);
}

/** Skips an unknown field without copying it. */
export function skipField(r: WireReader, tag: number, end: number, depth: number): void {
  switch (tag & 7) {
    case VARINT:
      readVarint(r);
      break;
    case FIXED64:
      r.pos += 8;
      break;
    case LEN: {
      const length = readLength(r, end); // not `r.pos += readLength(…)`: that adds to the position before the length
      r.pos += length;
      break;
    }
    case FIXED32:
      r.pos += 4;
      break;
    case START_GROUP: {
      if (depth === MAX_GROUP_DEPTH) throw malformed(r, `groups nested deeper than ${MAX_GROUP_DEPTH}`);
      for (;;) {
        if (r.pos >= end) throw malformed(r, `group ${tag >>> 3} is not closed`);
        const inner = readTag(r);
        if ((inner & 7) === END_GROUP) {
          if (inner >>> 3 !== tag >>> 3) throw malformed(r, `group ${tag >>> 3} closed by ${inner >>> 3}`);
          break;
        }
        skipField(r, inner, end, depth + 1);
      }
      break;
    }
    case END_GROUP:
      throw malformed(r, `end of group ${tag >>> 3} that was never started`);
    default:
      throw malformed(r, `field ${tag >>> 3} has invalid wire type ${tag & 7}`);
  }
  if (r.pos > end) throw malformed(r, `field ${tag >>> 3} runs past the end of its message`);
}

export function malformed(r: WireReader, what: string): InvalidArgumentError {
  return new InvalidArgumentError(`malformed request: ${what} (at byte ${Math.min(r.pos, r.len)})`);
}
