// Node module hooks that let a worker thread started by a test run src/*.ts directly, as
// vitest runs the test itself: `./x.js` imported from a .ts file resolves to `./x.ts` when
// that exists, and .ts files are transpiled by the TypeScript compiler (a dev dependency).
// Registered for every test process by vitest.config.ts (`--import`, which worker threads
// inherit); the vitest runner itself does not load .ts through Node, so only workers use it.
//
// Every config load starts a new worker, so the output is cached on disk by path, size and
// mtime (node_modules/.cache/ts-loader-hooks): the compiler is loaded only on a miss.
import { createHash } from 'node:crypto';
import { access, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const CACHE_DIR = fileURLToPath(new URL('../../node_modules/.cache/ts-loader-hooks/', import.meta.url));

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
  const path = fileURLToPath(url);
  const info = await stat(path);
  const key = createHash('sha256').update(`${path}\0${info.size}\0${info.mtimeMs}`).digest('hex');
  const cached = `${CACHE_DIR}${key}.js`;
  const hit = await readFile(cached, 'utf8').catch(() => undefined);
  if (hit !== undefined) return { format: 'module', source: hit, shortCircuit: true };
  const source = await transpile(path);
  // written aside and renamed, so a worker reading at the same time never sees half a file
  await mkdir(CACHE_DIR, { recursive: true });
  const temp = `${cached}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await writeFile(temp, source);
  await rename(temp, cached);
  return { format: 'module', source, shortCircuit: true };
}

async function transpile(path) {
  const { default: ts } = await import('typescript');
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
  return result.outputText;
}
