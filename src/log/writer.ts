/**
 * The logger's write side (spec tokulog-format.md §2.2, §5; recovery.md §9): assigns LSNs,
 * keeps an in-memory buffer, writes it to the current log file, fsyncs with group commit,
 * rolls over to a new file past lgMax, and trims old files.
 *
 * Invariants:
 *  - LSNs are consecutive: each appended record gets previous + 1, continuing after the last
 *    LSN found in the existing files when the writer opened (1 for an empty directory).
 *  - Bytes reach the files in LSN order; a buffer is written with one pwrite into one file,
 *    so an entry is never split across files.
 *  - writtenLsn <= lastLsn and syncedLsn <= writtenLsn at all times.
 *  - A new file is created (exclusively, then the directory is fsynced) at every open; the
 *    previous file is fsynced before a rollover creates the next one.
 *  - With the dsync option the log files are opened with O_DSYNC: when the storage honours it
 *    (the handle's dsync is true) a buffer write is durable when it resolves, so syncedLsn
 *    advances with writtenLsn and no separate fsync is issued for commits (the stats count
 *    such writes as durableWrites; the 'fsync' event still marks each new durable LSN). A
 *    storage that does not honour it gets an fsync after the write instead. The directory is still fsynced
 *    after each file is created, and rollover still fsyncs the old file.
 *  - Preallocation (option preallocate > 0): the current file's bytes [nInFile, allocatedEnd)
 *    are zeros made durable ahead of need (a zero write, plus an fsync unless the handle is
 *    dsync), so most log writes overwrite space that already exists instead of growing the
 *    file. At most one extension is in flight; a log write that would reach into the range
 *    an extension is still zeroing waits for it first, so zeros never land on log bytes.
 *    Before rollover and at close the zero tail is cut (truncate to nInFile, then fsync), so
 *    every file but a crashed newest one is byte-identical to a log written without it.
 *    Readers treat a zero length word at an entry boundary followed by zeros to EOF as the
 *    end of the log (cursor.ts). The zeros are only a speed-up, so a disk without room for
 *    them (ENOSPC) never fails the writer: the extension's partial zeros are cut off again and
 *    the next extension is half the size (none below MIN_PREALLOCATE), leaving what room is
 *    left to log entries.
 *  - How a write is issued (after a gathering turn or at once; a solo one on the calling
 *    thread or through the I/O threads) is chosen from measured times on real devices only
 *    and changes timing only: syncedLsn still advances only when the write carrying those
 *    records is durable. On other storage the choice is fixed (at once; on the thread where
 *    pwriteSync exists), so seeded schedules never depend on the host. A solo write on the
 *    thread is the same write whether syncSoloNow issues it synchronously or fsync does after
 *    queueing for the output; syncSoloNow never writes while another write could be pending.
 *  - trim() deletes files oldest first, only while the oldest file's maxLsn < the LSN needed,
 *    and never the current file; the remaining files are a contiguous suffix.
 *  - After an I/O failure the writer is failed: every later call rethrows that failure, and
 *    failedWith returns it (so an owner can notice a failed background write or fsync).
 *  - lastSyncStartMs (with a clock): every record appended before that clock time is durable.
 *    It is taken before the buffer is captured for a write that then became durable (dsync) or
 *    was fsynced, so it never claims a record that the durable write did not carry.
 */
import { Mutex } from 'async-mutex';
import { encodeRecordInto } from '../format/codec.js';
import { ByteWriter } from '../base/bytes.js';
import { invariant } from '../base/errors.js';
import { encodeLogFileHeader, LOG_FILE_HEADER_SIZE, TOKU_LOG_VERSION } from '../format/log-header.js';
import type { LogRecord, LogRecordFields, LogRecordName } from '../format/record-types.js';
import type { Clock } from '../storage/clock.js';
import { ioErrorCode } from '../storage/io-error.js';
import { joinPath, type Storage, type StorageFile } from '../storage/storage.js';
import { readLastEntryOfFile } from './cursor.js';
import type { LogEvent, LogListener } from './events.js';
import { findLogFiles, logFileName, nextLogIndex, type LogFileEntry } from './names.js';
import { nextMacrotask } from '../base/portable.js';

/** A record as a caller logs it: its type and fields, without the LSN (the writer assigns it). */
export type LogRecordInput = { [N in LogRecordName]: { type: N } & LogRecordFields<N> }[LogRecordName];

