import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensurePythonGrpc,
  type GrpcError,
  generateStubs,
  killPythonChildren,
  RLS_PROTOS,
  type RlsCall,
  type RlsResult,
  removeStubs,
  rlsAnswer,
  runClient,
  SIGNAL_PROTOS,
} from '../support/python-grpc.js';
import { startServer, type TestServer } from '../support/server.js';

/*
 * The adaptive signal API's gRPC form (ratelimit.adaptive.v1.SignalService) through Python's
 * gRPC (Debian python3-grpcio, C-core), with stubs generated at test time from proto/: the
 * real server in-process, its answers to signals, and their effect on ShouldRateLimit as the
 * same Python stack sees it.
 */

const TOKEN = 'python-signal-token';
const CONFIG = {
  'signals.yaml': `domain: sig
adaptive:
  - name: health
    type: error_rate
    match: {}
    error_threshold: 0.2
    min_samples: 10
    interval: 1s
    decrease: 0.5
    increase: 0.1
    floor: 0.1
  - name: abusers
    type: abuse
    over_limit_ratio: 0.5
    spike: 10
    min_requests: 50
    interval: 10s
    penalty: {factor: 0, ttl: 60s}
descriptors:
  - key: path
    value: /checkout
    rate_limit: {unit: minute, requests_per_unit: 100}
    adaptive: [health]
  - key: remote_address
    rate_limit: {unit: minute, requests_per_unit: 600}
    adaptive: [abusers]
`,
};

type SignalResult = { ok: true } | GrpcError;
interface SignalCall {
  rpc: 'RecordErrorRate' | 'Penalize';
  token?: string;
  request: Record<string, string | number>;
}

let server: TestServer;
let stubs: string;

async function signal(target: string, calls: SignalCall[], token?: string): Promise<SignalResult[]> {
  const command = ['signal', ...(token === undefined ? [] : ['--token', token])];
  const results = await runClient<SignalResult>(target, stubs, command, calls);
  expect(results).toHaveLength(calls.length);
  return results;
}

async function rls(calls: RlsCall[]): Promise<RlsResult[]> {
  const results = await runClient<RlsResult>(server.grpcAddress, stubs, ['rls'], calls);
  expect(results).toHaveLength(calls.length);
  return results;
}

const sample = (request: Record<string, string | number>, token?: string): SignalCall => ({
  rpc: 'RecordErrorRate',
  request: { domain: 'sig', ...request },
  ...(token === undefined ? {} : { token }),
});
const checkout: RlsCall = {
  domain: 'sig',
  descriptors: [{ entries: [['path', '/checkout']], hits_addend: 0 }],
};
const client = (ip: string): RlsCall => ({
  domain: 'sig',
  descriptors: [{ entries: [['remote_address', ip]] }],
});

beforeAll(async () => {
  await ensurePythonGrpc();
  stubs = await generateStubs([...RLS_PROTOS, ...SIGNAL_PROTOS]);
  server = await startServer({ config: CONFIG, env: { ADAPTIVE_SIGNAL_TOKEN: TOKEN } });
}, 300_000);

afterAll(async () => {
  killPythonChildren();
  await server?.stop();
  await removeStubs(stubs);
});

describe('SignalService through Python grpcio', () => {
  it('answers UNAUTHENTICATED to a wrong token, INVALID_ARGUMENT to an unknown controller and to errors > total', async () => {
    const results = await signal(
      server.grpcAddress,
      [
        sample({ controller: 'health', total: 20, errors: 10 }, 'wrong-token'),
        sample({ controller: 'no-such-controller', total: 20, errors: 10 }),
        sample({ controller: 'health', total: 5, errors: 6 }),
      ],
      TOKEN,
    );
    expect(results[0]).toMatchObject({ grpc_error: 'UNAUTHENTICATED' });
    expect(results[1]).toMatchObject({ grpc_error: 'INVALID_ARGUMENT' });
    expect((results[1] as GrpcError).details).toContain('no-such-controller');
    expect(results[2]).toMatchObject({ grpc_error: 'INVALID_ARGUMENT' });
    expect((results[2] as GrpcError).details).toMatch(/errors/);
    // Nothing was recorded by the refused calls: the limit is still the configured one.
    const [before] = (await rls([checkout])).map(rlsAnswer);
    expect(before?.statuses[0]?.current_limit).toMatchObject({ requests_per_unit: 100, unit: 'MINUTE' });
  });

  it('accepts a sample (OK) and Python RLS sees the node limit halved once its interval closes', async () => {
    expect(
      await signal(server.grpcAddress, [sample({ controller: 'health', total: 20, errors: 10 })], TOKEN),
    ).toEqual([{ ok: true }]);
    // interval 1s + close delay 1.5s + one 1s tick, with room for a shared machine.
    const deadline = Date.now() + 8_000;
    let limit: number | undefined;
    for (;;) {
      const [answer] = (await rls([checkout])).map(rlsAnswer);
      limit = answer?.statuses[0]?.current_limit?.requests_per_unit;
      if (limit !== 100 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(limit).toBe(50);
  }, 20_000);

  it('blocks a penalised remote_address at once (factor 0) and leaves another one alone', async () => {
    const penalty: SignalCall = {
      rpc: 'Penalize',
      request: { domain: 'sig', controller: 'abusers', value: '6.6.6.6', ttl: '60s', reason: 'python e2e' },
    };
    expect(await signal(server.grpcAddress, [penalty], TOKEN)).toEqual([{ ok: true }]);
    const [blocked, other] = (await rls([client('6.6.6.6'), client('1.1.1.1')])).map(rlsAnswer);
    expect(blocked?.overall_code).toBe('OVER_LIMIT');
    expect(other?.overall_code).toBe('OK');
  });

  it('answers PERMISSION_DENIED when the server has no token configured', async () => {
    const tokenless = await startServer({ config: CONFIG });
    try {
      const results = await signal(
        tokenless.grpcAddress,
        [
          sample({ controller: 'health', total: 20, errors: 10 }),
          sample({ controller: 'health', total: 20, errors: 10 }, ''),
        ],
        TOKEN,
      );
      expect(results.map((r) => ('grpc_error' in r ? r.grpc_error : 'OK'))).toEqual([
        'PERMISSION_DENIED',
        'PERMISSION_DENIED',
      ]);
    } finally {
      await tokenless.stop();
    }
  });
});
