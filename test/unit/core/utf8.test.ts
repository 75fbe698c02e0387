import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fitsUtf8Bytes, utf8ByteLength } from '../../../src/core/utf8.js';

describe('utf8ByteLength', () => {
  it('counts 1, 2, 3 and 4 byte characters', () => {
    expect(utf8ByteLength('a')).toBe(1);
    expect(utf8ByteLength('é')).toBe(2);
    expect(utf8ByteLength('€')).toBe(3);
    expect(utf8ByteLength('😀')).toBe(4);
    expect(utf8ByteLength('\ud800')).toBe(3);
  });

  it('agrees with TextEncoder on any string', () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => utf8ByteLength(s) === encoder.encode(s).length),
    );
  });

  it('fitsUtf8Bytes agrees with the exact length at every bound', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.nat(100), (s, max) => {
        expect(fitsUtf8Bytes(s, max)).toBe(utf8ByteLength(s) <= max);
      }),
    );
  });
});
