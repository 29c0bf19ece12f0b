/**
 * ReadOnlyStorage: a Storage that lets through only what cannot change the disk, so a
 * read-only open (Env.open with readOnly, and the read-only commands status, logprint,
 * ftdump, replay) writes nothing by construction, not only by care.
 *
 * Invariants:
 *  - The base Storage is only called with exists, list and open(path, 'read'), then pread /
 *    size / close: every file is opened read-only underneath, whatever mode was asked.
 *  - Every call that would change the disk (create, write, truncate, fsync, mkdir, rename,
 *    unlink, fsyncDir) throws an InvariantError: a read-only path that tries is a bug.
 */
import { invariant } from '../base/errors.js';
import type { OpenMode, Storage, StorageCapabilities, StorageFile } from './storage.js';

function refuse(op: string, path: string): never {
  invariant(false, `a read-only open tried to ${op} ${path}`);
}

class ReadOnlyFile implements StorageFile {
  constructor(private readonly inner: StorageFile) {}
  get path(): string {
    return this.inner.path;
  }
  pread(buf: Uint8Array, offset: number): Promise<number> {
    return this.inner.pread(buf, offset);
  }
  size(): Promise<number> {
    return this.inner.size();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  async pwrite(): Promise<void> {
    refuse('write', this.inner.path);
  }
  async truncate(): Promise<void> {
    refuse('truncate', this.inner.path);
  }
  async fsync(): Promise<void> {
    refuse('fsync', this.inner.path);
  }
  pwriteSync(): void {
    refuse('write', this.inner.path);
  }
}

/** A view of another storage that reads everything; a call that would change it is a bug and throws (an invariant error naming the operation and path). */
export class ReadOnlyStorage implements Storage {
  /** The base's, less what only writers use (synchronous writes, block sinks). */
  readonly capabilities: StorageCapabilities;

  /** Reads go to `base`; nothing is ever written to it. */
  constructor(readonly base: Storage) {
    this.capabilities = Object.freeze({ ...base.capabilities, syncWrites: false, blockSinks: null });
  }

  async open(path: string, mode: OpenMode): Promise<StorageFile> {
    if (mode === 'create' || mode === 'create-exclusive') refuse(`create (${mode})`, path);
    return new ReadOnlyFile(await this.base.open(path, 'read'));
  }
  exists(path: string): Promise<boolean> {
    return this.base.exists(path);
  }
  list(dir: string): Promise<string[]> {
    return this.base.list(dir);
  }
  async mkdir(dir: string): Promise<void> {
    refuse('mkdir', dir);
  }
  async rename(from: string, to: string): Promise<void> {
    refuse(`rename to ${to}`, from);
  }
  async link(existing: string, newPath: string): Promise<void> {
    refuse(`link to ${newPath}`, existing);
  }
  async unlink(path: string): Promise<void> {
    refuse('unlink', path);
  }
  async fsyncDir(dir: string): Promise<void> {
    refuse('fsync the directory', dir);
  }
}