/** A dsync writer that does not gather measures one gathering turn every this many group writes. */
const GATHER_PROBE_EVERY = 32;

function movingAverage(avg: number, sample: number): number {
  return avg === 0 ? sample : avg + (sample - avg) / 4;
}

/** Solo writes each way at the start of every SoloWayChooser period. */
const SOLO_EXPLORE = 8;
/** Length of a SoloWayChooser period, in solo writes. */
const SOLO_PERIOD = 128;

/**
 * Chooses where a solo durable write goes: on the calling thread (pwriteSync) or through the
 * I/O threads (pwrite). On the thread saves the round trip through the I/O threads on an idle
 * machine; on a crowded one a thread that blocked in the write can be slow to get a CPU back,
 * and the commit cycle was measured longer that way (docs/engine.md). So neither is assumed:
 * each period of SOLO_PERIOD solo writes starts with
 * SOLO_EXPLORE writes each way, timing each write's cycle (its start to the next write's
 * start, which includes everything the committer does between), and the rest of the period
 * goes the way whose cycles were shorter on average. A cycle interrupted by a write that was
 * not solo is not counted. Deterministic given the times it is fed.
 */
export class SoloWayChooser {
  private n = 0;
  private last: { at: number; onThread: boolean; exploring: boolean } | undefined;
  private readonly sum = { on: 0, off: 0 };
  private readonly count = { on: 0, off: 0 };
  private onThread = true;

  /** Where the solo write starting at time `now` (ms) goes: true = on the calling thread. */
  choose(now: number): boolean {
    const last = this.last;
    if (last !== undefined && last.exploring) {
      const k = last.onThread ? 'on' : 'off';
      this.sum[k] += now - last.at;
      this.count[k]++;
    }
    const i = this.n;
    this.n = (this.n + 1) % SOLO_PERIOD;
    let way: boolean;
    if (i < 2 * SOLO_EXPLORE) {
      if (i === 0) this.sum.on = this.sum.off = this.count.on = this.count.off = 0;
      way = i < SOLO_EXPLORE;
    } else {
      if (i === 2 * SOLO_EXPLORE && this.count.on > 0 && this.count.off > 0) {
        this.onThread = this.sum.on / this.count.on <= this.sum.off / this.count.off;
      }
      way = this.onThread;
    }
    this.last = { at: now, onThread: way, exploring: i < 2 * SOLO_EXPLORE };
    return way;
  }

  /** A write that was not solo happened: the running cycle is not a solo one. */
  interrupt(): void {
    this.last = undefined;
  }

  /** The way chosen for the exploiting part of the current period. */
  get preferOnThread(): boolean {
    return this.onThread;
  }
}

/** lg_max default: 100 MiB. */
export const DEFAULT_LG_MAX = 100 << 20;
/** The smallest preallocation extension tried after a disk ran out of room for a larger one. */
export const MIN_PREALLOCATE = 64 << 10;
/** LOGGER_MIN_BUF_SIZE: 16 MiB. */
export const DEFAULT_LOG_BUFFER_SIZE = 1 << 24;

/** Options for a {@link LogWriter}. */
export interface LogWriterOptions {
  storage: Storage;
  dir: string;
  /** Roll over once a write pushes the current file past this many bytes. */
  lgMax?: number;
  /** Write the buffer out once it holds this many bytes. */
  bufferSize?: number;
  /** When given, a `timestamp` field of 0 is replaced by clock.nowMicros() (as PerconaFT does). */
  clock?: Clock;
  listener?: LogListener;
  /**
   * Open log files with O_DSYNC so each buffer write is durable by itself (one I/O per group
   * commit instead of a write and an fsync). Worth it when nearly every write is followed by
   * an fsync anyway (durability 'sync'). Default false.
   */
  dsync?: boolean;
  /**
   * Keep this many bytes of zeros ahead of the write position in the current file (0 = off,
   * the default), extended in the background once less than half is left. Log writes then
   * overwrite existing space, which on most file systems makes a durable write cheaper (no
   * file-size metadata to journal). The zero tail is cut at close and before rollover.
   */
  preallocate?: number;
  /**
   * Where a solo commit's durable write goes (see fsync's solo option): 'adaptive' (default;
   * measured, see SoloWayChooser; on the calling thread where there is no clock or no real
   * device), 'on-thread' or 'off-thread'.
   */
  soloWrites?: 'adaptive' | 'on-thread' | 'off-thread';
  /**
   * Whether a group durable write on a dsync handle first lets one turn of the event loop pass
   * so the commits just released can join it: 'adaptive' (default; when the recent writes took
   * longer than such a turn, see gatherCommits), 'never' or 'always'. Real devices only.
   */
  gather?: 'adaptive' | 'never' | 'always';
  /**
   * What the opener has just read of the log already in dir, so open need not read it again:
   * the log files as findLogFiles lists them, and the LSN of the newest file's last entry
   * (undefined when that file holds no entry). Only the older files' last entries are read.
   * It must describe dir as it is: nothing may have changed the log since it was read.
   */
  existing?: { files: readonly LogFileEntry[]; newestLastLsn: bigint | undefined };
}

