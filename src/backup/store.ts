/**
 * Where a backup repository keeps its objects: a flat key space ('a/b/c') with one-level
 * listing. LocalStore keeps them as files under a directory of a Storage (so the crash tests
 * run it on SimStorage); S3Store (s3-store.ts, node only) as objects of a bucket.
 *
 * Invariants:
 *  - putAtomic(key, data): when it resolves the object is durable with exactly data; a crash
 *    before leaves either no object or the previous one, never a part of data.
 *  - put(key, data) is durable only after the next sync() resolves; objects are looked at only
 *    through a manifest and sentinel written later with putAtomic, so a torn one is never used.
 *  - list(dir) returns the names directly under dir (files and sub-directories), sorted; a
 *    missing dir lists as empty. Temporary names of putAtomic are never listed.
 *  - conditional.putIf(key, data, cond) writes only if the condition holds when the object is
 *    written, and returns the object's new tag, or undefined when the condition did not hold
 *    (nothing written). LocalStore: `ifAbsent` is atomic (a complete temporary file is
 *    hard-linked to the key: link(2) fails if the key exists); `ifTag` compares then renames,
 *    so two writers within that window can both pass (conditional.atomicIfTag is false).
 *  - A LocalStore repository writes (or deletes) nothing under a directory it does not own: before its first
 *    change the directory must be missing, empty or marked as a repository (REPO_MARKER, written
 *    then); any other directory is refused with 'dest-not-empty' and left as it was.
 */
import { TokusimError } from '../base/errors.js';
import { ioErrorCode } from '../storage/io-error.js';
import { dirName, joinPath, type Storage, type StorageFile } from '../storage/storage.js';
import { sha256Hex } from './hash.js';

/** The object store under a backup repository. */
export interface RepoStore {
  /** Where it is, for messages ("/backups", "s3://bucket/prefix"). */
  readonly where: string;
  put(key: string, data: Uint8Array): Promise<void>;
  putAtomic(key: string, data: Uint8Array): Promise<void>;
  get(key: string): Promise<Uint8Array | undefined>;
  list(dir: string): Promise<string[]>;
  delete(key: string): Promise<void>;
  /** Make every put so far durable. */
  sync(): Promise<void>;
  /** Compare-and-swap writes of small objects (leases), where the store offers them. */
  readonly conditional?: ConditionalWrites;
}

/** An object with its version: an S3 ETag, or a local file's sha256. */
export interface TaggedObject {
  bytes: Uint8Array;
  tag: string;
}

/** When a conditional write may happen: only if the object is absent, or still has this tag. */
export type PutCondition = { ifAbsent: true } | { ifTag: string };

/** Writes that happen only if the object is as the writer last saw it (durable when they resolve, as putAtomic). */
export interface ConditionalWrites {
  getTagged(key: string): Promise<TaggedObject | undefined>;
  /** The new tag, or undefined when the condition did not hold (then nothing was written). */
  putIf(key: string, data: Uint8Array, cond: PutCondition): Promise<string | undefined>;
  /** Whether `ifTag` is checked atomically with the write (`ifAbsent` always is). */
  readonly atomicIfTag: boolean;
}

/** Distinct temporary names for conditional writes of one process. */
let conditionalSerial = 0;

const TMP_SUFFIX = '.tmp-put';

/** Every byte of an open file; an error if it shrinks while it is read. */
export async function readOpenFile(f: StorageFile): Promise<Uint8Array> {
  const size = await f.size();
  const out = new Uint8Array(size);
  let at = 0;
  while (at < size) {
    const n = await f.pread(out.subarray(at), at);
    if (n === 0) break;
    at += n;
  }
  if (at !== size) throw new TokusimError('truncated', 'file shrank while it was read', { file: f.path, expected: `${size} bytes`, actual: `${at} bytes` });
  return out;
}

/** The file that marks a directory as a tokusim backup repository. */
export const REPO_MARKER = 'tokusim-backup-repository';

/** A repository in a directory of a Storage. */
export class LocalStore implements RepoStore {
  private readonly madeDirs = new Set<string>();
  /** fsyncs of put() objects in flight: sync() waits for them. */
  private syncing: Array<Promise<void>> = [];
  private fsyncChain: Promise<void> = Promise.resolve();
  private unsyncedDirs = new Set<string>();
  private claimed: Promise<void> | undefined;

  /**
   * A store under `root`. As a repository (the default) it writes only where the invariants allow;
   * `{ repository: false }` is for a fetch's DEST, which fetch itself checks (empty or absent, or
   * its own unfinished restore) before anything is written.
   */
  constructor(
    readonly storage: Storage,
    readonly root: string,
    private readonly opts: { repository?: boolean } = {},
  ) {}

  get where(): string {
    return this.root;
  }

  readonly conditional: ConditionalWrites = {
    atomicIfTag: false,
    getTagged: async (key) => {
      const bytes = await this.get(key);
      return bytes === undefined ? undefined : { bytes, tag: sha256Hex(bytes) };
    },
    putIf: async (key, data, cond) => {
      if ('ifTag' in cond) {
        const have = await this.get(key);
        if (have === undefined || sha256Hex(have) !== cond.ifTag) return undefined;
        await this.putAtomic(key, data);
        return sha256Hex(data);
      }
      const p = this.path(key);
      // A name of its own (two writers of one key never share a temporary file), ending like every temporary name so list() skips it.
      const tmp = `${p}.${typeof process !== 'undefined' ? process.pid : 0}-${++conditionalSerial}${TMP_SUFFIX}`;
      await this.writeFile(tmp, data, true);
      try {
        await this.storage.link(tmp, p);
      } catch (err) {
        if (ioErrorCode(err) !== 'EEXIST') throw err;
        return undefined;
      } finally {
        await this.storage.unlink(tmp);
      }
      for (const d of this.unsyncedDirs) await this.storage.fsyncDir(d);
      this.unsyncedDirs.clear();
      await this.storage.fsyncDir(dirName(p));
      return sha256Hex(data);
    },
  };

