import { createHash, timingSafeEqual } from 'node:crypto';
import { SettingError } from '../../core/errors.js';

/**
 * The signal API's token check (DESIGN.md "Signals in"): `Authorization:
 * Bearer <token>`, the token from ADAPTIVE_SIGNAL_TOKEN or
 * ADAPTIVE_SIGNAL_TOKEN_FILE; served by POST /v1/signals (src/http/signal-endpoint.ts)
 * and the gRPC SignalService (src/grpc/signal-service.ts).
 *
 * Answers, checked before the body is read:
 *   no token configured        → 403 (the API is off; a header changes nothing)
 *   no or malformed header     → 401, WWW-Authenticate: Bearer realm="ratelimit"
 *   wrong token                → 401, WWW-Authenticate: Bearer realm="ratelimit", error="invalid_token"
 *   right token                → accepted (then 413/400 from the body, else 202)
 * The gRPC form answers PERMISSION_DENIED, UNAUTHENTICATED and INVALID_ARGUMENT
 * for 403, 401 and 400, with the `authorization` metadata in the same form.
 */

/**
 * The configured token, kept as its SHA-256 digest: both sides of the
 * comparison are 32 bytes whatever the lengths of the tokens, so
 * crypto.timingSafeEqual compares in constant time and a caller learns neither
 * the token nor its length from the answer's timing.
 */
export class SignalToken {
  private constructor(private readonly digest: Buffer) {}

  /**
   * `secret` as read from the variable or file; surrounding whitespace (a file's
   * final newline) is dropped. It must be a non-empty RFC 6750 token (letters,
   * digits, `-._~+/`, then `=` padding), since that is all a Bearer header can carry.
   * @throws SettingError naming `source`, never quoting the secret.
   */
  static fromSecret(secret: string, source: string): SignalToken {
    const token = secret.trim();
    if (token === '') throw new SettingError(`${source} is empty; set a token or leave the signal API off`);
    if (!TOKEN68.test(token)) {
      throw new SettingError(
        `${source} is not a bearer token: use only letters, digits and -._~+/ (then = padding)`,
      );
    }
    return new SignalToken(sha256(token));
  }

  matches(presented: string): boolean {
    return timingSafeEqual(this.digest, sha256(presented));
  }

  /** Settings may be logged or inspected whole: show neither the token nor its digest. */
  toJSON(): string {
    return '[redacted]';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'SignalToken [redacted]';
  }
}

export type SignalAuthResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly status: 401 | 403;
      readonly reason: string;
      /** The WWW-Authenticate header to send with a 401. */
      readonly challenge?: string;
    };

/** RFC 6750 §2.1 b64token; the header scheme is case-insensitive (RFC 9110 §11.1). */
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const REALM = 'Bearer realm="ratelimit"';

/** `header` is the Authorization header (or gRPC `authorization` metadata) as received. */
export function checkSignalAuth(
  header: string | undefined,
  token: SignalToken | undefined,
): SignalAuthResult {
  if (token === undefined) {
    return {
      ok: false,
      status: 403,
      reason: 'the signal API is off: set ADAPTIVE_SIGNAL_TOKEN or ADAPTIVE_SIGNAL_TOKEN_FILE to turn it on',
    };
  }
  const presented = header === undefined ? null : BEARER.exec(header);
  if (presented === null || presented[1] === undefined) {
    return {
      ok: false,
      status: 401,
      reason: 'an Authorization: Bearer <token> header is required',
      challenge: REALM,
    };
  }
  if (!token.matches(presented[1])) {
    return {
      ok: false,
      status: 401,
      reason: 'the bearer token is not the configured one',
      challenge: `${REALM}, error="invalid_token"`,
    };
  }
  return { ok: true };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