/** Per-file bookkeeping (PerconaFT's logfilemgr). */
export interface LogFileInfo {
  index: number;
  version: number;
  path: string;
  /** LSN of the last entry known to be in the file (see spec §2.2 for when it is refreshed). */
  maxLsn: bigint;
}

/** Counters of a {@link LogWriter}. */
export interface LogWriterStats {
  records: number;
  bytesWritten: number;
  writes: number;
  fsyncs: number;
  /** Buffer writes that were durable by themselves (dsync handle): each stood in for an fsync. */
  durableWrites: number;
  rollovers: number;
  filesDeleted: number;
  /** Zero-filled bytes written ahead of need (preallocate option). */
  bytesPreallocated: number;
  /** Durable buffer writes done on the calling thread for a solo commit (fsync's solo option). */
  writesOnThisThread: number;
  /** Durable buffer writes for a solo commit, on the calling thread or not (soloWrites option). */
  soloWrites: number;
}

/** The logger: gives records their LSNs, buffers them, writes and fsyncs them by the durability policy and rolls over to new log files. */
export class LogWriter {
  private readonly storage: Storage;
  /** The log directory. */
  readonly dir: string;
  /** Roll over to a new file once a write pushes the current one past this many bytes. */
  readonly lgMax: number;
  /** Write the buffer out once it holds this many bytes. */
  readonly bufferSize: number;
  private readonly clock: Clock | undefined;
  private listener: LogListener | undefined;
  private readonly dsync: boolean;
  private readonly gatherMode: 'adaptive' | 'never' | 'always';
  /** Bytes per extension; halved (down to 0) each time the disk has no room for one. */
  private preallocate: number;
  private zeros: Uint8Array | undefined;

  private readonly files: LogFileInfo[];
  private current!: StorageFile;
  private nInFile = 0;
  /** End of the zeros known durable in the current file (== nInFile when none). */
  private allocatedEnd = 0;
  /** The extension in flight, zeroing [extendFrom, allocatedEnd after it resolves). */
  private extending: Promise<void> | undefined;
  private extendFrom = 0;

  private inbuf = new ByteWriter(4096);
  private appendedBytes = 0;
  private inbufLastLsn: bigint;
  private lsn: bigint;
  private written: bigint;
  private synced: bigint;

  private readonly output = new Mutex();
  private syncInFlight: Promise<void> | undefined;
  private syncWaiters = 0;
  /** Waiters covered by the most recent fsync (group-commit heuristic, see gatherCommits). */
  private lastSyncWaiters = 0;
  /** Recent durable buffer write time, ms (moving average; real devices only, see gatherCommits). */
  private writeMsAvg = 0;
  /** Where solo durable writes go (see the soloWrites option). */
  private readonly soloWay: SoloWayChooser | 'on-thread' | 'off-thread';
  /** The way syncSoloNow chose for a solo write it left to fsync (the next solo flush takes it). */
  private soloWayChosen: boolean | undefined;
  /** Recent time one gathering turn of the event loop took, ms (moving average). */
  private gatherMsAvg = 0;
  /** Durable writes since the last gathering turn (see GATHER_PROBE_EVERY). */
  private writesSinceGather = 0;
  private flushScheduled = false;
  private failure: unknown;
  private closed = false;
  /** See lastSyncStartMs. */
  private syncStartMs: number;
  private readonly counters: LogWriterStats = { records: 0, bytesWritten: 0, writes: 0, fsyncs: 0, durableWrites: 0, rollovers: 0, filesDeleted: 0, bytesPreallocated: 0, writesOnThisThread: 0, soloWrites: 0 };

