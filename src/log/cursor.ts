/**
 * Reading a whole log directory in LSN order, forward and backward (spec tokulog-format.md
 * §9.1–§9.4), in bounded chunks: a file is never read into memory whole.
 *
 * Differences from PerconaFT's log cursor, on purpose: a truncated entry is REPORTED as a
 * 'truncated' error (PerconaFT reads it as a clean end of file), and a backward read that
 * fails re-scans that file forward so the error names the exact entry. Repair is a separate,
 * explicit function (repairLogTail) that recovery calls; the cursor never changes a file.
 *
 * Invariants:
 *  - next() returns entries in file order then offset order; prev() the exact reverse.
 *  - With continuity checking on, consecutive entries returned differ by exactly one LSN, in
 *    either direction and across file boundaries; anything else is an 'lsn-gap' error.
 *  - Every error for bad input is a TokusimError naming the file, the byte offset of the
 *    damaged entry (or header), the last good LSN when one is known, and expected vs actual.
 *  - The read window holds at most max(chunkSize, largest entry) bytes.
 *  - A zero tail (a zero length word at an entry boundary followed only by zeros to EOF: the
 *    space a preallocating LogWriter zeroed ahead of its writes, see writer.ts) ends the
 *    file's entries, forward and backward alike; it is not damage. Any non-zero byte after
 *    that boundary makes it damage, reported as any other damage.
 */
import { decodeRecord, MIN_ENTRY_LENGTH, validEntryLength } from '../format/codec.js';
import { TokusimError, invariant, type ErrorWhere } from '../base/errors.js';
import { decodeLogFileHeader, isLogHeaderPrefix, LOG_FILE_HEADER_SIZE } from '../format/log-header.js';
import type { LogRecord } from '../format/record-types.js';
import { ioErrorCode } from '../storage/io-error.js';
import type { Storage, StorageFile } from '../storage/storage.js';
import { findLogFiles } from './names.js';

/** One entry as read from a log file. */
export interface LogEntry {
  record: LogRecord;
  /** The stored checksum. */
  crc: number;
  /** Encoded length in bytes. */
  length: number;
  /** Path of the file holding it and its byte offset there. */
  file: string;
  offset: number;
  /** The encoded entry: a view into the cursor's window, valid only until the next cursor call. */
  bytes: Uint8Array;
}

/** What the log cursor reports when it opens a log file: its path and version. */
export interface LogFileOpened {
  path: string;
  /** Log version from the header (undefined for an empty file). */
  version: number | undefined;
  size: number;
}

/** Options for a {@link LogCursor}. */
export interface LogCursorOptions {
  /** Check that LSNs are consecutive (default true). */
  checkContinuity?: boolean;
  /** Bytes read per chunk (default 1 MiB). */
  chunkSize?: number;
  /**
   * What to do when the LAST file ends inside an entry or inside its header: 'error' (default)
   * reports it; 'wait' treats it as the current end of the log (for following a live log).
   */
  tail?: 'error' | 'wait';
  /** Called whenever a forward read enters a file (after its header was checked). */
  onEnterFile?: (info: LogFileOpened) => void;
}

const DEFAULT_CHUNK = 1 << 20;

/** Rebuild err with `lsn` as the last good LSN, keeping its kind, text and location. */
export function withLastGoodLsn(err: TokusimError, lsn: bigint | undefined): TokusimError {
  if (lsn === undefined || err.where.lsn !== undefined) return err;
  const loc = new TokusimError(err.kind, '', { file: err.where.file, offset: err.where.offset }).message;
  const ev = new TokusimError(err.kind, '', { expected: err.where.expected, actual: err.where.actual }).message;
  const text = err.message.slice(loc.length, err.message.length - ev.length);
  return new TokusimError(err.kind, text, { ...err.where, lsn });
}

/**
 * Consecutive good entries of one file, as raw bytes (see LogCursor.nextRawBatch). Entry i
 * occupies bytes[starts[i], starts[i + 1]); its command byte is at starts[i] + 4 and its LSN
 * (two u32 words, high first) at starts[i] + 5. Valid only until the next cursor call.
 */
export interface RawEntryBatch {
  /** The cursor's read window (do not keep it). */
  bytes: Uint8Array;
  /** The file holding the entries, and the file offset of bytes[0]. */
  file: string;
  base: number;
  /** count + 1 boundaries: entry starts, then the end of the last entry. */
  starts: number[];
  count: number;
}

const TWO32 = 4294967296;

/** An open log file with a read window. */
class WindowedFile {
  /**
   * The window's storage, allocated on the first read and grown only as far as a read needs:
   * most log files are far smaller than the chunk, and a zero-filled chunk per opened file
   * dominated the cost of short recoveries.
   */
  private buf = new Uint8Array(0);
  private winStart = 0;
  private winLen = 0;
  /** Offset of the first entry (12, or 0 for an empty file). */
  start = 0;
  version: number | undefined;

