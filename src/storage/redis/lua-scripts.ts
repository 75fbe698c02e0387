import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cluster, Redis } from 'ioredis';

/**
 * The files of the decision script, in concatenation order: shared helpers, the
 * four algorithms (each a library of pure maths plus its Redis load/persist), and
 * the driver `apply.lua`, whose header documents every KEYS[i]/ARGV[i] and the reply.
 */
export const LUA_FILES: readonly string[] = [
  'prelude.lua',
  'fixed_window.lua',
  'sliding_window.lua',
  'sliding_log.lua',
  'token_bucket.lua',
  'apply.lua',
];

/** ARGV layout (see apply.lua): a call header, then per request a header and fields per check. */
export const APPLY_HEADER_ARGS = 5;
export const APPLY_REQUEST_ARGS = 2;
export const APPLY_ARGS_PER_CHECK = 7;
/** Reply entries per check: admitted (1, 0, or -1 = failed), remaining, duration_ms (or the error), used. */
export const APPLY_REPLY_PER_CHECK = 4;

/** The repository's `lua/` folder, from src/storage/redis/ as from dist/storage/redis/. */
function defaultScriptsDir(): string {
  return fileURLToPath(new URL('../../../lua/', import.meta.url));
}

/** The decision script: one body and its SHA-1 (what EVALSHA sends). */
export interface ApplyScript {
  readonly lua: string;
  readonly sha: string;
}

/**
 * Reads the Lua files once (at startup, asynchronously) and joins them into one
 * script body. Rejects when a file is missing.
 */
export async function loadApplyScript(dir: string = defaultScriptsDir()): Promise<ApplyScript> {
  const texts = await Promise.all(LUA_FILES.map((file) => readFile(join(dir, file), 'utf8')));
  const lua = texts.map((text, i) => `-- ==== ${LUA_FILES[i]} ====\n${text}`).join('\n');
  const sha = createHash('sha1').update(lua).digest('hex');
  return { lua, sha };
}

/**
 * The scripts of the adaptive module's shared state (redis-adaptive-state.ts): each
 * file is one script on its own, its header documenting its KEYS/ARGV and reply.
 */
export const ADAPTIVE_LUA_FILES = Object.freeze({
  writeRecord: 'adaptive_write_record.lua',
  flag: 'adaptive_flag.lua',
  penalties: 'adaptive_penalties.lua',
} as const);

/** Reads one standalone script file (asynchronously; rejects when missing). */
export async function loadScriptFile(file: string, dir: string = defaultScriptsDir()): Promise<ApplyScript> {
  const lua = await readFile(join(dir, file), 'utf8');
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/**
 * Runs the script on the node serving `keys` (all in one hash slot); resolves
 * with the raw reply, rejects with the Redis error.
 */
export type ApplyCommand = (keys: readonly string[], argv: readonly (string | number)[]) => Promise<unknown>;

/**
 * The script as a function over `client`: EVALSHA, and EVAL (which also caches
 * the script) when Redis answers NOSCRIPT — after a restart, a failover to a
 * replica that never saw it, or SCRIPT FLUSH.
 *
 * Why not ioredis `defineCommand` (CONVENTIONS habit 8): ioredis auto-pipelining
 * routes a defined command on Cluster by its first argument, which for a script
 * with a variable key count is the count, not a key (the pipeline then fails
 * with "All keys in the pipeline should belong to the same slots allocation
 * group"); one defined command per key count avoids that but every auto-pipeline
 * copies every defined command when it is created, and a command defined during
 * a tick is missing from that tick's pipeline. The builtin EVALSHA is routed by
 * its first key. The client must not use ioredis `keyPrefix`: keys are complete
 * (CACHE_KEY_PREFIX is already in them) and the store computes their slots.
 */
export function applyCommand(client: Redis | Cluster, script: ApplyScript): ApplyCommand {
  return async (keys, argv) => {
    try {
      return await client.evalsha(script.sha, keys.length, ...keys, ...argv);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.eval(script.lua, keys.length, ...keys, ...argv);
    }
  };
}

/**
 * Caches the script in Redis (SCRIPT LOAD) on `client`, or on every master of
 * a Cluster, so the first calls after a start or a reconnect run EVALSHA
 * without a NOSCRIPT round trip. Rejects with the Redis error.
 */
export async function preloadScript(client: Redis | Cluster, script: ApplyScript): Promise<void> {
  const nodes = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  await Promise.all(nodes.map((node) => node.script('LOAD', script.lua)));
}