  private constructor(opts: LogWriterOptions, files: LogFileInfo[], lastLsn: bigint) {
    this.storage = opts.storage;
    this.dir = opts.dir;
    this.lgMax = opts.lgMax ?? DEFAULT_LG_MAX;
    this.bufferSize = opts.bufferSize ?? DEFAULT_LOG_BUFFER_SIZE;
    this.clock = opts.clock;
    this.listener = opts.listener;
    this.dsync = opts.dsync === true;
    this.preallocate = opts.preallocate ?? 0;
    const solo = opts.soloWrites ?? 'adaptive';
    this.soloWay = solo === 'adaptive' ? (this.clock !== undefined && this.storage.capabilities.realDevice ? new SoloWayChooser() : 'on-thread') : solo;
    this.gatherMode = opts.gather ?? 'adaptive';
    invariant(Number.isSafeInteger(this.preallocate) && this.preallocate >= 0, 'preallocate must be a non-negative integer');
    invariant(this.lgMax > 0 && this.bufferSize > 0, 'lgMax and bufferSize must be positive');
    this.files = files;
    this.lsn = lastLsn;
    this.inbufLastLsn = lastLsn;
    this.written = lastLsn;
    this.synced = lastLsn;
    // Everything in the files at open is treated as durable (recovery made it so).
    this.syncStartMs = opts.clock?.nowMs() ?? 0;
  }

  /**
   * Open a writer on dir: read the last LSN of every existing log file (a damaged tail is an
   * error here: run repairLogTail first, as recovery does), then create a brand-new file.
   */
  static async open(opts: LogWriterOptions): Promise<LogWriter> {
    const found = opts.existing?.files ?? (await findLogFiles(opts.storage, opts.dir));
    const files: LogFileInfo[] = [];
    let last = 0n;
    for (let i = 0; i < found.length; i++) {
      const f = found[i]!;
      const known = opts.existing !== undefined && i === found.length - 1;
      const lsn = known ? opts.existing!.newestLastLsn : (await readLastEntryOfFile(opts.storage, f.path))?.record.lsn;
      // An empty file inherits the previous file's max LSN (0 for the first).
      if (lsn !== undefined) last = lsn;
      files.push({ index: f.index, version: f.version, path: f.path, maxLsn: last });
    }
    const w = new LogWriter(opts, files, last);
    await w.createFile(nextLogIndex(found, TOKU_LOG_VERSION));
    return w;
  }

  /** LSN of the last appended record (0 if none ever). */
  get lastLsn(): bigint {
    return this.lsn;
  }
  /** LSN of the last record written to a file. */
  get writtenLsn(): bigint {
    return this.written;
  }
  /** LSN of the last record known durable. */
  get syncedLsn(): bigint {
    return this.synced;
  }
  /**
   * Clock time (ms, the options' clock; 0 without one) at which the most recent durable write
   * or fsync started: every record appended before it is durable. A 'periodic' owner compares
   * it with the clock to bound how old an acknowledged but unsynced commit can get.
   */
  get lastSyncStartMs(): number {
    return this.syncStartMs;
  }
  /** The failure that failed this writer (an I/O error of a write, fsync, rollover or extension), or undefined. */
  get failedWith(): unknown {
    return this.failure;
  }
  /** Total encoded bytes of every record appended by this writer. */
  get bytesAppended(): number {
    return this.appendedBytes;
  }
  /** Bytes in the current file (header included). */
  get currentFileSize(): number {
    return this.nInFile;
  }
  /** The per-file bookkeeping, oldest first; the last one is the current file. */
  logFiles(): readonly Readonly<LogFileInfo>[] {
    return this.files.map((f) => ({ ...f }));
  }
  /** Install or remove the trace listener (an observer attached to a writer that is already open). */
  setListener(listener: LogListener | undefined): void {
    this.listener = listener;
  }

  /** A copy of the records appended but not yet written to the current file (read-only inspection). */
  unwrittenBytes(): Uint8Array {
    return this.inbuf.bytesView().slice();
  }

  /** A copy of the logger's counters. */
  stats(): Readonly<LogWriterStats> {
    return { ...this.counters };
  }

