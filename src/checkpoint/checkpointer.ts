/**
 * The sharp checkpointer (spec checkpoint-algorithm.md §4–§6, §8, §9; recovery.md §9):
 * toku_checkpoint's five steps, the periodic thread on a Clock, status counters, the stage
 * report, trace events and the named crash hooks of DESIGN.md principle 4.
 *
 * Invariants:
 *  - Checkpoints never overlap: the checkpoint-safe lock is held in write mode for the whole
 *    of one, and the global lock order (locks.ts) is checked.
 *  - Steps run in the spec's order: CS(W) → low-priority MO(W) → MO(W) → open/close; begin
 *    (pin cachefiles, log begin_checkpoint unsynced, one fassociate per participating file,
 *    one xstillopen[prepared] per non-read-only live txn, pending bits + header clones under
 *    the four cachetable locks); release the three begin locks; end (pending pairs, headers,
 *    end_checkpoint fsynced, rotate translations, unpin cachefiles); trim; status; release CS.
 *  - end_checkpoint carries the begin LSN, the number of fassociate records and the number of
 *    xstillopen records logged by this checkpoint's begin.
 *  - Log files are trimmed only with the begin LSN of a checkpoint whose end_checkpoint is
 *    durable.
 *  - After a failure (a thrown crash hook or an I/O error) the in-memory state is that of a
 *    crashed process: this Checkpointer refuses further checkpoints.
 */

import { invariant, TokusimError } from '../base/errors.js';
import { isBugPlanted } from '../base/bug-switches.js';
import type { Cachetable } from '../cachetable/cachetable.js';
import type { Cachefile } from '../cachetable/pair.js';
import type { LogWriter } from '../log/writer.js';
import type { Clock, TimerHandle } from '../storage/clock.js';
import type { CheckpointUserdata } from './checkpointable-dictionary.js';
import type { CheckpointEvent, CheckpointListener, CheckpointStage, CrashHookName } from './events.js';
import { CheckpointLocks, GlobalLockHolder } from './locks.js';
import {
  CheckpointCaller,
  CP_BEGIN_LONG_THRESHOLD_MICROS,
  CP_END_LONG_THRESHOLD_MICROS,
  newCheckpointStatus,
  type CheckpointCallerName,
  type CheckpointStatus,
  type StageReport,
} from './status.js';
import { NO_TXNS, type TxnProvider } from './txn-provider.js';

/** The default period TokuDB ships (tokudb_checkpointing_period). */
export const DEFAULT_CHECKPOINT_PERIOD_SECONDS = 60;

/** What a crash hook sees. It may await (stop), inspect, or throw (simulated crash). */
export interface CrashHookContext {
  readonly name: CrashHookName;
  readonly beginLsn: bigint;
  readonly caller: CheckpointCallerName;
}
/** A function called at a named point of a checkpoint; it can pause the checkpoint or throw to simulate a crash. */
export type CrashHook = (ctx: CrashHookContext) => void | Promise<void>;

/** Options for a {@link Checkpointer}. */
export interface CheckpointerOptions {
  cachetable: Cachetable;
  clock: Clock;
  /** The logger; without one no records are written and nothing is trimmed (as in PerconaFT). */
  logger?: LogWriter;
  txns?: TxnProvider;
  locks?: CheckpointLocks;
  hooks?: Partial<Record<CrashHookName, CrashHook>>;
  listener?: CheckpointListener;
  /** Seconds between scheduled checkpoints (start to start); 0 disables. Default 60. */
  periodSeconds?: number;
}

/** What one checkpoint did: its begin and end LSNs and what it wrote. */
export interface CheckpointResult {
  beginLsn: bigint;
  endLsn: bigint;
  numFassociate: number;
  numXstillopen: number;
  headersWritten: Array<{ file: string; slot: 0 | 1; checkpointCount: bigint }>;
  skipped: string[];
  trimmed: string[];
}

type AnyCachefile = Cachefile<any>;