  private constructor(
    readonly path: string,
    private readonly handle: StorageFile,
    public size: number,
    private readonly chunk: number,
  ) {}

  /** Bytes a read loads at least (clamped to EOF): the chunk, or more once an entry needed more. */
  private get windowSize(): number {
    return Math.max(this.chunk, this.buf.length);
  }

  static async open(storage: Storage, path: string, chunk: number, tailWait: boolean): Promise<WindowedFile | 'wait'> {
    const handle = await storage.open(path, 'read');
    const size = await handle.size();
    const f = new WindowedFile(path, handle, size, chunk);
    try {
      if (size === 0) return f;
      if (size < LOG_FILE_HEADER_SIZE && tailWait) {
        await handle.close();
        return 'wait';
      }
      const head = await f.view(0, Math.min(size, LOG_FILE_HEADER_SIZE));
      f.version = decodeLogFileHeader(head, { file: path }).version;
      f.start = LOG_FILE_HEADER_SIZE;
      return f;
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async refreshSize(): Promise<number> {
    this.size = await this.handle.size();
    this.logicalEnd_ = undefined;
    return this.size;
  }

  /** Forget the read window (a live file's bytes there may change). */
  dropWindow(): void {
    this.winLen = 0;
  }

  /** True when at < size and every byte of [at, size) is zero: a zero tail starts at `at`. */
  async zeroTailAt(at: number): Promise<boolean> {
    if (at >= this.size) return false;
    const tmp = new Uint8Array(Math.min(this.size - at, DEFAULT_CHUNK));
    for (let p = at; p < this.size; ) {
      const got = await this.handle.pread(tmp.subarray(0, Math.min(tmp.length, this.size - p)), p);
      if (got === 0) return false;
      for (let i = 0; i < got; i++) if (tmp[i] !== 0) return false;
      p += got;
    }
    return true;
  }

  private logicalEnd_: number | undefined;

  /**
   * Where the file's entries end for a backward read: the size, unless the file ends in a
   * zero tail, then the tail's start. Decided from the end of the file, so the cost does not
   * grow with the log: when the entry that the last four bytes (its trailing length word)
   * describe decodes whole and ends the file, there is no zero tail (a clean file's last byte
   * is usually zero too: the length word's high byte). Otherwise the last non-zero byte is
   * found by reading backward through the zeros, and the entry boundary is the one of the
   * next four positions where a whole entry ends. Only when neither works (damage) is the
   * file scanned forward to find the boundary.
   */
  async logicalEnd(): Promise<number> {
    if (this.logicalEnd_ !== undefined) return this.logicalEnd_;
    this.logicalEnd_ = await this.findLogicalEnd();
    return this.logicalEnd_;
  }

  private async findLogicalEnd(): Promise<number> {
    if (this.size <= this.start || this.start === 0) return this.size;
    const last = await this.view(this.size - 1, 1);
    if (last[0] !== 0) return this.size;
    if ((await this.decodeEndingAt(this.size)) !== undefined) return this.size;
    // The last non-zero byte, read backward a chunk at a time.
    // (Through the read window, which the reads above already placed at the end.)
    let q = -1;
    for (let hi = this.size; hi > this.start && q < 0; ) {
      const lo = Math.max(this.start, hi - 64 * 1024);
      const bytes = await this.view(lo, hi - lo);
      if (bytes.length !== hi - lo) break;
      for (let i = bytes.length - 1; i >= 0; i--) {
        if (bytes[i] !== 0) {
          q = lo + i;
          break;
        }
      }
      hi = lo;
    }
    if (q < 0) return this.start; // header, then nothing but zeros
    for (let e = q + 1; e <= Math.min(this.size, q + 4); e++) {
      if ((await this.decodeEndingAt(e)) !== undefined) return e;
    }
    // Damage: find the boundary by a forward scan (the zero tail, if any, starts there).
    let at = this.start;
    while (at < this.size) {
      const res = await this.decodeAt(at);
      if (res.kind !== 'ok') return (await this.zeroTailAt(at)) ? at : this.size;
      at += res.length;
    }
    return this.size;
  }

  close(): Promise<void> {
    return this.handle.close();
  }

  /** Make the window hold [from, from+len) (clamped to the file), reading from `from`. */
  private async load(from: number, len: number): Promise<void> {
    // Never allocate past EOF, whatever a (possibly garbage) length asked for.
    const n = Math.max(0, Math.min(Math.max(len, this.windowSize), this.size - from));
    if (n > this.buf.length) this.buf = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const r = await this.handle.pread(this.buf.subarray(got, n), from + got);
      if (r === 0) break;
      got += r;
    }
    this.winStart = from;
    this.winLen = got;
  }

  /** The bytes [from, from+len) (fewer at EOF); a view valid until the next read. */
  async view(from: number, len: number): Promise<Uint8Array> {
    if (from < this.winStart || from + len > this.winStart + this.winLen) await this.load(from, len);
    return this.buf.subarray(from - this.winStart, Math.min(from - this.winStart + len, this.winLen));
  }

  /**
   * Decode the entry at `at` only if it lies wholly inside the current window (no I/O);
   * undefined otherwise.
   */
  decodeInWindow(at: number): ReturnType<typeof decodeRecord> | undefined {
    if (at < this.winStart || at + 4 > this.winStart + this.winLen) return undefined;
    const res = decodeRecord(this.buf.subarray(0, this.winLen), at - this.winStart, { file: this.path, base: this.winStart });
    return res.kind === 'ok' ? res : undefined;
  }

  /** The window's bytes and the file offset of its first byte (valid until the next read). */
  window(): { bytes: Uint8Array; start: number } {
    return { bytes: this.buf.subarray(0, this.winLen), start: this.winStart };
  }

  /** A view of [from, from+len) that the last decode just read (must be inside the window). */
  windowView(from: number, len: number): Uint8Array {
    invariant(from >= this.winStart && from + len <= this.winStart + this.winLen, 'entry bytes are in the window');
    return this.buf.subarray(from - this.winStart, from - this.winStart + len);
  }

  /**
   * Decode the entry starting at `at`. Returns the decode result with offsets in the file.
   * Loads more bytes as needed; 'truncated' only when the entry really runs past EOF.
   */
  async decodeAt(at: number): Promise<ReturnType<typeof decodeRecord>> {
    if (at < this.winStart || at + 4 > this.winStart + this.winLen) {
      await this.load(at, Math.min(this.windowSize, Math.max(0, this.size - at)));
    }
    for (;;) {
      const win = this.buf.subarray(0, this.winLen);
      const res = decodeRecord(win, at - this.winStart, { file: this.path, base: this.winStart });
      if (res.kind !== 'truncated') return res;
      const haveToEof = this.winStart + this.winLen >= this.size;
      if (haveToEof) return res;
      const have = this.winStart + this.winLen - at;
      await this.load(at, Math.max(this.windowSize, have + res.need));
    }
  }

  /**
   * Decode backward the entry that ends at `end`. Returns undefined when the trailing len
   * cannot describe a valid entry there (the caller then classifies the damage).
   */
  async decodeEndingAt(end: number): Promise<{ entry: LogEntry } | undefined> {
    if (end - 4 < this.start) return undefined;
    const tail = await this.view(end - 4, 4);
    if (tail.length < 4) return undefined;
    const len = (tail[0]! | (tail[1]! << 8) | (tail[2]! << 16) | (tail[3]! << 24)) >>> 0;
    if (len < MIN_ENTRY_LENGTH || end - len < this.start) return undefined;
    const from = end - len;
    // Load a window that ends at `end`, so the next backward reads are served from memory.
    if (from < this.winStart || end > this.winStart + this.winLen) {
      const winFrom = Math.max(this.start, end - Math.max(this.windowSize, len));
      await this.load(winFrom, end - winFrom);
    }
    const res = decodeRecord(this.buf.subarray(0, end - this.winStart), from - this.winStart, { file: this.path, base: this.winStart });
    if (res.kind !== 'ok' || res.length !== len) return undefined;
    const bytes = this.windowView(from, len);
    return { entry: { record: res.record, crc: res.crc, length: res.length, file: this.path, offset: from, bytes } };
  }
}

/** What a forward scan of one file found. */
export interface FileScan {
  path: string;
  size: number;
  version: number | undefined;
  entries: number;
  firstLsn: bigint | undefined;
  lastLsn: bigint | undefined;
  /** Offset just after the last good entry (or after the header). */
  goodEnd: number;
  /** The first problem, with the start offset of the damaged entry (or 0 for the header). */
  problem?: { error: TokusimError; entryStart: number };
  /** Bytes of zero tail after goodEnd (0 when the file ends at its last entry or is damaged). */
  zeroTail: number;
}

/** Read one file forward to its end or its first damaged entry. Never throws for bad data. */
export async function scanLogFile(storage: Storage, path: string, opts: { chunkSize?: number; lastLsnBefore?: bigint } = {}): Promise<FileScan> {
  let wf: WindowedFile;
  const handle = await storage.open(path, 'read');
  const size = await handle.size();
  await handle.close();
  try {
    const r = await WindowedFile.open(storage, path, opts.chunkSize ?? DEFAULT_CHUNK, false);
    invariant(r !== 'wait', 'scan never waits');
    wf = r;
  } catch (err) {
    if (!(err instanceof TokusimError) || err.kind === 'io') throw err;
    return {
      path, size, version: undefined, entries: 0, firstLsn: undefined, lastLsn: undefined, goodEnd: 0, zeroTail: 0,
      problem: { error: withLastGoodLsn(err, opts.lastLsnBefore), entryStart: 0 },
    };
  }
  const scan: FileScan = { path, size, version: wf.version, entries: 0, firstLsn: undefined, lastLsn: undefined, goodEnd: wf.start, zeroTail: 0 };
  try {
    let at = wf.start;
    while (at < wf.size) {
      const res = await wf.decodeAt(at);
      const lastGood = scan.lastLsn ?? opts.lastLsnBefore;
      if (res.kind === 'ok') {
        scan.entries++;
        scan.firstLsn ??= res.record.lsn;
        scan.lastLsn = res.record.lsn;
        at += res.length;
        scan.goodEnd = at;
      } else if (await wf.zeroTailAt(at)) {
        scan.zeroTail = wf.size - at;
        break;
      } else {
        const error = res.kind === 'corrupt' ? withLastGoodLsn(res.error, lastGood) : truncatedError(path, at, wf.size - at, res.need, lastGood);
        scan.problem = { error, entryStart: at };
        break;
      }
    }
  } finally {
    await wf.close();
  }
  return scan;
}

function truncatedError(file: string, offset: number, have: number, need: number, lastGood: bigint | undefined): TokusimError {
  const where: ErrorWhere = { file, offset, expected: `${have + need} bytes`, actual: `${have} bytes` };
  if (lastGood !== undefined) where.lsn = lastGood;
  return new TokusimError('truncated', 'log ends inside an entry (torn tail)', where);
}

/** The last entry of one file, undefined when the file has none. Throws on a damaged tail. */
export async function readLastEntryOfFile(storage: Storage, path: string): Promise<LogEntry | undefined> {
  const c = new LogCursor(storage, [path], {});
  try {
    return await c.last();
  } finally {
    await c.close();
  }
}

interface Boundary {
  fileIdx: number;
  /** Byte offset in that file; -1 = start of the file, Infinity = end of the file. */
  offset: number;
}

/** A cursor over a list of log files in reading order. */
export class LogCursor {
  private readonly storage: Storage;
  private paths: string[];
  private readonly checkContinuity: boolean;
  private readonly chunk: number;
  private readonly tailWait: boolean;
  private readonly onEnterFile: LogCursorOptions['onEnterFile'];
  private readonly dir: string | undefined;