  /** Give rec the next LSN and put it in the buffer. Returns the LSN. */
  append(rec: LogRecordInput): bigint {
    this.throwIfFailed();
    invariant(!this.closed, 'append on a closed LogWriter');
    let input = rec;
    if (this.clock !== undefined && 'timestamp' in input && input.timestamp === 0n) {
      input = { ...input, timestamp: this.clock.nowMicros() } as LogRecordInput;
    }
    const lsn = this.lsn + 1n;
    const before = this.inbuf.length;
    encodeRecordInto(this.inbuf, input as Omit<LogRecord, 'lsn'>, lsn);
    this.lsn = lsn;
    this.inbufLastLsn = lsn;
    this.counters.records++;
    this.appendedBytes += this.inbuf.length - before;
    if (this.listener !== undefined) {
      this.emit({ type: 'record-logged', lsn, recordType: input.type, bytes: this.inbuf.length - before });
    }
    if (this.inbuf.length >= this.bufferSize && !this.flushScheduled) {
      this.flushScheduled = true;
      // The failure, if any, is kept and rethrown by the next call.
      this.flush().catch(() => undefined);
    }
    return lsn;
  }

  /** Write the buffer to the current file (no fsync). */
  async flush(): Promise<void> {
    this.throwIfFailed();
    await this.output.runExclusive(() => this.guard(() => this.flushLocked()));
  }

  /**
   * Make every record up to upTo (default: everything appended so far) durable. Callers whose
   * LSN is already synced return at once; one fsync covers every caller waiting meanwhile.
   *
   * `solo`: the caller knows nobody else can join this group commit (the engine passes it
   * when the committing transaction is the only live one). If no other caller is waiting
   * either, there is no group to gather, so on a dsync handle that offers pwriteSync the write
   * is done on this thread: the thread had nothing to do but wait for it, and the round trip
   * through the I/O thread pool (~50 us on the machines measured) is saved.
   */
  async fsync(upTo: bigint = this.lsn, opts: { solo?: boolean } = {}): Promise<void> {
    this.throwIfFailed();
    const solo = opts.solo === true;
    invariant(upTo <= this.lsn, () => `fsync up to lsn ${upTo} which was never logged (last ${this.lsn})`);
    if (upTo <= this.synced) return;
    this.syncWaiters++;
    try {
      while (this.synced < upTo) {
        this.throwIfFailed();
        if (this.syncInFlight !== undefined) {
          await this.syncInFlight.catch(() => undefined);
          continue;
        }
        const p = this.gatherCommits().then(() => this.output.runExclusive(() => this.guard(() => this.syncLocked(solo))));
        this.syncInFlight = p;
        try {
          await p;
        } finally {
          this.syncInFlight = undefined;
        }
      }
    } finally {
      this.syncWaiters--;
    }
  }

  /**
   * A solo commit's durable write done at once, synchronously, when nothing stands in its
   * way: the same write fsync(upTo, { solo: true }) would issue on this thread (a dsync handle
   * whose storage offers pwriteSync, the solo way chosen on-thread), without the turns of the
   * event loop its queueing costs. Returns true when every record up to upTo is durable on
   * return; false (nothing written) when the write must go through fsync: another sync is
   * waiting or in flight, the output is busy, the write would need a gathering turn, an
   * extension's zeros or a rollover, or goes through the I/O threads. A failed write fails the
   * writer and throws.
   */
  syncSoloNow(upTo: bigint): boolean {
    this.throwIfFailed();
    invariant(upTo <= this.lsn, () => `fsync up to lsn ${upTo} which was never logged (last ${this.lsn})`);
    if (upTo <= this.synced) return true;
    const file = this.current;
    const n = this.inbuf.length;
    if (this.syncWaiters !== 0 || this.syncInFlight !== undefined || this.flushScheduled || this.closed || this.output.isLocked()) return false;
    if (file.dsync !== true || !this.storage.capabilities.syncWrites || n === 0) return false;
    if (this.lastSyncWaiters > 1 && this.storage.capabilities.realDevice) return false;
    if (this.extending !== undefined && this.nInFile + n > this.extendFrom) return false;
    if (this.nInFile + n > this.lgMax) return false;
    const startMs = this.clock?.nowMs() ?? 0;
    const way = this.soloWay;
    if (way === 'off-thread') return false;
    if (way !== 'on-thread' && !way.choose(startMs)) {
      // fsync's write goes off the thread as chosen here, without choosing again.
      this.soloWayChosen = false;
      return false;
    }
    this.counters.soloWrites++;
    const offset = this.nInFile;
    try {
      file.pwriteSync(this.inbuf.bytesView(), offset);
    } catch (err) {
      this.failure ??= err;
      throw err;
    }
    this.counters.writesOnThisThread++;
    // The write has returned, so the buffer is free to take the next records.
    this.inbuf.clear();
    if (this.clock !== undefined && this.storage.capabilities.realDevice) this.writeMsAvg = movingAverage(this.writeMsAvg, this.clock.nowMs() - startMs);
    this.lastSyncWaiters = 1;
    this.wrote(file, offset, n, this.inbufLastLsn, startMs, 1);
    return true;
  }

