/**
 * Background job manager (spec §2.6, bjm_*): counts clone writes in flight so the
 * checkpointer can wait for them at the end of checkpoint_pending_pairs.
 *
 * Invariants:
 *  - add() succeeds only while accepting; reset() requires zero jobs.
 *  - waitForJobsToFinish() stops accepting and resolves once the count is zero.
 *  - A failed job is remembered and rethrown by waitForJobsToFinish (never lost).
 */

import { invariant } from '../base/errors.js';

/** Counts background jobs (clone writes) in flight, so that the checkpointer can stop accepting new ones and wait for those running. */
export class BackgroundJobManager {
  /** The manager's name, for messages. */
  readonly name: string;
  private accepting = true;
  private jobs = 0;
  private waiters: Array<() => void> = [];
  private failure: unknown = undefined;

  /** A manager named name, accepting jobs, with none running. */
  constructor(name: string) {
    this.name = name;
  }

  /** How many jobs are running. */
  get numJobs(): number { return this.jobs; }
  /** False once waitForJobsToFinish() has stopped accepting jobs (until reset()). */
  get acceptingJobs(): boolean { return this.accepting; }

  /** bjm_add_background_job, asserting success as the checkpointer does. */
  add(): void {
    invariant(this.accepting, () => `${this.name}: job added after the manager stopped accepting`);
    this.jobs++;
  }

  /** Ends one job; a failure passed here is kept and rethrown by waitForJobsToFinish. */
  remove(failure?: unknown): void {
    invariant(this.jobs > 0, () => `${this.name}: job removed with none outstanding`);
    if (failure !== undefined && this.failure === undefined) this.failure = failure;
    this.jobs--;
    if (this.jobs === 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const wake of w) wake();
    }
  }

  /** Run job as a background job: counted until it settles. */
  run(job: () => Promise<void>): void {
    this.add();
    void job().then(
      () => this.remove(),
      (err: unknown) => this.remove(err ?? new Error('background job failed')),
    );
  }

  /** Stops accepting jobs and resolves when none is running; rejects with the first job failure. */
  async waitForJobsToFinish(): Promise<void> {
    this.accepting = false;
    if (this.jobs > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
    if (this.failure !== undefined) {
      const f = this.failure;
      this.failure = undefined;
      throw f;
    }
  }

  /** Accepts jobs again; throws an invariant error while jobs are outstanding. */
  reset(): void {
    invariant(this.jobs === 0, () => `${this.name}: reset with ${this.jobs} job(s) outstanding`);
    this.accepting = true;
  }
}
