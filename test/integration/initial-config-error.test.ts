import { expect, it } from 'vitest';
import { InitialConfigError } from '../../src/core/errors.js';
import { startServer } from '../support/server.js';

it('an invalid initial config with more problems than are listed says how many there are', async () => {
  // 150 descriptors with an unknown key each: 150 problems, CONFIG_MAX_PROBLEMS (100) listed
  const descriptors = Array.from({ length: 150 }, (_, i) => `  - key: k${i}\n    bogus: 1\n`).join('');
  const started = startServer({ config: { 'bad.yaml': `domain: d\ndescriptors:\n${descriptors}` } });
  const error = await started.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InitialConfigError);
  const initial = error as InitialConfigError;
  expect(initial.problems).toHaveLength(100);
  expect(initial.message).toBe('invalid initial config (150 problems; the first 100 listed)');
});
