import type { Dirent } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { RateLimitError } from '../../core/errors.js';
import type { ConfigFile } from '../rules/build-config.js';
import { formatCount } from '../rules/config-limits.js';

/** A config root, directory or file that cannot be listed or read; `path` names it. */
export class ConfigFilesError extends RateLimitError {
  constructor(
    readonly path: string,
    message: string,
    cause?: unknown,
  ) {
    super('CONFIG_INVALID', message, { cause });
    this.name = 'ConfigFilesError';
  }
}

/** Options for {@link listConfigFiles}. */
export interface ListOptions {
  /**
   * Skip files and directories whose name starts with `.` (RUNTIME_IGNOREDOTFILES).
   * Names starting with `..` are skipped either way.
   */
  readonly ignoreDotfiles: boolean;
  /**
   * CONFIG_MAX_FILES: the walk stops with a ConfigFilesError once it has found more YAML
   * files, or entered more directories, than this. Default: no limit.
   */
  readonly maxFiles?: number | undefined;
}

/** What a walk of the config roots found. */
export interface ConfigTree {
  /** YAML files: de-duplicated by real path, sorted by code unit. */
  readonly files: string[];
  /** Every directory the walk entered (as reached, not resolved), sorted: the ones to watch. */
  readonly dirs: string[];
}

const YAML_FILE = /\.ya?ml$/;

/**
 * The YAML files under `roots`, sorted and de-duplicated.
 *
 * Each root is a file (taken as is, whatever its extension: the operator named it) or a
 * directory searched recursively, following symlinks to files and directories (symlink
 * loops are entered once). In directories only `*.yaml` / `*.yml` files count.
 *
 * - Entries named `..*` are always skipped: Kubernetes mounts a ConfigMap as
 *   `..2025_x/` (real files), `..data -> ..2025_x` and `name.yaml -> ..data/name.yaml`, so
 *   loading both would load every domain twice (envoyproxy/ratelimit issue #70).
 * - Other dotfiles and dot-directories are skipped when `ignoreDotfiles`.
 * - Two paths to the same real file (a symlink beside its target, overlapping roots) load
 *   once, under the path that sorts first.
 * - The result is sorted, so error order and the order of wildcards merged from several
 *   files are deterministic (the reference uses Go map order, i.e. random).
 * - Entries that vanish while being walked (a dangling symlink in the middle of a ConfigMap
 *   swap) are skipped; the watcher's next reload sees the settled state.
 *
 * @throws ConfigFilesError naming the root when a root does not exist or cannot be read.
 */
export async function listConfigFiles(roots: readonly string[], options: ListOptions): Promise<string[]> {
  return (await walkConfigRoots(roots, options)).files;
}

/** Like {@link listConfigFiles}, and also returns the directories entered (for watching). */
export async function walkConfigRoots(roots: readonly string[], options: ListOptions): Promise<ConfigTree> {
  const walk: Walk = { options, found: [], dirs: new Set(), enteredReal: new Set(), root: '' };
  for (const root of roots) {
    walk.root = root;
    const rootStat = await stat(root).catch((err: unknown) => {
      throw new ConfigFilesError(root, `config root ${root} ${describeFsError(err)}`, err);
    });
    if (rootStat.isDirectory()) {
      await walkDir(path.normalize(root), walk);
    } else {
      addFile(walk, path.normalize(root));
    }
  }
  return { files: await dedupeByRealPath(walk.found), dirs: [...walk.dirs].sort(compareCodeUnits) };
}

interface Walk {
  readonly options: ListOptions;
  readonly found: string[];
  readonly dirs: Set<string>;
  readonly enteredReal: Set<string>;
  /** The root being walked, named by a limit problem. */
  root: string;
}

/**
 * Why a count limit: every file is read, hashed and parsed on each reload, and every
 * directory holds an inotify watch; 10,000 files is a mistake (a wrong mount), not a config.
 */
function overLimit(walk: Walk, count: number, what: string): void {
  const max = walk.options.maxFiles;
  if (max === undefined || count <= max) return;
  throw new ConfigFilesError(
    walk.root,
    `config roots hold more than ${formatCount(max)} ${what} (the limit); ` +
      'raise CONFIG_MAX_FILES to load them, or point --config at fewer files',
  );
}

