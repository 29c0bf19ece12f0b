/**
 * SimStorage: an in-memory disk that remembers what is durable and what is only written, and
 * at a crash decides, from a seed, what survives (DESIGN.md principle 2).
 *
 * The model (what is durable when):
 *  - A file is an inode with two byte images: `durable` (what a crash cannot take away) and
 *    `current` (what readers see now), plus the ordered list of writes and truncates issued
 *    since its last fsync. current == durable with those operations applied, in order.
 *    fsync() applies them to durable and empties the list.
 *  - A directory maps names to inodes, again as `durable` and `current` plus the ordered list
 *    of entry operations (create, link, rename, unlink) since its last fsyncDir. fsyncDir() makes
 *    current durable. A rename across directories is an unlink in one and a link in the other;
 *    each becomes durable with its own directory's fsync.
 *  - A handle opened with `{ dsync: true }` models O_DSYNC: its pwrite is applied to `durable`
 *    as well as `current` when the call completes, so no crash can take it away. Linux syncs
 *    only the written range, so other unsynced operations stay pending; when one of them is a
 *    truncate or overlaps the new write (it could not commute with it), they are all made
 *    durable first — a simplification slightly stronger than the kernel. Truncates through a
 *    dsync handle stay pending like any other.
 *  - Directories themselves are created durable at once by mkdir (a simplification: the engine
 *    creates its environment directory once, before anything it must recover).
 *  - Handles point at inodes, so a file unlinked while open stays readable through the handle.
 *  - crash() computes the post-crash disk: every file starts from its durable image and every
 *    directory from its durable entries; then each unsynced operation gets a fate drawn from
 *    the seed and the enabled faults: kept, dropped, or (a write only) torn, meaning only some
 *    of its sector-aligned pieces reach the disk. Without `reorder`, what survives of each
 *    file's (and each directory's) list is a prefix in issue order: once one operation is lost
 *    every later one is too, and a torn write keeps a prefix of its sectors. With `reorder`,
 *    every fate is independent, so a later write can survive an earlier one. Mode 'keep-all'
 *    keeps everything (a clean power-off); 'drop-all' loses everything unsynced.
 *    Afterwards every image is durable, inodes no directory names are gone and every handle
 *    opened before the crash refuses further use.
 *  - An I/O counter numbers every call (IoEvent.seq). onIo hooks run before each call; a hook
 *    that throws SimulatedCrash (or crashAtIo) halts the disk: every later call throws
 *    SimulatedCrash until crash() is called, so in-flight work cannot change the disk after
 *    the crash point. With ioJitter, calls also complete after a seeded number of promise
 *    turns, so one seed fixes one interleaving of concurrent tasks.
 *  - Capacity (option or setCapacity; default unlimited) models a disk that fills up: the space
 *    used is, over the files some directory names, the end of the bytes written to each (a
 *    file grown by truncate is sparse past that and holds no space there; a file unlinked while
 *    open frees its space at once: simplifications). A pwrite that would take more writes the
 *    bytes that fit (a short write, as a full file system does) and then fails with ENOSPC;
 *    creating a file on a full disk fails with ENOSPC. Overwrites, shrinking and unlink work.
 *
 * Invariants (checked after every crash, and by checkInvariants()):
 *  - Every directory entry names an inode that exists.
 *  - For every inode, durable with the pending operations applied equals current.
 *  - After crash(): no pending operations anywhere; durable == current everywhere.
 *  - Bytes of an fsynced file named by an fsynced directory entry survive every crash.
 */
import { TokusimError, invariant } from '../base/errors.js';
import { Prng } from '../base/prng.js';
import { ioError } from './io-error.js';
import { baseName, dirName, MachineHalted, PLAIN_CAPABILITIES } from './storage.js';
import type { OpenMode, OpenOptions, Storage, StorageCapabilities, StorageFile } from './storage.js';
import { compareBytes, compareUtf8 } from '../base/portable.js';

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/** Each kind of crash fault can be switched on or off. */
export interface SimFaults {
  /** Unsynced writes and truncates may be lost. */
  dropUnsynced: boolean;
  /** An unsynced write may reach the disk only in part, split at sector boundaries. */
  tornWrites: boolean;
  /** Unsynced operations may persist out of order (a later one kept, an earlier one lost). */
  reorder: boolean;
  /** Directory entries created, renamed or removed since the last fsyncDir may be reverted. */
  loseDirEntries: boolean;
}

/** Every fault the simulated disk can inject, switched on. */
export const ALL_FAULTS: Readonly<SimFaults> = Object.freeze({
  dropUnsynced: true,
  tornWrites: true,
  reorder: true,
  loseDirEntries: true,
});

/** Every fault of the simulated disk switched off (a crash keeps exactly what was synced). */
export const NO_FAULTS: Readonly<SimFaults> = Object.freeze({
  dropUnsynced: false,
  tornWrites: false,
  reorder: false,
  loseDirEntries: false,
});

/** 'faults': fates drawn per the enabled faults; 'keep-all': clean power-off; 'drop-all': lose every unsynced operation. */
export type CrashMode = 'faults' | 'keep-all' | 'drop-all';

/** Options for a {@link SimStorage}: the seed, sector size, capacity and which faults to inject. */
export interface SimStorageOptions {
  /** Seed for every choice this disk makes (default 1). */
  seed?: number;
  /** Torn writes split only at multiples of this many bytes (default 512). */
  sectorSize?: number;
  /** Faults enabled for crash() unless a crash overrides them (default: all on). */
  faults?: Partial<SimFaults>;
  /**
   * Before each I/O call completes, let up to this many (seeded) promise turns pass, so that
   * concurrent tasks interleave in a seed-chosen order (default 0: calls complete in order).
   */
  ioJitter?: number;
  /** Bytes the disk holds (default unlimited); see the capacity rule in the model. */
  capacity?: number;
}

