import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../../src/core/errors.js';
import {
  type AccessLogLimits,
  DEFAULT_ACCESS_LOG_LIMITS,
  decodeStreamAccessLogsMessage,
  flagBit,
  RESPONSE_FLAG,
} from '../../../../src/grpc/access-log-decoder.js';
import { encodeAccessLogs } from '../../../support/envoy-access-log.js';
import { FIXED32, LEN, len, message, START_GROUP, tag, uint, varint } from '../../../support/rls-wire.js';

const limits = DEFAULT_ACCESS_LOG_LIMITS;
const decode = (bytes: Uint8Array, l: AccessLogLimits = limits) => decodeStreamAccessLogsMessage(bytes, l);

function rejection(bytes: Uint8Array, l: AccessLogLimits = limits): string {
  try {
    decode(bytes, l);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return (error as Error).message;
  }
  throw new Error('decoded without an error');
}

/** Hand-built wire: message → http_logs(2) → log_entry(1) → entry fields. */
const httpLogs = (...entries: Buffer[]) => len(2, ...entries.map((e) => len(1, e)));
const common = (...fields: Buffer[]) => len(1, ...fields);
const request = (...fields: Buffer[]) => len(3, ...fields);
const response = (...fields: Buffer[]) => len(4, ...fields);

describe('decodeStreamAccessLogsMessage', () => {
  it('reads cluster, route, authority, code and flags of messages encoded from Envoy protos, skipping the rest', async () => {
    const bytes = await encodeAccessLogs([
      {
        cluster: 'checkout',
        route: 'r1',
        authority: 'shop.example',
        code: 503,
        flags: {
          upstream_overflow: true,
          unauthorized_details: { reason: 1 },
          downstream_remote_reset: true,
        },
        noise: true,
      },
      { cluster: 'búsqueda', code: 200, noise: true },
      {},
    ]);
    expect(decode(bytes)).toEqual([
      {
        upstreamCluster: 'checkout',
        routeName: 'r1',
        authority: 'shop.example',
        authorityTooLong: false,
        responseCode: 503,
        responseFlags:
          flagBit(RESPONSE_FLAG.upstream_overflow) | flagBit(RESPONSE_FLAG.downstream_remote_reset),
      },
      {
        upstreamCluster: 'búsqueda',
        routeName: '',
        authority: '',
        authorityTooLong: false,
        responseCode: 200,
        responseFlags: 0,
      },
      {
        upstreamCluster: '',
        routeName: '',
        authority: '',
        authorityTooLong: false,
        responseCode: 0,
        responseFlags: 0,
      },
    ]);
  });

  it('maps every ResponseFlags boolean to its own bit', async () => {
    for (const [name, field] of Object.entries(RESPONSE_FLAG)) {
      const [entry] = decode(await encodeAccessLogs([{ flags: { [name]: true } }]));
      expect(entry?.responseFlags, name).toBe(flagBit(field));
    }
  });

  it('returns no entries for an empty message, a TCP-only message and an identifier-only message', () => {
    expect(decode(new Uint8Array())).toEqual([]);
    expect(decode(len(3, len(1, len(1, 'x'))))).toEqual([]);
    expect(decode(len(1, len(2, 'log')))).toEqual([]);
  });

  it('keeps the last value of a repeated field and merges a repeated response_flags message', () => {
    const entries = decode(
      httpLogs(
        message(
          common(len(15, 'a'), len(15, 'b'), len(16, uint(3, 1)), len(16, uint(5, 1), uint(3, 0))),
          response(len(1, uint(1, 500)), len(1, uint(1, 200))),
        ),
      ),
    );
    expect(entries[0]).toMatchObject({
      upstreamCluster: 'b',
      responseCode: 200,
      responseFlags: flagBit(RESPONSE_FLAG.upstream_remote_reset),
    });
  });

  it('counts a non-zero varint as true and skips unknown fields of every wire type', () => {
    const unknown = message(
      uint(99, 7),
      tag(98, FIXED32),
      Buffer.alloc(4),
      len(97, 'zz'),
      tag(96, START_GROUP),
      tag(96, 4),
    );
    const entries = decode(
      message(unknown, httpLogs(message(unknown, common(unknown, len(16, unknown, uint(6, 2 ** 40)))))),
    );
    expect(entries[0]?.responseFlags).toBe(flagBit(RESPONSE_FLAG.upstream_connection_failure));
  });

  describe('bounds', () => {
    it(`refuses a message over maxMessageBytes (${limits.maxMessageBytes}) before decoding it`, () => {
      const small = { ...limits, maxMessageBytes: 10 };
      expect(decode(len(99, 'x'.repeat(7)), small)).toEqual([]);
      expect(rejection(len(99, 'x'.repeat(8)), small)).toBe(
        'access log message is 11 bytes; at most 10 are allowed',
      );
    });

    it('refuses the entry after maxEntriesPerMessage, counting entries across http_logs fields', () => {
      const three = { ...limits, maxEntriesPerMessage: 3 };
      const one = Buffer.alloc(0);
      expect(decode(message(httpLogs(one, one), httpLogs(one)), three)).toHaveLength(3);
      expect(rejection(message(httpLogs(one, one), httpLogs(one, one)), three)).toBe(
        'access log entry 3: at most 3 entries per message are allowed',
      );
    });

    it('refuses an upstream_cluster or route_name over maxNameBytes, from the length prefix', () => {
      const l = { ...limits, maxNameBytes: 4 };
      expect(decode(httpLogs(common(len(15, 'abcd'), len(19, 'wxyz'))), l)[0]).toMatchObject({
        upstreamCluster: 'abcd',
        routeName: 'wxyz',
      });
      expect(rejection(httpLogs(common(len(15, 'abcde'))), l)).toBe(
        'access log entry 0 upstream_cluster is 5 bytes; at most 4 are allowed',
      );
      expect(rejection(httpLogs(Buffer.alloc(0), common(len(19, 'abcde'))), l)).toBe(
        'access log entry 1 route_name is 5 bytes; at most 4 are allowed',
      );
    });

    it('keeps an entry whose authority is over maxAuthorityBytes, with authority "" and authorityTooLong', () => {
      const l = { ...limits, maxAuthorityBytes: 4 };
      expect(decode(httpLogs(request(len(3, 'abcd'))), l)[0]).toMatchObject({
        authority: 'abcd',
        authorityTooLong: false,
      });
      expect(decode(httpLogs(message(common(len(15, 'c')), request(len(3, 'abcde')))), l)[0]).toMatchObject({
        upstreamCluster: 'c',
        authority: '',
        authorityTooLong: true,
      });
    });

    it('refuses a response_code wider than uint32 instead of truncating it', () => {
      expect(decode(httpLogs(response(len(1, uint(1, 4_294_967_295)))))[0]?.responseCode).toBe(4_294_967_295);
      expect(rejection(httpLogs(response(len(1, uint(1, 4_294_967_296)))))).toBe(
        'access log entry 0 response_code must be an integer from 0 to 4294967295, got 4294967296',
      );
    });
  });

  describe('malformed bytes', () => {
    const cases: [string, Buffer, RegExp][] = [
      ['a truncated varint', Buffer.from([0x08, 0x80]), /^malformed request: truncated varint/],
      [
        'a length past the end',
        Buffer.concat([tag(2, LEN), varint(5), Buffer.from('ab')]),
        /runs past the end/,
      ],
      ['field number 0', Buffer.from([0x00, 0x00]), /invalid tag 0/],
      ['wire type 7', Buffer.from([0x0f]), /invalid wire type 7/],
      ['http_logs as a varint', uint(2, 1), /http_logs has wire type 0, expected 2/],
      ['log_entry as a varint', len(2, uint(1, 1)), /log_entry has wire type 0, expected 2/],
      ['common_properties as a varint', httpLogs(uint(1, 1)), /access log entry 0 field 1 has wire type 0/],
      ['upstream_cluster as a varint', httpLogs(len(1, uint(15, 1))), /upstream_cluster has wire type 0/],
      [
        'a flag as a string',
        httpLogs(common(len(16, len(6, 'x')))),
        /response flag 6 has wire type 2, expected 0/,
      ],
      [
        'response_code as a varint',
        httpLogs(response(uint(1, 500))),
        /response_code has wire type 0, expected 2/,
      ],
      [
        'a code value as a string',
        httpLogs(response(len(1, len(1, '5')))),
        /response_code value has wire type 2/,
      ],
      ['an unclosed group', httpLogs(common(tag(50, START_GROUP))), /group 50 is not closed/],
      ['a stray end group', Buffer.from([0x0c]), /end of group 1 that was never started/],
      ['a fixed32 past the end of its entry', httpLogs(Buffer.from([0x2d, 1, 2])), /runs past the end/],
      [
        'an overlong varint',
        Buffer.concat([Buffer.from([0x08]), Buffer.alloc(10, 0xff)]),
        /longer than 10 bytes/,
      ],
    ];
    it.each(cases)('reports %s as INVALID_ARGUMENT', (_what, bytes, message) => {
      expect(rejection(bytes)).toMatch(message);
    });

    it('decodes invalid UTF-8 with U+FFFD, as the other decoders do', () => {
      const [entry] = decode(httpLogs(common(len(15, Buffer.from([0x61, 0xff])))));
      expect(entry?.upstreamCluster).toBe('a\ufffd');
    });

    it('does not read a varint across the end of its submessage', () => {
      const bytes = message(len(2, len(1, len(4, len(1, Buffer.from([0x08, 0x80])))), Buffer.from([0x01])));
      expect(rejection(bytes)).toMatch(/malformed request/);
    });
  });
});
