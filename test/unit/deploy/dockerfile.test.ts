// The runtime stage of deploy/docker/Dockerfile must hold every file the built program reads,
// and only those. What it reads is derived from the code, not listed by hand: the compiled
// output of every src/ module (tsconfig.build.json), package.json (its "type" makes dist/ ESM),
// the runtime dependencies, and every folder a module finds with `new URL(rel, import.meta.url)`
// (lua/ for the Redis scripts, proto/ for reflection), with each of LUA_FILES inside.
import { readdirSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LUA_FILES } from '../../../src/storage/redis/lua-scripts.js';
import {
  finalStage,
  imagePath,
  omitsDevDependencies,
  parseDockerfile,
  programOf,
  repoCopies,
  TINI,
} from '../../support/dockerfile.js';

const root = (rel: string): string => fileURLToPath(new URL(`../../../${rel}`, import.meta.url));
const read = (rel: string): string => readFileSync(root(rel), 'utf8');
/** Files under a repository folder, as repository paths. */
const filesUnder = (dir: string): string[] =>
  readdirSync(root(dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => posix.join(posix.relative(root(''), entry.parentPath), entry.name));

const stages = parseDockerfile(read('deploy/docker/Dockerfile'));
const runtime = finalStage(stages);
const copies = repoCopies(stages);
const pkg = JSON.parse(read('package.json')) as {
  type?: string;
  dependencies?: Record<string, string>;
  engines: { node: string };
};
const build = JSON.parse(read('tsconfig.build.json')) as {
  compilerOptions: { rootDir: string; outDir: string };
};
const { rootDir, outDir } = build.compilerOptions;

/** src/x/y.ts → dist/x/y.js, as tsc -p tsconfig.build.json emits it. */
const compiled = (source: string): string =>
  posix.join(outDir, posix.relative(rootDir, source)).replace(/\.ts$/, '.js');
const modules = filesUnder(rootDir).filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'));

/** Repository folders a compiled module reads at run time: `new URL('<rel>', import.meta.url)`, resolved from its dist/ path. */
const folders = [
  ...new Set(
    modules.flatMap((module) =>
      [...read(module).matchAll(/new URL\('([^'`]+)', import\.meta\.url\)/g)].map((m) =>
        posix.join(posix.dirname(compiled(module)), m[1] ?? '').replace(/\/$/, ''),
      ),
    ),
  ),
].sort();

/** Where the program finds a repository file at run time: its package root is the WORKDIR the ENTRYPOINT runs in. */
const expected = (repoPath: string): string => posix.join(runtime.workdir, repoPath);
const uncovered = (repoPaths: readonly string[]): string[] =>
  repoPaths.filter((path) => imagePath(copies, path) !== expected(path));

describe('deploy/docker/Dockerfile runtime stage', () => {
  it('finds the folders the code reads at run time (the derivation below is not vacuous)', () => {
    expect(folders).toEqual(['lua', 'proto']);
    expect(modules).toContain('src/cli.ts');
  });

  it('runs the compiled CLI, from the WORKDIR the COPY lines fill', () => {
    expect(programOf(runtime.entrypoint ?? [])).toEqual(['node', compiled('src/cli.ts')]);
    expect(uncovered([compiled('src/cli.ts')])).toEqual([]);
    expect(runtime.cmd).toEqual(['serve']);
  });

  it('runs node under tini as PID 1 (SIGTERM reaches node, which drains), tini from the only RUN', () => {
    expect(runtime.entrypoint?.slice(0, 2)).toEqual([TINI, '--']);
    expect(runtime.runs).toEqual([
      'apt-get update',
      'apt-get install -y --no-install-recommends tini',
      'rm -rf /var/lib/apt/lists/*',
    ]);
  });

  it('has a HEALTHCHECK that node itself runs (no curl in slim) against /healthcheck on PORT or 8080', () => {
    const check = runtime.healthcheck;
    expect(check?.cmd.slice(0, 2)).toEqual(['node', '-e']);
    expect(check?.cmd[2]).toMatch(
      /fetch\('http:\/\/127\.0\.0\.1:'\+\(process\.env\.PORT\|\|8080\)\+'\/healthcheck'\)/,
    );
    // longer than the first Redis connect and script load, or a slow start counts as failures
    expect(check?.options).toMatchObject({ 'start-period': expect.stringMatching(/^\d+s$/) });
  });

  it('builds and runs on one exact Node release (x.y.z, slim), which package.json engines accepts', () => {
    const images = new Set(stages.map((stage) => stage.image));
    expect(images.size).toBe(1);
    const [image = ''] = images;
    const match = /^node:(\d+)\.(\d+)\.(\d+)-bookworm-slim(@sha256:[0-9a-f]{64})?$/.exec(image);
    expect(match, image).not.toBeNull();
    const [major, minor] = (/^>=(\d+)\.(\d+)$/.exec(pkg.engines.node) ?? []).slice(1).map(Number);
    const version = (match ?? []).slice(1, 4).map(Number);
    expect(version[0] ?? 0).toBeGreaterThanOrEqual(major ?? Number.NaN);
    if (version[0] === major) expect(version[1] ?? 0).toBeGreaterThanOrEqual(minor ?? Number.NaN);
  });

  it('copies node_modules from a stage whose last npm command drops the dev dependencies', () => {
    const from = runtime.copies.find((copy) => copy.sources.some((s) => s.endsWith('/node_modules')))?.from;
    const stage = stages.find((s) => s.name === from);
    expect(stage).toBeDefined();
    expect(stage && omitsDevDependencies(stage)).toBe(true);
  });

  it('copies the compiled output of every src/ module, generated code included', () => {
    expect(uncovered(modules.map(compiled))).toEqual([]);
  });

  it('copies package.json, whose "type": "module" makes Node load dist/ as ES modules', () => {
    expect(pkg.type).toBe('module');
    expect(uncovered(['package.json'])).toEqual([]);
  });

  it('copies node_modules with every runtime dependency', () => {
    const dependencies = Object.keys(pkg.dependencies ?? {});
    expect(dependencies.length).toBeGreaterThan(0);
    expect(uncovered(dependencies.map((name) => `node_modules/${name}/package.json`))).toEqual([]);
  });

  it('copies every Lua file the Redis backend loads (LUA_FILES), at lua/ beside dist/', () => {
    expect(uncovered(LUA_FILES.map((file) => `lua/${file}`))).toEqual([]);
  });

  it('copies every file of each folder the code reads at run time (lua/, proto/)', () => {
    const files = folders.flatMap(filesUnder);
    expect(files).toContain('proto/envoy/service/ratelimit/v3/rls.proto');
    expect(uncovered(files)).toEqual([]);
  });

  it('copies nothing the runtime does not read (no sources, tests or lockfile)', () => {
    // deploy/docker/ratelimit: the /bin/ratelimit shim Envoy Gateway runs (deploy/envoy-gateway/)
    const needed = new Set([outDir, 'package.json', 'node_modules', 'deploy/docker/ratelimit', ...folders]);
    expect(copies.map((copy) => copy.source).filter((source) => !needed.has(source))).toEqual([]);
  });

  it('runs as a numeric non-root user, so Kubernetes runAsNonRoot can verify it', () => {
    expect(runtime.user).toMatch(/^\d+(:\d+)?$/);
    expect(runtime.user?.split(':')[0]).not.toBe('0');
  });
});

describe('the build context', () => {
  it(".dockerignore keeps the host's build output and node_modules out of the build stage's COPY . .", () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim().replace(/\/$/, ''));
    expect(ignored).toEqual(expect.arrayContaining([outDir, 'node_modules']));
  });
});

describe('the Dockerfile reader these checks rely on', () => {
  const copiesOf = (runtimeCopy: string) =>
    repoCopies(
      parseDockerfile(
        `FROM node AS build\nWORKDIR /app\nCOPY . .\nFROM node\nWORKDIR /app\n${runtimeCopy}\nUSER 1000:1000\n`,
      ),
    );

  it("puts a directory source's contents, not the directory, at the destination (as Docker does)", () => {
    expect(imagePath(copiesOf('COPY --from=build /app/lua ./lua'), 'lua/apply.lua')).toBe(
      '/app/lua/apply.lua',
    );
    expect(imagePath(copiesOf('COPY --from=build /app/lua ./'), 'lua/apply.lua')).toBe('/app/apply.lua');
  });

  it("puts a file source inside a destination ending in '/', else at it", () => {
    expect(imagePath(copiesOf('COPY --from=build /app/package.json ./'), 'package.json')).toBe(
      '/app/package.json',
    );
    expect(imagePath(copiesOf('COPY --from=build /app/package.json ./pkg.json'), 'package.json')).toBe(
      '/app/pkg.json',
    );
  });

  it('sees dev dependencies kept unless the last npm command omits them', () => {
    const stage = (runs: string) => finalStage(parseDockerfile(`FROM node\nRUN ${runs}\n`));
    expect(omitsDevDependencies(stage('npm ci && npx tsc && npm prune --omit=dev'))).toBe(true);
    expect(omitsDevDependencies(stage('npm ci --omit=dev'))).toBe(true);
    expect(omitsDevDependencies(stage('npm ci --omit=dev && npm install'))).toBe(false);
    expect(omitsDevDependencies(stage('npm ci'))).toBe(false);
  });

  it('reads ENTRYPOINT under tini and HEALTHCHECK options', () => {
    const stage = finalStage(
      parseDockerfile(
        'FROM node\nHEALTHCHECK --interval=5s --retries=2 CMD ["node", "-v"]\nENTRYPOINT ["/usr/bin/tini", "--", "node", "a.js"]\n',
      ),
    );
    expect(stage.healthcheck).toEqual({ options: { interval: '5s', retries: '2' }, cmd: ['node', '-v'] });
    expect(programOf(stage.entrypoint ?? [])).toEqual(['node', 'a.js']);
  });

  it('refuses what it does not understand instead of misreading it', () => {
    expect(() => parseDockerfile('FROM node\nENTRYPOINT node a.js\n')).toThrow(/shell form/);
    expect(() => copiesOf('COPY ["lua", "./lua"]')).toThrow(/JSON form/);
    expect(() => copiesOf('COPY --from=nowhere /app/lua ./lua')).toThrow(/no such stage/);
  });
});
