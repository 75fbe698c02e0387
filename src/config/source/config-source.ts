import type { ConfigProblem } from '../../core/errors.js';
import type { Logger } from '../../log/logger.js';
import { type ConfigLimits, DEFAULT_CONFIG_LIMITS, formatCount } from '../rules/config-limits.js';
import { formatProblem } from '../rules/config-problem.js';
import type { RateLimitConfig } from '../rules/rate-limit-config.js';
import { walkConfigRoots } from './config-files.js';
import type { ConfigLoader, LoaderOutcome } from './config-loader.js';
import { problemOf } from './load-job.js';
import { WatcherSet, watchTargets } from './watch-targets.js';

/**
 * The result of one load: the new config and the files it came from, or the problems found
 * (at most CONFIG_MAX_PROBLEMS of them; `problemCount`, when set, counts them all).
 */
export type LoadOutcome =
  | { ok: true; config: RateLimitConfig; files: string[]; warnings?: ConfigProblem[] }
  | { ok: false; problems: ConfigProblem[]; problemCount?: number };

/** Options of a {@link ConfigSource}. */
export interface ConfigSourceOptions {
  /** Files or directories to load (see `listConfigFiles`). */
  roots: readonly string[];
  /** RUNTIME_IGNOREDOTFILES: skip `.name` entries (`..name` entries are always skipped). */
  ignoreDotfiles: boolean;
  /** MERGE_DOMAIN_CONFIG, passed to the loader. */
  mergeDomains: boolean;
  /** Reads and builds the files (the service: `workerConfigLoader`, off the serving thread). */
  loader: ConfigLoader;
  /** CONFIG_MAX_* bounds of one load; default DEFAULT_CONFIG_LIMITS. */
  limits?: ConfigLimits;
  logger: Logger;
  /** Quiet time after the last file-system event before reloading, ms. Default 250. */
  debounceMs?: number;
  /** Reload check interval when inotify misses events (some volume types), ms. Default 30 000. */
  pollIntervalMs?: number;
  /** Called after every load that built the files (not when a watched reload found them unchanged). */
  onLoaded?: (outcome: LoadOutcome) => void;
}

interface Snapshot {
  readonly config: RateLimitConfig;
  readonly files: readonly string[];
}

/** Event bursts may push a pending reload back at most this many times (no starvation). */
const MAX_DEFERRALS = 8;
/** Problems spelled out in the log message; the `problems` field lists up to CONFIG_MAX_PROBLEMS. */
const MAX_PROBLEMS_IN_MESSAGE = 10;

/**
 * The live rate limit config: loads every file under the roots, builds them as one set and
 * swaps the result in atomically (one assignment of a frozen snapshot), keeping the last
 * good config when a load fails. {@link ConfigSource.watch} reloads on changes, including
 * the Kubernetes ConfigMap `..data` swap and a symlink swap of the root itself
 * (envoyproxy/ratelimit issues #70, #150, #379); loads never overlap.
 */