function secondsOf(micros: bigint): bigint {
  return micros / 1_000_000n;
}

/** The checkpointer: runs the steps of a sharp checkpoint over the cachetable, logs begin and end, and optionally runs periodically. */
export class Checkpointer {
  /** The cachetable the checkpointer writes. */
  readonly cachetable: Cachetable;
  /** The clock for timestamps, durations and the periodic timer. */
  readonly clock: Clock;
  /** The logger that receives the begin and end records (undefined: no log). */
  readonly logger: LogWriter | undefined;
  /** The checkpoint's global locks. */
  readonly locks: CheckpointLocks;
  /** The transactions to record as still open at each checkpoint's begin. */
  txns: TxnProvider;
  /** Functions to call at named points of every checkpoint (for tests and crash testing). */
  hooks: Partial<Record<CrashHookName, CrashHook>>;
  /** LSN of the begin_checkpoint of the last checkpoint whose end_checkpoint is durable. */
  lastCompletedCheckpointLsn = 0n;
  /** The error that stopped the periodic checkpointer or failed a checkpoint, if any. */
  failure: unknown = undefined;

  private listener: CheckpointListener | undefined;
  private readonly userdata = new Map<AnyCachefile, CheckpointUserdata>();
  private readonly status: CheckpointStatus = newCheckpointStatus();
  private readonly report: StageReport = {
    stage: 'idle',
    caller: null,
    beginLsn: 0n,
    pairsPending: 0,
    pairsWritten: 0,
    pairsCloned: 0,
    bytesWritten: 0,
    headersWritten: 0,
    dictionariesSkipped: 0,
    lastDurationMs: null,
  };
  /** Cachetable stats at begin, to derive the running counts of the stage report. */
  private base = { marked: 0, resolved: 0, written: 0, cloned: 0, bytes: 0 };
  private running = false;

  // periodic thread (minicron)
  private periodMs: number;
  private timer: TimerHandle | null = null;
  private lastCallMs: number;
  private shutDown = false;
  private periodicRun: Promise<void> | null = null;

  /** A checkpointer over the cachetable, clock, logger and transaction provider given in opts. */
  constructor(opts: CheckpointerOptions) {
    this.cachetable = opts.cachetable;
    this.clock = opts.clock;
    this.logger = opts.logger;
    this.locks = opts.locks ?? new CheckpointLocks();
    this.txns = opts.txns ?? NO_TXNS;
    this.hooks = opts.hooks ?? {};
    this.setListener(opts.listener);
    const seconds = opts.periodSeconds ?? DEFAULT_CHECKPOINT_PERIOD_SECONDS;
    this.checkPeriod(seconds);
    this.periodMs = seconds * 1000;
    this.lastCallMs = this.clock.nowMs();
    this.schedule();
  }

  // ------------------------------------------------------------------ wiring

  /** Sets (or clears with undefined) the receiver of checkpoint trace events, global lock events included. */
  setListener(listener: CheckpointListener | undefined): void {
    this.listener = listener;
    this.locks.listener = listener === undefined ? undefined : (e) => listener(e);
  }

  /** Make a cachefile's checkpoint userdata known (toku_cachefile_set_userdata). */
  attach(cf: AnyCachefile, userdata: CheckpointUserdata): void {
    invariant(!this.userdata.has(cf), () => `${cf.name} already has checkpoint userdata`);
    this.userdata.set(cf, userdata);
  }

  /** Forget a cachefile's userdata (after it was closed). Not while a checkpoint uses it. */
  detach(cf: AnyCachefile): void {
    invariant(!cf.forCheckpoint, () => `${cf.name} is detached during a checkpoint`);
    this.userdata.delete(cf);
  }

  private emit(make: () => CheckpointEvent): void {
    const l = this.listener;
    if (l !== undefined) l(make());
  }

  // ------------------------------------------------------------------ status

