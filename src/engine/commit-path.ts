/**
 * The commit path's log side (docs/engine.md): appending records, and making the log durable
 * as far as a commit's durability mode asks before the commit becomes visible: 'sync' always
 * (a group commit: concurrent commits share one fsync, see LogWriter.fsync), 'periodic' when
 * the last sync started periodMs or more ago, 'none' never (the next checkpoint makes it
 * durable); plus the periodic fsync timer.
 *
 * Invariants:
 *  - Whether a commit waits is decided synchronously: a commit that needs no sync adds no
 *    await (no change of schedule). In 'sync' mode "no wait" means the records are durable
 *    already: a solo commit's write done synchronously by LogWriter.syncSoloNow.
 *  - 'periodic' bound: a commit acknowledged without waiting was logged less than periodMs
 *    after the start of the last durable write or fsync, even when the host's event loop is
 *    too busy to run the fsync timer.
 *  - A failed append or fsync on the commit path goes through `fail` (the environment's
 *    failed state) and rejects with the error it returns; a commit whose wait failed is
 *    'failed', never visible.
 */
import type { MachineHalted } from '../storage/storage.js';
import type { Clock, TimerHandle } from '../storage/clock.js';
import type { TokusimError } from '../base/errors.js';
import type { LogRecordInput, LogWriter } from '../log/writer.js';
import type { Durability } from './core.js';
import type { TxnState } from './txn.js';

/** How a CommitPath waits: the durability mode, its period and the clock that measures it. */
export interface CommitPathOptions {
  durability: Durability;
  /** fsync period for 'periodic'. */
  periodMs: number;
  clock: Clock;
}

/** A transaction as far as its commit's wait goes. */
export interface CommitWaiter {
  state: TxnState;
}

/** The log side of committing, for one log writer. */
export class CommitPath {
  private fsyncTimer: TimerHandle | undefined;

  /** Commits through writer; `fail` records the failed state for a cause and returns the error to throw. */
  constructor(
    readonly writer: LogWriter,
    private readonly opts: CommitPathOptions,
    private readonly fail: (cause: unknown) => TokusimError | MachineHalted,
  ) {}

  /** Append a record; returns its LSN. The writer refuses once a write or fsync failed (possibly in the background). */
  log(rec: LogRecordInput): bigint {
    try {
      return this.writer.append(rec);
    } catch (err) {
      throw this.fail(err);
    }
  }

  /**
   * What a commit logged at lsn waits for before its write set is applied, or undefined when
   * its mode asks for no wait or its records are already durable (a solo write done at once,
   * LogWriter.syncSoloNow). `solo`: see LogWriter.fsync.
   */
  commitDurable(lsn: bigint, solo: boolean): Promise<void> | undefined {
    const { durability, clock, periodMs } = this.opts;
    if (durability === 'none') return undefined;
    if (durability === 'periodic' && clock.nowMs() - this.writer.lastSyncStartMs < periodMs) return undefined;
    if (solo) {
      // A solo commit whose write the writer can do right now waits for nothing after it.
      try {
        if (this.writer.syncSoloNow(lsn)) return undefined;
      } catch (err) {
        return Promise.reject(this.fail(err));
      }
    }
    return this.writer.fsync(lsn, { solo }).catch((err: unknown) => {
      throw this.fail(err);
    });
  }

  /** Wait for a commit's log write; if it fails, the transaction is 'failed' (never visible). */
  static async failTxnUnless(txn: CommitWaiter, durable: Promise<void>): Promise<void> {
    try {
      await durable;
    } catch (err) {
      txn.state = 'failed';
      throw err;
    }
  }

  /** Make the log durable up to lsn; a failure puts the environment in its failed state. */
  async sync(lsn: bigint): Promise<void> {
    try {
      await this.writer.fsync(lsn);
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** In 'periodic' mode, fsync the log every periodMs until stopped or `closed` says so (a failure is noticed by the next operation). */
  startPeriodicFsync(closed: () => boolean): void {
    if (this.opts.durability !== 'periodic') return;
    const tick = (): void => {
      this.fsyncTimer = this.opts.clock.setTimer(this.opts.periodMs, () => {
        if (closed()) return;
        this.writer.fsync().then(tick, () => undefined);
      });
    };
    tick();
  }

  /** Stop the periodic fsync timer. */
  stop(): void {
    this.fsyncTimer?.cancel();
  }
}
