import { describe, expect, it } from 'vitest';
import {
  loadKeyFormat,
  REFERENCE_KEY_FORMAT_WARNING,
} from '../../../src/config/settings/key-format-settings.js';
import { loadSettings, serviceOptionsOf } from '../../../src/config/settings/settings.js';
import { SettingError } from '../../../src/core/errors.js';

describe('CACHE_KEY_FORMAT', () => {
  it('defaults to escaped (collision-free) keys, without a warning', () => {
    expect(loadKeyFormat({})).toEqual({ format: 'escaped', warnings: [] });
    expect(loadKeyFormat({ CACHE_KEY_FORMAT: '' })).toEqual({ format: 'escaped', warnings: [] });
    expect(loadKeyFormat({ CACHE_KEY_FORMAT: 'Escaped' })).toEqual({ format: 'escaped', warnings: [] });
  });

  it('selects the reference format with a startup warning that names the collision risk', () => {
    const { settings, warnings } = loadSettings({ CACHE_KEY_FORMAT: 'reference' });
    expect(settings.cacheKeyFormat).toBe('reference');
    expect(serviceOptionsOf(settings).cacheKeyFormat).toBe('reference');
    expect(warnings).toEqual([REFERENCE_KEY_FORMAT_WARNING]);
    expect(REFERENCE_KEY_FORMAT_WARNING).toMatch(
      /^CACHE_KEY_FORMAT=reference: keys are not escaped, so a caller-chosen value containing '_' can land on another limit's counter.*migrating from envoyproxy\/ratelimit/,
    );
  });

  it('hands the service the escaped format by default', () => {
    expect(serviceOptionsOf(loadSettings({}).settings).cacheKeyFormat).toBe('escaped');
  });

  it('refuses any other value, naming the choices', () => {
    expect(() => loadSettings({ CACHE_KEY_FORMAT: 'raw' })).toThrow(SettingError);
    expect(() => loadKeyFormat({ CACHE_KEY_FORMAT: 'raw' })).toThrow(/one of escaped, reference/);
  });
});
