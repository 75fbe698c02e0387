/** The service's source of time. Only `systemClock` reads the real clock. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  nowMs(): number;
}
