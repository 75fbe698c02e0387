/**
 * The framework ceiling for `make bench`: a grpc-js server with the same generated
 * RateLimitService definition that decodes each request and answers OK (one OK status
 * per descriptor), doing no rate limiting at all. Run as its own process by bench/run.ts.
 *
 * Usage: node dist/bench/bench/noop-server.js <port>
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import {
  RateLimitResponse_Code,
  type RateLimitServiceServer,
  RateLimitServiceService,
} from '../src/gen/envoy/service/ratelimit/v3/rls.js';

const port = Number(process.argv[2] ?? 0);
const server = new Server();
const impl: RateLimitServiceServer = {
  shouldRateLimit(call, callback) {
    callback(null, {
      overallCode: RateLimitResponse_Code.OK,
      statuses: call.request.descriptors.map(() => ({ code: RateLimitResponse_Code.OK, limitRemaining: 0 })),
      responseHeadersToAdd: [],
      requestHeadersToAdd: [],
      rawBody: Buffer.alloc(0),
    });
  },
};
server.addService(RateLimitServiceService, impl);
server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error, bound) => {
  if (error) {
    process.stderr.write(`noop-server: ${error.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`listening ${bound}\n`);
});
const stop = () => server.tryShutdown(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
