// Node module hooks that let a worker thread started by a test run src/*.ts directly, as
// vitest runs the test itself: `./x.js` imported from a .ts file resolves to `./x.ts` when
// that exists, and .ts files are transpiled by the TypeScript compiler (a dev dependency).
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
  const { default: ts } = await import('typescript');
  const path = fileURLToPath(url);
  const result = ts.transpileModule(await readFile(path, 'utf8'), {
    fileName: path,
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
  });
  const errors = result.diagnostics ?? [];
  if (errors.length > 0) {
    const text = errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('; ');
    throw new Error(`${path}: ${text}`);
  }
  return { format: 'module', source: result.outputText, shortCircuit: true };
}
