/**
 * The checkpoint thread's write window: how many of its PAIR writes (spec
 * checkpoint-algorithm.md §6.2, write_pair_for_checkpoint_thread) are in flight at once.
 *
 * PerconaFT's checkpoint thread writes each PAIR before it takes the next. With a window of 1
 * tokusim does the same; a larger window lets the disk work on several writes while the
 * checkpoint thread clones (or write-locks) the next PAIRs. The window changes when a write
 * runs, never what is written or what must be on disk before checkpoint_pending_pairs returns:
 * every write is a job of the checkpoint's background job manager (§2.6), so
 * bjm_wait_for_jobs_to_finish waits for the window to drain as it waits for client clone
 * writes. Why the window exists and its default size: docs/checkpoint.md.
 *
 * A write is started by the checkpoint thread holding its PAIR's locks (disk_nb_mutex, and
 * the write lock on the no-clone path); the window calls `release` to drop them once the write
 * settles, so a PAIR stays locked exactly as long as its write is in flight.
 *
 * Invariants:
 *  - `inFlight` and `bytesInFlight` count exactly the writes started and not yet settled; a
 *    pass (open) starts with both at 0.
 *  - A write starts only after `waitForSlot` found fewer than `maxWrites` (at least 1) writes in
 *    flight and, unless none is in flight, room for its bytes under `maxBytes`: one write may
 *    always run, however large. The window has one feeder (the checkpoint thread), which waits
 *    before each start, and meanwhile writes only settle, so the slot it found stays free. The
 *    size it starts with is the PAIR's size then, which a clone may have changed since the wait.
 *  - Each write's `release` runs exactly once, after the write settles (success or failure),
 *    and before its slot is given to a waiter.
 *  - Once a write of the pass fails, `failed` stays true until the next open; the error itself
 *    goes to the job manager, which rethrows it from waitForJobsToFinish.
 */

import { invariant } from '../base/errors.js';
import type { BackgroundJobManager } from './background-jobs.js';

/** A bounded number (and bytes) of checkpoint-thread writes in flight, each a background job. */
export class CheckpointWriteWindow {
  /** The most writes in flight at once; values below 1 count as 1. */
  maxWrites: number;
  /** The most bytes of PAIR values in flight at once, except that one write may always run. */
  maxBytes: number;
  private readonly jobs: BackgroundJobManager;
  private writes = 0;
  private bytes = 0;
  private waiters: Array<() => void> = [];
  private anyFailed = false;

  /** A window whose writes are counted as jobs of `jobs`. */
  constructor(jobs: BackgroundJobManager, maxWrites: number, maxBytes: number) {
    this.jobs = jobs;
    this.maxWrites = maxWrites;
    this.maxBytes = maxBytes;
  }

  /** How many writes are in flight, and their bytes (the sizes they were started with). */
  get inFlight(): number { return this.writes; }
  get bytesInFlight(): number { return this.bytes; }
  /** Whether a write of the current pass failed (the walk that feeds the window stops then). */
  get failed(): boolean { return this.anyFailed; }

  /** Start a pass (one checkpoint_pending_pairs): nothing may be in flight; forgets an earlier failure. */
  open(): void {
    invariant(this.writes === 0 && this.bytes === 0, 'no checkpoint write is in flight when checkpoint_pending_pairs starts');
    this.anyFailed = false;
  }

  /** Check that the pass drained: to be called after the job manager has no jobs left. */
  checkDrained(): void {
    invariant(this.writes === 0, () => `${this.writes} checkpoint write(s) still in flight after the jobs finished`);
  }

  /** Wait until a write of `size` bytes may start. */
  async waitForSlot(size: number): Promise<void> {
    const limit = Math.max(1, Math.floor(this.maxWrites));
    const full = (): boolean => this.writes >= limit || (this.writes > 0 && this.bytes + size > this.maxBytes);
    while (full()) await new Promise<void>((wake) => this.waiters.push(wake));
  }

  /**
   * Start `write` (of `size` bytes) as a background job; `release` drops the locks the write
   * holds once it settles. Called by the feeder after its waitForSlot.
   */
  start(size: number, write: () => Promise<void>, release: () => void): void {
    this.writes++;
    this.bytes += size;
    this.jobs.run(async () => {
      try {
        await write();
      } catch (err) {
        this.anyFailed = true;
        throw err;
      } finally {
        release();
        this.writes--;
        this.bytes -= size;
        const w = this.waiters.shift();
        w?.();
      }
    });
  }
}