  private open_: { idx: number; wf: WindowedFile } | undefined;
  private fwd: Boundary = { fileIdx: 0, offset: -1 };
  private bwd: Boundary;
  private refLsn: bigint | undefined;

  /** A cursor over the log files at paths (in index order) on storage. */
  constructor(storage: Storage, paths: string[], opts: LogCursorOptions = {}, dir?: string) {
    this.storage = storage;
    this.paths = [...paths];
    this.checkContinuity = opts.checkContinuity ?? true;
    this.chunk = opts.chunkSize ?? DEFAULT_CHUNK;
    this.tailWait = (opts.tail ?? 'error') === 'wait';
    this.onEnterFile = opts.onEnterFile;
    this.dir = dir;
    this.bwd = { fileIdx: this.paths.length - 1, offset: Infinity };
  }

  /** A cursor over every log file of dir (names per §2.1, in version-then-index order). */
  static async open(storage: Storage, dir: string, opts: LogCursorOptions = {}): Promise<LogCursor> {
    const files = await findLogFiles(storage, dir);
    return new LogCursor(storage, files.map((f) => f.path), opts, dir);
  }

  /** The files this cursor reads, in order. */
  get files(): readonly string[] {
    return this.paths;
  }

  /** LSN of the entry last returned (undefined before the first read). */
  get lastLsn(): bigint | undefined {
    return this.refLsn;
  }