export class ConfigSource {
  private snapshot: Snapshot | undefined;
  private successes = 0;
  private errors = 0;
  private lastHash: string | undefined;
  private lastOutcome: LoadOutcome | undefined;
  private dirs: string[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private reloadQueued = false;
  private watching = false;
  private closed = false;
  private debounceTimer: NodeJS.Timeout | undefined;
  private deferrals = 0;
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly watchers: WatcherSet;

  constructor(private readonly options: ConfigSourceOptions) {
    this.watchers = new WatcherSet({
      onChange: () => this.scheduleReload(),
      onError: (target, err, phase) => {
        const code = (err as NodeJS.ErrnoException | undefined)?.code;
        if (phase === 'arm' && code === 'ENOENT') {
          options.logger.debug({ target }, 'config watch target does not exist');
          return;
        }
        if (phase === 'arm') {
          options.logger.warn({ target, err }, 'config watch could not be armed; relying on the poll');
        } else {
          options.logger.warn({ target, err }, 'config watcher failed; re-arming');
          this.scheduleReload();
        }
      },
    });
  }

  /** Successful loads so far. */
  get loadSuccessCount(): number {
    return this.successes;
  }

  /** Failed loads so far (unreadable files or an invalid config). */
  get loadErrorCount(): number {
    return this.errors;
  }

  /** The config of the last successful load; undefined until one succeeds. */
  current(): RateLimitConfig | undefined {
    return this.snapshot?.config;
  }

  /** Files of the last successful load, sorted. */
  currentFiles(): readonly string[] {
    return this.snapshot?.files ?? [];
  }

  /**
   * Reads and builds every file now, even if unchanged. On success the new config replaces
   * the old one in one step; on failure the last good config stays. Never rejects.
   */
  load(): Promise<LoadOutcome> {
    return this.enqueue(() => this.reload(true));
  }

  /**
   * Starts watching: `fs.watch` on every directory loaded from, the parent of each root and
   * of each symlink on the way to it (re-armed after every reload, since a swapped symlink
   * leaves watches on the old target), debounced; plus an unref'd poll every
   * `pollIntervalMs`. Also runs one reload (skipped if nothing changed since `load()`), so a
   * change made between `load()` and `watch()` is not lost. Idempotent.
   */
  watch(): void {
    if (this.watching || this.closed) return;
    this.watching = true;
    const pollMs = this.options.pollIntervalMs ?? 30_000;
    this.pollTimer = setInterval(() => this.enqueueReload(), pollMs);
    this.pollTimer.unref();
    this.enqueueReload();
  }

  /** Resolves when no load is running or queued, e.g. once `watch()` has armed its watches. */
  async idle(): Promise<void> {
    let seen: Promise<unknown> | undefined;
    while (seen !== this.queue) {
      seen = this.queue;
      await seen;
    }
  }

  /** Stops watchers and timers and waits for a running load; nothing keeps the process alive after. */
  async close(): Promise<void> {
    this.closed = true;
    this.watching = false;
    clearTimeout(this.debounceTimer);
    clearInterval(this.pollTimer);
    this.watchers.close();
    await this.queue;
    this.watchers.close();
  }

  private scheduleReload(): void {
    if (!this.watching) return;
    if (this.debounceTimer !== undefined) {
      if (this.deferrals >= MAX_DEFERRALS) return;
      this.deferrals++;
      clearTimeout(this.debounceTimer);
    }
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      this.deferrals = 0;
      this.enqueueReload();
    }, this.options.debounceMs ?? 250);
    this.debounceTimer.unref();
  }

  /** Queues a watched (hash-checked) reload unless one is already waiting to start. */
  private enqueueReload(): void {
    if (this.reloadQueued || !this.watching) return;
    this.reloadQueued = true;
    void this.enqueue(() => {
      this.reloadQueued = false;
      return this.reload(false);
    });
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reload(force: boolean): Promise<LoadOutcome> {
    if (!force && !this.watching) return this.lastOutcome ?? { ok: false, problems: [] };
    // Arm before reading, so any change from here on raises an event and a later reload.
    await this.rearm();
    const limits = this.options.limits ?? DEFAULT_CONFIG_LIMITS;
    let paths: string[];
    try {
      const tree = await walkConfigRoots(this.options.roots, {
        ignoreDotfiles: this.options.ignoreDotfiles,
        maxFiles: limits.maxFiles,
      });
      if (tree.dirs.join('\0') !== this.dirs.join('\0')) {
        // New directories were unwatched while walked: watch them, then look once more.
        this.dirs = tree.dirs;
        await this.rearm();
        this.scheduleReload();
      }
      paths = tree.files;
    } catch (err) {
      const problem = problemOf(err);
      const hash = `unreadable\0${problem.file}\0${problem.message}`;
      if (!force && hash === this.lastHash) return this.unchanged();
      return this.finish(hash, { ok: false, problems: [problem] });
    }
    const loaded: LoaderOutcome = await this.options.loader.load({
      paths,
      mergeDomains: this.options.mergeDomains,
      limits,
      previousHash: force ? undefined : this.lastHash,
    });
    if (loaded.unchanged) return this.unchanged();
    const { result } = loaded;
    if (!result.ok) return this.finish(loaded.hash, result);
    return this.finish(loaded.hash, {
      ok: true,
      config: result.config,
      files: paths,
      warnings: result.warnings,
    });
  }

  /** A watched reload found what the last load found: nothing to rebuild, log or count. */
  private unchanged(): LoadOutcome {
    this.options.logger.debug('config files unchanged; not rebuilt');
    return this.lastOutcome ?? { ok: false, problems: [] };
  }

  /** Replaces every watch (no-op unless watching): inotify watches die with a swapped symlink. */
  private async rearm(): Promise<void> {
    if (!this.watching) return;
    try {
      const targets = await watchTargets(this.options.roots, this.dirs);
      if (this.watching) this.watchers.arm(targets);
    } catch (err) {
      this.options.logger.warn({ err }, 'config watchers not re-armed; the poll will retry');
    }
  }

  private finish(hash: string | undefined, outcome: LoadOutcome): LoadOutcome {
    const { logger } = this.options;
    this.lastHash = hash;
    this.lastOutcome = outcome;
    if (outcome.ok) {
      this.snapshot = Object.freeze({ config: outcome.config, files: Object.freeze([...outcome.files]) });
      this.successes++;
      logger.info(
        { files: outcome.files, fileCount: outcome.files.length, domains: outcome.config.domains().length },
        'rate limit config loaded',
      );
      // loaded as written, but probably not what the operator meant (e.g. an adaptive floor too low to recover)
      for (const warning of outcome.warnings ?? [])
        logger.warn({ warning: formatProblem(warning) }, 'rate limit config warning');
    } else {
      this.errors++;
      const problems = outcome.problems.map(formatProblem);
      const problemCount = outcome.problemCount ?? problems.length;
      const kept = this.snapshot ? 'keeping the last good config' : 'no config loaded yet';
      logger.error(
        { problems, problemCount },
        `rate limit config not loaded (${kept}): ${problemSummary(problems, problemCount)}`,
      );
    }
    try {
      this.options.onLoaded?.(outcome);
    } catch (err) {
      logger.error({ err }, 'config onLoaded callback failed');
    }
    return outcome;
  }
}

/**
 * The problems for a log message: all of a few, else the first {@link MAX_PROBLEMS_IN_MESSAGE}
 * and how many there were (the log line's `problems` lists up to CONFIG_MAX_PROBLEMS).
 */
function problemSummary(problems: readonly string[], problemCount: number): string {
  if (problems.length <= MAX_PROBLEMS_IN_MESSAGE && problemCount === problems.length)
    return problems.join('; ');
  const shown = problems.slice(0, MAX_PROBLEMS_IN_MESSAGE);
  const listed =
    problemCount > problems.length
      ? ` (the first ${problems.length} are in 'problems'; CONFIG_MAX_PROBLEMS)`
      : '';
  return `config has ${formatCount(problemCount)} problems; the first ${shown.length}: ${shown.join('; ')}${listed}`;
}