  /**
   * Delete old log files that recovery no longer needs: oldest first, while the oldest file's
   * max LSN is below lsnNeeded (the begin LSN of the last completed checkpoint). The current
   * file is never deleted. Returns the deleted paths.
   */
  async trim(lsnNeeded: bigint): Promise<string[]> {
    this.throwIfFailed();
    return this.output.runExclusive(() =>
      this.guard(async () => {
        const deleted: string[] = [];
        const floor = this.trimFloor();
        while (this.files.length > 1) {
          const oldest = this.files[0]!;
          if (oldest.maxLsn >= lsnNeeded || oldest.index >= floor) break;
          this.files.shift();
          await this.storage.unlink(oldest.path);
          deleted.push(oldest.path);
          this.counters.filesDeleted++;
          if (this.listener !== undefined) {
            this.emit({ type: 'file-deleted', file: oldest.path, maxLsn: oldest.maxLsn, trimLsn: lsnNeeded });
          }
        }
        if (deleted.length > 0) await this.storage.fsyncDir(this.dir);
        return deleted;
      }),
    );
  }

  private readonly trimFloors = new Set<() => number>();

  /**
   * Keep every log file whose index is at least floor() whatever trim() is asked (a log
   * archiver that has not stored them yet: files are purged only once every consumer is past
   * them). Returns the function that removes this floor.
   */
  addTrimFloor(floor: () => number): () => void {
    this.trimFloors.add(floor);
    return () => void this.trimFloors.delete(floor);
  }

  private trimFloor(): number {
    let min = Infinity;
    for (const f of this.trimFloors) min = Math.min(min, f());
    return min;
  }

  /** Write and fsync everything, then close the current file. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.fsync();
    await this.output.runExclusive(() =>
      this.guard(async () => {
        this.closed = true;
        await this.cutZeroTail();
        await this.current.close();
      }),
    );
  }

  /**
   * Close the current file without writing anything more (no buffer write, fsync or zero-tail
   * cut): for an owner that failed and must leave the log as a crash would. Idempotent; later
   * calls other than close fail as on a closed writer.
   */
  async closeWithoutWriting(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.output.runExclusive(async () => {
      if (this.extending !== undefined) await this.extending.catch(() => undefined);
      await this.current.close();
    });
  }

  // ---- internals (called with the output mutex held) ---------------------------------------

  /**
   * Write the buffer out; true when that write was durable by itself (dsync handle). With
   * `onThisThread`, a dsync handle that offers pwriteSync writes without leaving the thread
   * (see fsync's solo option).
   */
  private async flushLocked(onThisThread = false): Promise<boolean> {
    this.flushScheduled = false;
    if (this.inbuf.length === 0) return false;
    const startMs = this.clock?.nowMs() ?? 0;
    const bytes = this.inbuf.bytesView();
    const upTo = this.inbufLastLsn;
    this.inbuf = new ByteWriter(Math.min(this.bufferSize, Math.max(4096, bytes.length)));
    const offset = this.nInFile;
    const file = this.current;
    // Never let an extension's zeros land on log bytes: wait for one still zeroing this range.
    if (this.extending !== undefined && offset + bytes.length > this.extendFrom) await this.extending;
    const timing = this.clock !== undefined && file.dsync === true && this.storage.capabilities.realDevice;
    const writeStart = timing ? this.clock!.nowMs() : 0;
    const solo = onThisThread && file.dsync === true && this.storage.capabilities.syncWrites;
    const way = this.soloWay;
    const chosen = this.soloWayChosen;
    this.soloWayChosen = undefined;
    const here = solo && (typeof way === 'string' ? way === 'on-thread' : (chosen ?? way.choose(writeStart)));
    if (!solo && typeof way !== 'string') way.interrupt();
    if (solo) this.counters.soloWrites++;
    if (here) {
      file.pwriteSync(bytes, offset);
      this.counters.writesOnThisThread++;
    } else await file.pwrite(bytes, offset);
    if (timing) this.writeMsAvg = movingAverage(this.writeMsAvg, this.clock!.nowMs() - writeStart);
    this.wrote(file, offset, bytes.length, upTo, startMs, this.syncWaiters);
    if (this.nInFile > this.lgMax) await this.rollover();
    return file.dsync === true;
  }

