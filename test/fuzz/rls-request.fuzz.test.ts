import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RateLimitError } from '../../src/core/errors.js';
import { decodeRateLimitRequest } from '../../src/grpc/rls-request-decoder.js';
import { DEFAULT_REQUEST_LIMITS } from '../../src/service/request-validation.js';
import { fuzzBudget } from '../support/fuzz-budget.js';
import { anyMessage, boundaryMessage, fuzzService, mutatedMessage } from '../support/fuzz-requests.js';
import { decodeWithGenerated } from '../support/rls-wire.js';

/*
 * ShouldRateLimit messages through the decoder and the service, in process
 * (memory store): every message is decided or rejected with INVALID_ARGUMENT
 * and a message; nothing else is ever thrown. When the decoder accepts a
 * message, the generated decoder reads the same request from it.
 */

const budget = fuzzBudget();
const service = fuzzService();

async function decideOrReject(bytes: Buffer): Promise<void> {
  let request: ReturnType<typeof decodeRateLimitRequest>;
  try {
    request = decodeRateLimitRequest(bytes, DEFAULT_REQUEST_LIMITS);
  } catch (error) {
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).code).toBe('INVALID_ARGUMENT');
    expect((error as Error).message).not.toBe('');
    return;
  }
  expect(request).toEqual(decodeWithGenerated(bytes));
  try {
    const result = await service.shouldRateLimit(request);
    expect(['OK', 'OVER_LIMIT']).toContain(result.overallCode);
    expect(result.statuses).toHaveLength(request.descriptors.length);
  } catch (error) {
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).code).toBe('INVALID_ARGUMENT');
    expect((error as Error).message).not.toBe('');
  }
}

describe('ShouldRateLimit requests, decoder and service in process', () => {
  it(
    'decides or rejects with INVALID_ARGUMENT any mix of random, mutated, boundary and valid messages',
    async () => {
      await fc.assert(fc.asyncProperty(anyMessage, decideOrReject), budget.params);
    },
    budget.testTimeoutMs,
  );

  it(
    'decides or rejects with INVALID_ARGUMENT mutated valid encodings',
    async () => {
      await fc.assert(fc.asyncProperty(mutatedMessage, decideOrReject), budget.params);
    },
    budget.testTimeoutMs,
  );

  it(
    'decides or rejects with INVALID_ARGUMENT messages with every field at and around its bound',
    async () => {
      await fc.assert(fc.asyncProperty(boundaryMessage, decideOrReject), budget.params);
    },
    budget.testTimeoutMs,
  );
});
