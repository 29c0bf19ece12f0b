/**
 * Time, behind an interface so a seed can fix every interleaving (DESIGN.md principle 3).
 * RealClock reads the host clock; VirtualClock only moves when told to (advance / runUntilIdle),
 * firing due timers in time order, ties broken by creation order.
 *
 * Invariants:
 *  - nowMicros() never decreases.
 *  - A VirtualClock timer fires exactly once, at or after its due time, in due-time order.
 */

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Microseconds since the Unix epoch (PerconaFT's timestamp unit). */
  nowMicros(): bigint;
  /** Milliseconds, for durations; monotonic. */
  nowMs(): number;
  /** Resolve after ms milliseconds of this clock's time. */
  sleep(ms: number): Promise<void>;
  /** Call fn after ms milliseconds of this clock's time. */
  setTimer(ms: number, fn: () => void): TimerHandle;
}