  /** toku_checkpoint_get_status: a copy of the rows, with CP_PERIOD filled in now. */
  getStatus(): CheckpointStatus {
    this.status.CP_PERIOD = BigInt(Math.floor(this.periodMs / 1000));
    this.status.CP_CLIENT_WAIT_ON_MO = BigInt(this.locks.counters.clientWaitOnMo);
    this.status.CP_CLIENT_WAIT_ON_CS = BigInt(this.locks.counters.clientWaitOnCs);
    return { ...this.status };
  }

  /** The running checkpoint's progress (or the last one's, when idle). */
  stageReport(): StageReport {
    if (this.running && this.report.stage !== 'waiting-for-locks') {
      const s = this.cachetable.stats;
      const resolved = Object.values(s.pendingResolved).reduce((a, b) => a + b, 0);
      this.report.pairsPending = s.pairsMarkedPending - this.base.marked - (resolved - this.base.resolved);
      this.report.pairsWritten = s.pairsWrittenForCheckpoint - this.base.written;
      this.report.pairsCloned = s.pairsCloned - this.base.cloned;
      this.report.bytesWritten = s.bytesWrittenForCheckpoint - this.base.bytes;
    }
    return { ...this.report };
  }

  private stage(stage: CheckpointStage, step: number, caller: CheckpointCallerName): void {
    this.report.stage = stage;
    if (step > 0) this.status.CP_FOOTPRINT = BigInt(CheckpointCaller[caller] * 1000 + step);
    this.emit(() => ({ type: 'stage', stage, footprint: Number(this.status.CP_FOOTPRINT) }));
  }

  private async hook(name: CrashHookName, caller: CheckpointCallerName): Promise<void> {
    const h = this.hooks[name];
    this.emit(() => ({ type: 'hook', name }));
    if (h !== undefined) await h({ name, beginLsn: this.report.beginLsn, caller });
  }

  // ------------------------------------------------------------------ toku_checkpoint

