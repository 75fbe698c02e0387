/** A call waiting for the backend, as TickDeadlines tracks it. */
export interface DeadlineCall {
  /** True once the call has its answer; then `expire` is never called. */
  readonly settled: boolean;
  /** The budget ran out: answer without the backend. */
  expire(): void;
}

/** The calls of one tick; `add` returns it, `done` is called with it. */
export interface DeadlineGroup {
  readonly calls: DeadlineCall[];
  /** Calls not settled yet. */
  open: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Time budgets that judge the backend, not this process's event loop.
 *
 * - A budget starts when the tick's commands have been written, not when
 *   the call was made: the Redis store writes in a setImmediate, and the
 *   budgets of one tick are armed by a setImmediate queued after it. Under a
 *   burst the poll phase that accepts the calls can take longer than the
 *   budget itself; that time is ours, not Redis's.
 * - When a budget runs out, the calls are expired only after the next poll
 *   phase: an answer that is already waiting on the socket is read first and
 *   wins. A timer phase runs before the poll phase, so without this a busy
 *   loop times out replies that arrived long ago.
 *
 * The calls of one tick share one timer (cheaper than a timer per call),
 * cleared as soon as all of them are settled, so nothing outlives its answer.
 */
export class TickDeadlines {
  private filling: DeadlineGroup | undefined;

  constructor(private readonly budgetMs: number) {}

  /** Tracks `call` (made this tick, after its backend command was queued); call `done` with the result when it settles. */
  add(call: DeadlineCall): DeadlineGroup {
    let group = this.filling;
    if (group === undefined) {
      group = { calls: [], open: 0, timer: undefined };
      this.filling = group;
      setImmediate(this.arm);
    }
    group.calls.push(call);
    group.open++;
    return group;
  }

  /** A call of `group` settled (answered or expired). */
  done(group: DeadlineGroup): void {
    if (--group.open > 0) return;
    clearTimeout(group.timer);
    group.timer = undefined;
    group.calls.length = 0;
  }

  private readonly arm = (): void => {
    const group = this.filling;
    this.filling = undefined;
    if (group === undefined || group.open === 0) return;
    group.timer = setTimeout(() => setImmediate(expireGroup, group), this.budgetMs);
  };
}

function expireGroup(group: DeadlineGroup): void {
  // expire() settles the call, which calls done() and may empty the list: iterate a copy
  for (const call of [...group.calls]) if (!call.settled) call.expire();
}
