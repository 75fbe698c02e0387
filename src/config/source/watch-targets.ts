import { type FSWatcher, watch } from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * One path to watch with `fs.watch`, and which child names matter: `'all'`, or only the
 * listed names (a parent directory watched for a swap of one entry in it).
 */
export interface WatchTarget {
  readonly path: string;
  readonly names: ReadonlySet<string> | 'all';
}

/**
 * Everything to watch so that edits, adds, removes and symlink swaps under `roots` are seen:
 * - every directory the last walk entered (`dirs`), all events — this covers edits in place
 *   and the Kubernetes `..data` swap, which happens inside the mounted directory;
 * - each file root itself and its directory, all events;
 * - the parent directory of each directory root, for events on the root's own name;
 * - the parent of every symlink on the path to a root (e.g. RUNTIME_ROOT
 *   `/srv/runtime_data/current` under `.../current/config`), for events on the link's name:
 *   `ln -s new tmp && mv -T tmp current` swaps the link and touches nothing under it.
 *
 * An inotify watch is bound to the inode it resolved when armed, so the caller re-arms all
 * targets after every reload. Missing paths are tolerated (the watch then fails to arm).
 */
export async function watchTargets(
  roots: readonly string[],
  dirs: readonly string[],
): Promise<WatchTarget[]> {
  const targets = new Map<string, Set<string> | 'all'>();
  const add = (p: string, name?: string): void => {
    const existing = targets.get(p);
    if (existing === 'all') return;
    if (name === undefined) targets.set(p, 'all');
    else if (existing) existing.add(name);
    else targets.set(p, new Set([name]));
  };
  for (const dir of dirs) add(path.resolve(dir));
  for (const root of roots) {
    const abs = path.resolve(root);
    const isFile = await stat(abs).then(
      (s) => !s.isDirectory(),
      () => false,
    );
    if (isFile) {
      // All events: a file root is often a ConfigMap key (`/config/x.yaml -> ..data/x.yaml`),
      // whose update shows in its directory only as `..data` events.
      add(abs);
      add(path.dirname(abs));
    } else {
      add(path.dirname(abs), path.basename(abs));
    }
    for (const link of await symlinksOnPath(abs)) add(path.dirname(link), path.basename(link));
  }
  return [...targets].map(([p, names]) => ({ path: p, names }));
}

/** The components of absolute path `abs` (itself included) that are symlinks, outermost first. */
async function symlinksOnPath(abs: string): Promise<string[]> {
  const links: string[] = [];
  const parts = abs.split(path.sep).filter((p) => p !== '');
  let prefix = path.parse(abs).root;
  for (const part of parts) {
    prefix = path.join(prefix, part);
    const info = await lstat(prefix).catch(() => undefined);
    if (info === undefined) break;
    if (info.isSymbolicLink()) links.push(prefix);
  }
  return links;
}

/** Callbacks of a {@link WatcherSet}. */
export interface WatcherSetEvents {
  /** Something relevant changed under `target`. */
  onChange(target: string, filename: string | null): void;
  /** A watch failed to arm, or an armed watch reported an error (it is closed then). */
  onError(target: string, err: unknown, phase: 'arm' | 'runtime'): void;
}

/**
 * A set of non-persistent `fs.watch` handles, replaced as a whole by {@link WatcherSet.arm}.
 *
 * Why not `fs.watch(dir, { recursive: true })`: on Linux, Node 20 emulates it in JavaScript
 * with synchronous `readdirSync` and one watch per file, and does not enter symlinked
 * directories; watching exactly the directories our own walk entered is cheaper and follows
 * symlinks the same way loading does.
 */
export class WatcherSet {
  private watchers: FSWatcher[] = [];

  constructor(private readonly events: WatcherSetEvents) {}

  /** Opens watches for `targets`, then closes the previous ones (no gap between them). */
  arm(targets: readonly WatchTarget[]): void {
    const previous = this.watchers;
    this.watchers = targets.flatMap((t) => this.open(t));
    closeAll(previous);
  }

  /** Number of open watches. */
  get size(): number {
    return this.watchers.length;
  }

  /** Closes every watch; the set can be armed again afterwards. */
  close(): void {
    closeAll(this.watchers);
    this.watchers = [];
  }

  private open(target: WatchTarget): FSWatcher[] {
    try {
      // persistent: false — a watch never keeps the process alive on its own.
      const watcher = watch(target.path, { persistent: false }, (_type, filename) => {
        const name = filename === null ? null : String(filename);
        if (target.names === 'all' || name === null || target.names.has(name)) {
          this.events.onChange(target.path, name);
        }
      });
      watcher.on('error', (err) => {
        watcher.close();
        this.events.onError(target.path, err, 'runtime');
      });
      return [watcher];
    } catch (err) {
      this.events.onError(target.path, err, 'arm');
      return [];
    }
  }
}

function closeAll(watchers: readonly FSWatcher[]): void {
  for (const w of watchers) {
    try {
      w.close();
    } catch {
      // Already closed by an error; nothing left to release.
    }
  }
}