/** Options for a crash of a {@link SimStorage}: the seed of this crash and how it treats unsynced writes. */
export interface CrashOptions {
  /** Seed for this crash's choices (default: drawn from the disk's own generator). */
  seed?: number;
  mode?: CrashMode;
  /** Override the disk's enabled faults for this crash only. */
  faults?: Partial<SimFaults>;
}

/** The kind of one I/O call on a {@link SimStorage}, as its I/O events report it. */
export type IoOp =
  | 'open'
  | 'pread'
  | 'pwrite'
  | 'size'
  | 'truncate'
  | 'fsync'
  | 'close'
  | 'exists'
  | 'list'
  | 'mkdir'
  | 'rename'
  | 'link'
  | 'unlink'
  | 'fsyncDir';

/** One I/O call on a {@link SimStorage}, as reported to its listener (used to schedule crashes and faults). */
export interface IoEvent {
  /** 1-based number of this I/O call on this disk (continues across crashes and snapshots). */
  readonly seq: number;
  readonly op: IoOp;
  readonly path: string;
  readonly offset?: number;
  readonly length?: number;
  /** For rename and link: the destination. */
  readonly to?: string;
}

/** Thrown to stop the simulated machine at an I/O call. Not a TokusimError: nothing should handle it. */
export class SimulatedCrash extends MachineHalted {
  /** The crash injected at I/O call number ioSeq. */
  constructor(
    readonly ioSeq: number,
    message = `simulated crash at I/O #${ioSeq}`,
  ) {
    super(message);
    this.name = 'SimulatedCrash';
  }
}

/** Fault counts: of one crash (CrashReport) or summed over every crash (SimStats). */
export interface FaultCounts {
  writesKept: number;
  writesDropped: number;
  writesTorn: number;
  sectorsLost: number;
  truncatesKept: number;
  truncatesDropped: number;
  dirOpsKept: number;
  dirOpsLost: number;
  /** Files that no directory names after the crash and so are gone. */
  filesGone: number;
}

/** What one crash did. */
export interface CrashReport extends FaultCounts {
  seed: number;
  mode: CrashMode;
}

/** Running totals of faults injected, by type. */
export interface SimStats extends FaultCounts {
  ioOps: number;
  crashes: number;
  bytesCorrupted: number;
}

// ---------------------------------------------------------------------------------------------
// Internal model
// ---------------------------------------------------------------------------------------------

/** Hashes of buffers no Image writes into any more (see Image.contentHash). */
const frozenHashes = new WeakMap<Uint8Array, Map<number, string>>();

/**
 * A growable byte image; bytes past `len` are not part of the file. Clones share the buffer
 * until one of them writes (copy on write): snapshots and crashes clone every image, and
 * most clones are never written.
 */
class Image {
  private buf: Uint8Array;
  len: number;
  /** The buffer may be shared with a clone: copy it before writing into it. */
  private shared = false;

  constructor(buf: Uint8Array = new Uint8Array(0), len = buf.length) {
    this.buf = buf;
    this.len = len;
  }

  /** Make the buffer this image's own, holding at least `cap` bytes, in one copy. */
  private own(cap = 0): void {
    if (!this.shared) return;
    if (cap > this.len) {
      const next = new Uint8Array(Math.max(cap, this.len * 2, 64));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    } else {
      this.buf = this.buf.slice(0, this.len);
    }
    this.shared = false;
  }