  /** For a directory cursor: pick up log files created since it opened (after rollover). */
  async refresh(): Promise<void> {
    if (this.dir === undefined) return;
    const files = await findLogFiles(this.storage, this.dir);
    const known = new Set(this.paths);
    for (const f of files) if (!known.has(f.path)) this.paths.push(f.path);
  }

  /** Forget the position: the next next() reads the first entry, the next prev() the last. */
  rewind(): void {
    this.fwd = { fileIdx: 0, offset: -1 };
    this.bwd = { fileIdx: this.paths.length - 1, offset: Infinity };
    this.refLsn = undefined;
  }

  /** Moves to the first entry of the log and returns it (undefined for an empty log). */
  async first(): Promise<LogEntry | undefined> {
    this.rewind();
    return this.next();
  }

  /** Moves to the last entry of the log and returns it (undefined for an empty log). */
  async last(): Promise<LogEntry | undefined> {
    this.rewind();
    return this.prev();
  }

  /** The next entry in LSN order, or undefined at the end of the log. */
  async next(): Promise<LogEntry | undefined> {
    for (;;) {
      const { fileIdx } = this.fwd;
      if (fileIdx >= this.paths.length) return undefined;
      const wf = await this.fileAt(fileIdx, true);
      if (wf === 'wait') return undefined;
      const isLast = fileIdx === this.paths.length - 1;
      if (this.fwd.offset < 0) {
        this.fwd.offset = wf.start;
        this.onEnterFile?.({ path: wf.path, version: wf.version, size: wf.size });
      }
      // The file may have grown since its size was read (a live log being followed).
      if (this.fwd.offset >= wf.size && (isLast || this.tailWait)) await wf.refreshSize();
      if (this.fwd.offset >= wf.size) {
        if (isLast) return undefined;
        this.fwd = { fileIdx: fileIdx + 1, offset: -1 };
        continue;
      }
      const at = this.fwd.offset;
      const res = await wf.decodeAt(at);
      if (res.kind !== 'ok' && (await wf.zeroTailAt(at))) {
        // The end of this file's entries (a preallocated zero tail), not damage.
        if (isLast) {
          // A followed live log overwrites these zeros later: read them afresh next time.
          wf.dropWindow();
          return undefined;
        }
        this.fwd = { fileIdx: fileIdx + 1, offset: -1 };
        continue;
      }
      if (res.kind === 'corrupt') throw withLastGoodLsn(res.error, this.refLsn);
      if (res.kind === 'truncated') {
        if (isLast && this.tailWait) return undefined;
        throw truncatedError(wf.path, at, wf.size - at, res.need, this.refLsn);
      }
      const bytes = wf.windowView(at, res.length);
      const entry: LogEntry = { record: res.record, crc: res.crc, length: res.length, file: wf.path, offset: at, bytes };
      this.checkLsn(entry, 1n);
      this.fwd = { fileIdx, offset: at + res.length };
      this.bwd = { fileIdx, offset: at };
      return entry;
    }
  }

