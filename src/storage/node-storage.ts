/**
 * Storage on the real file system (node:fs/promises), with real syncs: for files fdatasync
 * by default (FileHandle.datasync(): the data and the metadata needed to read it back, such
 * as the file size — what the log and dictionary files need; LevelDB syncs the same way) or a
 * full fsync with `{ fileSync: 'fsync' }` (what PerconaFT calls); for directories, opening the
 * directory read-only and syncing that descriptor (what PerconaFT does with fsync on the
 * directory fd after creating or renaming files).
 *
 * Invariants:
 *  - pread fills the buffer unless EOF is reached first; pwrite writes every byte or throws.
 *  - Every failure surfaces as a TokusimError of kind 'io' naming the path and OS error code.
 *  - A handle that was closed refuses every later operation (EBADF), without touching the OS;
 *    a read-only handle refuses pwrite and truncate (EBADF) the same way.
 *  - A handle opened with `{ dsync: true }` (writable modes only) carries O_DSYNC, so each
 *    pwrite (a frame writer's too: same descriptor) is durable when it resolves; `dsync` says so.
 *  - mkdir creates missing parents and succeeds if the directory already exists.
 *  - capabilities.yieldNow resolves on a later turn of the event loop, after pending I/O
 *    callbacks and other ready tasks have run.
 *  - A pwrite whose data an installed FrameWriter claims goes to that writer, on the same
 *    descriptor, with the same io errors; close() on a file waits for its writes still in the
 *    writer's hands, and NodeStorage.close() closes the writer. Without an installed writer
 *    (the plain NodeStorage) every pwrite is a plain one.
 */
import * as fs from 'node:fs/promises';
import { constants as fsConstants, write as writeWithCallback, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { invariant } from '../base/errors.js';
import { ioError } from './io-error.js';
import { WorkerPartCopier, type PartCopier } from './part-copy.js';
import type { BlockSink, OpenMode, OpenOptions, Storage, StorageCapabilities, StorageFile } from './storage.js';

function codeOf(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.length > 0) return code;
  }
  return 'EIO';
}

