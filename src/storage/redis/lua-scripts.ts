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

/** Number of ARGV entries before the first check's fields, and fields per check (see apply.lua). */
export const APPLY_HEADER_ARGS = 5;
export const APPLY_ARGS_PER_CHECK = 6;
/** Reply entries per check: admitted, remaining, duration_ms, used. */
export const APPLY_REPLY_PER_CHECK = 4;

/** The repository's `lua/` folder, from src/storage/redis/ as from dist/storage/redis/. */
export function defaultScriptsDir(): string {
  return fileURLToPath(new URL('../../../lua/', import.meta.url));
}

/** The decision script: one body, its SHA-1 (what EVALSHA sends) and the ioredis command name. */
export interface ApplyScript {
  readonly lua: string;
  readonly sha: string;
  /** Carries the SHA, so two script versions defined on one shared client never clash. */
  readonly commandName: string;
}

/**
 * Reads the Lua files once (at startup, asynchronously) and joins them into one
 * script body. Rejects when a file is missing.
 */
export async function loadApplyScript(dir: string = defaultScriptsDir()): Promise<ApplyScript> {
  const texts = await Promise.all(LUA_FILES.map((file) => readFile(join(dir, file), 'utf8')));
  const lua = texts.map((text, i) => `-- ==== ${LUA_FILES[i]} ====\n${text}`).join('\n');
  const sha = createHash('sha1').update(lua).digest('hex');
  return { lua, sha, commandName: `ratelimitApply_${sha.slice(0, 12)}` };
}

/**
 * Calls the script with its KEYS, then its ARGV (apply.lua's layout); the key
 * count is fixed by the command (see `applyCommand`). Resolves with the raw
 * reply; rejects with the Redis error.
 */
export type ApplyCommand = (...keysAndArgs: (string | number)[]) => Promise<unknown>;

/**
 * The script as an ioredis command taking `numberOfKeys` keys, registered on
 * `client` with `defineCommand` (EVALSHA, falling back to EVAL on NOSCRIPT, per
 * connection) unless it is already there.
 *
 * One command per key count, because ioredis auto-pipelining on Cluster routes a
 * custom command by its first argument: with a variable key count that would be
 * the count itself, so the key must come first. Every count shares one SHA.
 *
 * The client must not use ioredis `keyPrefix`: keys are complete (CACHE_KEY_PREFIX
 * is already in them) and the store computes their hash slots itself.
 */
export function applyCommand(
  client: Redis | Cluster,
  script: ApplyScript,
  numberOfKeys: number,
): ApplyCommand {
  const name = `${script.commandName}_${numberOfKeys}`;
  const commands = client as unknown as Record<string, ApplyCommand | undefined>;
  if (typeof commands[name] !== 'function') client.defineCommand(name, { lua: script.lua, numberOfKeys });
  return commands[name]!.bind(client);
}