function addFile(walk: Walk, file: string): void {
  walk.found.push(file);
  overLimit(walk, walk.found.length, 'YAML files');
}

async function walkDir(dir: string, walk: Walk): Promise<void> {
  const { options, dirs, enteredReal } = walk;
  const real = await realpath(dir).catch(() => undefined);
  if (real === undefined || enteredReal.has(real)) return;
  enteredReal.add(real);
  dirs.add(dir);
  overLimit(walk, dirs.size, 'directories');
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isNotFound(err)) return;
    throw new ConfigFilesError(dir, `config directory ${dir} ${describeFsError(err)}`, err);
  }
  for (const entry of entries) {
    if (skipName(entry.name, options)) continue;
    const full = path.join(dir, entry.name);
    const kind = await entryKind(entry, full);
    if (kind === 'dir') await walkDir(full, walk);
    else if (kind === 'file' && YAML_FILE.test(entry.name)) addFile(walk, full);
  }
}

function skipName(name: string, options: ListOptions): boolean {
  return name.startsWith('..') || (options.ignoreDotfiles && name.startsWith('.'));
}

/** File or directory, following symlinks; `other` for sockets, FIFOs and vanished entries. */
async function entryKind(entry: Dirent, full: string): Promise<'file' | 'dir' | 'other'> {
  if (entry.isFile()) return 'file';
  if (entry.isDirectory()) return 'dir';
  if (!entry.isSymbolicLink()) return 'other';
  try {
    const target = await stat(full);
    if (target.isFile()) return 'file';
    return target.isDirectory() ? 'dir' : 'other';
  } catch (err) {
    if (isNotFound(err)) return 'other';
    throw new ConfigFilesError(full, `config entry ${full} ${describeFsError(err)}`, err);
  }
}

async function dedupeByRealPath(paths: readonly string[]): Promise<string[]> {
  const sorted = [...new Set(paths)].sort(compareCodeUnits);
  const seen = new Set<string>();
  const result: string[] = [];
  for (const p of sorted) {
    const real = await realpath(p).catch(() => p);
    if (seen.has(real)) continue;
    seen.add(real);
    result.push(p);
  }
  return result;
}

/**
 * Reads every file as UTF-8, in the given order, one at a time: a file descriptor is never
 * held per file (1,000 files opened at once met EMFILE), and the sizes are checked first.
 * @param maxBytes CONFIG_MAX_BYTES: the sum of the sizes may not exceed it (default: no limit)
 * @throws ConfigFilesError naming the first file that cannot be read, or the file that
 *   takes the total over `maxBytes` (nothing is read then).
 */
export async function readConfigFiles(
  paths: readonly string[],
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<ConfigFile[]> {
  let total = 0;
  for (const p of paths) {
    const size = await stat(p).then(
      (s) => s.size,
      (err: unknown) => {
        throw new ConfigFilesError(p, `config file ${p} ${describeFsError(err)}`, err);
      },
    );
    total += size;
    checkTotal(p, size, total, maxBytes);
  }
  const files: ConfigFile[] = [];
  total = 0;
  for (const p of paths) {
    let bytes: Buffer;
    try {
      bytes = await readFile(p);
    } catch (err) {
      throw new ConfigFilesError(p, `config file ${p} ${describeFsError(err)}`, err);
    }
    // A file may grow between stat and read.
    total += bytes.length;
    checkTotal(p, bytes.length, total, maxBytes);
    files.push({ path: p, content: bytes.toString('utf8') });
  }
  return files;
}

export function checkTotal(file: string, size: number, total: number, maxBytes: number): void {
  if (total <= maxBytes) return;
  throw new ConfigFilesError(
    file,
    `this file (${formatCount(size)} bytes) brings the config files to ${formatCount(total)} bytes, ` +
      `over the limit of ${formatCount(maxBytes)} bytes (CONFIG_MAX_BYTES)`,
  );
}

/** Ordinal string order, independent of locale. */
function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'does not exist';
  if (code === 'EACCES') return 'is not readable (permission denied)';
  return `cannot be read: ${err instanceof Error ? err.message : String(err)}`;
}
