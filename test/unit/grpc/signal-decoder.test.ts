import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SIGNAL_LIMITS } from '../../../src/adaptive/signals/signal-body.js';
import { ErrorRateSample, Penalty } from '../../../src/gen/ratelimit/adaptive/v1/signals.js';
import { decodeErrorRateSample, decodePenalty } from '../../../src/grpc/signal-decoder.js';

const L = DEFAULT_SIGNAL_LIMITS;

describe('signal message decoders', () => {
  it('decode what the generated encoder writes, absent fields as "" and 0', () => {
    const sample = ErrorRateSample.encode({ domain: 'api', controller: 'c', total: 100, errors: 3 }).finish();
    expect(decodeErrorRateSample(sample, L)).toEqual({
      domain: 'api',
      controller: 'c',
      total: 100,
      errors: 3,
    });
    const penalty = Penalty.encode({
      domain: 'api',
      controller: 'a',
      value: 'é',
      ttl: '10m',
      reason: '',
    }).finish();
    expect(decodePenalty(penalty, L)).toEqual({
      domain: 'api',
      controller: 'a',
      value: 'é',
      ttl: '10m',
      reason: '',
    });
    expect(decodeErrorRateSample(new Uint8Array(), L)).toEqual({
      domain: '',
      controller: '',
      total: 0,
      errors: 0,
    });
  });

  it('skips unknown fields and keeps the last value of a repeated one', () => {
    const w = new BinaryWriter();
    w.uint32((9 << 3) | 2).string('future');
    w.uint32((1 << 3) | 2).string('first');
    w.uint32((1 << 3) | 2).string('api');
    w.uint32((3 << 3) | 0).uint64(5);
    expect(decodeErrorRateSample(w.finish(), L)).toMatchObject({ domain: 'api', total: 5 });
  });

  it('refuses a uint64 above the bound with its exact value (the generated decoder throws above 2^53)', () => {
    const w = new BinaryWriter();
    w.uint32((3 << 3) | 0).uint64('18446744073709551615');
    expect(() => decodeErrorRateSample(w.finish(), L)).toThrow(
      'total must be an integer from 0 to 1000000000, got 18446744073709551615',
    );
  });

  it('refuses a message over the body bound before decoding it, and malformed bytes', () => {
    const big = Penalty.encode({
      domain: 'd',
      controller: 'c',
      value: 'v'.repeat(20_000),
      ttl: '1s',
      reason: '',
    }).finish();
    expect(() => decodePenalty(big, L)).toThrow(
      `signal message is ${big.length} bytes; at most 16384 are allowed`,
    );
    expect(() => decodePenalty(Uint8Array.of(0x0a, 0x05, 0x61), L)).toThrow(/^malformed request: length 5/);
    expect(() => decodePenalty(Uint8Array.of(0x08, 0x01), L)).toThrow(
      'malformed request: domain has wire type 0, expected 2',
    );
    expect(() => decodeErrorRateSample(Uint8Array.of(0x1a, 0x00), L)).toThrow(/total has wire type 2/);
  });
});