function dsyncWrite(fd: number, data: Uint8Array, from: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => writeWithCallback(fd, data, from, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

/** Run an fs call, turning any thrown OS error into a TokusimError naming op and path. */
async function attempt<T>(op: string, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const code = codeOf(err);
    throw ioError(op, path, code, err instanceof Error ? osDetail(err.message, code) : undefined);
  }
}

/**
 * Node's message without what the error line already says: `ENOENT: no such file or
 * directory, scandir '/x'` is `no such file or directory` next to the code and the path.
 */
function osDetail(message: string, code: string): string | undefined {
  const text = message.replace(`${code}: `, '').replace(/, \w+ '.*$/, '');
  return text === '' || text === code ? undefined : text;
}

function openFlags(mode: OpenMode): number {
  const c = fsConstants;
  switch (mode) {
    case 'read':
      return c.O_RDONLY;
    case 'readwrite':
      return c.O_RDWR;
    case 'create':
      return c.O_RDWR | c.O_CREAT;
    case 'create-exclusive':
      return c.O_RDWR | c.O_CREAT | c.O_EXCL;
  }
}

function checkRange(op: string, path: string, offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw ioError(op, path, 'EINVAL', `offset ${offset} is not a non-negative integer`);
  }
}

/**
 * Writes blocks of a kind only it knows (the fast paths' framed node blocks, written off the
 * main thread) on a NodeStorage's descriptors. Installed with NodeStorage.install.
 */
export interface FrameWriter {
  /** True when `data` is a block this writer writes (a stand-in, not plain bytes). */
  claims(data: Uint8Array): boolean;
  /** Write the claimed block `data` at `position` of descriptor `fd` (the file at `path`). */
  write(fd: number, path: string, data: Uint8Array, position: number): Promise<void>;
  /** Stop whatever the writer runs (threads); a later write may start it again. */
  close(): Promise<void>;
}

/** A writable or read-only handle of a {@link NodeStorage}. */
class NodeFile implements StorageFile {
  private handle: fs.FileHandle | undefined;
  /** Writes still in the frame writer's hands (close waits for them). */
  private framedInFlight = new Set<Promise<void>>();

  constructor(
    readonly path: string,
    handle: fs.FileHandle,
    private readonly writable: boolean,
    private readonly frames: FrameWriter | null,
    private readonly fullSync = false,
    /** Opened with O_DSYNC (set only for writable handles on platforms that have the flag). */
    readonly dsync = false,
  ) {
    this.handle = handle;
  }

  /** The OS reports EBADF or EINVAL for writes through a read-only descriptor; say EBADF always. */
  private liveWritable(op: string): fs.FileHandle {
    const h = this.live(op);
    if (!this.writable) throw ioError(op, this.path, 'EBADF', 'handle is read-only');
    return h;
  }

  private live(op: string): fs.FileHandle {
    if (this.handle === undefined) throw ioError(op, this.path, 'EBADF', 'handle is closed');
    return this.handle;
  }

  async pread(buf: Uint8Array, offset: number): Promise<number> {
    checkRange('pread', this.path, offset);
    const h = this.live('pread');
    return attempt('pread', this.path, async () => {
      let done = 0;
      while (done < buf.length) {
        const { bytesRead } = await h.read(buf, done, buf.length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      invariant(done <= buf.length, 'pread returned more than asked');
      return done;
    });
  }

  pwriteSync(data: Uint8Array, offset: number): void {
    checkRange('pwrite', this.path, offset);
    invariant(this.frames?.claims(data) !== true, 'a frame writer\'s block is written through pwrite');
    const h = this.liveWritable('pwrite');
    let done = 0;
    while (done < data.length) {
      let n: number;
      try {
        n = writeSync(h.fd, data, done, data.length - done, offset + done);
      } catch (err) {
        throw ioError('pwrite', this.path, codeOf(err), err instanceof Error ? err.message : undefined);
      }
      if (n <= 0) throw ioError('pwrite', this.path, 'EIO', 'pwrite made no progress');
      done += n;
    }
  }

  async pwrite(data: Uint8Array, offset: number): Promise<void> {
    checkRange('pwrite', this.path, offset);
    const h = this.liveWritable('pwrite');
    if (this.frames?.claims(data) === true) return this.pwriteFramed(h, this.frames, data, offset);
    await attempt('pwrite', this.path, async () => {
      let done = 0;
      while (done < data.length) {
        // O_DSYNC handles carry durable commits: node's callback write costs less per call than
        // FileHandle.write (measured ~25% less wall time per small write); same bytes, same errors.
        const bytesWritten = this.dsync ? await dsyncWrite(h.fd, data, done, data.length - done, offset + done) : (await h.write(data, done, data.length - done, offset + done)).bytesWritten;
        invariant(bytesWritten > 0, 'pwrite made no progress');
        done += bytesWritten;
      }
    });
  }

  private async pwriteFramed(h: fs.FileHandle, frames: FrameWriter, data: Uint8Array, offset: number): Promise<void> {
    const w = frames.write(h.fd, this.path, data, offset);
    const tracked = w.then(
      () => undefined,
      () => undefined,
    );
    this.framedInFlight.add(tracked);
    try {
      await w;
    } finally {
      this.framedInFlight.delete(tracked);
    }
  }

  async size(): Promise<number> {
    const h = this.live('size');
    return attempt('size', this.path, async () => (await h.stat()).size);
  }

  async truncate(size: number): Promise<void> {
    checkRange('truncate', this.path, size);
    const h = this.liveWritable('truncate');
    await attempt('truncate', this.path, () => h.truncate(size));
  }

  async fsync(): Promise<void> {
    const h = this.live('fsync');
    await attempt('fsync', this.path, () => (this.fullSync ? h.sync() : h.datasync()));
  }

  async close(): Promise<void> {
    const h = this.live('close');
    this.handle = undefined;
    // The descriptor must outlive every framed write a worker is still doing on it.
    while (this.framedInFlight.size > 0) await Promise.all([...this.framedInFlight]);
    await attempt('close', this.path, () => h.close());
  }
}

/** Byte order of UTF-8 names, as the interface promises ("sorted bytewise"). */
function compareBytewise(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Paces cooperative work across the whole event loop: every task that calls yieldNow() joins
 * one FIFO queue, and each turn of the loop (one setImmediate) resumes queued tasks, round
 * robin, only until TURN_BUDGET_MS of the turn has gone; the rest wait for the next turn. So
 * however many slicing tasks run at once (the checkpoint thread and its in-flight writes),
 * one turn carries at most about the budget plus one slice of their work, and everything
 * else that is ready (client pins, I/O callbacks) runs between turns.
 *
 * The budget is about one 16 KiB copy slice, about what a turn of the loop in which clients
 * pin without waiting takes, so a turn that carries checkpoint work is not much slower than a
 * quiet one (docs/checkpoint.md, "turn budget"). With no client the turns run back to back
 * and the checkpoint's speed does not depend on it.
 */
const TURN_BUDGET_MS = 0.002;
const turnQueue: Array<() => void> = [];
let turnScheduled = false;
let turnStart = Number.NEGATIVE_INFINITY;

function scheduleTurn(): void {
  if (turnScheduled) return;
  turnScheduled = true;
  setImmediate(() => {
    turnScheduled = false;
    turnStart = performance.now();
    turnQueue.shift()?.();
    if (turnQueue.length > 0) scheduleTurn();
  });
}

function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => {
    turnQueue.push(resolve);
    if (performance.now() - turnStart < TURN_BUDGET_MS) {
      // Budget left in this turn: hand it to the longest waiter (maybe this task itself).
      turnQueue.shift()!();
    } else {
      scheduleTurn();
    }
  });
}

/** Options for a {@link NodeStorage}. */
export interface NodeStorageOptions {
  /**
   * How StorageFile.fsync syncs a file: 'datasync' (default, fdatasync(2): data plus the
   * metadata needed to read it, e.g. a grown size) or 'fsync' (fsync(2): also timestamps).
   */
  fileSync?: 'datasync' | 'fsync';
}

const newPartCopier = (threads: number): PartCopier => new WorkerPartCopier(threads);

/** A {@link Storage} over real files (node:fs) under a directory. */
export class NodeStorage implements Storage {
  private readonly fullSync: boolean;
  private frames: FrameWriter | null = null;
  private sinks: (() => BlockSink) | null = null;
  private caps: StorageCapabilities;

  /** A storage over the real file system, configured by opts. */
  constructor(opts: NodeStorageOptions = {}) {
    this.fullSync = opts.fileSync === 'fsync';
    this.caps = this.capabilitiesNow();
  }

  /** Real device, yield hook, synchronous writes, part copies on worker threads, and a block sink when one was installed. */
  get capabilities(): StorageCapabilities {
    return this.caps;
  }

  private capabilitiesNow(): StorageCapabilities {
    return Object.freeze({ realDevice: true, yieldNow: nextTurn, syncWrites: true, blockSinks: this.sinks, partCopy: newPartCopier });
  }

  /**
   * Add a faster way to write node blocks (the fast paths, src/fast/, call this once on a
   * fresh storage, before anyone opens a file): `blockSinks` becomes the capability of that
   * name, and pwrites of the blocks `frames` claims go to it. Files opened before keep writing
   * plainly.
   */
  install(ext: { blockSinks: () => BlockSink; frames?: FrameWriter }): void {
    invariant(this.sinks === null, 'fast paths are installed on a NodeStorage once');
    this.sinks = ext.blockSinks;
    this.frames = ext.frames ?? null;
    this.caps = this.capabilitiesNow();
  }

  /** Stop what an installed frame writer runs (files stay usable; a later framed write starts it again). */
  async close(): Promise<void> {
    await this.frames?.close();
  }

  /** Opens the file at path in the given mode (creating it when the mode allows); I/O failures become storage errors naming the path. */
  async open(path: string, mode: OpenMode, options: OpenOptions = {}): Promise<StorageFile> {
    // O_DSYNC where the platform has it (Linux, macOS); elsewhere the handle says dsync false
    // and its users keep calling fsync.
    const dsync = options.dsync === true && mode !== 'read' && typeof fsConstants.O_DSYNC === 'number';
    const flags = openFlags(mode) | (dsync ? fsConstants.O_DSYNC : 0);
    const handle = await attempt(`open(${mode})`, path, () => fs.open(path, flags, 0o644));
    // Opening a directory succeeds on Linux for O_RDONLY; refuse it like SimStorage does.
    const st = await handle.stat().catch(() => undefined);
    if (st?.isDirectory()) {
      await handle.close();
      throw ioError(`open(${mode})`, path, 'EISDIR');
    }
    return new NodeFile(path, handle, mode !== 'read', this.frames, this.fullSync, dsync);
  }

  /** True when an entry (of any kind, symbolic links included) exists at path. */
  async exists(path: string): Promise<boolean> {
    try {
      await fs.lstat(path);
      return true;
    } catch (err) {
      if (codeOf(err) === 'ENOENT' || codeOf(err) === 'ENOTDIR') return false;
      throw ioError('exists', path, codeOf(err));
    }
  }

  async list(dir: string): Promise<string[]> {
    const names = await attempt('list', dir, () => fs.readdir(dir));
    return names.sort(compareBytewise);
  }

  /** Creates the directory dir and any missing parents. */
  async mkdir(dir: string): Promise<void> {
    await attempt('mkdir', dir, async () => {
      await fs.mkdir(dir, { recursive: true });
    });
  }

  /** Renames from to to with rename(2). */
  async rename(from: string, to: string): Promise<void> {
    await attempt('rename', from, () => fs.rename(from, to));
  }

  async link(existing: string, newPath: string): Promise<void> {
    await attempt('link', newPath, () => fs.link(existing, newPath));
  }

  /** Removes the file at path. */
  async unlink(path: string): Promise<void> {
    await attempt('unlink', path, () => fs.unlink(path));
  }

  /** Makes the entries of directory dir durable by fsyncing the directory. */
  async fsyncDir(dir: string): Promise<void> {
    await attempt('fsyncDir', dir, async () => {
      const h = await fs.open(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
      try {
        await h.sync();
      } finally {
        await h.close();
      }
    });
  }
}

/** What the Node entry does to every NodeStorage made by {@link defaultNodeStorage}. */
let defaultSetup: ((storage: NodeStorage) => void) | null = null;

/**
 * Set what is done to every NodeStorage made by {@link defaultNodeStorage} from now on. The
 * Node entry (src/node/fast-defaults.ts) installs the fast paths this way, so the library's
 * core never imports them; without it a default NodeStorage is the plain one.
 */
export function setDefaultNodeStorageSetup(setup: ((storage: NodeStorage) => void) | null): void {
  defaultSetup = setup;
}

/** The NodeStorage a caller gets when it names none (Env.open, TokusimLevel). */
export function defaultNodeStorage(): NodeStorage {
  const s = new NodeStorage();
  defaultSetup?.(s);
  return s;
}
