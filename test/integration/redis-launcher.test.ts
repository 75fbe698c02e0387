import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { startRedisServer } from '../support/redis-server.js';

describe('test Redis launcher', () => {
  it('starts a real redis-server on a loopback port and stops it by PID', async () => {
    const server = await startRedisServer();
    const client = new Redis(server.url);
    expect(await client.incr('x')).toBe(1);
    client.disconnect();
    await server.stop();
    expect(server.process.exitCode !== null || server.process.signalCode !== null).toBe(true);
  });
});
