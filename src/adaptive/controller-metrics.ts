/**
 * What the adaptive engine reports per controller; the metrics module implements it with
 * series bound once per controller (so reporting costs no label lookup), tests with a
 * recorder. Every method must be cheap and must not throw.
 */
export interface ControllerMetrics {
  /** The controller's computed factor (error_rate; reported in shadow mode too). */
  factor(value: number): void;
  /** Values in the penalty box now (abuse). */
  boxed(count: number): void;
  /** A request a shadow-mode controller would have limited (factor < 1) but did not. */
  shadowed(): void;
  /** The shared state could not be read or written: the configured limits apply meanwhile. */
  stateError(): void;
  /** The controller left the config: drop its series. */
  remove(): void;
}

/** Makes the metrics of one controller. */
export type ControllerMetricsFactory = (
  domain: string,
  controller: string,
  type: 'error_rate' | 'abuse',
) => ControllerMetrics;

/** Reports nothing (no metrics module, e.g. `validate`). */
export const NO_CONTROLLER_METRICS: ControllerMetricsFactory = () => ({
  factor: () => {},
  boxed: () => {},
  shadowed: () => {},
  stateError: () => {},
  remove: () => {},
});
