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
import { findLogFiles, logFileName, nextLogIndex } from './names.js';
import { nextMacrotask } from '../base/portable.js';

/** A record as a caller logs it: its type and fields, without the LSN (the writer assigns it). */
export type LogRecordInput = { [N in LogRecordName]: { type: N } & LogRecordFields<N> }[LogRecordName];

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
  private flushScheduled = false;
  private failure: unknown;
  private closed = false;
  /** See lastSyncStartMs. */
  private syncStartMs: number;
  private readonly counters: LogWriterStats = { records: 0, bytesWritten: 0, writes: 0, fsyncs: 0, durableWrites: 0, rollovers: 0, filesDeleted: 0, bytesPreallocated: 0, writesOnThisThread: 0 };

  private constructor(opts: LogWriterOptions, files: LogFileInfo[], lastLsn: bigint) {
    this.storage = opts.storage;
    this.dir = opts.dir;
    this.lgMax = opts.lgMax ?? DEFAULT_LG_MAX;
    this.bufferSize = opts.bufferSize ?? DEFAULT_LOG_BUFFER_SIZE;
    this.clock = opts.clock;
    this.listener = opts.listener;
    this.dsync = opts.dsync === true;
    this.preallocate = opts.preallocate ?? 0;
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
    const found = await findLogFiles(opts.storage, opts.dir);
    const files: LogFileInfo[] = [];
    let last = 0n;
    for (const f of found) {
      const entry = await readLastEntryOfFile(opts.storage, f.path);
      // An empty file inherits the previous file's max LSN (0 for the first).
      if (entry !== undefined) last = entry.record.lsn;
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
    const full = { ...input, lsn } as LogRecord;
    const before = this.inbuf.length;
    encodeRecordInto(this.inbuf, full);
    this.lsn = lsn;
    this.inbufLastLsn = lsn;
    this.counters.records++;
    this.appendedBytes += this.inbuf.length - before;
    if (this.listener !== undefined) {
      this.emit({ type: 'record-logged', lsn, recordType: full.type, bytes: this.inbuf.length - before });
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
    if (onThisThread && file.dsync === true && this.storage.capabilities.syncWrites) {
      file.pwriteSync(bytes, offset);
      this.counters.writesOnThisThread++;
    } else await file.pwrite(bytes, offset);
    this.nInFile += bytes.length;
    if (this.nInFile > this.allocatedEnd) this.allocatedEnd = this.nInFile;
    this.maybeExtend();
    this.written = upTo;
    this.counters.bytesWritten += bytes.length;
    this.counters.writes++;
    const durable = file.dsync === true;
    if (durable) {
      this.synced = upTo;
      this.syncStartMs = Math.max(this.syncStartMs, startMs);
      this.currentInfo().maxLsn = upTo;
      this.counters.durableWrites++;
    }
    if (this.listener !== undefined) {
      this.emit({ type: 'buffer-written', file: file.path, offset, bytes: bytes.length, upToLsn: upTo });
      if (durable) this.emit({ type: 'fsync', file: file.path, upToLsn: upTo, waiters: this.syncWaiters });
    }
    if (this.nInFile > this.lgMax) await this.rollover();
    return durable;
  }

  /**
   * Group commit on real storage with a separate fsync (no dsync handle): when the previous
   * fsync was shared by several waiters (so several clients commit concurrently), let one
   * turn of the event loop pass before the next write starts, so the clients that fsync just
   * released can log their next commits into it. With a dsync handle this does not pay: a
   * durable write is short enough that starting it at once, with the commits the other
   * clients log meanwhile going into the next one, overlaps their work with the disk
   * (measured, 8 writers: 1.2-1.4x classic-level without the wait, 0.94-1.0x with it).
   * Only on a real device: simulated storage never waits here, so its schedule does not
   * depend on the host's event loop.
   */
  private async gatherCommits(): Promise<void> {
    if (this.lastSyncWaiters > 1 && this.current.dsync !== true && this.storage.capabilities.realDevice) {
      await nextMacrotask();
    }
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