  /** Take a checkpoint now (waits for a running one to finish first; never overlaps). */
  async checkpoint(caller: CheckpointCallerName = 'client'): Promise<CheckpointResult> {
    if (this.failure !== undefined) {
      throw new TokusimError('invariant', 'the checkpointer failed earlier (simulated crash or I/O error); reopen the environment', {
        actual: String(this.failure instanceof Error ? this.failure.message : this.failure),
      });
    }
    const holder = new GlobalLockHolder(`checkpoint (${caller})`);
    const locks = this.locks;
    // Step 1: the checkpoint-safe lock, counting waiters.
    this.status.CP_WAITERS_NOW++;
    await locks.acquire(holder, 'checkpointSafe', 'write');
    this.status.CP_WAITERS_NOW--;
    if (this.status.CP_WAITERS_NOW > this.status.CP_WAITERS_MAX) this.status.CP_WAITERS_MAX = this.status.CP_WAITERS_NOW;
    locks.lockedCs = true;
    const held = { lowPriorityMo: false, mo: false, openClose: false };
    try {
      invariant(!this.running, 'checkpoints never overlap');
      if (this.failure !== undefined) throw new TokusimError('invariant', 'the checkpointer failed while this checkpoint waited');
      this.running = true;
      this.report.caller = caller;
      this.report.beginLsn = 0n;
      this.report.headersWritten = 0;
      this.report.dictionariesSkipped = 0;
      this.stage('waiting-for-locks', 10, caller);
      await locks.acquire(holder, 'lowPriorityMo', 'write');
      held.lowPriorityMo = true;
      await locks.acquire(holder, 'mo', 'write');
      held.mo = true;
      locks.lockedMo = true;
      this.stage('waiting-for-locks', 20, caller);
      await locks.acquire(holder, 'openClose', 'write');
      held.openClose = true;

      // Step 2: begin.
      this.stage('begin', 30, caller);
      const tBeginStartMicros = this.clock.nowMicros();
      this.status.CP_TIME_LAST_CHECKPOINT_BEGIN = secondsOf(tBeginStartMicros);
      const begun = await this.beginCheckpoint();
      const tBeginEndMicros = this.clock.nowMicros();
      locks.release(holder, 'openClose', 'write');
      held.openClose = false;
      locks.lockedMo = false;
      locks.release(holder, 'mo', 'write');
      held.mo = false;
      locks.release(holder, 'lowPriorityMo', 'write');
      held.lowPriorityMo = false;
      this.stage('pending-pairs', 40, caller);
      await this.hook('afterBegin', caller);

      // Step 3: end.
      const tEndStartMicros = this.clock.nowMicros();
      const ended = await this.endCheckpoint(begun, caller);
      const tEndEndMicros = this.clock.nowMicros();

      // Step 4: trim.
      this.stage('trim', 50, caller);
      let trimmed: string[] = [];
      if (this.logger !== undefined) {
        const trimLsn = this.lastCompletedCheckpointLsn;
        await this.hook('duringTrim', caller);
        trimmed = await this.logger.trim(trimLsn);
        this.emit(() => ({ type: 'log-trimmed', trimLsn, deleted: trimmed }));
        this.status.CP_LAST_LSN = trimLsn;
      }

      // Step 5: status.
      this.stage('status', 60, caller);
      const s = this.status;
      s.CP_TIME_LAST_CHECKPOINT_END = secondsOf(this.clock.nowMicros());
      s.CP_TIME_LAST_CHECKPOINT_BEGIN_COMPLETE = s.CP_TIME_LAST_CHECKPOINT_BEGIN;
      s.CP_CHECKPOINT_COUNT++;
      const dBegin = tBeginEndMicros - tBeginStartMicros;
      s.CP_BEGIN_TIME += dBegin;
      if (dBegin >= CP_BEGIN_LONG_THRESHOLD_MICROS) {
        s.CP_LONG_BEGIN_TIME += dBegin;
        s.CP_LONG_BEGIN_COUNT++;
      }
      const dEnd = tEndEndMicros - tEndStartMicros;
      s.CP_END_TIME += dEnd;
      if (dEnd >= CP_END_LONG_THRESHOLD_MICROS) {
        s.CP_LONG_END_TIME += dEnd;
        s.CP_LONG_END_COUNT++;
      }
      const dur = s.CP_TIME_LAST_CHECKPOINT_END - s.CP_TIME_LAST_CHECKPOINT_BEGIN;
      s.CP_TIME_CHECKPOINT_DURATION += dur;
      s.CP_TIME_CHECKPOINT_DURATION_LAST = dur;
      s.CP_FOOTPRINT = 0n;
      const durationMicros = this.clock.nowMicros() - tBeginStartMicros;
      this.stageReport();
      this.report.lastDurationMs = Number(durationMicros) / 1000;
      this.report.stage = 'idle';
      this.emit(() => ({ type: 'stage', stage: 'idle', footprint: 0 }));
      this.emit(() => ({ type: 'checkpoint-done', beginLsn: begun.beginLsn, durationMicros }));
      return { ...ended, beginLsn: begun.beginLsn, numFassociate: begun.numFassociate, numXstillopen: begun.numXstillopen, trimmed };
    } catch (err) {
      this.failure = err;
      this.report.stage = 'idle';
      this.cancelTimer();
      this.emit(() => ({ type: 'checkpoint-failed', error: err }));
      throw err;
    } finally {
      if (held.openClose) locks.release(holder, 'openClose', 'write');
      if (held.mo) {
        locks.lockedMo = false;
        locks.release(holder, 'mo', 'write');
      }
      if (held.lowPriorityMo) locks.release(holder, 'lowPriorityMo', 'write');
      this.running = false;
      locks.lockedCs = false;
      locks.release(holder, 'checkpointSafe', 'write');
    }
  }

  // ------------------------------------------------------------------ begin (§5)

