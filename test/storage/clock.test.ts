import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RealClock, VirtualClock } from '../../src/storage/clock.js';
import { TokusimError } from '../../src/base/errors.js';

describe('VirtualClock', () => {
  // Property: timers fire in due-time order, and timers due at the same time fire in creation order.
  it('Property: timers fire sorted by due time, ties in creation order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 30 }), async (delays) => {
        const clock = new VirtualClock();
        const fired: number[] = [];
        delays.forEach((d, i) => clock.setTimer(d, () => fired.push(i)));
        await clock.runUntilIdle();
        const expected = delays.map((d, i) => ({ d, i })).sort((a, b) => a.d - b.d || a.i - b.i).map((x) => x.i);
        expect(fired).toEqual(expected);
        expect(clock.pendingTimers()).toBe(0);
      }),
      { numRuns: 100, seed: 17 },
    );
  });

  // Property: each timer fires exactly once, at exactly its due time, and only once time reaches it.
  it('Property: advance fires exactly the timers due by the new time, each at its due time', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 6 }),
        async (delays, steps) => {
          const clock = new VirtualClock();
          const firedAt = new Map<number, number>();
          delays.forEach((d, i) =>
            clock.setTimer(d, () => {
              expect(firedAt.has(i)).toBe(false);
              firedAt.set(i, clock.nowMs());
            }),
          );
          let t = 0;
          for (const step of steps) {
            await clock.advance(step);
            t += step;
            expect(clock.nowMs()).toBe(t);
            delays.forEach((d, i) => {
              if (d <= t) expect(firedAt.get(i)).toBe(d);
              else expect(firedAt.has(i)).toBe(false);
            });
          }
        },
      ),
      { numRuns: 100, seed: 18 },
    );
  });

  it('Scenario: sleep resolves only once time is advanced to it', async () => {
    const clock = new VirtualClock();
    let done = false;
    void clock.sleep(50).then(() => {
      done = true;
    });
    await clock.advance(49);
    expect(done).toBe(false);
    await clock.advance(1);
    expect(done).toBe(true);
  });

  it('Scenario: a loop of sleeps (a periodic checkpointer) runs once per period as time advances', async () => {
    const clock = new VirtualClock();
    const ticks: number[] = [];
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        await clock.sleep(10);
        ticks.push(clock.nowMs());
      }
    })();
    await clock.advance(55);
    expect(ticks).toEqual([10, 20, 30, 40, 50]);
    stop = true;
    await clock.advance(10);
    await loop;
    expect(ticks).toEqual([10, 20, 30, 40, 50, 60]);
  });

  it('Scenario: a cancelled timer never fires', async () => {
    const clock = new VirtualClock();
    let fired = 0;
    const h = clock.setTimer(5, () => fired++);
    clock.setTimer(6, () => fired++);
    h.cancel();
    await clock.advance(10);
    expect(fired).toBe(1);
    expect(clock.timersFired()).toBe(1);
  });

  it('Scenario: nowMicros starts at the chosen epoch, moves 1000 per ms and never decreases', async () => {
    const clock = new VirtualClock({ startMicros: 5_000_000n });
    expect(clock.nowMicros()).toBe(5_000_000n);
    await clock.advance(2.5);
    expect(clock.nowMicros()).toBe(5_002_500n);
    await clock.advance(0);
    expect(clock.nowMicros()).toBe(5_002_500n);
  });

  it('Scenario: runUntilIdle refuses to spin forever on a timer that keeps rescheduling itself', async () => {
    const clock = new VirtualClock({ maxTimersPerRun: 50 });
    const again = (): void => {
      clock.setTimer(1, again);
    };
    clock.setTimer(1, again);
    await expect(clock.runUntilIdle()).rejects.toBeInstanceOf(TokusimError);
    expect(clock.timersFired()).toBe(50);
  });

  it('Scenario: a negative or non-finite delay is a bad-argument error', () => {
    const clock = new VirtualClock();
    expect(() => clock.setTimer(-1, () => {})).toThrow(TokusimError);
    expect(() => clock.setTimer(Number.NaN, () => {})).toThrow(TokusimError);
  });
});

describe('RealClock', () => {
  it('Scenario: time never goes backwards and sleep and timers complete', async () => {
    const clock = new RealClock();
    const a = clock.nowMicros();
    const ms = clock.nowMs();
    await clock.sleep(2);
    let fired = false;
    await new Promise<void>((resolve) => clock.setTimer(1, () => ((fired = true), resolve())));
    expect(fired).toBe(true);
    expect(clock.nowMicros() >= a).toBe(true);
    expect(clock.nowMs() >= ms).toBe(true);
    // Microseconds since the epoch: after 2020-01-01.
    expect(a > 1_577_836_800_000_000n).toBe(true);
  });

  it('Scenario: a cancelled real timer does not fire', async () => {
    const clock = new RealClock();
    let fired = false;
    clock.setTimer(1, () => (fired = true)).cancel();
    await clock.sleep(5);
    expect(fired).toBe(false);
  });
});
