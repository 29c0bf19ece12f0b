/**
 * The storage an Env writes through: every call that changes the disk (opening for writing,
 * pwrite, truncate, fsync, rename, link, unlink, mkdir, fsyncDir) first asks the fence, which
 * throws once the environment lock is lost (env-lock.ts, Fencing). Reads pass straight through.
 * One choke point, so "a fenced holder writes nothing more" holds for the log, checkpoints,
 * headers, recovery and file creation alike, without each of them knowing about the lock.
 *
 * Invariants:
 *  - No call that can change a file or a directory reaches the inner storage after fence()
 *    threw once (the fence keeps throwing: a lost lock is never regained).
 *  - Everything else is the inner storage's: the same bytes, errors, dsync and capabilities
 *    (the record is passed on as it is).
 */
import type { OpenMode, OpenOptions, Storage, StorageCapabilities, StorageFile } from '../storage/storage.js';

export type Fence = () => void;

class FencedFile implements StorageFile {
  constructor(
    private readonly inner: StorageFile,
    private readonly fence: Fence,
  ) {}

  pwriteSync(data: Uint8Array, offset: number): void {
    this.fence();
    this.inner.pwriteSync(data, offset);
  }

  get path(): string {
    return this.inner.path;
  }

  get dsync(): boolean | undefined {
    return this.inner.dsync;
  }

  pread(buf: Uint8Array, offset: number): Promise<number> {
    return this.inner.pread(buf, offset);
  }

  async pwrite(data: Uint8Array, offset: number): Promise<void> {
    this.fence();
    return this.inner.pwrite(data, offset);
  }

  size(): Promise<number> {
    return this.inner.size();
  }

  async truncate(size: number): Promise<void> {
    this.fence();
    return this.inner.truncate(size);
  }

  async fsync(): Promise<void> {
    this.fence();
    return this.inner.fsync();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

export class FencedStorage implements Storage {
  constructor(
    readonly inner: Storage,
    private readonly fence: Fence,
  ) {}

  get capabilities(): StorageCapabilities {
    return this.inner.capabilities;
  }

  async open(path: string, mode: OpenMode, options?: OpenOptions): Promise<StorageFile> {
    if (mode !== 'read') this.fence();
    const f = await this.inner.open(path, mode, options);
    return new FencedFile(f, this.fence);
  }

  exists(path: string): Promise<boolean> {
    return this.inner.exists(path);
  }

  list(dir: string): Promise<string[]> {
    return this.inner.list(dir);
  }

  async mkdir(dir: string): Promise<void> {
    this.fence();
    return this.inner.mkdir(dir);
  }

  async rename(from: string, to: string): Promise<void> {
    this.fence();
    return this.inner.rename(from, to);
  }

  async link(existing: string, newPath: string): Promise<void> {
    this.fence();
    return this.inner.link(existing, newPath);
  }

  async unlink(path: string): Promise<void> {
    this.fence();
    return this.inner.unlink(path);
  }

  async fsyncDir(dir: string): Promise<void> {
    this.fence();
    return this.inner.fsyncDir(dir);
  }
}