  private async beginCheckpoint(): Promise<{ beginLsn: bigint; cfs: AnyCachefile[]; numFassociate: number; numXstillopen: number }> {
    const ct = this.cachetable;
    let numXstillopen = 0;
    const cfs = await ct.pinCachefilesForCheckpoint((cf) => this.userdata.get(cf)?.notePinByCheckpoint());
    this.emit(() => ({ type: 'cachefiles-pinned', count: cfs.length }));
    let beginLsn = 0n;
    let numFassociate = 0;
    const log = this.logger;
    if (log !== undefined) {
      beginLsn = log.append({ type: 'begin_checkpoint', timestamp: this.clock.nowMicros(), last_xid: this.txns.lastXid() });
      this.report.beginLsn = beginLsn;
      this.emit(() => ({ type: 'record-logged', record: 'begin_checkpoint', lsn: beginLsn }));
      for (const cf of cfs) {
        const fa = this.userdata.get(cf)?.fassociate() ?? null;
        if (fa === null) continue;
        const lsn = log.append({ type: 'fassociate', ...fa });
        numFassociate++;
        this.emit(() => ({ type: 'record-logged', record: 'fassociate', lsn }));
      }
      for (const txn of this.txns.liveTxns()) {
        if (txn.readOnly) continue;
        let lsn: bigint;
        if (txn.state === 'live') lsn = log.append({ type: 'xstillopen', ...txn.fields });
        else if (txn.state === 'preparing') lsn = log.append({ type: 'xstillopenprepared', ...txn.fields });
        else throw new TokusimError('invariant', `begin_checkpoint found a live transaction in state ${txn.state}`, { expected: 'live or preparing', actual: txn.state });
        numXstillopen++;
        const record = txn.state === 'live' ? 'xstillopen' : 'xstillopenprepared';
        this.emit(() => ({ type: 'record-logged', record, lsn }));
      }
    }
    const s = ct.stats;
    this.base = {
      marked: s.pairsMarkedPending,
      resolved: Object.values(s.pendingResolved).reduce((a, b) => a + b, 0),
      written: s.pairsWrittenForCheckpoint,
      cloned: s.pairsCloned,
      bytes: s.bytesWrittenForCheckpoint,
    };
    const marked = await ct.turnOnPendingBits((participating) => {
      for (const cf of participating) {
        const ud = this.userdata.get(cf);
        if (ud === undefined) continue;
        ud.beginCheckpoint(beginLsn);
        this.emit(() => ({ type: 'header-cloned', file: cf.name, checkpointLsn: beginLsn, dirty: (ud as { checkpointHeaderDirty?: boolean }).checkpointHeaderDirty ?? true }));
      }
    });
    this.emit(() => ({ type: 'pending-bits-set', count: marked }));
    return { beginLsn, cfs, numFassociate, numXstillopen };
  }

  // ------------------------------------------------------------------ end (§6)

