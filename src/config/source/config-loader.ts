import { Worker } from 'node:worker_threads';
import type { ConfigProblem } from '../../core/errors.js';
import { type BuildResult, buildConfig } from '../rules/build-config.js';
import { type CompactBatch, ConfigAssembler } from '../rules/compact-config.js';
import { formatCount } from '../rules/config-limits.js';
import { type LoadRequest, readForLoad, type WorkerMessage } from './load-job.js';

/** The result of one {@link ConfigLoader.load}. */
export type LoaderOutcome =
  | { readonly hash: string; readonly unchanged: true }
  | { readonly hash: string | undefined; readonly unchanged: false; readonly result: BuildResult };

/** Reads and builds the files of a request; never rejects (a failure is an invalid result). */
export interface ConfigLoader {
  load(request: LoadRequest): Promise<LoaderOutcome>;
}

/** Options of {@link workerConfigLoader}. */
export interface WorkerLoaderOptions {
  /** CONFIG_LOAD_TIMEOUT: a load still running after this long is stopped and fails, ms. */
  readonly timeoutMs: number;
  /** CONFIG_LOAD_MAX_HEAP: the loader thread's heap limit, MiB; past it the load fails. */
  readonly maxHeapMb: number;
}

/**
 * Loads in a worker thread, one per load, so the serving thread only rebuilds the validated
 * result: {@link ConfigAssembler} batches of 1,000 nodes, each followed by a `setImmediate`
 * so requests are answered in between. The thread's heap (the parse of a big file) is
 * freed when it exits.
 */
export function workerConfigLoader(options: WorkerLoaderOptions): ConfigLoader {
  return { load: (request) => loadInWorker(request, options) };
}

/**
 * Loads on the calling thread (blocking it while the files are parsed): for tests that
 * inject a `build`, and where no one waits for answers meanwhile.
 */
export function inThreadConfigLoader(build: typeof buildConfig = buildConfig): ConfigLoader {
  return {
    async load(request) {
      const read = await readForLoad(request);
      if (read.kind === 'unchanged') return { hash: read.hash, unchanged: true };
      if (read.kind === 'failed') {
        return { hash: read.hash, unchanged: false, result: { ok: false, problems: [read.problem] } };
      }
      let result: BuildResult;
      try {
        result = build(read.files, { mergeDomains: request.mergeDomains }, request.limits);
      } catch (err) {
        result = { ok: false, problems: [{ file: '<config>', line: 0, col: 0, message: String(err) }] };
      }
      return { hash: read.hash, unchanged: false, result };
    },
  };
}

/**
 * The worker's entry: config-worker.js beside this module. Under vitest this module runs
 * from src/ as .ts, and its sibling is config-worker.ts, loaded through the TypeScript hooks
 * vitest.config.ts registers (`--import`, inherited by worker threads).
 */
const WORKER_ENTRY = new URL(
  import.meta.url.endsWith('.ts') ? './config-worker.ts' : './config-worker.js',
  import.meta.url,
);

function loadInWorker(request: LoadRequest, options: WorkerLoaderOptions): Promise<LoaderOutcome> {
  return new Promise((resolve) => {
    const worker = new Worker(WORKER_ENTRY, {
      workerData: request,
      resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMb },
    });
    const assembler = new ConfigAssembler();
    const batches: WorkerMessage[] = [];
    const lines: string[] = [];
    let settled = false;
    let draining = false;
    let exitCode: number | undefined;
    const finish = (outcome: LoaderOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      resolve(outcome);
    };
    const fail = (message: string): void =>
      finish({
        hash: undefined,
        unchanged: false,
        result: { ok: false, problems: [loaderProblem(message)] },
      });
    const timer = setTimeout(
      () =>
        fail(
          `loading the config took longer than ${formatCount(options.timeoutMs)} ms and was stopped ` +
            '(CONFIG_LOAD_TIMEOUT)',
        ),
      options.timeoutMs,
    );
    // One batch per turn of the event loop, however many messages arrived at once.
    const drain = async (): Promise<void> => {
      if (draining) return;
      draining = true;
      while (batches.length > 0 && !settled) {
        const message = batches.shift()!;
        const outcome = apply(message, assembler, lines);
        if (outcome !== undefined) finish(outcome);
        else await new Promise((r) => setImmediate(r));
      }
      draining = false;
      if (exitCode !== undefined) failIfNoResult();
    };
    const failIfNoResult = (): void => {
      if (!settled && !draining && batches.length === 0) {
        fail(`config loader exited (code ${exitCode}) without a result`);
      }
    };
    worker.on('message', (message: WorkerMessage) => {
      batches.push(message);
      void drain();
    });
    worker.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        fail(
          `loading the config needed more than the loader's ${formatCount(options.maxHeapMb)} MiB heap ` +
            '(CONFIG_LOAD_MAX_HEAP); the config is too big',
        );
      } else {
        fail(`config loader failed: ${err.message}`);
      }
    });
    worker.on('exit', (code) => {
      exitCode = code;
      // The final message may still be queued behind batches: the drain then reaches it.
      setImmediate(failIfNoResult);
    });
  });
}

/** Handles one message; returns the outcome once the final message is reached. */
function apply(
  message: WorkerMessage,
  assembler: ConfigAssembler,
  lines: string[],
): LoaderOutcome | undefined {
  switch (message.type) {
    case 'records':
      assembler.add(JSON.parse(message.json) as CompactBatch);
      return undefined;
    case 'lines':
      for (const line of JSON.parse(message.json) as string[]) lines.push(line);
      return undefined;
    case 'unchanged':
      return { hash: message.hash, unchanged: true };
    case 'invalid': {
      const { problems, problemCount } = message;
      return { hash: message.hash, unchanged: false, result: { ok: false, problems, problemCount } };
    }
    case 'valid': {
      const { summaries, controllers, warnings } = message;
      const config = assembler.finish({ summaries, lines, controllers });
      return { hash: message.hash, unchanged: false, result: { ok: true, config, warnings } };
    }
  }
}

function loaderProblem(message: string): ConfigProblem {
  return { file: '<config>', line: 0, col: 0, message };
}