  private ensure(cap: number): void {
    if (cap <= this.buf.length) return;
    const next = new Uint8Array(Math.max(cap, this.buf.length * 2, 64));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  write(offset: number, data: Uint8Array): void {
    if (data.length === 0) return;
    const end = offset + data.length;
    this.own(end);
    this.ensure(end);
    if (offset > this.len) this.buf.fill(0, this.len, offset);
    this.buf.set(data, offset);
    if (end > this.len) this.len = end;
  }

  truncate(size: number): void {
    if (size > this.len) {
      this.own(size);
      this.ensure(size);
      this.buf.fill(0, this.len, size);
    }
    this.len = size;
  }

  read(into: Uint8Array, offset: number): number {
    if (offset >= this.len) return 0;
    const n = Math.min(into.length, this.len - offset);
    into.set(this.buf.subarray(offset, offset + n));
    return n;
  }

  view(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  xorByte(i: number, mask: number): void {
    invariant(i < this.len, 'xorByte past end');
    this.own();
    this.buf[i] = this.buf[i]! ^ mask;
  }

  /** True when other holds the same bytes through the same buffer (a cheap equality proof). */
  sharesBytesWith(other: Image): boolean {
    return this.buf === other.buf && this.len === other.len;
  }

  /**
   * hashBytes of the contents. A buffer once shared is never written again (every holder
   * copies before writing), so its hash is kept per buffer and length.
   */
  contentHash(): string {
    if (!this.shared) return hashBytes(this.view());
    let byLen = frozenHashes.get(this.buf);
    if (byLen === undefined) frozenHashes.set(this.buf, (byLen = new Map()));
    let h = byLen.get(this.len);
    if (h === undefined) byLen.set(this.len, (h = hashBytes(this.view())));
    return h;
  }

  clone(): Image {
    const c = new Image(this.buf, this.len);
    c.shared = true;
    this.shared = true;
    return c;
  }
}

type FileOp = { kind: 'write'; offset: number; data: Uint8Array } | { kind: 'truncate'; size: number };

/** True when a pending operation might not commute with a write of [offset, end). */
function clashesWith(op: FileOp, offset: number, end: number): boolean {
  if (op.kind === 'truncate') return true;
  return op.offset < end && offset < op.offset + op.data.length;
}

function applyFileOp(img: Image, op: FileOp): void {
  if (op.kind === 'write') img.write(op.offset, op.data);
  else img.truncate(op.size);
}

class Inode {
  /**
   * End of the bytes written to current (capacity accounting): a file grown by truncate is
   * sparse beyond it and holds no space there, as on a real file system.
   */
  writtenEnd: number;
  constructor(
    readonly id: number,
    public durable: Image,
    public current: Image,
    public pending: FileOp[],
  ) {
    this.writtenEnd = current.len;
  }

  clone(): Inode {
    const c = new Inode(this.id, this.durable.clone(), this.current.clone(), [...this.pending]);
    c.writtenEnd = this.writtenEnd;
    return c;
  }
}

type DirOp =
  | { kind: 'link'; name: string; inode: number }
  | { kind: 'unlink'; name: string; inode: number }
  | { kind: 'rename'; from: string; to: string; inode: number };

class Dir {
  constructor(
    public durable: Map<string, number>,
    public current: Map<string, number>,
    public pending: DirOp[],
  ) {}

  clone(): Dir {
    return new Dir(new Map(this.durable), new Map(this.current), [...this.pending]);
  }
}

function replayDirOp(entries: Map<string, number>, op: DirOp): void {
  switch (op.kind) {
    case 'link':
      entries.set(op.name, op.inode);
      break;
    case 'unlink':
      // Only remove the entry if it still names the inode this unlink removed.
      if (entries.get(op.name) === op.inode) entries.delete(op.name);
      break;
    case 'rename':
      if (entries.get(op.from) === op.inode) {
        entries.delete(op.from);
        entries.set(op.to, op.inode);
      }
      break;
  }
}

/** Normalize a path: collapse '//' and '.', drop a trailing '/'. The roots are '.' and '/'. */
function normalize(path: string): string {
  if (path.length === 0) throw ioError('resolve', path, 'ENOENT', 'empty path');
  // Already normal (the usual case): no empty or '.' component and no trailing '/'.
  if (path !== '.' && !path.endsWith('/') && !path.endsWith('/.') && !path.startsWith('./') && !path.includes('//') && !path.includes('/./')) return path;
  const absolute = path.startsWith('/');
  const parts = path.split('/').filter((p) => p.length > 0 && p !== '.');
  if (parts.length === 0) return absolute ? '/' : '.';
  return (absolute ? '/' : '') + parts.join('/');
}

function compareBytewise(a: string, b: string): number {
  return compareUtf8(a, b);
}

function checkOffset(op: string, path: string, offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw ioError(op, path, 'EINVAL', `offset ${offset} is not a non-negative integer`);
  }
}

/** Length and two 32-bit hashes (FNV-1a and a multiply-rotate hash) of bytes, as text. */
function hashBytes(b: Uint8Array): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c ^ b.length;
  for (let i = 0; i < b.length; i++) {
    const x = b[i]!;
    h1 = Math.imul(h1 ^ x, 0x01000193);
    h2 = Math.imul(h2 ^ x, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  return `${b.length.toString(36)}.${(h1 >>> 0).toString(36)}.${(h2 >>> 0).toString(36)}`;
}

function zeroReport(seed: number, mode: CrashMode): CrashReport {
  return { seed, mode, ...zeroFaultCounts() };
}

function zeroFaultCounts(): FaultCounts {
  return {
    writesKept: 0,
    writesDropped: 0,
    writesTorn: 0,
    sectorsLost: 0,
    truncatesKept: 0,
    truncatesDropped: 0,
    dirOpsKept: 0,
    dirOpsLost: 0,
    filesGone: 0,
  };
}

// ---------------------------------------------------------------------------------------------
// Handles
// ---------------------------------------------------------------------------------------------

class SimFile implements StorageFile {
  private closed = false;

  constructor(
    private readonly disk: SimStorage,
    readonly path: string,
    private readonly inode: Inode,
    private readonly writable: boolean,
    private readonly generation: number,
    /** Opened with `{ dsync: true }`: each pwrite is durable when it completes. */
    readonly dsync = false,
  ) {}

  private live(op: string): Inode {
    if (this.closed) throw ioError(op, this.path, 'EBADF', 'handle is closed');
    if (this.generation !== this.disk.generation) {
      throw ioError(op, this.path, 'EBADF', 'handle was opened before a simulated crash');
    }
    return this.inode;
  }

  private liveWritable(op: string): Inode {
    const inode = this.live(op);
    if (!this.writable) throw ioError(op, this.path, 'EBADF', 'handle is read-only');
    return inode;
  }

  pread(buf: Uint8Array, offset: number): Promise<number> {
    return this.disk.io({ op: 'pread', path: this.path, offset, length: buf.length }, () => {
      checkOffset('pread', this.path, offset);
      const n = this.live('pread').current.read(buf, offset);
      invariant(n <= buf.length, 'pread returned more than asked');
      return n;
    });
  }

  pwrite(data: Uint8Array, offset: number): Promise<void> {
    return this.disk.io({ op: 'pwrite', path: this.path, offset, length: data.length }, () => {
      checkOffset('pwrite', this.path, offset);
      const inode = this.liveWritable('pwrite');
      if (data.length === 0) return;
      // A full disk takes the bytes that fit, then refuses the rest.
      const room = this.disk.spaceLeft();
      const fits = Math.max(0, Math.min(data.length, inode.writtenEnd + room - offset));
      if (fits < data.length) {
        if (fits > 0) this.applyWrite(inode, data.subarray(0, fits), offset);
        throw ioError('pwrite', this.path, 'ENOSPC', `no space left on the simulated disk (${fits} of ${data.length} bytes written)`);
      }
      this.applyWrite(inode, data, offset);
    });
  }

  private applyWrite(inode: Inode, data: Uint8Array, offset: number): void {
    // Copy: the caller may reuse its buffer, but the pending write must keep these bytes.
    const op: FileOp = { kind: 'write', offset, data: data.slice() };
    inode.current.write(offset, op.data);
    inode.writtenEnd = Math.max(inode.writtenEnd, offset + data.length);
    if (!this.dsync) {
      inode.pending.push(op);
      return;
    }
    // O_DSYNC: this write is durable now. Pending operations that cannot commute with it
    // are made durable first, so durable + pending still equals current (see the model).
    const end = offset + data.length;
    if (inode.pending.some((p) => clashesWith(p, offset, end))) {
      for (const p of inode.pending) applyFileOp(inode.durable, p);
      inode.pending = [];
    }
    inode.durable.write(offset, op.data);
  }

  size(): Promise<number> {
    return this.disk.io({ op: 'size', path: this.path }, () => {
      return this.live('size').current.len;
    });
  }

  truncate(size: number): Promise<void> {
    return this.disk.io({ op: 'truncate', path: this.path, offset: size }, () => {
      checkOffset('truncate', this.path, size);
      const inode = this.liveWritable('truncate');
      inode.current.truncate(size);
      inode.writtenEnd = Math.min(inode.writtenEnd, size);
      inode.pending.push({ kind: 'truncate', size });
    });
  }

  fsync(): Promise<void> {
    return this.disk.io({ op: 'fsync', path: this.path }, () => {
      const inode = this.live('fsync');
      for (const op of inode.pending) applyFileOp(inode.durable, op);
      inode.pending = [];
      invariant(inode.durable.len === inode.current.len, 'fsync left durable and current sizes apart');
    });
  }

  close(): Promise<void> {
    return this.disk.io({ op: 'close', path: this.path }, () => {
      this.live('close');
      this.closed = true;
    });
  }

  /** Refused: every write goes through the seeded I/O schedule (capabilities.syncWrites is false). */
  pwriteSync(): void {
    throw ioError('pwrite', this.path, 'ENOTSUP', 'the simulated disk has no synchronous writes');
  }
}

// ---------------------------------------------------------------------------------------------
// The disk
// ---------------------------------------------------------------------------------------------

/** An in-memory, deterministic {@link Storage} that keeps what is durable apart from what is only written, and at a crash decides from a seed which unsynced writes survive, are dropped or are torn. */
export class SimStorage implements Storage {
  /** Nothing beyond the interface: no yields, no synchronous writes, no real device. */
  readonly capabilities: StorageCapabilities = PLAIN_CAPABILITIES;
  /** Bumped by every crash; handles from an older generation are dead. */
  generation = 0;
  /** Torn writes split only at multiples of this many bytes. */
  readonly sectorSize: number;
  private faults: SimFaults;
  private rng: Prng;
  private jitterRng: Prng;
  private ioJitter: number;
  private inodes = new Map<number, Inode>();
  private dirs = new Map<string, Dir>();
  private nextInode = 1;
  private ioCount = 0;
  private crashAt: number | undefined;
  private halted = false;
  private hooks: Array<(ev: IoEvent) => void> = [];
  private totals: SimStats = { ioOps: 0, crashes: 0, bytesCorrupted: 0, ...zeroFaultCounts() };
  /** See setCapacity (undefined: unlimited). */
  private capacity: number | undefined;

  /** An empty simulated disk configured by options. */
  constructor(options: SimStorageOptions = {}) {
    const sectorSize = options.sectorSize ?? 512;
    if (!Number.isSafeInteger(sectorSize) || sectorSize < 1) {
      throw new TokusimError('bad-argument', 'sectorSize must be a positive integer', {
        actual: String(sectorSize),
      });
    }
    this.sectorSize = sectorSize;
    this.faults = { ...ALL_FAULTS, ...options.faults };
    this.rng = new Prng(options.seed ?? 1);
    // A separate stream, so turning jitter on does not change which seeds crashes draw.
    this.jitterRng = new Prng((options.seed ?? 1) ^ 0x5bd1e995);
    const jitter = options.ioJitter ?? 0;
    if (!Number.isSafeInteger(jitter) || jitter < 0) {
      throw new TokusimError('bad-argument', 'ioJitter must be a non-negative integer', { actual: String(jitter) });
    }
    this.ioJitter = jitter;
    this.setCapacity(options.capacity);
    this.dirs.set('.', new Dir(new Map(), new Map(), []));
    this.dirs.set('/', new Dir(new Map(), new Map(), []));
  }

  // ----- I/O accounting and hooks ------------------------------------------------------------

  /** Number of I/O calls made so far (the seq of the last IoEvent). */
  ioOps(): number {
    return this.ioCount;
  }

  /** Register fn to run before every I/O call; returns a function that unregisters it. */
  onIo(fn: (ev: IoEvent) => void): () => void {
    this.hooks.push(fn);
    return () => {
      const i = this.hooks.indexOf(fn);
      if (i >= 0) this.hooks.splice(i, 1);
    };
  }

  /** Make the I/O call whose seq is n throw SimulatedCrash (and halt the disk until crash()). */
  crashAtIo(n: number): void {
    if (!Number.isSafeInteger(n) || n <= this.ioCount) {
      throw new TokusimError('bad-argument', 'crashAtIo needs a future I/O number', {
        expected: `> ${this.ioCount}`,
        actual: String(n),
      });
    }
    this.crashAt = n;
  }

  /** True after a SimulatedCrash was thrown and before crash() was called. */
  isHalted(): boolean {
    return this.halted;
  }

  /**
   * Every I/O call goes through here: count it and run the hooks (synchronously, at the moment
   * of the call); then, when ioJitter is on, let a seeded number of other promise continuations
   * run first, so concurrent tasks interleave differently per seed; then do the work. The
   * check that the disk did not crash meanwhile and the work itself run in one synchronous
   * step, so a call in flight at a crash is cancelled (SimulatedCrash), never applied after.
   */
  async io<T>(ev: Omit<IoEvent, 'seq'>, work: () => T): Promise<T> {
    this.countIo(ev);
    if (this.ioJitter > 0) {
      const generation = this.generation;
      const turns = this.jitterRng.int(this.ioJitter + 1);
      for (let i = 0; i < turns; i++) await Promise.resolve();
      if (this.halted || this.generation !== generation) {
        throw new SimulatedCrash(this.ioCount, `${ev.op} ${ev.path} was in flight at a simulated crash`);
      }
    }
    return work();
  }

  private countIo(ev: Omit<IoEvent, 'seq'>): void {
    if (this.halted) {
      throw new SimulatedCrash(this.ioCount, `disk is down after a simulated crash (${ev.op} ${ev.path})`);
    }
    const seq = ++this.ioCount;
    this.totals.ioOps++;
    if (this.crashAt !== undefined && seq >= this.crashAt) {
      this.crashAt = undefined;
      this.halted = true;
      throw new SimulatedCrash(seq, `simulated crash at I/O #${seq} (${ev.op} ${ev.path})`);
    }
    if (this.hooks.length === 0) return;
    const full: IoEvent = { ...ev, seq };
    for (const hook of [...this.hooks]) {
      try {
        hook(full);
      } catch (err) {
        if (err instanceof SimulatedCrash) this.halted = true;
        throw err;
      }
    }
  }

  // ----- Storage interface -------------------------------------------------------------------

  /** Opens the simulated file at path in the given mode; one I/O call, so it can be crashed or fail. */
  open(path: string, mode: OpenMode, options: OpenOptions = {}): Promise<StorageFile> {
    return this.io({ op: 'open', path }, () => {
      const p = normalize(path);
      const op = `open(${mode})`;
      if (this.dirs.has(p)) throw ioError(op, path, 'EISDIR');
      const dir = this.dirOf(op, path, p);
      const name = baseName(p);
      let id = dir.current.get(name);
      if (id !== undefined && mode === 'create-exclusive') throw ioError(op, path, 'EEXIST');
      if (id === undefined) {
        if (mode === 'read' || mode === 'readwrite') throw ioError(op, path, 'ENOENT');
        if (this.capacity !== undefined && this.usedBytes() >= this.capacity) throw ioError(op, path, 'ENOSPC', `the disk is full (capacity ${this.capacity} bytes)`);
        id = this.nextInode++;
        this.inodes.set(id, new Inode(id, new Image(), new Image(), []));
        dir.current.set(name, id);
        dir.pending.push({ kind: 'link', name, inode: id });
      }
      const inode = this.inodes.get(id);
      invariant(inode !== undefined, () => `entry ${p} names missing inode ${id}`);
      return new SimFile(this, path, inode, mode !== 'read', this.generation, options.dsync === true && mode !== 'read');
    });
  }

  /** True when an entry exists at path on the simulated disk. */
  exists(path: string): Promise<boolean> {
    return this.io({ op: 'exists', path }, () => {
      const p = normalize(path);
      if (this.dirs.has(p)) return true;
      return this.dirs.get(dirName(p))?.current.has(baseName(p)) ?? false;
    });
  }

  list(dir: string): Promise<string[]> {
    return this.io({ op: 'list', path: dir }, () => {
      const p = normalize(dir);
      const d = this.dirs.get(p);
      if (d === undefined) {
        const parent = this.dirs.get(dirName(p));
        throw ioError('list', dir, parent?.current.has(baseName(p)) ? 'ENOTDIR' : 'ENOENT');
      }
      const names = [...d.current.keys(), ...this.childDirs(p)];
      return names.sort(compareBytewise);
    });
  }

  /** Creates a simulated directory and any missing parents; throws EEXIST when a file is in the way. */
  mkdir(dir: string): Promise<void> {
    return this.io({ op: 'mkdir', path: dir }, () => {
      const p = normalize(dir);
      const chain: string[] = [];
      for (let q = p; !this.dirs.has(q); q = dirName(q)) chain.push(q);
      for (const q of chain.reverse()) {
        if (this.dirs.get(dirName(q))!.current.has(baseName(q))) throw ioError('mkdir', dir, 'EEXIST', `${q} is a file`);
        this.dirs.set(q, new Dir(new Map(), new Map(), []));
      }
    });
  }

  /** Renames a simulated file; the change is durable only after fsyncDir. */
  rename(from: string, to: string): Promise<void> {
    return this.io({ op: 'rename', path: from, to }, () => {
      const a = normalize(from);
      const b = normalize(to);
      if (this.dirs.has(a)) throw ioError('rename', from, 'EISDIR', 'SimStorage renames files only');
      if (this.dirs.has(b)) throw ioError('rename', to, 'EISDIR');
      const src = this.dirOf('rename', from, a);
      const dst = this.dirOf('rename', to, b);
      const id = src.current.get(baseName(a));
      if (id === undefined) throw ioError('rename', from, 'ENOENT');
      if (a === b) return;
      src.current.delete(baseName(a));
      dst.current.set(baseName(b), id);
      if (src === dst) {
        src.pending.push({ kind: 'rename', from: baseName(a), to: baseName(b), inode: id });
      } else {
        src.pending.push({ kind: 'unlink', name: baseName(a), inode: id });
        dst.pending.push({ kind: 'link', name: baseName(b), inode: id });
      }
    });
  }

  link(existing: string, newPath: string): Promise<void> {
    return this.io({ op: 'link', path: existing, to: newPath }, () => {
      const a = normalize(existing);
      const b = normalize(newPath);
      if (this.dirs.has(a)) throw ioError('link', existing, 'EPERM', 'SimStorage links files only');
      if (this.dirs.has(b)) throw ioError('link', newPath, 'EEXIST');
      const src = this.dirOf('link', existing, a);
      const dst = this.dirOf('link', newPath, b);
      const id = src.current.get(baseName(a));
      if (id === undefined) throw ioError('link', existing, 'ENOENT');
      if (dst.current.has(baseName(b))) throw ioError('link', newPath, 'EEXIST');
      // A second entry for the same inode; like any created entry it is durable after fsyncDir.
      dst.current.set(baseName(b), id);
      dst.pending.push({ kind: 'link', name: baseName(b), inode: id });
    });
  }

  /** Removes a simulated file; the removal is durable only after fsyncDir. */
  unlink(path: string): Promise<void> {
    return this.io({ op: 'unlink', path }, () => {
      const p = normalize(path);
      if (this.dirs.has(p)) throw ioError('unlink', path, 'EISDIR');
      const dir = this.dirOf('unlink', path, p);
      const id = dir.current.get(baseName(p));
      if (id === undefined) throw ioError('unlink', path, 'ENOENT');
      dir.current.delete(baseName(p));
      dir.pending.push({ kind: 'unlink', name: baseName(p), inode: id });
    });
  }

  /** Makes the pending entries of a simulated directory durable. */
  fsyncDir(dir: string): Promise<void> {
    return this.io({ op: 'fsyncDir', path: dir }, () => {
      const d = this.dirs.get(normalize(dir));
      if (d === undefined) throw ioError('fsyncDir', dir, 'ENOENT');
      d.durable = new Map(d.current);
      d.pending = [];
    });
  }

  private dirOf(op: string, path: string, normalized: string): Dir {
    const parent = dirName(normalized);
    const d = this.dirs.get(parent);
    if (d === undefined) {
      const grand = this.dirs.get(dirName(parent));
      throw ioError(op, path, grand?.current.has(baseName(parent)) ? 'ENOTDIR' : 'ENOENT');
    }
    return d;
  }

  private childDirs(p: string): string[] {
    const out: string[] = [];
    for (const q of this.dirs.keys()) {
      if (q !== p && q !== '.' && q !== '/' && dirName(q) === p) out.push(baseName(q));
    }
    return out;
  }

  // ----- Harness tools -----------------------------------------------------------------------

  /** The disk's capacity in bytes (undefined: unlimited). */
  capacityBytes(): number | undefined {
    return this.capacity;
  }

  /** The faults crash() uses when not overridden. */
  enabledFaults(): SimFaults {
    return { ...this.faults };
  }

  /** Switches the named faults on or off for later crashes. */
  setFaults(faults: Partial<SimFaults>): void {
    this.faults = { ...this.faults, ...faults };
  }

  /** Running totals of faults injected so far. */
  stats(): SimStats {
    return { ...this.totals };
  }

  /** True when some file or directory has operations not yet made durable. */
  /** Change the disk's capacity in bytes (undefined: unlimited), e.g. to free space in place. */
  setCapacity(bytes: number | undefined): void {
    if (bytes !== undefined && (!Number.isSafeInteger(bytes) || bytes < 0)) {
      throw new TokusimError('bad-argument', 'capacity must be a non-negative integer', { actual: String(bytes) });
    }
    this.capacity = bytes;
  }

  /** Bytes used: over the files some directory names (each once), the end of the bytes written to each. */
  usedBytes(): number {
    const named = new Set<number>();
    for (const d of this.dirs.values()) for (const id of d.current.values()) named.add(id);
    let used = 0;
    for (const id of named) used += this.inodes.get(id)?.writtenEnd ?? 0;
    return used;
  }

  /** Bytes a write may still add before the disk is full (Infinity without a capacity). */
  spaceLeft(): number {
    return this.capacity === undefined ? Infinity : Math.max(0, this.capacity - this.usedBytes());
  }

  /** True when some file data or directory entry was written but not yet made durable. */
  hasUnsynced(): boolean {
    for (const i of this.inodes.values()) if (i.pending.length > 0) return true;
    for (const d of this.dirs.values()) if (d.pending.length > 0) return true;
    return false;
  }

  /** What a reader of path sees now (a copy), or undefined when no entry names it. */
  fileBytes(path: string): Uint8Array | undefined {
    return this.inodeAt(path)?.current.view().slice();
  }

  /** The durable image of the file path names now (a copy), or undefined. */
  durableBytes(path: string): Uint8Array | undefined {
    return this.inodeAt(path)?.durable.view().slice();
  }

  /**
   * Place a file directly on the disk, fully durable (content and directory entry), without
   * counting I/O. For setting up a scenario, e.g. loading a fixture. Parents are created.
   */
  installFile(path: string, data: Uint8Array): void {
    const p = normalize(path);
    for (let q = dirName(p); !this.dirs.has(q); q = dirName(q)) {
      this.dirs.set(q, new Dir(new Map(), new Map(), []));
    }
    const dir = this.dirs.get(dirName(p))!;
    const img = new Image(data.slice());
    const id = this.nextInode++;
    this.inodes.set(id, new Inode(id, img, img.clone(), []));
    dir.current.set(baseName(p), id);
    dir.durable.set(baseName(p), id);
  }

  /**
   * Corrupt [offset, offset+length) of a file: every byte there is XORed with a nonzero mask
   * drawn from seed, in both the durable and the current image (it models the medium going
   * bad). Unsynced writes still pending are not touched. Returns the number of bits flipped.
   */
  flipBits(path: string, offset: number, length: number, seed: number): number {
    const inode = this.inodeAt(path);
    if (inode === undefined) throw ioError('flipBits', path, 'ENOENT');
    const size = inode.current.len;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
      throw new TokusimError('bad-argument', 'flipBits region is outside the file', {
        file: path,
        offset,
        expected: `within [0, ${size})`,
        actual: `[${offset}, ${offset + length})`,
      });
    }
    const rng = new Prng(seed);
    let bits = 0;
    for (let i = offset; i < offset + length; i++) {
      const mask = 1 + rng.int(255);
      inode.current.xorByte(i, mask);
      if (i < inode.durable.len) inode.durable.xorByte(i, mask);
      for (let m = mask; m !== 0; m &= m - 1) bits++;
    }
    this.totals.bytesCorrupted += length;
    return bits;
  }

  /**
   * A new SimStorage holding a copy of this disk's whole state (durable and volatile, the
   * generator, the I/O counter, the totals), so one moment can be crashed many ways. Hooks,
   * a pending crashAtIo and open handles are not carried over.
   */
  snapshot(): SimStorage {
    const copy = new SimStorage({ seed: 1, sectorSize: this.sectorSize, faults: this.faults, ioJitter: this.ioJitter });
    copy.rng = this.rng.clone();
    copy.jitterRng = this.jitterRng.clone();
    copy.inodes = new Map([...this.inodes].map(([id, inode]) => [id, inode.clone()]));
    copy.dirs = new Map([...this.dirs].map(([p, d]) => [p, d.clone()]));
    copy.nextInode = this.nextInode;
    copy.ioCount = this.ioCount;
    copy.halted = this.halted;
    copy.generation = this.generation;
    copy.totals = { ...this.totals };
    copy.capacity = this.capacity;
    return copy;
  }

  /** The I/O jitter (most promise turns before a call completes). */
  ioJitterTurns(): number {
    return this.ioJitter;
  }

  /** Change the I/O jitter for later calls (0: every call completes in order). */
  setIoJitter(turns: number): void {
    if (!Number.isSafeInteger(turns) || turns < 0) throw new TokusimError('bad-argument', 'ioJitter must be a non-negative integer', { actual: String(turns) });
    this.ioJitter = turns;
  }

  /**
   * A key for what a reader of the disk sees now: every directory's entries and the bytes of
   * every file they name, hashed (two independent 32-bit hashes per file). Two disks with the
   * same key hold the same names and bytes, up to a hash collision (about 2^-64 per pair).
   * Unsynced operations, inode numbers, counters and generators are not part of it, so after
   * a crash (nothing unsynced) it identifies the disk recovery will read. `stand` may name a
   * class for a file's bytes to stand in the key instead of their hash (a caller that knows
   * every member of the class is read alike); it must not return something a hash could be.
   */
  contentKey(stand?: (dir: string, name: string, bytes: () => Uint8Array) => string | undefined): string {
    const parts: string[] = [];
    for (const p of [...this.dirs.keys()].sort(compareBytewise)) {
      const d = this.dirs.get(p)!;
      parts.push(`${p}:`);
      for (const name of [...d.current.keys()].sort(compareBytewise)) {
        const inode = this.inodes.get(d.current.get(name)!)!;
        const cls = stand?.(p, name, () => inode.current.view());
        parts.push(`${name}=${cls ?? inode.current.contentHash()}`);
      }
    }
    return parts.join('/');
  }

  /** Full consistency check (replays pending operations; costs O(disk size)). */
  checkInvariants(): void {
    for (const [p, d] of this.dirs) {
      for (const [name, id] of d.current) {
        invariant(this.inodes.has(id), () => `${p}/${name} names missing inode ${id}`);
      }
      const replayed = new Map(d.durable);
      for (const op of d.pending) replayDirOp(replayed, op);
      invariant(
        replayed.size === d.current.size && [...replayed].every(([n, id]) => d.current.get(n) === id),
        () => `directory ${p}: durable entries plus pending operations differ from current`,
      );
    }
    for (const inode of this.inodes.values()) {
      if (inode.pending.length === 0 && inode.durable.sharesBytesWith(inode.current)) continue;
      const img = inode.durable.clone();
      for (const op of inode.pending) applyFileOp(img, op);
      invariant(
        compareBytes(img.view(), inode.current.view()) === 0,
        () => `inode ${inode.id}: durable plus pending writes differ from current`,
      );
    }
  }

  // ----- Crash ---------------------------------------------------------------------------------

  /**
   * Power off: compute what survives (see the model at the top of this file), make it the
   * whole disk, kill every open handle and bring the disk back up. Returns what was done.
   */
  crash(options: CrashOptions = {}): CrashReport {
    const mode = options.mode ?? 'faults';
    const faults: SimFaults = { ...this.faults, ...options.faults };
    const seed = options.seed ?? this.rng.nextU32();
    const rng = new Prng(seed);
    // How lossy this crash is: some crashes lose almost nothing, some almost everything.
    const lossRate = rng.float();
    const report = zeroReport(seed, mode);

    const ids = [...this.inodes.keys()].sort((a, b) => a - b);
    const images = new Map<number, Image>();
    for (const id of ids) {
      images.set(id, this.survivingImage(this.inodes.get(id)!, rng, mode, faults, lossRate, report));
    }
    const paths = [...this.dirs.keys()].sort(compareBytewise);
    const entries = new Map<string, Map<string, number>>();
    for (const p of paths) {
      entries.set(p, this.survivingEntries(this.dirs.get(p)!, rng, mode, faults, lossRate, report));
    }

    const reachable = new Set<number>();
    for (const e of entries.values()) for (const id of e.values()) reachable.add(id);
    const inodes = new Map<number, Inode>();
    for (const id of ids) {
      if (!reachable.has(id)) continue;
      const img = images.get(id)!;
      inodes.set(id, new Inode(id, img, img.clone(), []));
    }
    report.filesGone = ids.length - inodes.size;
    this.inodes = inodes;
    for (const p of paths) {
      const e = entries.get(p)!;
      this.dirs.set(p, new Dir(e, new Map(e), []));
    }

    this.generation++;
    this.halted = false;
    this.crashAt = undefined;
    this.totals.crashes++;
    for (const k of Object.keys(report) as Array<keyof CrashReport>) {
      if (k !== 'seed' && k !== 'mode') this.totals[k] += report[k];
    }
    this.checkInvariants();
    invariant(!this.hasUnsynced(), 'crash left unsynced operations behind');
    return report;
  }

  private survivingImage(
    inode: Inode,
    rng: Prng,
    mode: CrashMode,
    faults: SimFaults,
    lossRate: number,
    report: CrashReport,
  ): Image {
    const img = inode.durable.clone();
    let broken = false;
    for (const op of inode.pending) {
      const chunks = op.kind === 'write' ? this.sectorChunks(op.offset, op.data.length) : [];
      let fate: 'keep' | 'drop' | 'tear' = 'keep';
      if (mode === 'drop-all') fate = 'drop';
      else if (mode === 'faults') {
        if (broken && !faults.reorder && faults.dropUnsynced) fate = 'drop';
        else if (rng.chance(lossRate)) {
          const canTear = faults.tornWrites && chunks.length > 1;
          if (canTear && (!faults.dropUnsynced || rng.chance(0.5))) fate = 'tear';
          else if (faults.dropUnsynced) fate = 'drop';
        }
      }
      if (fate !== 'keep') broken = true;
      if (op.kind === 'truncate') {
        if (fate === 'keep') {
          img.truncate(op.size);
          report.truncatesKept++;
        } else report.truncatesDropped++;
        continue;
      }
      if (fate === 'keep') {
        img.write(op.offset, op.data);
        report.writesKept++;
      } else if (fate === 'drop') {
        report.writesDropped++;
      } else {
        const keep = this.tornSubset(chunks.length, rng, faults.reorder);
        for (let i = 0; i < chunks.length; i++) {
          if (!keep[i]) continue;
          const [start, end] = chunks[i]!;
          img.write(op.offset + start, op.data.subarray(start, end));
        }
        report.writesTorn++;
        report.sectorsLost += keep.filter((k) => !k).length;
      }
    }
    return img;
  }

  /** The pieces [start, end) of a write (relative to its data) split at sector boundaries of the file. */
  private sectorChunks(offset: number, length: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let pos = offset;
    const end = offset + length;
    while (pos < end) {
      const next = Math.min(end, (Math.floor(pos / this.sectorSize) + 1) * this.sectorSize);
      out.push([pos - offset, next - offset]);
      pos = next;
    }
    return out;
  }

  /** Which pieces of a torn write survive: a proper, non-empty subset (a prefix unless reordering). */
  private tornSubset(n: number, rng: Prng, reorder: boolean): boolean[] {
    invariant(n > 1, 'only a write spanning several sectors can tear');
    if (!reorder) {
      const kept = 1 + rng.int(n - 1);
      return Array.from({ length: n }, (_, i) => i < kept);
    }
    const keep = Array.from({ length: n }, () => rng.chance(0.5));
    const count = keep.filter(Boolean).length;
    if (count === 0 || count === n) {
      const i = rng.int(n);
      keep[i] = !keep[i];
    }
    return keep;
  }

  private survivingEntries(
    dir: Dir,
    rng: Prng,
    mode: CrashMode,
    faults: SimFaults,
    lossRate: number,
    report: CrashReport,
  ): Map<string, number> {
    const entries = new Map(dir.durable);
    let broken = false;
    for (const op of dir.pending) {
      let keep = true;
      if (mode === 'drop-all') keep = false;
      else if (mode === 'faults' && faults.loseDirEntries) {
        keep = broken && !faults.reorder ? false : !rng.chance(lossRate);
      }
      if (keep) {
        replayDirOp(entries, op);
        report.dirOpsKept++;
      } else {
        broken = true;
        report.dirOpsLost++;
      }
    }
    return entries;
  }

  private inodeAt(path: string): Inode | undefined {
    const p = normalize(path);
    const id = this.dirs.get(dirName(p))?.current.get(baseName(p));
    return id === undefined ? undefined : this.inodes.get(id);
  }
}
