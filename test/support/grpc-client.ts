import {
  type ChannelCredentials,
  type ChannelOptions,
  credentials,
  Metadata,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  type RateLimitRequest,
  type RateLimitResponse,
  RateLimitServiceClient,
} from '../../src/gen/envoy/service/ratelimit/v3/rls.js';

export interface RlsTestClient {
  /** Resolves with the response; rejects with the grpc ServiceError (code, details). */
  shouldRateLimit(request: Partial<RateLimitRequest> & { domain: string }): Promise<RateLimitResponse>;
  close(): void;
}

/**
 * A grpc-js client of the generated RLS service, for integration tests.
 * grpc-js shares one connection among clients of the same address; pass
 * `{ 'grpc.use_local_subchannel_pool': 1 }` for a connection of its own.
 */
export function createRlsClient(
  address: string,
  options: ChannelOptions = {},
  channelCredentials: ChannelCredentials = credentials.createInsecure(),
): RlsTestClient {
  const client = new RateLimitServiceClient(address, channelCredentials, options);
  return {
    shouldRateLimit(request) {
      const full: RateLimitRequest = { descriptors: [], hitsAddend: 0, ...request };
      return new Promise((resolve, reject) => {
        client.shouldRateLimit(full, new Metadata(), { deadline: Date.now() + 5_000 }, (error, reply) =>
          error ? reject(error as ServiceError) : resolve(reply),
        );
      });
    },
    close: () => client.close(),
  };
}

/** Entries from "k=v" pairs, for terse tests. */
export function entries(...pairs: string[]): { key: string; value: string }[] {
  return pairs.map((pair) => {
    const at = pair.indexOf('=');
    return { key: pair.slice(0, at), value: pair.slice(at + 1) };
  });
}