  /**
   * Up to `max` next entries at once (an empty array at the end of the log): entries already
   * in the read window are decoded without awaiting, which is much faster for bulk readers.
   * Damage is thrown when it is reached, after the good entries before it were returned.
   * The entries' `bytes` views are valid only until the next cursor call.
   */
  async nextBatch(max = 4096): Promise<LogEntry[]> {
    const out: LogEntry[] = [];
    const first = await this.next();
    if (first === undefined) return out;
    out.push(first);
    const o = this.open_;
    if (o === undefined || o.idx !== this.fwd.fileIdx) return out;
    const wf = o.wf;
    while (out.length < max) {
      const at = this.fwd.offset;
      const res = wf.decodeInWindow(at);
      if (res === undefined || res.kind !== 'ok') break;
      const lsn = res.record.lsn;
      // Leave a gap (or anything unusual) to next(), which reports it.
      if (this.checkContinuity && this.refLsn !== undefined && lsn !== this.refLsn + 1n) break;
      this.refLsn = lsn;
      out.push({ record: res.record, crc: res.crc, length: res.length, file: wf.path, offset: at, bytes: wf.windowView(at, res.length) });
      this.fwd.offset = at + res.length;
      this.bwd = { fileIdx: this.fwd.fileIdx, offset: at };
    }
    return out;
  }

  /**
   * Like nextBatch, but without decoding: up to `max` next entries of one file as offsets
   * into the read window (undefined at the end of the log). Each entry after the first is
   * checked exactly as decodeRecord checks it (framing, fields, checksum), and LSN
   * continuity as next() checks it; anything unusual (damage, a gap, an LSN of 2^53 or more)
   * ends the batch, and the next call reports it through next(). For bulk printers that
   * never need a record object.
   */
  async nextRawBatch(max = 1 << 16): Promise<RawEntryBatch | undefined> {
    const first = await this.next();
    if (first === undefined) return undefined;
    const o = this.open_;
    invariant(o !== undefined && o.idx === this.fwd.fileIdx, 'next() leaves the file of its entry open');
    const { bytes, start } = o.wf.window();
    const starts = [first.offset - start];
    let at = first.offset + first.length - start;
    let lsn = first.record.lsn < 1n << 53n ? Number(first.record.lsn) : -1;
    const check = this.checkContinuity;
    while (lsn >= 0 && starts.length < max) {
      const len = validEntryLength(bytes, at);
      if (len < 0) break;
      const hi = (bytes[at + 5]! | (bytes[at + 6]! << 8) | (bytes[at + 7]! << 16) | (bytes[at + 8]! << 24)) >>> 0;
      if (hi >= 0x200000) break;
      const next = hi * TWO32 + ((bytes[at + 9]! | (bytes[at + 10]! << 8) | (bytes[at + 11]! << 16) | (bytes[at + 12]! << 24)) >>> 0);
      if (check && next !== lsn + 1) break;
      lsn = next;
      starts.push(at);
      at += len;
    }
    const count = starts.length;
    starts.push(at);
    if (count > 1) {
      this.refLsn = BigInt(lsn);
      this.fwd.offset = start + at;
      this.bwd = { fileIdx: this.fwd.fileIdx, offset: start + starts[count - 1]! };
    }
    return { bytes, file: o.wf.path, base: start, starts, count };
  }

