import type { ConfigProblem } from '../../core/errors.js';
import type { Any } from '../../gen/google/protobuf/any.js';
import { RateLimitConfig as RateLimitConfigMessage } from '../../gen/ratelimit/config/ratelimit/v3/rls_conf.js';
import type { Logger } from '../../log/logger.js';
import type { ConfigFile } from '../rules/build-config.js';
import { type ConfigLimits, DEFAULT_CONFIG_LIMITS } from '../rules/config-limits.js';
import type { RateLimitConfig } from '../rules/rate-limit-config.js';
import type { XdsSettings } from '../settings/xds-settings.js';
import { type ConfigLoader, inThreadConfigLoader } from '../source/config-loader.js';
import type { LoadOutcome } from '../source/config-source.js';
import type { RulesSource } from '../source/rules-source.js';
import { XdsClient, type XdsVerdict } from './xds-client.js';
import { xdsConfigFile } from './xds-to-yaml.js';

/** The resource type the service subscribes to (the reference's, and Envoy Gateway's). */
export const RATE_LIMIT_CONFIG_TYPE_URL = 'type.googleapis.com/ratelimit.config.ratelimit.v3.RateLimitConfig';

/** Problems spelled out in a NACK and in the log message. */
const MAX_PROBLEMS_IN_MESSAGE = 10;

export interface XdsConfigSourceOptions {
  readonly settings: XdsSettings;
  /** MERGE_DOMAIN_CONFIG: resources with the same domain add up instead of clashing. */
  readonly mergeDomains: boolean;
  readonly limits?: ConfigLimits | undefined;
  /**
   * Builds the pushed set (the service: `workerConfigLoader`, so a big push is parsed off
   * the serving thread, under CONFIG_LOAD_TIMEOUT and CONFIG_LOAD_MAX_HEAP like a file load).
   * Default: on this thread.
   */
  readonly loader?: ConfigLoader | undefined;
  readonly logger: Logger;
  /** Called after every response was applied or rejected (as ConfigSource's `onLoaded`). */
  readonly onLoaded?: (outcome: LoadOutcome) => void;
}

/**
 * The rate limit config pushed by an xDS management server (CONFIG_TYPE=GRPC_XDS_SOTW).
 * Every response carries the whole set of RateLimitConfig resources; each becomes the YAML
 * file that says the same (xds-to-yaml.ts) and the set is built by the file loader's own
 * validation, so a pushed config and a file config mean the same and fail the same way.
 * A valid set replaces the config in one assignment and is ACKed; an invalid one is NACKed
 * with its problems and the last good config stays.
 */
export class XdsConfigSource implements RulesSource {
  private config: RateLimitConfig | undefined;
  private readonly client: XdsClient;
  private readonly first: Promise<LoadOutcome>;
  private settleFirst: (outcome: LoadOutcome) => void = () => undefined;

  constructor(private readonly options: XdsConfigSourceOptions) {
    this.first = new Promise((resolve) => {
      this.settleFirst = resolve;
    });
    this.client = new XdsClient({
      settings: options.settings,
      typeUrl: RATE_LIMIT_CONFIG_TYPE_URL,
      logger: options.logger,
      apply: async (resources, version) => this.apply(resources, version),
    });
  }

  current(): RateLimitConfig | undefined {
    return this.config;
  }

  /** The version of the config in force, as the management server named it ('' before one). */
  get version(): string {
    return this.client.acceptedVersion;
  }

  /** Starts the stream and waits for the first response, accepted or rejected. */
  load(): Promise<LoadOutcome> {
    this.client.start();
    return this.first;
  }

  watch(): void {
    this.client.start();
  }

  async close(): Promise<void> {
    this.settleFirst({ ok: false, problems: [problem('<xds>', 'closed before the first config arrived')] });
    await this.client.close();
  }

  private async apply(resources: readonly Any[], version: string): Promise<XdsVerdict> {
    const outcome = await this.build(resources);
    const { logger } = this.options;
    if (outcome.ok) {
      this.config = outcome.config;
      logger.info(
        { version, resources: outcome.files, domains: outcome.config.domains().length },
        'rate limit config loaded from xDS',
      );
    } else {
      const count = outcome.problemCount ?? outcome.problems.length;
      logger.error(
        { version, problems: outcome.problems.map(describe), problemCount: count },
        `rate limit config from xDS rejected (${this.config ? 'keeping the last good config' : 'no config loaded yet'}): ${summary(outcome.problems, count)}`,
      );
    }
    try {
      this.options.onLoaded?.(outcome);
    } catch (err) {
      logger.error({ err }, 'config onLoaded callback failed');
    }
    this.settleFirst(outcome);
    return outcome.ok
      ? { ok: true }
      : { ok: false, message: summary(outcome.problems, outcome.problemCount) };
  }

  private async build(resources: readonly Any[]): Promise<LoadOutcome> {
    const files: ConfigFile[] = [];
    const seen = new Set<string>();
    for (const [index, resource] of resources.entries()) {
      let message: RateLimitConfigMessage;
      try {
        message = RateLimitConfigMessage.decode(resource.value);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        return { ok: false, problems: [problem(`xds:#${index}`, `not a valid RateLimitConfig: ${reason}`)] };
      }
      const file = xdsConfigFile(message, index);
      // two resources of one name: both are still checked, each under its own label
      const path = seen.has(file.path) ? `${file.path}#${index}` : file.path;
      seen.add(path);
      files.push({ path, content: file.content });
    }
    const limits = this.options.limits ?? DEFAULT_CONFIG_LIMITS;
    const loader = this.options.loader ?? inThreadConfigLoader();
    const loaded = await loader.load({
      paths: [],
      inline: files,
      mergeDomains: this.options.mergeDomains,
      limits,
      previousHash: undefined,
    });
    if (loaded.unchanged) return { ok: false, problems: [problem('<xds>', 'the loader reported no change')] };
    const built = loaded.result;
    if (!built.ok) return built;
    return { ok: true, config: built.config, files: files.map((f) => f.path), warnings: built.warnings };
  }
}

function problem(file: string, message: string): ConfigProblem {
  return { file, line: 0, col: 0, message };
}

/** A problem without its position: the lines of the generated YAML mean nothing to the server. */
function describe(p: ConfigProblem): string {
  return `${p.file}: ${p.message}`;
}

function summary(problems: readonly ConfigProblem[], count = problems.length): string {
  const shown = problems.slice(0, MAX_PROBLEMS_IN_MESSAGE).map(describe).join('; ');
  return count > MAX_PROBLEMS_IN_MESSAGE
    ? `${count} problems; the first ${MAX_PROBLEMS_IN_MESSAGE}: ${shown}`
    : shown;
}
