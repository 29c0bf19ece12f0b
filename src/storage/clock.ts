/**
 * Time, behind an interface so a seed can fix every interleaving (DESIGN.md principle 3).
 * RealClock reads the host clock; VirtualClock only moves when told to (advance / runUntilIdle),
 * firing due timers in time order, ties broken by creation order.
 *
 * Invariants:
 *  - nowMicros() never decreases.
 *  - A VirtualClock timer fires exactly once, at or after its due time, in due-time order.
 */
import { TokusimError, invariant } from '../base/errors.js';
import { nextMacrotask } from '../base/portable.js';

/** A scheduled timer of a {@link Clock}, which can be cancelled. */
export interface TimerHandle {
  /** Cancels the timer; its callback will not run (cancelling twice is harmless). */
  cancel(): void;
}

/** The source of time and timers for the engine: real ({@link RealClock}) or virtual and driven by a test ({@link VirtualClock}). */
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

function checkDelay(ms: number): void {
  if (!Number.isFinite(ms) || ms < 0) {
    throw new TokusimError('bad-argument', 'a timer delay must be a finite number >= 0', {
      expected: '>= 0',
      actual: String(ms),
    });
  }
}

/**
 * The host's clock. Wall time comes from the high-resolution clock anchored at process start
 * (performance.timeOrigin + performance.now()), clamped so it never goes backwards even if the
 * system clock is stepped.
 */
export class RealClock implements Clock {
  private lastMicros = 0n;

  nowMicros(): bigint {
    const now = BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1000));
    if (now > this.lastMicros) this.lastMicros = now;
    return this.lastMicros;
  }

  nowMs(): number {
    return performance.now();
  }

  sleep(ms: number): Promise<void> {
    checkDelay(ms);
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    checkDelay(ms);
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  }
}

interface VirtualTimer {
  readonly due: number;
  /** Creation order; breaks ties between timers due at the same moment. */
  readonly seq: number;
  readonly fn: () => void;
}

/** Let every pending promise continuation run (the microtask queue drains before a macrotask). */
function drainMicrotasks(): Promise<void> {
  return nextMacrotask();
}

/** Options for a {@link VirtualClock}. */
export interface VirtualClockOptions {
  /** Wall time at virtual ms 0, in microseconds since the epoch (default 2024-01-01T00:00Z). */
  startMicros?: bigint;
  /** runUntilIdle gives up (throws) after firing this many timers (default 1,000,000). */
  maxTimersPerRun?: number;
}

/**
 * A clock that moves only when the harness says so. Timers are kept sorted by (due, seq).
 * advance() and runUntilIdle() are async: before each timer fires, and after the last one,
 * they let pending promise continuations run, so code resumed by sleep() can schedule its next
 * timer before the clock moves on. That makes a run a pure function of the work and the seed.
 */
export class VirtualClock implements Clock {
  private now = 0;
  private nextSeq = 0;
  private timers: VirtualTimer[] = [];
  private firedCount = 0;
  private readonly startMicros: bigint;
  private readonly maxTimersPerRun: number;

  /** A virtual clock at virtual time 0 that moves only when the test advances it. */
  constructor(options: VirtualClockOptions = {}) {
    this.startMicros = options.startMicros ?? 1_704_067_200_000_000n;
    this.maxTimersPerRun = options.maxTimersPerRun ?? 1_000_000;
  }

  nowMicros(): bigint {
    return this.startMicros + BigInt(Math.floor(this.now * 1000));
  }

  nowMs(): number {
    return this.now;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.setTimer(ms, resolve);
    });
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    checkDelay(ms);
    const timer: VirtualTimer = { due: this.now + ms, seq: this.nextSeq++, fn };
    // Insert after every timer that sorts before or equal to it (keeps creation order on ties).
    let i = this.timers.length;
    while (i > 0 && this.timers[i - 1]!.due > timer.due) i--;
    this.timers.splice(i, 0, timer);
    return {
      cancel: () => {
        const at = this.timers.indexOf(timer);
        if (at >= 0) this.timers.splice(at, 1);
      },
    };
  }

  /** Number of timers not yet fired or cancelled. */
  pendingTimers(): number {
    return this.timers.length;
  }

  /** Due time (virtual ms) of the next timer, or undefined when none is pending. */
  nextDueMs(): number | undefined {
    return this.timers[0]?.due;
  }

  /** Total timers fired since construction. */
  timersFired(): number {
    return this.firedCount;
  }

  /** Move time forward by ms, firing every timer that falls due on the way, in order. */
  async advance(ms: number): Promise<void> {
    checkDelay(ms);
    const target = this.now + ms;
    await drainMicrotasks();
    for (;;) {
      const next = this.timers[0];
      if (next === undefined || next.due > target) break;
      this.fire(next);
      await drainMicrotasks();
    }
    this.now = target;
    await drainMicrotasks();
  }

  /** Fire timers (moving time to each one's due time) until none is pending. */
  async runUntilIdle(): Promise<void> {
    let fired = 0;
    await drainMicrotasks();
    for (;;) {
      const next = this.timers[0];
      if (next === undefined) break;
      if (++fired > this.maxTimersPerRun) {
        throw new TokusimError(
          'bad-argument',
          `runUntilIdle fired more than ${this.maxTimersPerRun} timers; some timer keeps rescheduling itself (use advance)`,
        );
      }
      this.fire(next);
      await drainMicrotasks();
    }
  }

  private fire(timer: VirtualTimer): void {
    invariant(timer.due >= this.now, () => `timer due at ${timer.due} fires at ${this.now}`);
    this.timers.shift();
    this.now = timer.due;
    this.firedCount++;
    timer.fn();
  }
}
