import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SIGNAL_LIMITS } from '../../../src/adaptive/signals/signal-body.js';
import { loadSettings } from '../../../src/config/settings/settings.js';
import { loadSignalSettings } from '../../../src/config/settings/signal-settings.js';
import { DEFAULT_ACCESS_LOG_LIMITS } from '../../../src/grpc/access-log-decoder.js';

const SECRET = 's3cr3t-Token_value';
const noFile = (path: string): string => {
  throw Object.assign(new Error(`ENOENT: no such file, open '${path}'`), { code: 'ENOENT' });
};
const files =
  (content: Record<string, string>) =>
  (path: string): string => {
    const text = content[path];
    return text === undefined ? noFile(path) : text;
  };

/** The SettingError message, which must never contain the secret. */
function failure(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    const message = (error as Error).message;
    expect(message).not.toContain(SECRET);
    expect((error as Error).name).toBe('SettingError');
    return message;
  }
  throw new Error('expected a SettingError');
}

describe('signal settings', () => {
  it('defaults: no token (the API answers 403), the documented bounds, 100 signals per second', () => {
    const { settings } = loadSettings({});
    expect(settings.signals.token).toBeUndefined();
    expect(settings.signals.limits).toEqual(DEFAULT_SIGNAL_LIMITS);
    expect(settings.signals.accessLog).toEqual(DEFAULT_ACCESS_LOG_LIMITS);
    expect(settings.signals.maxPerSecond).toBe(100);
    expect(DEFAULT_SIGNAL_LIMITS.maxBodyBytes).toBe(16_384);
  });

  it('reads every bound from its variable', () => {
    const s = loadSignalSettings({
      ADAPTIVE_SIGNAL_MAX_BODY_BYTES: '1024',
      ADAPTIVE_SIGNAL_MAX_SAMPLE_TOTAL: '5000',
      ADAPTIVE_SIGNAL_MAX_PENALTY_TTL: '2h',
      ADAPTIVE_SIGNAL_MAX_PER_SECOND: '7',
      ACCESS_LOG_MAX_MESSAGE_BYTES: '65536',
      ACCESS_LOG_MAX_ENTRIES_PER_MESSAGE: '10',
      ACCESS_LOG_MAX_NAME_BYTES: '64',
      ACCESS_LOG_MAX_AUTHORITY_BYTES: '32',
    });
    expect(s.limits).toMatchObject({ maxBodyBytes: 1024, maxSampleTotal: 5000, maxPenaltyTtlMs: 7_200_000 });
    expect(s.maxPerSecond).toBe(7);
    expect(s.accessLog).toEqual({
      maxMessageBytes: 65536,
      maxEntriesPerMessage: 10,
      maxNameBytes: 64,
      maxAuthorityBytes: 32,
    });
  });

  it.each([
    ['ADAPTIVE_SIGNAL_MAX_PER_SECOND', '0'],
    ['ADAPTIVE_SIGNAL_MAX_BODY_BYTES', 'lots'],
    ['ACCESS_LOG_MAX_ENTRIES_PER_MESSAGE', '-1'],
    ['ADAPTIVE_SIGNAL_MAX_PENALTY_TTL', '10d'],
  ])('refuses %s=%s, naming the variable', (name, raw) => {
    expect(failure(() => loadSignalSettings({ [name]: raw }))).toContain(name);
  });

  it('takes the token from ADAPTIVE_SIGNAL_TOKEN', () => {
    const { token } = loadSignalSettings({ ADAPTIVE_SIGNAL_TOKEN: SECRET });
    expect(token?.matches(SECRET)).toBe(true);
    expect(token?.matches(`${SECRET}x`)).toBe(false);
  });

  it('reads ADAPTIVE_SIGNAL_TOKEN_FILE at load time, without its trailing newline', () => {
    const { token } = loadSignalSettings(
      { ADAPTIVE_SIGNAL_TOKEN_FILE: '/run/secrets/signal' },
      files({ '/run/secrets/signal': `${SECRET}\n` }),
    );
    expect(token?.matches(SECRET)).toBe(true);
  });

  it('refuses both variables at once', () => {
    const message = failure(() =>
      loadSignalSettings({ ADAPTIVE_SIGNAL_TOKEN: SECRET, ADAPTIVE_SIGNAL_TOKEN_FILE: '/x' }, noFile),
    );
    expect(message).toContain('both set');
  });

  it('refuses an empty token, set inline or in the file', () => {
    expect(failure(() => loadSignalSettings({ ADAPTIVE_SIGNAL_TOKEN: '' }))).toContain('is empty');
    expect(
      failure(() => loadSignalSettings({ ADAPTIVE_SIGNAL_TOKEN_FILE: '/t' }, files({ '/t': '\n' }))),
    ).toContain('is empty');
    expect(failure(() => loadSignalSettings({ ADAPTIVE_SIGNAL_TOKEN_FILE: '' }))).toContain('is empty');
  });

  it('names the path of a token file it cannot read, and refuses a token no Bearer header can carry', () => {
    expect(failure(() => loadSignalSettings({ ADAPTIVE_SIGNAL_TOKEN_FILE: '/nope' }, noFile))).toBe(
      'ADAPTIVE_SIGNAL_TOKEN_FILE "/nope" cannot be read (ENOENT)',
    );
    const message = failure(() =>
      loadSignalSettings({ ADAPTIVE_SIGNAL_TOKEN_FILE: '/t' }, files({ '/t': `${SECRET} more` })),
    );
    expect(message).toContain('"/t" is not a bearer token');
  });

  it('through loadSettings, with the file read by SystemInfo.readTextFile', () => {
    const { settings } = loadSettings(
      { ADAPTIVE_SIGNAL_TOKEN_FILE: '/t' },
      {},
      {
        cpuCount: () => 1,
        readTextFile: files({ '/t': SECRET }),
      },
    );
    expect(settings.signals.token?.matches(SECRET)).toBe(true);
  });

  it('never shows the token when the settings are serialised or inspected', () => {
    const { settings } = loadSettings({ ADAPTIVE_SIGNAL_TOKEN: SECRET });
    expect(JSON.stringify(settings)).not.toContain(SECRET);
    expect(JSON.stringify(settings.signals)).toContain('"token":"[redacted]"');
    expect(inspect(settings, { depth: 10 })).not.toContain(SECRET);
    expect(inspect(settings.signals.token)).toBe('SignalToken [redacted]');
  });
});
