import type { SignalOutcome, SignalSink } from '../../src/adaptive/signal-sink.js';
import type { ErrorSampleKey, ErrorSampleSink } from '../../src/adaptive/signals/access-log-classifier.js';

/**
 * Recording fakes of the adaptive engine's two sinks, for testing the
 * transports: a signal to controller "unknown" is refused as the engine refuses
 * an unknown controller, one to "explode" throws.
 */
export class RecordingSignalSink implements SignalSink {
  readonly calls: unknown[][] = [];

  errorRate(domain: string, controller: string, total: number, errors: number): SignalOutcome {
    return this.answer(controller, ['errorRate', domain, controller, total, errors]);
  }

  penalize(domain: string, controller: string, value: string, ttlMs: number, reason: string): SignalOutcome {
    return this.answer(controller, ['penalize', domain, controller, value, ttlMs, reason]);
  }

  private answer(controller: string, call: unknown[]): SignalOutcome {
    if (controller === 'explode') throw new Error('sink failure');
    if (controller === 'unknown') return { ok: false, reason: `domain has no controller "${controller}"` };
    this.calls.push(call);
    return { ok: true };
  }
}

export class RecordingErrorSampleSink implements ErrorSampleSink {
  readonly calls: { key: ErrorSampleKey; total: number; errors: number; upstream429: number }[] = [];

  record(key: ErrorSampleKey, total: number, errors: number, upstream429: number): void {
    this.calls.push({ key, total, errors, upstream429 });
  }
}