  private async endCheckpoint(
    begun: { beginLsn: bigint; cfs: AnyCachefile[]; numFassociate: number; numXstillopen: number },
    caller: CheckpointCallerName,
  ): Promise<{ endLsn: bigint; headersWritten: CheckpointResult['headersWritten']; skipped: string[] }> {
    const ct = this.cachetable;
    const cfs = await ct.checkpointCachefiles();
    invariant(cfs.length === begun.cfs.length, () => `fill_checkpoint_cfs found ${cfs.length} files, begin pinned ${begun.cfs.length}`);
    await ct.checkpointPendingPairs();
    await this.hook('afterPendingPairsWritten', caller);

    this.stage('headers', 0, caller);
    const headersWritten: CheckpointResult['headersWritten'] = [];
    const skipped: string[] = [];
    const log = this.logger;
    const ctx = {
      fsyncLogUpTo: async (lsn: bigint) => {
        if (log !== undefined && !isBugPlanted('skip-log-fsync-before-end-checkpoint')) await log.fsync(lsn);
      },
      nowSeconds: secondsOf(this.clock.nowMicros()),
    };
    for (const cf of cfs) {
      invariant(cf.forCheckpoint, () => `${cf.name} takes part in the checkpoint`);
      const ud = this.userdata.get(cf);
      if (ud === undefined) continue;
      const r = await ud.checkpoint(ctx);
      if (r.written) {
        const w = { file: cf.name, slot: r.slot!, checkpointCount: r.checkpointCount! };
        headersWritten.push(w);
        this.report.headersWritten++;
        this.emit(() => ({ type: 'header-written', ...w }));
      } else {
        skipped.push(cf.name);
        this.report.dictionariesSkipped++;
        this.emit(() => ({ type: 'checkpoint-skipped', file: cf.name }));
      }
    }
    await this.hook('afterHeadersBeforeEndCheckpoint', caller);

    this.stage('end-log', 0, caller);
    let endLsn = 0n;
    if (log !== undefined) {
      endLsn = log.append({
        type: 'end_checkpoint',
        lsn_begin_checkpoint: begun.beginLsn,
        timestamp: this.clock.nowMicros(),
        num_fassociate_entries: begun.numFassociate,
        num_xstillopen_entries: begun.numXstillopen,
      });
      if (!isBugPlanted('skip-log-fsync-before-end-checkpoint')) await log.fsync(endLsn);
      this.lastCompletedCheckpointLsn = begun.beginLsn;
      this.emit(() => ({ type: 'record-logged', record: 'end_checkpoint', lsn: endLsn }));
    }
    await this.hook('afterEndCheckpoint', caller);

    this.stage('rotate', 0, caller);
    for (const cf of cfs) {
      const ud = this.userdata.get(cf);
      if (ud === undefined) continue;
      await ud.endCheckpoint();
      this.emit(() => ({ type: 'translations-rotated', file: cf.name }));
    }
    await ct.unpinCachefilesAfterCheckpoint(cfs, (cf) => this.userdata.get(cf)?.noteUnpinByCheckpoint());
    return { endLsn, headersWritten, skipped };
  }

  // ------------------------------------------------------------------ periodic thread (§8)

  private checkPeriod(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0 || !Number.isInteger(seconds)) {
      throw new TokusimError('bad-argument', 'the checkpoint period is a whole number of seconds >= 0 (0 disables)', { expected: 'integer >= 0', actual: String(seconds) });
    }
  }

  /** checkpointing_set_period: seconds between scheduled checkpoints; 0 disables. */
  setPeriod(seconds: number): void {
    this.checkPeriod(seconds);
    this.periodMs = seconds * 1000;
    this.emit(() => ({ type: 'period-changed', seconds }));
    if (this.periodicRun === null) {
      this.cancelTimer();
      this.schedule();
    }
  }

  /** checkpointing_get_period, in seconds. */
  getPeriod(): number {
    return Math.floor(this.periodMs / 1000);
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /**
   * minicron: for periods above 1 s the next run is due period after the previous run
   * *started* (immediately if it overran); for shorter periods it sleeps period after the end.
   */
  private schedule(afterEndOfRun = false): void {
    if (this.shutDown || this.periodMs === 0 || this.failure !== undefined) return;
    const now = this.clock.nowMs();
    const delay = this.periodMs > 1000 || !afterEndOfRun ? Math.max(0, this.lastCallMs + this.periodMs - now) : this.periodMs;
    this.timer = this.clock.setTimer(delay, () => {
      this.timer = null;
      this.periodicRun = this.runScheduled();
    });
  }

  private async runScheduled(): Promise<void> {
    this.lastCallMs = this.clock.nowMs();
    try {
      await this.checkpoint('scheduled');
    } catch (err) {
      // PerconaFT asserts here; we keep the error for the owner to see and stop the thread.
      this.failure ??= err;
    } finally {
      this.periodicRun = null;
    }
    this.schedule(true);
  }

  /** Stop the periodic thread and wait for a scheduled checkpoint in progress. */
  async shutdown(): Promise<void> {
    this.shutDown = true;
    this.cancelTimer();
    if (this.periodicRun !== null) await this.periodicRun;
  }
}
