// src/core/ is the pure domain: it imports nothing outside src/core/ — no other src/ folder,
// no npm package, no node: builtin (CONVENTIONS.md habit 5). Every module specifier counts:
// static and type-only imports, re-exports, dynamic import(), import types, require() and
// /// <reference types> directives.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const CORE = fileURLToPath(new URL('../../../src/core/', import.meta.url));

/** `file:line imports 'specifier'` for every specifier of `text` that leaves `coreDir`. */
function importsLeavingCore(file: string, text: string, coreDir: string): string[] {
  const info = ts.preProcessFile(text, true, true);
  const specifiers = [
    ...info.importedFiles,
    ...info.referencedFiles,
    ...info.typeReferenceDirectives,
    ...info.libReferenceDirectives,
  ];
  const name = path.relative(path.dirname(path.dirname(coreDir)), file);
  return specifiers
    .filter(({ fileName }) => !insideCore(fileName, file, coreDir))
    .map(({ fileName, pos }) => {
      const line = text.slice(0, pos).split('\n').length;
      return `${name}:${line} imports '${fileName}'`;
    });
}

function insideCore(specifier: string, file: string, coreDir: string): boolean {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return false;
  const target = path.resolve(path.dirname(file), specifier);
  return !path.relative(coreDir, target).startsWith('..');
}

function coreFiles(): string[] {
  return readdirSync(CORE, { recursive: true, encoding: 'utf8' })
    .filter((entry) => entry.endsWith('.ts'))
    .map((entry) => path.join(CORE, entry))
    .sort();
}

describe('src/core isolation', () => {
  it('imports nothing outside src/core (no other src folder, package or node: builtin)', () => {
    const files = coreFiles();
    expect(files.length).toBeGreaterThan(0);
    const offending = files.flatMap((file) => importsLeavingCore(file, readFileSync(file, 'utf8'), CORE));
    expect(offending).toEqual([]);
  });

  it('catches every kind of specifier that leaves core, and lets sibling imports pass', () => {
    const file = path.join(CORE, 'sample.ts');
    const text = [
      '/// <reference types="node" />',
      "import { a } from './algorithm.js';",
      "import type { B } from '../config/b.js';",
      "import { type C } from 'ioredis';",
      "import 'node:fs';",
      "export { D } from '../storage/d.js';",
      "export * from './units.js';",
      "const e = await import('../grpc/e.js');",
      "type F = import('../http/f.js').F;",
      "const g = require('pino');",
      "import h = require('../metrics/h.js');",
      "import { i } from '../core/units.js';",
    ].join('\n');
    expect(importsLeavingCore(file, text, CORE)).toEqual([
      "src/core/sample.ts:3 imports '../config/b.js'",
      "src/core/sample.ts:4 imports 'ioredis'",
      "src/core/sample.ts:5 imports 'node:fs'",
      "src/core/sample.ts:6 imports '../storage/d.js'",
      "src/core/sample.ts:8 imports '../grpc/e.js'",
      "src/core/sample.ts:9 imports '../http/f.js'",
      "src/core/sample.ts:10 imports 'pino'",
      "src/core/sample.ts:11 imports '../metrics/h.js'",
      "src/core/sample.ts:1 imports 'node'",
    ]);
  });
});
