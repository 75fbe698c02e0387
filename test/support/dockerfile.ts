import { execFile } from 'node:child_process';
import { cp, mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';

/**
 * Just enough of a Dockerfile reader for tests of deploy/docker/Dockerfile:
 * stages, their WORKDIR, USER, ENTRYPOINT, CMD, HEALTHCHECK, RUN and COPY lines. Anything it does not
 * understand (COPY in JSON form, ADD, a COPY from an unknown stage) throws, so
 * a test never passes on a misread file.
 */
export interface DockerCopy {
  /** The stage name of --from, or undefined for the build context. */
  readonly from: string | undefined;
  readonly sources: readonly string[];
  readonly dest: string;
}

export interface DockerStage {
  readonly name: string | undefined;
  readonly image: string;
  readonly workdir: string;
  readonly user: string | undefined;
  readonly entrypoint: readonly string[] | undefined;
  readonly cmd: readonly string[] | undefined;
  /** HEALTHCHECK: its options (`--interval=10s` → interval: '10s') and its exec-form command. */
  readonly healthcheck:
    | { readonly options: Record<string, string>; readonly cmd: readonly string[] }
    | undefined;
  /** Shell commands of the RUN lines, in order, each split at `&&`. */
  readonly runs: readonly string[];
  readonly copies: readonly DockerCopy[];
}

/** Instructions, one per logical line (continuations joined, comments dropped). */
function instructions(text: string): { keyword: string; args: string }[] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  return joined
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const space = line.search(/\s/);
      return { keyword: line.slice(0, space).toUpperCase(), args: line.slice(space + 1).trim() };
    });
}

export function parseDockerfile(text: string): DockerStage[] {
  type Mutable = { -readonly [K in keyof DockerStage]: DockerStage[K] } & {
    copies: DockerCopy[];
    runs: string[];
  };
  const stages: Mutable[] = [];
  for (const { keyword, args } of instructions(text)) {
    if (keyword === 'FROM') {
      const [image = '', as, name] = args.split(/\s+/);
      stages.push({
        name: as?.toUpperCase() === 'AS' ? name : undefined,
        image,
        workdir: '/',
        user: undefined,
        entrypoint: undefined,
        cmd: undefined,
        healthcheck: undefined,
        runs: [],
        copies: [],
      });
      continue;
    }
    const stage = stages.at(-1);
    if (stage === undefined) throw new Error(`${keyword} before FROM`);
    if (keyword === 'WORKDIR') stage.workdir = posix.resolve(stage.workdir, args);
    else if (keyword === 'USER') stage.user = args;
    else if (keyword === 'ENTRYPOINT') stage.entrypoint = execForm(keyword, args);
    else if (keyword === 'CMD') stage.cmd = execForm(keyword, args);
    else if (keyword === 'HEALTHCHECK') stage.healthcheck = parseHealthcheck(args);
    else if (keyword === 'RUN') stage.runs.push(...args.split('&&').map((command) => command.trim()));
    else if (keyword === 'ADD') throw new Error('ADD is not understood here; use COPY');
    else if (keyword === 'COPY') stage.copies.push(parseCopy(args, stage.workdir));
  }
  return stages;
}

function execForm(keyword: string, args: string): string[] {
  if (!args.startsWith('[')) throw new Error(`${keyword} in shell form is not understood here: ${args}`);
  return JSON.parse(args) as string[];
}

function parseHealthcheck(args: string): DockerStage['healthcheck'] {
  const options: Record<string, string> = {};
  let rest = args;
  for (let match = /^--([a-z-]+)=(\S+)\s+/.exec(rest); match; match = /^--([a-z-]+)=(\S+)\s+/.exec(rest)) {
    options[match[1] ?? ''] = match[2] ?? '';
    rest = rest.slice(match[0].length);
  }
  if (!rest.startsWith('CMD ')) throw new Error(`HEALTHCHECK not understood: ${args}`);
  return { options, cmd: execForm('HEALTHCHECK CMD', rest.slice('CMD '.length).trim()) };
}

/** The command an ENTRYPOINT runs under an init (`/usr/bin/tini --`), or the ENTRYPOINT itself. */
export function programOf(entrypoint: readonly string[]): readonly string[] {
  return entrypoint[0] === TINI && entrypoint[1] === '--' ? entrypoint.slice(2) : entrypoint;
}

/** Where Debian's tini package installs it. */
export const TINI = '/usr/bin/tini';

function parseCopy(args: string, workdir: string): DockerCopy {
  if (args.startsWith('[')) throw new Error(`COPY in JSON form is not understood here: ${args}`);
  const words = args.split(/\s+/);
  let from: string | undefined;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift() ?? '';
    if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
    else if (!/^--(chown|chmod)=|^--link$/.test(flag)) throw new Error(`COPY flag not understood: ${flag}`);
  }
  const dest = words.pop();
  if (dest === undefined || words.length === 0)
    throw new Error(`COPY needs a source and a destination: ${args}`);
  // a relative destination is relative to WORKDIR; a trailing '/' (or '.') means "into this directory"
  const into = dest.endsWith('/') || dest === '.' || words.length > 1;
  return { from, sources: words, dest: posix.resolve(workdir, dest) + (into ? '/' : '') };
}