  /** The previous entry in LSN order, or undefined before the first. */
  async prev(): Promise<LogEntry | undefined> {
    for (;;) {
      const { fileIdx } = this.bwd;
      if (fileIdx < 0) return undefined;
      const wf = await this.fileAt(fileIdx, false);
      invariant(wf !== 'wait', 'backward reads never wait');
      if (this.bwd.offset === Infinity) this.bwd.offset = await wf.logicalEnd();
      const end = this.bwd.offset;
      if (end <= wf.start) {
        this.bwd = { fileIdx: fileIdx - 1, offset: Infinity };
        continue;
      }
      const got = await wf.decodeEndingAt(end);
      if (got === undefined) throw await this.classifyBackwardFailure(wf.path, end);
      const entry = got.entry;
      this.checkLsn(entry, -1n);
      this.bwd = { fileIdx, offset: entry.offset };
      this.fwd = { fileIdx, offset: entry.offset + entry.length };
      return entry;
    }
  }

  /**
   * The file the cursor has open and its size as the cursor last read it (after a next() that
   * reached the end of the last file: its size at that moment), or undefined when none is open.
   */
  openFile(): { path: string; size: number } | undefined {
    const o = this.open_;
    return o === undefined ? undefined : { path: o.wf.path, size: o.wf.size };
  }

  /** Closes the log file the cursor has open. */
  async close(): Promise<void> {
    const o = this.open_;
    this.open_ = undefined;
    if (o !== undefined) await o.wf.close();
  }

  private checkLsn(entry: LogEntry, step: bigint): void {
    const lsn = entry.record.lsn;
    if (this.checkContinuity && this.refLsn !== undefined && lsn !== this.refLsn + step) {
      throw new TokusimError('lsn-gap', step > 0n ? 'LSNs are not consecutive' : 'LSNs are not consecutive (reading backward)', {
        file: entry.file,
        offset: entry.offset,
        lsn: this.refLsn,
        expected: String(this.refLsn + step),
        actual: String(lsn),
      });
    }
    this.refLsn = lsn;
  }

  private async fileAt(idx: number, forward: boolean): Promise<WindowedFile | 'wait'> {
    if (this.open_?.idx === idx) return this.open_.wf;
    await this.close();
    const path = this.paths[idx]!;
    const tailWait = forward && this.tailWait && idx === this.paths.length - 1;
    let r: WindowedFile | 'wait';
    try {
      r = await WindowedFile.open(this.storage, path, this.chunk, tailWait);
    } catch (err) {
      throw err instanceof TokusimError ? withLastGoodLsn(err, this.refLsn) : err;
    }
    if (r !== 'wait') this.open_ = { idx, wf: r };
    return r;
  }

