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
 *    (nothing written). LocalStore: both are atomic. `ifAbsent`: a complete temporary file is
 *    hard-linked to the key (link(2) fails if the key exists). `ifTag` T: the writer first
 *    hard-links its complete new object to the claim name `KEY.from-T` (see claimKey), which
 *    only one writer can create; the claim is durable before the key is replaced, and from
 *    then on it counts as the object (getTagged follows claims: key, then the claim of its
 *    tag, then the claim of that one's tag...), so a crash between claim and rename loses
 *    nothing. The claimant then re-reads the chain (the key may have moved on before its
 *    claim: then it withdraws), renames its object over the key, and removes every other
 *    claim of the key (all are passed then). Claims end like temporary names, so list()
 *    never shows them.
 *  - conditional.deleteIf(key, T) on a LocalStore uses the same claim: a tombstone (TOMBSTONE
 *    and T, distinct per T so chains never loop) hard-linked to `KEY.from-T`, durable before
 *    anything else. While it is the end of the chain the object reads as T's bytes with the
 *    tombstone's tag: a writer that may replace T (a lease past its expiry) claims the
 *    tombstone in turn, so a deleter that crashed never blocks the key for good. The deleter
 *    re-reads the chain: if it no longer reaches T it withdraws its claim; if another claim
 *    follows its tombstone it leaves everything (the object is that writer's); only if the
 *    chain ends at its tombstone does it unlink the key and then the claims of the chain. A
 *    conditional create (`ifAbsent`) removes claims left over from a key that was deleted.
 *  - A LocalStore repository writes (or deletes) nothing under a directory it does not own: before its first
 *    change the directory must be missing, empty or marked as a repository (REPO_MARKER, written
 *    then); any other directory is refused with 'dest-not-empty' and left as it was.
 */
import { TokusimError } from '../base/errors.js';
import { ioErrorCode } from '../storage/io-error.js';
import { baseName, dirName, joinPath, type Storage, type StorageFile } from '../storage/storage.js';
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
  /**
   * Delete the object only if it still has this tag: true when it is gone (deleted now, or found
   * absent), false when another version is there (then nothing was deleted).
   */
  deleteIf(key: string, tag: string): Promise<boolean>;
  /** Whether `ifTag` is checked atomically with the write (`ifAbsent` always is). */
  readonly atomicIfTag: boolean;
}

/** Distinct temporary names for conditional writes of one process. */
let conditionalSerial = 0;

const TMP_SUFFIX = '.tmp-put';

/** A temporary name next to path that no other writer uses (two writers of one key never share one). */
function uniqueTmp(path: string): string {
  return `${path}.${typeof process !== 'undefined' ? process.pid : 0}-${++conditionalSerial}${TMP_SUFFIX}`;
}

/** The claim a conditional write replacing the object with tag `tag` creates first (see LocalStore). */
export function claimKey(key: string, tag: string): string {
  return `${key}.from-${tag}${TMP_SUFFIX}`;
}

/** What a delete claim holds (followed by the tag of the object it deletes): never the bytes of a lease or any JSON object. */
const TOMBSTONE = 'tokusim-deleted ';

function isTombstone(b: Uint8Array): boolean {
  if (b.length < TOMBSTONE.length) return false;
  for (let i = 0; i < TOMBSTONE.length; i++) if (b[i] !== TOMBSTONE.charCodeAt(i)) return false;
  return true;
}

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
    atomicIfTag: true,
    getTagged: async (key) => {
      const at = await this.resolveClaims(key);
      return at === undefined ? undefined : { bytes: at.bytes, tag: at.tags[at.tags.length - 1]! };
    },
    deleteIf: (key, tag) => this.deleteIfTag(key, tag),
    putIf: async (key, data, cond) => {
      if ('ifTag' in cond) return this.putIfTag(key, data, cond.ifTag);
      const p = this.path(key);
      // A name of its own (two writers of one key never share a temporary file), ending like every temporary name so list() skips it.
      const tmp = uniqueTmp(p);
      await this.writeFile(tmp, data, true);
      try {
        await this.storage.link(tmp, p);
      } catch (err) {
        if (ioErrorCode(err) !== 'EEXIST') throw err;
        return undefined;
      } finally {
        await this.storage.unlink(tmp);
      }
      await this.syncDirs(dirName(p));
      // Claims of a key that was deleted (a delete that crashed before removing them): passed now.
      if (await this.unlinkClaims(p, baseName(this.path(claimKey(key, sha256Hex(data)))))) await this.syncDirs(dirName(p));
      return sha256Hex(data);
    },
  };

  /** Remove every claim of the object at path p except the one named `keep`; whether there were any. */
  private async unlinkClaims(p: string, keep: string): Promise<boolean> {
    const prefix = `${baseName(p)}.from-`;
    let any = false;
    for (const n of await this.storage.list(dirName(p))) {
      if (n.startsWith(prefix) && n.endsWith(TMP_SUFFIX) && n !== keep) {
        await this.unlinkIfThere(joinPath(dirName(p), n));
        any = true;
      }
    }
    return any;
  }

  /**
   * The object at key as conditional writes see it: the key's bytes, or the end of the chain of
   * claims from it (a claimant that has not renamed its object over the key yet, or crashed
   * before it could); `tags` are those of every step, the key's first. A chain that ends at a
   * delete's tombstone reads as the object before it (`deleting`), with the tombstone's tag.
   */
  private async resolveClaims(key: string): Promise<{ bytes: Uint8Array; tags: string[]; deleting: boolean } | undefined> {
    let at = await this.get(key);
    if (at === undefined) return undefined;
    let bytes = at;
    const tags: string[] = [];
    for (;;) {
      const tag = sha256Hex(at);
      if (tags.includes(tag)) {
        throw new TokusimError('bad-header', 'the claims of a conditional write form a loop', { file: this.path(claimKey(key, tag)), expected: 'a chain of claims ending in an object with no claim', actual: `${tags.length} steps back to ${tag.slice(0, 12)}` });
      }
      tags.push(tag);
      const next = await this.get(claimKey(key, tag));
      if (next === undefined) return { bytes, tags, deleting: isTombstone(at) };
      at = next;
      if (!isTombstone(at)) bytes = at;
    }
  }

  /** Conditional delete (see the invariants): true when the object with tag `tag` is gone, false when another is there. */
  private async deleteIfTag(key: string, tag: string): Promise<boolean> {
    const have = await this.resolveClaims(key);
    if (have === undefined) return true;
    if (have.deleting || have.tags[have.tags.length - 1] !== tag) return false;
    const p = this.path(key);
    const tomb = new TextEncoder().encode(`${TOMBSTONE}${tag}\n`);
    const tombTag = sha256Hex(tomb);
    const tmp = uniqueTmp(p);
    const claim = this.path(claimKey(key, tag));
    await this.writeFile(tmp, tomb, true);
    try {
      await this.storage.link(tmp, claim);
    } catch (err) {
      if (ioErrorCode(err) === 'EEXIST') return false;
      throw err;
    } finally {
      await this.storage.unlink(tmp);
    }
    await this.syncDirs(dirName(p));
    const now = await this.resolveClaims(key);
    if (now === undefined || !now.tags.includes(tag)) {
      // The object moved past `tag` before the claim: the claim is on nobody's chain.
      await this.unlinkIfThere(claim);
      await this.syncDirs(dirName(p));
      return false;
    }
    // Another writer claimed the tombstone (it took the object over): the object is theirs.
    if (now.tags[now.tags.length - 1] !== tombTag) return false;
    await this.storage.unlink(p);
    await this.syncDirs(dirName(p));
    for (const t of now.tags) await this.unlinkIfThere(this.path(claimKey(key, t)));
    await this.syncDirs(dirName(p));
    return true;
  }

  /** Compare-and-swap of the object at key (see the invariants): undefined when its tag is not `tag`. */
  private async putIfTag(key: string, data: Uint8Array, tag: string): Promise<string | undefined> {
    const have = await this.resolveClaims(key);
    if (have === undefined || have.tags[have.tags.length - 1] !== tag) return undefined;
    // The same bytes again (a holder rewriting its lease within one millisecond): the object is
    // already what the write would make it, and a claim of it would name itself.
    if (sha256Hex(data) === tag) return tag;
    const p = this.path(key);
    const tmp = uniqueTmp(p);
    const claim = this.path(claimKey(key, tag));
    await this.writeFile(tmp, data, true);
    try {
      await this.storage.link(tmp, claim);
    } catch (err) {
      await this.storage.unlink(tmp);
      if (ioErrorCode(err) === 'EEXIST') return undefined;
      throw err;
    }
    await this.syncDirs(dirName(p));
    // Between the read above and the claim another writer may have moved the object past `tag`
    // (and removed its own claim of it): then the chain no longer passes through `tag`.
    const now = await this.resolveClaims(key);
    const at = now === undefined ? -1 : now.tags.indexOf(tag);
    if (at < 0) {
      await this.unlinkIfThere(claim);
      await this.storage.unlink(tmp);
      await this.syncDirs(dirName(p));
      return undefined;
    }
    await this.storage.rename(tmp, p);
    await this.syncDirs(dirName(p));
    // Every claim but one of our object (a later writer's) is passed now: the chain starts at our
    // object, so no reader reaches them again. That includes claims a crash left behind after
    // their rename, and ones of writers that are about to withdraw (they tolerate it).
    const mine = sha256Hex(data);
    await this.unlinkClaims(p, baseName(this.path(claimKey(key, mine))));
    await this.syncDirs(dirName(p));
    return mine;
  }

  private async unlinkIfThere(path: string): Promise<void> {
    try {
      await this.storage.unlink(path);
    } catch (err) {
      if (ioErrorCode(err) !== 'ENOENT') throw err;
    }
  }

  /** fsync the directories entries were made in, then dir. */
  private async syncDirs(dir: string): Promise<void> {
    for (const d of this.unsyncedDirs) await this.storage.fsyncDir(d);
    this.unsyncedDirs.clear();
    await this.storage.fsyncDir(dir);
  }

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
