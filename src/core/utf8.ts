/**
 * UTF-8 length of a JavaScript string, in bytes, without encoding it.
 * Unpaired surrogates count 3 bytes (as U+FFFD, which is what an encoder writes).
 */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * True when `text` is at most `maxBytes` bytes in UTF-8. Decides from the
 * string's length alone whenever it can (a UTF-16 unit is 1 to 3 UTF-8 bytes).
 */
export function fitsUtf8Bytes(text: string, maxBytes: number): boolean {
  if (text.length > maxBytes) return false;
  if (text.length * 3 <= maxBytes) return true;
  return utf8ByteLength(text) <= maxBytes;
}
