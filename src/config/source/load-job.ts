import { createHash } from 'node:crypto';
import type { ConfigProblem } from '../../core/errors.js';
import { buildTrees, type ConfigFile, type TreesResult } from '../rules/build-config.js';
import { type CompactTail, compactBatches, compactTail } from '../rules/compact-config.js';
import type { ConfigLimits } from '../rules/config-limits.js';
import type { DomainSummary } from '../rules/rate-limit-config.js';
import { ConfigFilesError, checkTotal, readConfigFiles } from './config-files.js';

/** One load: what to read and build, sent to the loader thread as its `workerData`. */
export interface LoadRequest {
  /** Files to load, sorted (from `walkConfigRoots`). */
  readonly paths: readonly string[];
  /**
   * Files given by content instead (the xDS source: each pushed resource as the YAML file that
   * says the same); `paths` is then empty. CONFIG_MAX_BYTES applies to their total as to files.
   */
  readonly inline?: readonly ConfigFile[] | undefined;
  readonly mergeDomains: boolean;
  readonly limits: ConfigLimits;
  /** Hash of the last load's files: when they hash the same, nothing is built. */
  readonly previousHash: string | undefined;
}

/** What reading the files of a {@link LoadRequest} gave. */
export type ReadOutcome =
  | { readonly kind: 'unchanged'; readonly hash: string }
  | { readonly kind: 'failed'; readonly hash: string; readonly problem: ConfigProblem }
  | { readonly kind: 'read'; readonly hash: string; readonly files: ConfigFile[] };

/**
 * Reads the files of a request (one at a time, sizes checked first) and hashes them.
 * A failure hashes its own message, so a poll that meets the same failure again is quiet.
 */
export async function readForLoad(request: LoadRequest): Promise<ReadOutcome> {
  let files: ConfigFile[];
  try {
    files =
      request.inline === undefined
        ? await readConfigFiles(request.paths, request.limits.maxBytes)
        : checkedInline(request.inline, request.limits.maxBytes);
  } catch (err) {
    const problem = problemOf(err);
    const hash = `unreadable\0${problem.file}\0${problem.message}`;
    return hash === request.previousHash ? { kind: 'unchanged', hash } : { kind: 'failed', hash, problem };
  }
  const hash = hashFiles(files);
  return hash === request.previousHash ? { kind: 'unchanged', hash } : { kind: 'read', hash, files };
}

/** Inline files within CONFIG_MAX_BYTES (UTF-8 bytes, summed as for files on disk). */
function checkedInline(files: readonly ConfigFile[], maxBytes: number): ConfigFile[] {
  let total = 0;
  for (const file of files) {
    const size = Buffer.byteLength(file.content, 'utf8');
    total += size;
    checkTotal(file.path, size, total, maxBytes);
  }
  return [...files];
}

/** A thrown error as a problem without a position: the file it names, or `<config>`. */
export function problemOf(err: unknown): ConfigProblem {
  const message = err instanceof Error ? err.message : String(err);
  const file = err instanceof ConfigFilesError ? err.path : '<config>';
  return { file, line: 0, col: 0, message };
}

/** SHA-256 over the sorted paths and contents: equal hashes mean nothing to rebuild. */
function hashFiles(files: readonly ConfigFile[]): string {
  const hash = createHash('sha256');
  for (const f of files) hash.update(`${f.path}\0${f.content.length}\0${f.content}\0`);
  return hash.digest('hex');
}

/** What the loader thread posts, in order: record and line batches, then one final message. */
export type WorkerMessage =
  /** A `CompactBatch` as JSON (a string: cheap to clone, parsed a batch at a time). */
  | { readonly type: 'records'; readonly json: string }
  /** A JSON array of `/rlconfig` lines. */
  | { readonly type: 'lines'; readonly json: string }
  | { readonly type: 'unchanged'; readonly hash: string }
  | {
      readonly type: 'invalid';
      readonly hash: string;
      readonly problems: ConfigProblem[];
      readonly problemCount: number;
    }
  | {
      readonly type: 'valid';
      readonly hash: string;
      readonly summaries: DomainSummary[];
      readonly controllers: CompactTail['controllers'];
      /** Problems that do not stop the load (adaptive-nodes.ts `adaptiveWarnings`). */
      readonly warnings: ConfigProblem[];
    };

/** Records (or lines) per message: each is rebuilt in one slice of the serving thread (~1 ms). */
export const BATCH_SIZE = 1_000;

/**
 * The loader thread's job: read, hash, parse and validate, then post the result as
 * {@link WorkerMessage}s. Never throws: a failure is an `invalid` message.
 */
export async function runLoadJob(
  request: LoadRequest,
  post: (message: WorkerMessage) => void,
): Promise<void> {
  const read = await readForLoad(request);
  if (read.kind === 'unchanged') return post({ type: 'unchanged', hash: read.hash });
  if (read.kind === 'failed') {
    return post({ type: 'invalid', hash: read.hash, problems: [read.problem], problemCount: 1 });
  }
  let built: TreesResult;
  try {
    built = buildTrees(read.files, { mergeDomains: request.mergeDomains }, request.limits);
  } catch (err) {
    built = { ok: false, problems: [problemOf(err)], problemCount: 1 };
  }
  if (!built.ok) {
    const { problems, problemCount } = built;
    return post({ type: 'invalid', hash: read.hash, problems, problemCount });
  }
  for (const batch of compactBatches(built.trees, BATCH_SIZE))
    post({ type: 'records', json: JSON.stringify(batch) });
  const tail = compactTail(built.trees);
  for (let i = 0; i < tail.lines.length; i += BATCH_SIZE) {
    post({ type: 'lines', json: JSON.stringify(tail.lines.slice(i, i + BATCH_SIZE)) });
  }
  post({
    type: 'valid',
    hash: read.hash,
    summaries: [...tail.summaries],
    controllers: tail.controllers,
    warnings: built.warnings,
  });
}
