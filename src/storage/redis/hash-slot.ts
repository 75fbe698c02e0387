/**
 * Redis Cluster's key → hash slot mapping: CRC16 (XMODEM) of the key's UTF-8
 * bytes mod 16384, hashing only the hash tag — the bytes between the first `{`
 * and the first `}` after it — when that is non-empty
 * (https://redis.io/docs/reference/cluster-spec/#hash-tags).
 */
export const HASH_SLOTS = 16_384;

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }

/** The cluster slot (0..16383) of `key`. */
export function hashSlot(key: string): number {
  const bytes = Buffer.from(key, 'utf8');
  let start = 0;
  let end = bytes.length;
  const open = bytes.indexOf(OPEN);
  if (open !== -1) {
    const close = bytes.indexOf(CLOSE, open + 1);
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  }
  return crc % HASH_SLOTS;
}
