// Node module hooks that let a worker thread started by a test run src/*.ts directly, as
// vitest runs the test itself: `./x.js` imported from a .ts file resolves to `./x.ts` when
// that exists, and .ts files are stripped of their types (rolldown's transform, vite's own).
// Registered for every test process by vitest.config.ts (`--import`, which worker threads
// inherit); the vitest runner itself does not load .ts through Node, so only workers use it.
import { access, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export async function resolve(specifier, context, next) {
  if (specifier.endsWith('.js') && context.parentURL?.endsWith('.ts') && specifier.startsWith('.')) {
    const ts = new URL(`${specifier.slice(0, -3)}.ts`, context.parentURL);
    const exists = await access(fileURLToPath(ts)).then(
      () => true,
      () => false,
    );
    if (exists) return { url: ts.href, shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context);
  const { transformSync } = await import('rolldown/utils');
  const path = fileURLToPath(url);
  const result = transformSync(path, await readFile(path, 'utf8'));
  if (result.errors.length > 0) throw new Error(`${path}: ${result.errors.map((e) => e.message).join('; ')}`);
  return { format: 'module', source: result.code, shortCircuit: true };
}
