import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { parseUnit } from '../core/units.js';
import {
  type RateLimitRequest,
  type RateLimitResponse,
  RateLimitResponse_Code,
  type RateLimitResponse_DescriptorStatus,
  RateLimitResponse_RateLimit_Unit,
  RateLimitServiceClient,
} from '../gen/envoy/service/ratelimit/v3/rls.js';

export interface CheckOptions {
  readonly address: string;
  readonly domain: string;
  /** One string per descriptor: "k=v[,k=v]...". */
  readonly descriptors: readonly string[];
  readonly hits?: number | undefined;
  readonly timeoutMs: number;
}

/** Exit codes of `check`: the answer is in the code too, for scripts. */
const CHECK_EXIT = { ok: 0, error: 1, overLimit: 2 } as const;

/** Parses "k=v,k2=v2" into entries; throws with a readable message. */
function parseDescriptorArg(text: string): { key: string; value: string }[] {
  return text.split(',').map((pair) => {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`--descriptor '${text}': expected key=value[,key=value...]`);
    return { key: pair.slice(0, at).trim(), value: pair.slice(at + 1).trim() };
  });
}

/** `ratelimit check`: one ShouldRateLimit call to a running service, printed for humans. */
export async function checkCommand(options: CheckOptions, out: (line: string) => void): Promise<number> {
  const request: RateLimitRequest = {
    domain: options.domain,
    descriptors: options.descriptors.map((text) => ({ entries: parseDescriptorArg(text) })),
    hitsAddend: options.hits ?? 0,
  };
  const client = new RateLimitServiceClient(options.address, credentials.createInsecure());
  try {
    const response = await new Promise<RateLimitResponse>((resolve, reject) => {
      client.shouldRateLimit(
        request,
        new Metadata(),
        { deadline: Date.now() + options.timeoutMs },
        (error, reply) => (error ? reject(error) : resolve(reply)),
      );
    });
    printResponse(request, response, out);
    return response.overallCode === RateLimitResponse_Code.OVER_LIMIT ? CHECK_EXIT.overLimit : CHECK_EXIT.ok;
  } catch (error) {
    const e = error as ServiceError;
    out(`error: ${e.details ?? e.message} (gRPC ${e.code ?? '?'}) from ${options.address}`);
    return CHECK_EXIT.error;
  } finally {
    client.close();
  }
}

function printResponse(
  request: RateLimitRequest,
  response: RateLimitResponse,
  out: (line: string) => void,
): void {
  out(`${codeName(response.overallCode)}  domain=${request.domain}`);
  response.statuses.forEach((status, i) => {
    const entries = request.descriptors[i]?.entries.map((e) => `${e.key}=${e.value}`).join(',') ?? '?';
    out(`  [${i}] ${entries}  ${describeStatus(status)}`);
  });
  for (const header of response.responseHeadersToAdd) out(`  header ${header.key}: ${header.value}`);
}

function describeStatus(status: RateLimitResponse_DescriptorStatus): string {
  const parts = [codeName(status.code)];
  const limit = status.currentLimit;
  if (limit === undefined) {
    parts.push(status.limitRemaining === 4_294_967_295 ? 'unlimited' : 'no limit applies');
  } else {
    const unit = RateLimitResponse_RateLimit_Unit[limit.unit]?.toLowerCase() ?? String(limit.unit);
    const name = limit.name === '' ? '' : ` (${limit.name})`;
    parts.push(`limit ${limit.requestsPerUnit}/${parseUnit(unit) ? unit : limit.unit}${name}`);
    parts.push(`remaining ${status.limitRemaining}`);
  }
  if (status.durationUntilReset !== undefined) parts.push(`reset in ${status.durationUntilReset.seconds}s`);
  return parts.join('  ');
}

function codeName(code: RateLimitResponse_Code): string {
  return RateLimitResponse_Code[code] ?? String(code);
}