  private path(key: string): string {
    return joinPath(this.root, key);
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    await this.storage.mkdir(dir);
    // A directory entry made here must be durable in its parent too.
    for (let d = dir; d.length > this.root.length; d = dirName(d)) this.unsyncedDirs.add(dirName(d));
    this.madeDirs.add(dir);
  }

  /** Make sure the root is ours before the first change (see the invariants); once per store. */
  private claim(): Promise<void> {
    if (this.opts.repository === false) return Promise.resolve();
    return (this.claimed ??= this.claimRoot());
  }

  private async claimRoot(): Promise<void> {
    const marker = joinPath(this.root, REPO_MARKER);
    if (await this.storage.exists(marker)) return;
    const names = (await this.storage.exists(this.root)) ? await this.storage.list(this.root) : [];
    if (names.length > 0) {
      throw new TokusimError('dest-not-empty', `${this.root} is not a tokusim backup repository and not empty (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''}); give a new or empty directory`, {
        file: this.root,
        expected: `an empty or absent directory, or one holding ${REPO_MARKER}`,
        actual: `${names.length} entries`,
      });
    }
    await this.storage.mkdir(this.root);
    const f = await this.storage.open(marker, 'create');
    try {
      await f.pwrite(new TextEncoder().encode('tokusim backup repository\n'), 0);
      await f.fsync();
    } finally {
      await f.close();
    }
    await this.storage.fsyncDir(this.root);
    await this.storage.fsyncDir(dirName(this.root));
  }

  private async writeFile(path: string, data: Uint8Array, fsync: boolean): Promise<void> {
    await this.claim();
    await this.ensureDir(dirName(path));
    const f = await this.storage.open(path, 'create');
    try {
      await f.truncate(0);
      if (data.length > 0) await f.pwrite(data, 0);
      if (fsync) await f.fsync();
    } finally {
      await f.close();
    }
  }

  /**
   * Write the object and start its fsync without waiting for it (sync() waits): the disk
   * writes the part back while the next ones are read and hashed, instead of a push stopping
   * at every progress save to flush everything at once.
   */
  async put(key: string, data: Uint8Array): Promise<void> {
    const p = this.path(key);
    await this.claim();
    await this.ensureDir(dirName(p));
    const f = await this.storage.open(p, 'create');
    try {
      await f.truncate(0);
      if (data.length > 0) await f.pwrite(data, 0);
    } catch (err) {
      await f.close();
      throw err;
    }
    this.syncLater(f, p);
  }

  /**
   * Whether putWith() works: this store's storage copies parts itself (capabilities.partCopy,
   * a real file system, where object keys are plain files a copier can write).
   */
  get takesCopies(): boolean {
    return this.storage.capabilities.partCopy !== null;
  }

  /**
   * Have write(path) create the object `key` as a file at `path` (a part copier of this
   * store's kind of storage, see takesCopies), then treat it as put() does: durable after the
   * next sync().
   */
  async putWith<T>(key: string, write: (path: string) => Promise<T>): Promise<T> {
    const p = this.path(key);
    await this.claim();
    await this.ensureDir(dirName(p));
    const r = await write(p);
    this.syncLater(await this.storage.open(p, 'readwrite'), p);
    return r;
  }

  private syncLater(f: StorageFile, p: string): void {
    // One fsync at a time, in put order: the disk writes parts back while later ones are read
    // and hashed, and the other I/O threads stay free for those reads and writes.
    const durable = this.fsyncChain.then(() => f.fsync()).finally(() => f.close());
    this.fsyncChain = durable.catch(() => undefined);
    // Its failure is reported by the sync() that waits for it.
    durable.catch(() => undefined);
    this.syncing.push(durable);
    this.unsyncedDirs.add(dirName(p));
  }

  async putAtomic(key: string, data: Uint8Array): Promise<void> {
    const p = this.path(key);
    const tmp = p + TMP_SUFFIX;
    await this.writeFile(tmp, data, true);
    await this.storage.rename(tmp, p);
    for (const d of this.unsyncedDirs) await this.storage.fsyncDir(d);
    this.unsyncedDirs.clear();
    await this.storage.fsyncDir(dirName(p));
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const p = this.path(key);
    let f;
    try {
      f = await this.storage.open(p, 'read');
    } catch (err) {
      if (ioErrorCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    try {
      return await readOpenFile(f);
    } finally {
      await f.close();
    }
  }

  async list(dir: string): Promise<string[]> {
    const p = this.path(dir);
    if (!(await this.storage.exists(p))) return [];
    return (await this.storage.list(p)).filter((n) => !n.endsWith(TMP_SUFFIX));
  }

  async delete(key: string): Promise<void> {
    const p = this.path(key);
    if (!(await this.storage.exists(p))) return;
    await this.claim();
    await this.storage.unlink(p);
    this.unsyncedDirs.add(dirName(p));
  }

  async sync(): Promise<void> {
    const pending = this.syncing;
    this.syncing = [];
    const failed = (await Promise.allSettled(pending)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    const dirs = this.unsyncedDirs;
    this.unsyncedDirs = new Set();
    for (const d of dirs) await this.storage.fsyncDir(d);
  }
}
