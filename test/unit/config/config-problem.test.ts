import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../../src/config/rules/config-problem.js';

describe('formatProblem', () => {
  it('prints file:line:col: message', () => {
    expect(
      formatProblem({ file: 'config/a.yaml', line: 3, col: 7, message: 'descriptor has empty key' }),
    ).toBe('config/a.yaml:3:7: descriptor has empty key');
  });

  it('prints file: message for a problem without a position', () => {
    expect(formatProblem({ file: 'config/a.yaml', line: 0, col: 0, message: 'cannot read file' })).toBe(
      'config/a.yaml: cannot read file',
    );
  });
});