  /** The bookkeeping after a buffer write of n bytes at offset carrying the records up to upTo returned (waiters: for the 'fsync' event). */
  private wrote(file: StorageFile, offset: number, n: number, upTo: bigint, startMs: number, waiters: number): void {
    this.nInFile += n;
    if (this.nInFile > this.allocatedEnd) this.allocatedEnd = this.nInFile;
    this.maybeExtend();
    this.written = upTo;
    this.counters.bytesWritten += n;
    this.counters.writes++;
    const durable = file.dsync === true;
    if (durable) {
      this.synced = upTo;
      this.syncStartMs = Math.max(this.syncStartMs, startMs);
      this.currentInfo().maxLsn = upTo;
      this.counters.durableWrites++;
    }
    if (this.listener !== undefined) {
      this.emit({ type: 'buffer-written', file: file.path, offset, bytes: n, upToLsn: upTo });
      if (durable) this.emit({ type: 'fsync', file: file.path, upToLsn: upTo, waiters });
    }
  }

  /**
   * Group commit on real storage, when the previous write or fsync was shared by several
   * waiters (so several clients commit concurrently): whether to let one turn of the event
   * loop pass before the next write starts, so the clients it just released can log their
   * next commits into it.
   *
   * With a separate fsync (no dsync handle) always. With a dsync handle it depends: starting
   * at once keeps the disk busy, but the released clients' commits then go into the write
   * after, so N concurrent committers settle into two halves taking turns (N/2 commits per
   * write of time L, while the CPU work c of the other half overlaps it); gathering puts all N
   * in one write but leaves the disk idle for the turn g that lets them log (about N * c). N
   * per (L + g) beats N/2 per L exactly when L > g, so the writer gathers when its recent
   * writes took longer than its recent gathering turns: a fast disk and busy CPUs start at
   * once, a slow disk (or one shared with other work) gathers. A writer that does not gather
   * still gathers once every GATHER_PROBE_EVERY writes to keep g current.
   *
   * Only on a real device: simulated storage never waits here, so its schedule does not
   * depend on the host's event loop.
   */
  private async gatherCommits(): Promise<void> {
    if (this.lastSyncWaiters <= 1 || !this.storage.capabilities.realDevice) return;
    if (this.current.dsync !== true) {
      await nextMacrotask();
      return;
    }
    const mode = this.gatherMode;
    if (mode === 'never' || this.clock === undefined) return;
    const probe = ++this.writesSinceGather >= GATHER_PROBE_EVERY;
    if (mode === 'adaptive' && !probe && !(this.writeMsAvg > this.gatherMsAvg)) return;
    this.writesSinceGather = 0;
    const start = this.clock.nowMs();
    await nextMacrotask();
    this.gatherMsAvg = movingAverage(this.gatherMsAvg, this.clock.nowMs() - start);
  }

  private async syncLocked(solo: boolean): Promise<void> {
    const waiters = this.syncWaiters;
    // Under the output mutex every buffer taken earlier is written, so once this flush and
    // fsync succeed everything appended before now is durable.
    const startMs = this.clock?.nowMs() ?? 0;
    if (await this.flushLocked(solo && this.syncWaiters === 1)) {
      this.lastSyncWaiters = waiters;
      return;
    }
    if (this.synced >= this.written) {
      this.syncStartMs = Math.max(this.syncStartMs, startMs);
      return;
    }
    this.lastSyncWaiters = this.syncWaiters;
    await this.current.fsync();
    this.synced = this.written;
    this.syncStartMs = Math.max(this.syncStartMs, startMs);
    this.currentInfo().maxLsn = this.written;
    this.counters.fsyncs++;
    if (this.listener !== undefined) {
      this.emit({ type: 'fsync', file: this.current.path, upToLsn: this.written, waiters: this.syncWaiters });
    }
  }

