import { describe, expect, it } from 'vitest';
import { counterKey } from '../../../src/storage/cache-key.js';

describe('counterKey', () => {
  it("builds the reference's key without the window: prefix + domain + key_value_ per entry", () => {
    expect(counterKey('', 'domain', [{ key: 'key', value: 'value' }])).toBe('domain_key_value_');
    expect(
      counterKey('pfx:', 'domain', [
        { key: 'key2', value: 'value2' },
        { key: 'subkey2', value: 'subvalue2' },
      ]),
    ).toBe('pfx:domain_key2_value2_subkey2_subvalue2_');
  });

  it('keeps an empty value as an empty field and a descriptor without entries as just the domain', () => {
    expect(counterKey('', 'd', [{ key: 'k', value: '' }])).toBe('d_k__');
    expect(counterKey('', 'd', [])).toBe('d_');
  });

  it('does not escape "_", so (a, b_c) and (a_b, c) share a counter as in the reference', () => {
    expect(counterKey('', 'd', [{ key: 'a', value: 'b_c' }])).toBe(
      counterKey('', 'd', [{ key: 'a_b', value: 'c' }]),
    );
  });
});