/** The final stage: what the image runs. */
export function finalStage(stages: readonly DockerStage[]): DockerStage {
  const stage = stages.at(-1);
  if (stage === undefined) throw new Error('no FROM in the Dockerfile');
  return stage;
}

/**
 * One COPY of the final stage as repository paths: each source is a path
 * relative to the repository root (a `--from` stage's WORKDIR holds the whole
 * context, `COPY . .`, with what the build made in it, as `make build` makes it
 * in the repository), and where it lands in the image.
 */
export interface RepoCopy {
  readonly source: string;
  readonly dest: string;
}

export function repoCopies(stages: readonly DockerStage[]): RepoCopy[] {
  const copies: RepoCopy[] = [];
  for (const copy of finalStage(stages).copies) {
    const root = copy.from === undefined ? '/' : stageRoot(stages, copy.from);
    for (const source of copy.sources) {
      const absolute = posix.resolve(root, source);
      const rel = posix.relative(root, absolute);
      if (rel.startsWith('..')) throw new Error(`COPY source ${source} is outside ${root}`);
      copies.push({ source: rel, dest: copy.dest });
    }
  }
  return copies;
}

/** Where a stage holds the build context: the WORKDIR of its `COPY . .`. */
function stageRoot(stages: readonly DockerStage[], name: string): string {
  const stage = stages.find((s) => s.name === name);
  if (stage === undefined) throw new Error(`COPY --from=${name}: no such stage`);
  const context = stage.copies.find((c) => c.from === undefined && c.sources.includes('.'));
  if (context === undefined) throw new Error(`stage ${name} has no COPY . . of the build context`);
  return context.dest.replace(/\/$/, '');
}

/**
 * The image path a repository file ends up at, or undefined when no COPY takes
 * it. Docker semantics: a directory source copies its contents (not itself)
 * into the destination; a file source lands at the destination, or inside it
 * when the destination ends in '/'. `repoPath` names a file, not a directory.
 */
export function imagePath(copies: readonly RepoCopy[], repoPath: string): string | undefined {
  let found: string | undefined;
  for (const { source, dest } of copies) {
    if (repoPath === source) {
      found = dest.endsWith('/') ? posix.join(dest, posix.basename(source)) : dest;
    } else if (source === '' || repoPath.startsWith(`${source}/`)) {
      found = posix.join(dest, source === '' ? repoPath : repoPath.slice(source.length + 1));
    }
  }
  return found;
}

/** The stage's last npm command removes (or never installs) the dev dependencies. */
export function omitsDevDependencies(stage: DockerStage): boolean {
  const npm = stage.runs.filter((command) => /^npm\s/.test(command)).at(-1);
  return npm !== undefined && /^npm\s+(ci|install|prune)\b.*\s--omit=dev\b/.test(npm);
}

/**
 * Lays out the final stage's files under `dir` as its COPY lines say, taking
 * them from the built repository at `repoRoot`; `dir` stands for the image's
 * `/`. A `node_modules` source is installed as the image has it: production
 * dependencies only, from the lockfile (`npm ci --omit=dev`, from npm's cache
 * when it holds them), after checking that its stage omits dev dependencies;
 * so code that imports a devDependency at run time fails here as in the image.
 * RUN lines add no files to the set (the final stage's only install tini).
 */
export async function assembleFinalStage(
  stages: readonly DockerStage[],
  repoRoot: string,
  dir: string,
): Promise<void> {
  for (const { source, dest } of repoCopies(stages)) {
    const from = join(repoRoot, source);
    const isDir = (await stat(from)).isDirectory();
    const to = join(dir, isDir || !dest.endsWith('/') ? dest : posix.join(dest, posix.basename(source)));
    await mkdir(dirname(to), { recursive: true });
    if (source === 'node_modules') {
      if (basename(to) !== 'node_modules') throw new Error(`node_modules copied to ${dest}: not understood`);
      await installProductionDependencies(stages, repoRoot, to);
    } else {
      await cp(from, to, { recursive: true });
    }
  }
}

const run = promisify(execFile);

async function installProductionDependencies(
  stages: readonly DockerStage[],
  repoRoot: string,
  to: string,
): Promise<void> {
  const copy = finalStage(stages).copies.find((c) => c.sources.some((s) => s.endsWith('node_modules')));
  const stage = stages.find((s) => s.name === copy?.from);
  if (stage === undefined || !omitsDevDependencies(stage))
    throw new Error('node_modules comes from a stage that keeps the dev dependencies');
  const work = `${to}.install`;
  await mkdir(work, { recursive: true });
  for (const file of ['package.json', 'package-lock.json']) await cp(join(repoRoot, file), join(work, file));
  // --ignore-scripts: the only install script (protobufjs's) prints a notice and changes no files
  await run('npm', ['ci', '--omit=dev', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: work,
    timeout: 120_000,
  });
  await rename(join(work, 'node_modules'), to);
  await rm(work, { recursive: true, force: true });
}