  /** A backward read failed at `end`: scan the file forward to name the damage exactly. */
  private async classifyBackwardFailure(path: string, end: number): Promise<TokusimError> {
    const scan = await scanLogFile(this.storage, path, { chunkSize: this.chunk });
    if (scan.problem !== undefined) return scan.problem.error;
    return new TokusimError('bad-length', 'no entry ends here (trailing len does not lead back to an entry start)', {
      file: path,
      offset: end,
      lsn: this.refLsn,
    });
  }
}

/** What repairing a damaged log tail did: whether a file was cut, where and what was discarded. */
export interface RepairResult {
  /** True when a file was truncated. */
  repaired: boolean;
  file?: string;
  oldSize?: number;
  /** The cut: the offset of the first damaged entry (the file's new size). */
  newSize?: number;
  /** Bytes cut off (oldSize - newSize). */
  bytesCut?: number;
  /**
   * Entries in the cut-off bytes that still look whole (length, command, fields and checksum
   * agree): what a reordered or torn unsynced write left behind after the damaged one.
   */
  discardedEntries?: number;
  /** LSNs of the first and last of those entries. */
  discardedLsns?: { first: bigint; last: bigint };
  /** LSN of the last entry left in the log (undefined for an empty log). */
  lastGoodLsn?: bigint;
  /** The damage that was cut off. */
  problem?: TokusimError;
  /**
   * Where the cut-off bytes were saved (`<log file>.cut-<offset>`, a name log scans ignore),
   * so a repair never destroys bytes: a bit flip in fsynced data looks like a torn tail.
   */
  savedTo?: string;
  /**
   * Bytes of preallocated zero tail cut from the newest file (not damage, nothing saved;
   * `repaired` stays false).
   */
  zeroTailCut?: number;
}

/**
 * Repair the newest log file (spec §9.4, PerconaFT's lc_fix_bad_logfile): read it forward to
 * its first entry that does not read back whole (torn, zeroed, bad checksum) and truncate the
 * file there, durably. Everything from that entry on was never covered by an fsync: an fsync
 * covers every write issued before it, and the log is written append-only, so a damaged entry
 * means no fsync completed after it was written, hence none covered a later byte either. Good
 * entries after it (a reordered or torn unsynced write that kept a later sector and lost an
 * earlier one) are therefore unacknowledged and are cut too; the result reports how many.
 * Older files were fsynced before the next file was created: damage there is not repaired
 * here; reading it is a clear error.
 */
export async function repairLogTail(storage: Storage, dir: string): Promise<RepairResult> {
  const files = await findLogFiles(storage, dir);
  const newest = files[files.length - 1];
  if (newest === undefined) return { repaired: false };
  const scan = await scanLogFile(storage, newest.path);
  const problem = scan.problem;
  if (problem === undefined) {
    const lastGoodLsn = scan.lastLsn ?? (await lastLsnBefore(storage, files.slice(0, -1).map((f) => f.path)));
    const result: RepairResult = { repaired: false };
    if (lastGoodLsn !== undefined) result.lastGoodLsn = lastGoodLsn;
    if (scan.zeroTail > 0) {
      // A preallocated zero tail is the end of the log, not damage: cut it (nothing to save)
      // so the file ends at its last entry, like any log that was closed cleanly.
      await truncateDurably(storage, newest.path, scan.goodEnd);
      result.zeroTailCut = scan.zeroTail;
    }
    return result;
  }
  invariant(scan.goodEnd === problem.entryStart, 'the cut is at the first damaged entry');
  if (problem.entryStart < LOG_FILE_HEADER_SIZE && !(await headerNeverWritten(storage, newest.path))) {
    // A file header that holds something other than zeros (or than the start of a header,
    // cut short) was written and is damaged, or the file is not one of ours: that is not a
    // torn tail, and cutting it would destroy it.
    throw new TokusimError('bad-magic', `not repairing ${newest.path}: its file header is damaged, not torn (${problem.error.message})`, {
      file: newest.path,
      offset: 0,
    });
  }
  const lastGoodLsn = scan.lastLsn ?? (await lastLsnBefore(storage, files.slice(0, -1).map((f) => f.path)));
  const discarded = await wholeLookingEntries(storage, newest.path, problem.entryStart, scan.size);
  const savedTo = await saveCutBytes(storage, dir, newest.path, scan.goodEnd, scan.size, lastGoodLsn);
  await truncateDurably(storage, newest.path, scan.goodEnd);
  const result: RepairResult = {
    repaired: true, file: newest.path, oldSize: scan.size, newSize: scan.goodEnd, bytesCut: scan.size - scan.goodEnd,
    discardedEntries: discarded.count, problem: problem.error, savedTo,
  };
  if (discarded.first !== undefined && discarded.last !== undefined) result.discardedLsns = { first: discarded.first, last: discarded.last };
  if (lastGoodLsn !== undefined) result.lastGoodLsn = lastGoodLsn;
  return result;
}

/**
 * If every byte of `path` from `at` to its end is zero (a preallocated tail after the entry
 * that ends at `at`), cut them off durably and return how many were cut (0 when the file ends
 * at `at`). Returns undefined, changing nothing, when a non-zero byte follows `at`.
 */
export async function cutZeroTailAt(storage: Storage, path: string, at: number): Promise<number | undefined> {
  const wf = await WindowedFile.open(storage, path, DEFAULT_CHUNK, false);
  if (wf === 'wait') return undefined;
  const size = wf.size;
  try {
    if (at > size || (at < size && !(await wf.zeroTailAt(at)))) return undefined;
  } finally {
    await wf.close();
  }
  if (size > at) await truncateDurably(storage, path, at);
  return size - at;
}

async function truncateDurably(storage: Storage, path: string, size: number): Promise<void> {
  const handle = await storage.open(path, 'readwrite');
  try {
    await handle.truncate(size);
    await handle.fsync();
  } finally {
    await handle.close();
  }
}

/**
 * Copy bytes [from, size) of path to `<path>.cut-<from>` (durably, directory included) before
 * a repair truncates them; returns the copy's path. When the copy cannot be made (typically
 * ENOSPC on a full disk) the partial copy is removed and a TokusimError of kind 'io' says so:
 * the caller must not cut, so the log stays exactly as it was and the repair can be retried
 * once there is room.
 */
async function saveCutBytes(storage: Storage, dir: string, path: string, from: number, size: number, lastGoodLsn: bigint | undefined): Promise<string> {
  // Never overwrite an earlier saved tail (a repair at the same offset after a crash during
  // recovery): the first free name of .cut-OFFSET, .cut-OFFSET.1, .cut-OFFSET.2, ...
  let target = `${path}.cut-${from}`;
  for (let n = 1; await storage.exists(target); n++) target = `${path}.cut-${from}.${n}`;
  let created = false;
  try {
    const src = await storage.open(path, 'read');
    try {
      const dst = await storage.open(target, 'create-exclusive');
      created = true;
      try {
        const buf = new Uint8Array(Math.min(DEFAULT_CHUNK, Math.max(1, size - from)));
        for (let at = from; at < size; ) {
          const got = await src.pread(buf, at);
          if (got === 0) break;
          await dst.pwrite(buf.subarray(0, got), at - from);
          at += got;
        }
        await dst.fsync();
      } finally {
        await dst.close();
      }
    } finally {
      await src.close();
    }
    await storage.fsyncDir(dir);
  } catch (err) {
    // Only a storage error is reported this way; anything else (a simulated crash) goes on as it is.
    if (!(err instanceof TokusimError && err.kind === 'io')) throw err;
    if (created) {
      // Best effort: a partial copy holds space and saves nothing.
      await storage.unlink(target).catch(() => undefined);
      await storage.fsyncDir(dir).catch(() => undefined);
    }
    const cause = err instanceof Error ? err.message : String(err);
    const code = ioErrorCode(err);
    const e = new TokusimError(
      'io',
      `cannot save the ${size - from}-byte torn tail of the log to ${target} (${cause}); nothing was cut and the log is as it was: free at least ${size - from} bytes and run recovery again`,
      { file: path, offset: from, ...(lastGoodLsn !== undefined ? { lsn: lastGoodLsn } : {}), ...(code !== '' ? { actual: code } : {}) },
    );
    (e as { cause?: unknown }).cause = err;
    throw e;
  }
  return target;
}

/**
 * True if the file's header was never completely written: its header bytes (the first 12, or
 * fewer if it is shorter) are all zero, or the file is shorter than a header and holds the
 * start of one (the magic, as far as it goes): a crash tore the header write of a new file,
 * exactly as a 0-byte file is one whose header write never started. Either way it holds no
 * entry, so cutting it loses nothing that was ever acknowledged.
 */
async function headerNeverWritten(storage: Storage, path: string): Promise<boolean> {
  const f = await storage.open(path, 'read');
  try {
    const buf = new Uint8Array(LOG_FILE_HEADER_SIZE);
    const got = await f.pread(buf, 0);
    if (buf.subarray(0, got).every((b) => b === 0)) return true;
    return got < LOG_FILE_HEADER_SIZE && (await f.size()) < LOG_FILE_HEADER_SIZE && isLogHeaderPrefix(buf.subarray(0, got));
  } finally {
    await f.close();
  }
}

/**
 * Count the entries in path's bytes [from, size) that look whole (validEntryLength accepts
 * them), trying every byte offset and skipping over each one found. Reads in windows of
 * 2 * DEFAULT_CHUNK, so an entry longer than DEFAULT_CHUNK may be missed (the count is a report,
 * not a decision).
 */
async function wholeLookingEntries(storage: Storage, path: string, from: number, size: number): Promise<{ count: number; first?: bigint; last?: bigint }> {
  const out: { count: number; first?: bigint; last?: bigint } = { count: 0 };
  if (from <= 0 || from >= size) return out;
  const f = await storage.open(path, 'read');
  try {
    let p = from;
    while (p < size) {
      const len = Math.min(2 * DEFAULT_CHUNK, size - p);
      const buf = new Uint8Array(len);
      const got = await f.pread(buf, p);
      const atEnd = p + len >= size;
      const limit = atEnd ? got : Math.min(got, DEFAULT_CHUNK);
      let q = 0;
      while (q < limit) {
        const n = validEntryLength(buf, q, got);
        if (n > 0) {
          const dv = new DataView(buf.buffer, buf.byteOffset + q + 5, 8);
          const lsn = (BigInt(dv.getUint32(0, true)) << 32n) | BigInt(dv.getUint32(4, true));
          out.first ??= lsn;
          out.last = lsn;
          out.count++;
          q += n;
        } else q++;
      }
      if (got === 0) break;
      p += q;
    }
  } finally {
    await f.close();
  }
  return out;
}

async function lastLsnBefore(storage: Storage, paths: string[]): Promise<bigint | undefined> {
  for (let i = paths.length - 1; i >= 0; i--) {
    const e = await readLastEntryOfFile(storage, paths[i]!);
    if (e !== undefined) return e.record.lsn;
  }
  return undefined;
}
