import type { Unit } from './units.js';

/** One key/value pair of a descriptor, in request order. */
export interface DescriptorEntry {
  readonly key: string;
  readonly value: string;
}

/** A limit Envoy chose itself and sent inside the descriptor. */
export interface LimitOverride {
  readonly requestsPerUnit: number;
  readonly unit: Unit;
}

/** One descriptor of a request, transport-free. */
export interface RequestDescriptor {
  readonly entries: readonly DescriptorEntry[];
  readonly limit?: LimitOverride | undefined;
  /** Per-descriptor cost; when defined it replaces the request's cost, and 0 means check only. */
  readonly hitsAddend?: number | undefined;
}

/** A ShouldRateLimit request, transport-free. */
export interface RateLimitRequest {
  readonly domain: string;
  readonly descriptors: readonly RequestDescriptor[];
  /** Request-level cost; 0 means 1 (Envoy relies on that). */
  readonly hitsAddend: number;
}

/** The cost charged for one descriptor: its own hits_addend if set (0 allowed), else the request's (0 → 1). */
export function hitsFor(request: RateLimitRequest, descriptor: RequestDescriptor): number {
  if (descriptor.hitsAddend !== undefined) return descriptor.hitsAddend;
  return request.hitsAddend === 0 ? 1 : request.hitsAddend;
}
