/**
 * CheckpointWriteWindow on its own: the bound on writes and bytes in flight, one write always
 * allowed, release after the write and before the slot is handed on, failures remembered for the
 * pass and handed to the job manager, every write counted as a job.
 * (test/checkpoint/write-window.test.ts drives the same window through whole checkpoints.)
 */
import { describe, expect, it } from 'vitest';
import { BackgroundJobManager } from '../../src/cachetable/background-jobs.js';
import { CheckpointWriteWindow } from '../../src/cachetable/write-window.js';

/** Let every pending promise continuation run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

/** A write that lands (or fails) when the test says so. */
interface Gate {
  readonly write: () => Promise<void>;
  land(): void;
  fail(err: Error): void;
}

function gate(): Gate {
  let land!: () => void;
  let fail!: (err: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    land = resolve;
    fail = reject;
  });
  return { write: () => done, land, fail };
}

/** Whether `p` has settled after the pending continuations ran. */
async function isSettled(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await settle();
  return settled;
}

function newWindow(maxWrites: number, maxBytes = Number.POSITIVE_INFINITY): { jobs: BackgroundJobManager; w: CheckpointWriteWindow } {
  const jobs = new BackgroundJobManager('test clones');
  return { jobs, w: new CheckpointWriteWindow(jobs, maxWrites, maxBytes) };
}

describe('CheckpointWriteWindow', () => {
  // Scenario: a window of 2 takes two writes at once; the third waits until one of them lands.
  it('Scenario: at most maxWrites writes are in flight; a waiter starts when one lands', async () => {
    const { jobs, w } = newWindow(2);
    w.open();
    const gates = [gate(), gate(), gate()];
    for (const g of gates.slice(0, 2)) {
      await w.waitForSlot(10);
      w.start(10, g.write, () => {});
    }
    expect(w.inFlight).toBe(2);
    expect(w.bytesInFlight).toBe(20);
    expect(jobs.numJobs).toBe(2);
    const third = w.waitForSlot(10);
    expect(await isSettled(third)).toBe(false);
    gates[1]!.land();
    expect(await isSettled(third)).toBe(true);
    expect(w.inFlight).toBe(1);
    expect(w.bytesInFlight).toBe(10);
    w.start(10, gates[2]!.write, () => {});
    expect(w.inFlight).toBe(2);
    gates[0]!.land();
    gates[2]!.land();
    await jobs.waitForJobsToFinish();
    expect(w.inFlight).toBe(0);
    expect(w.bytesInFlight).toBe(0);
    w.checkDrained();
  });

  // Scenario: a window of 1 (PerconaFT's one write at a time) and windows below 1 behave alike.
  for (const maxWrites of [1, 0, 0.5, -3]) {
    it(`Scenario: a window of ${maxWrites} lets exactly one write run at a time`, async () => {
      const { jobs, w } = newWindow(maxWrites);
      w.open();
      await w.waitForSlot(1);
      const g = gate();
      w.start(1, g.write, () => {});
      const next = w.waitForSlot(1);
      expect(await isSettled(next)).toBe(false);
      g.land();
      expect(await isSettled(next)).toBe(true);
      await jobs.waitForJobsToFinish();
    });
  }

  // Scenario: the byte bound holds back a second write that would not fit, but never the first,
  // however large.
  it('Scenario: one write may always run; a second waits while its bytes do not fit under maxBytes', async () => {
    const { jobs, w } = newWindow(16, 100);
    w.open();
    expect(await isSettled(w.waitForSlot(500))).toBe(true);
    const big = gate();
    w.start(500, big.write, () => {});
    const small = w.waitForSlot(1);
    expect(await isSettled(small)).toBe(false);
    big.land();
    expect(await isSettled(small)).toBe(true);
    const a = gate();
    w.start(60, a.write, () => {});
    // 60 + 40 fits exactly; 60 + 41 does not.
    expect(await isSettled(w.waitForSlot(40))).toBe(true);
    const tooBig = w.waitForSlot(41);
    expect(await isSettled(tooBig)).toBe(false);
    a.land();
    expect(await isSettled(tooBig)).toBe(true);
    await jobs.waitForJobsToFinish();
  });

  // Scenario: a PAIR's locks are dropped once its write has landed, and before a waiting feeder
  // gets the slot (so the next write never finds the previous PAIR still locked by the window).
  it('Scenario: release runs after the write settles and before the slot goes to a waiter', async () => {
    const { jobs, w } = newWindow(1);
    w.open();
    const order: string[] = [];
    const g = gate();
    await w.waitForSlot(1);
    w.start(1, async () => {
      await g.write();
      order.push('written');
    }, () => order.push('released'));
    const next = w.waitForSlot(1).then(() => order.push('slot'));
    await settle();
    expect(order).toEqual([]);
    g.land();
    await next;
    expect(order).toEqual(['written', 'released', 'slot']);
    await jobs.waitForJobsToFinish();
  });

  // Scenario: a failed write still releases its locks and its slot; the window reports the failure
  // until the next pass, and the job manager rethrows the error.
  it('Scenario: a failed write is released, marks the pass failed and is rethrown by the job manager', async () => {
    const { jobs, w } = newWindow(2);
    w.open();
    const released: string[] = [];
    const bad = gate();
    const good = gate();
    w.start(5, bad.write, () => released.push('bad'));
    w.start(5, good.write, () => released.push('good'));
    expect(w.failed).toBe(false);
    bad.fail(new Error('injected write failure'));
    await settle();
    expect(w.failed).toBe(true);
    expect(released).toEqual(['bad']);
    expect(w.inFlight).toBe(1);
    good.land();
    await expect(jobs.waitForJobsToFinish()).rejects.toThrow(/injected write failure/);
    expect(released).toEqual(['bad', 'good']);
    expect(w.inFlight).toBe(0);
    expect(w.bytesInFlight).toBe(0);
    w.checkDrained();
    jobs.reset();
    w.open();
    expect(w.failed).toBe(false);
  });

  // Scenario: the job manager's wait (bjm_wait_for_jobs_to_finish) is the wait for the window.
  it('Scenario: waitForJobsToFinish resolves only after every write in the window has landed', async () => {
    const { jobs, w } = newWindow(4);
    w.open();
    const gates = [gate(), gate(), gate()];
    for (const g of gates) w.start(1, g.write, () => {});
    const drained = jobs.waitForJobsToFinish();
    gates[0]!.land();
    gates[2]!.land();
    expect(await isSettled(drained)).toBe(false);
    expect(w.inFlight).toBe(1);
    gates[1]!.land();
    await drained;
    expect(w.inFlight).toBe(0);
  });

  // Scenario: opening a pass while writes are in flight, or checking a window that has not
  // drained, is a broken invariant, reported as such.
  it('Scenario: open refuses writes in flight and checkDrained refuses an undrained window', async () => {
    const { jobs, w } = newWindow(2);
    w.open();
    const g = gate();
    w.start(3, g.write, () => {});
    expect(() => w.open()).toThrow(/no checkpoint write is in flight/);
    expect(() => w.checkDrained()).toThrow(/1 checkpoint write\(s\) still in flight/);
    g.land();
    await jobs.waitForJobsToFinish();
    expect(() => w.checkDrained()).not.toThrow();
    expect(() => w.open()).not.toThrow();
  });
});