  private async rollover(): Promise<void> {
    const old = this.current;
    const size = this.nInFile;
    await this.cutZeroTail();
    await old.fsync();
    this.synced = this.written;
    this.counters.fsyncs++;
    const info = this.currentInfo();
    info.maxLsn = this.written;
    await old.close();
    await this.createFile(info.index + 1);
    this.counters.rollovers++;
    if (this.listener !== undefined) {
      this.emit({ type: 'rollover', from: old.path, to: this.current.path, maxLsn: info.maxLsn, size });
    }
  }

  private async createFile(index: number): Promise<void> {
    const path = joinPath(this.dir, logFileName(index, TOKU_LOG_VERSION));
    const file = await this.storage.open(path, 'create-exclusive', this.dsync ? { dsync: true } : {});
    await file.pwrite(encodeLogFileHeader(TOKU_LOG_VERSION), 0);
    await this.storage.fsyncDir(this.dir);
    this.current = file;
    this.nInFile = LOG_FILE_HEADER_SIZE;
    this.allocatedEnd = LOG_FILE_HEADER_SIZE;
    // A new file starts with the last LSN written before it, as PerconaFT's logfilemgr does.
    this.files.push({ index, version: TOKU_LOG_VERSION, path, maxLsn: this.written });
    if (this.listener !== undefined) this.emit({ type: 'file-created', file: path, index });
    this.maybeExtend();
  }

  /**
   * Start zeroing the next preallocate bytes of the current file when less than half of the
   * zeros ahead are left and no extension is in flight. Runs in the background (its failure
   * fails the writer); flushLocked and cutZeroTail wait for it when they must.
   */
  private maybeExtend(): void {
    if (this.preallocate === 0 || this.extending !== undefined || this.closed) return;
    if (this.allocatedEnd - this.nInFile >= this.preallocate / 2) return;
    const file = this.current;
    const from = this.allocatedEnd;
    const len = this.preallocate;
    if (this.zeros === undefined || this.zeros.length < len) this.zeros = new Uint8Array(len);
    const zeros = this.zeros.subarray(0, len);
    this.extendFrom = from;
    const p = (async () => {
      try {
        await file.pwrite(zeros, from);
        if (file.dsync !== true) await file.fsync();
      } catch (err) {
        if (ioErrorCode(err) !== 'ENOSPC') throw err;
        // Take back whatever part of the zeros a short write left, so no room is held and
        // the file still ends at its last entry; the cut need not be durable (a crash that
        // keeps the zeros leaves a zero tail, which readers take as the end of the log).
        await file.truncate(from);
        const next = this.preallocate / 2 >= MIN_PREALLOCATE ? Math.floor(this.preallocate / 2) : 0;
        if (this.listener !== undefined) this.emit({ type: 'preallocation-reduced', file: file.path, offset: from, triedBytes: len, nextBytes: next });
        this.preallocate = next;
        return;
      }
      if (this.current === file) this.allocatedEnd = Math.max(this.allocatedEnd, from + len);
      this.counters.bytesPreallocated += len;
    })();
    this.extending = p.then(
      () => {
        this.extending = undefined;
      },
      (err: unknown) => {
        this.extending = undefined;
        this.failure ??= err;
      },
    );
  }

  /** Wait for any extension, then cut the zeros after nInFile (durably) so the file ends at its last entry. */
  private async cutZeroTail(): Promise<void> {
    while (this.extending !== undefined) await this.extending;
    this.throwIfFailed();
    if (this.allocatedEnd > this.nInFile) {
      await this.current.truncate(this.nInFile);
      await this.current.fsync();
      this.allocatedEnd = this.nInFile;
    }
  }

  private currentInfo(): LogFileInfo {
    const info = this.files[this.files.length - 1];
    invariant(info !== undefined && info.path === this.current.path, 'the current file is the last in the list');
    return info;
  }

  private async guard<T>(body: () => Promise<T>): Promise<T> {
    this.throwIfFailed();
    try {
      return await body();
    } catch (err) {
      this.failure ??= err;
      throw err;
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private emit(e: LogEvent): void {
    this.listener?.(e);
  }
}
