import { describe, expect, it } from 'vitest';
import { checkSignalAuth, SignalToken } from '../../../../src/adaptive/signals/signal-auth.js';
import { SettingError } from '../../../../src/core/errors.js';

const token = SignalToken.fromSecret('s3cr3t-Token_value~+/==\n', 'ADAPTIVE_SIGNAL_TOKEN_FILE');

describe('checkSignalAuth', () => {
  it('accepts the configured token (the file newline dropped), whatever the scheme case', () => {
    expect(checkSignalAuth('Bearer s3cr3t-Token_value~+/==', token)).toEqual({ ok: true });
    expect(checkSignalAuth('bearer   s3cr3t-Token_value~+/== ', token)).toEqual({ ok: true });
    expect(checkSignalAuth('BEARER s3cr3t-Token_value~+/==', token)).toEqual({ ok: true });
  });

  it('answers 403 when no token is configured, with or without a header', () => {
    for (const header of [undefined, 'Bearer anything']) {
      expect(checkSignalAuth(header, undefined)).toMatchObject({ ok: false, status: 403 });
    }
    expect(checkSignalAuth(undefined, undefined)).toMatchObject({
      reason: 'the signal API is off: set ADAPTIVE_SIGNAL_TOKEN or ADAPTIVE_SIGNAL_TOKEN_FILE to turn it on',
    });
  });

  it('answers 401 with a Bearer challenge when the header is missing or not a bearer token', () => {
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      'Basic dXNlcjpwdw==',
      'Bearer a b',
      'Bearers3cr3t',
      'Bearer "x"',
    ]) {
      expect(checkSignalAuth(header, token), String(header)).toEqual({
        ok: false,
        status: 401,
        reason: 'an Authorization: Bearer <token> header is required',
        challenge: 'Bearer realm="ratelimit"',
      });
    }
  });

  it('answers 401 invalid_token for a wrong token, including prefixes and extensions of the right one', () => {
    for (const wrong of [
      'nope',
      's3cr3t-Token_value~+/=',
      's3cr3t-Token_value~+/===',
      'S3cr3t-Token_value~+/==',
    ]) {
      expect(checkSignalAuth(`Bearer ${wrong}`, token), wrong).toEqual({
        ok: false,
        status: 401,
        reason: 'the bearer token is not the configured one',
        challenge: 'Bearer realm="ratelimit", error="invalid_token"',
      });
    }
  });
});

describe('SignalToken.fromSecret', () => {
  it('refuses an empty token and one a Bearer header cannot carry, without quoting it', () => {
    expect(() => SignalToken.fromSecret(' \n', 'ADAPTIVE_SIGNAL_TOKEN')).toThrow(
      new SettingError('ADAPTIVE_SIGNAL_TOKEN is empty; set a token or leave the signal API off'),
    );
    for (const secret of ['has space', 'quote"', 'pad=in=middle', 'ü']) {
      let message = '';
      try {
        SignalToken.fromSecret(secret, 'ADAPTIVE_SIGNAL_TOKEN');
      } catch (error) {
        expect(error).toBeInstanceOf(SettingError);
        message = (error as Error).message;
      }
      expect(message, secret).toMatch(/^ADAPTIVE_SIGNAL_TOKEN is not a bearer token/);
      expect(message).not.toContain(secret);
    }
  });

  it('compares digests of equal length, so tokens of any length are compared without throwing', () => {
    const short = SignalToken.fromSecret('a', 'T');
    expect(short.matches('a'.repeat(10_000))).toBe(false);
    expect(short.matches('')).toBe(false);
    expect(short.matches('a')).toBe(true);
  });
});
