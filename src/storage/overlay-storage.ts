/**
 * OverlayStorage: a Storage that reads through to a base Storage and keeps every change
 * (writes, truncates, new files, renames, unlinks, new directories) in memory, so code that
 * writes — recovery — can run unchanged against a directory without changing one byte of it
 * (`tokusim recover --dry-run`). fsync and fsyncDir do nothing: nothing here is durable.
 *
 * Changed file contents are kept as 4 KiB pages over the base file, so memory grows with what
 * is written, not with the size of the files.
 *
 * Invariants:
 *  - The base Storage is only ever called with exists, list and open(path, 'read'), then
 *    pread / size / close on those handles: it is never written.
 *  - For every overlay file, baseLimit <= size: base bytes at or past baseLimit were cut by a
 *    truncate and read as zeros unless a page holds them.
 */
import { ioError } from './io-error.js';
import { baseName, dirName, joinPath, PLAIN_CAPABILITIES, type OpenMode, type OpenOptions, type Storage, type StorageCapabilities, type StorageFile } from './storage.js';
import { compareUtf8 } from '../base/portable.js';

const PAGE = 4096;

class OverlayInode {
  readonly pages = new Map<number, Uint8Array>();
  constructor(
    readonly base: StorageFile | undefined,
    public size: number,
    /** Base bytes below this offset are still the file's (see the invariants). */
    public baseLimit: number,
  ) {}

  async read(buf: Uint8Array, offset: number): Promise<number> {
    const n = Math.max(0, Math.min(buf.length, this.size - offset));
    if (n === 0) return 0;
    buf.fill(0, 0, n);
    const end = offset + n;
    for (let p = Math.floor(offset / PAGE); p * PAGE < end; p++) {
      const from = Math.max(offset, p * PAGE);
      const to = Math.min(end, (p + 1) * PAGE);
      const page = this.pages.get(p);
      if (page !== undefined) buf.set(page.subarray(from - p * PAGE, to - p * PAGE), from - offset);
      else if (this.base !== undefined && from < this.baseLimit) await readBase(this.base, buf.subarray(from - offset, Math.min(to, this.baseLimit) - offset), from);
    }
    return n;
  }

  private async page(p: number): Promise<Uint8Array> {
    let page = this.pages.get(p);
    if (page === undefined) {
      page = new Uint8Array(PAGE);
      const start = p * PAGE;
      if (this.base !== undefined && start < this.baseLimit) await readBase(this.base, page.subarray(0, Math.min(PAGE, this.baseLimit - start)), start);
      this.pages.set(p, page);
    }
    return page;
  }

  async write(data: Uint8Array, offset: number): Promise<void> {
    const end = offset + data.length;
    for (let p = Math.floor(offset / PAGE); p * PAGE < end; p++) {
      const page = await this.page(p);
      const from = Math.max(offset, p * PAGE);
      const to = Math.min(end, (p + 1) * PAGE);
      page.set(data.subarray(from - offset, to - offset), from - p * PAGE);
    }
    // Bytes between the old end and offset read as zeros: base bytes there were cut before.
    if (end > this.size) this.size = end;
  }

  truncate(size: number): void {
    if (size < this.size) {
      this.baseLimit = Math.min(this.baseLimit, size);
      for (const p of [...this.pages.keys()]) {
        if (p * PAGE >= size) this.pages.delete(p);
        else if ((p + 1) * PAGE > size) this.pages.get(p)!.fill(0, size - p * PAGE);
      }
    }
    this.size = size;
  }
}

async function readBase(f: StorageFile, into: Uint8Array, offset: number): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const n = await f.pread(into.subarray(done), offset + done);
    if (n === 0) break;
    done += n;
  }
}

class OverlayFile implements StorageFile {
  private closed = false;
  constructor(
    readonly path: string,
    private readonly inode: OverlayInode,
    private readonly writable: boolean,
  ) {}
  private live(op: string): OverlayInode {
    if (this.closed) throw ioError(op, this.path, 'EBADF', 'handle is closed');
    return this.inode;
  }
  private liveWritable(op: string): OverlayInode {
    const i = this.live(op);
    if (!this.writable) throw ioError(op, this.path, 'EBADF', 'handle is read-only');
    return i;
  }
  async pread(buf: Uint8Array, offset: number): Promise<number> {
    return this.live('pread').read(buf, offset);
  }
  async pwrite(data: Uint8Array, offset: number): Promise<void> {
    return this.liveWritable('pwrite').write(data, offset);
  }
  async size(): Promise<number> {
    return this.live('size').size;
  }
  async truncate(size: number): Promise<void> {
    this.liveWritable('truncate').truncate(size);
  }
  async fsync(): Promise<void> {
    this.live('fsync');
  }
  async close(): Promise<void> {
    this.live('close');
    this.closed = true;
  }
  /** Refused: overlay writes go to memory through pwrite (capabilities.syncWrites is false). */
  pwriteSync(): void {
    throw ioError('pwrite', this.path, 'ENOTSUP', 'an overlay has no synchronous writes');
  }
}

function norm(path: string): string {
  const p = joinPath(path);
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

/** A writable view of another storage whose changes stay in memory: the base's files are read, never written. */
export class OverlayStorage implements Storage {
  /**
   * The plain capabilities, whatever the base offers: every change stays in memory, so the
   * policies of a real device (background syncs, preallocation) and the base's fast block
   * writes would only cost memory or reach the base's files.
   */
  readonly capabilities: StorageCapabilities = PLAIN_CAPABILITIES;
  /** Files by path: an inode, or null when removed in the overlay. */
  private readonly entries = new Map<string, OverlayInode | null>();
  private readonly newDirs = new Set<string>();
  private readonly baseHandles: StorageFile[] = [];

  /** Reads fall through to `base` for whatever the overlay has not changed. */
  constructor(readonly base: Storage) {}

  /** Paths the overlay changed (written, created, renamed or removed), for reports and tests. */
  changedPaths(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** Make path look removed (in the overlay only). */
  hide(path: string): void {
    this.entries.set(norm(path), null);
  }

  /** Close the base handles the overlay opened. */
  async dispose(): Promise<void> {
    for (const h of this.baseHandles.splice(0)) await h.close().catch(() => undefined);
  }

  private async inodeOf(p: string): Promise<OverlayInode | undefined> {
    const e = this.entries.get(p);
    if (e !== undefined) return e ?? undefined;
    if (this.newDirs.has(p) || !(await this.base.exists(p))) return undefined;
    const h = await this.base.open(p, 'read');
    this.baseHandles.push(h);
    const size = await h.size();
    const inode = new OverlayInode(h, size, size);
    this.entries.set(p, inode);
    return inode;
  }

  /** True when p is a directory (one the overlay made, or one of the base the overlay did not replace). */
  private async isDir(p: string): Promise<boolean> {
    if (this.newDirs.has(p)) return true;
    if (this.entries.has(p) || !(await this.base.exists(p))) return false;
    return this.base.list(p).then(
      () => true,
      () => false,
    );
  }

  private async dirExists(d: string): Promise<boolean> {
    if (this.newDirs.has(d)) return true;
    if (this.entries.has(d)) return false;
    return this.base.exists(d);
  }

  async open(path: string, mode: OpenMode, _options?: OpenOptions): Promise<StorageFile> {
    const p = norm(path);
    if (await this.isDir(p)) throw ioError(`open(${mode})`, path, 'EISDIR');
    if (!(await this.dirExists(dirName(p)))) throw ioError(`open(${mode})`, path, 'ENOENT');
    let inode = await this.inodeOf(p);
    if (inode !== undefined && mode === 'create-exclusive') throw ioError(`open(${mode})`, path, 'EEXIST');
    if (inode === undefined) {
      if (mode === 'read' || mode === 'readwrite') throw ioError(`open(${mode})`, path, 'ENOENT');
      inode = new OverlayInode(undefined, 0, 0);
      this.entries.set(p, inode);
    }
    return new OverlayFile(path, inode, mode !== 'read');
  }

  async exists(path: string): Promise<boolean> {
    const p = norm(path);
    const e = this.entries.get(p);
    if (e !== undefined) return e !== null;
    return this.newDirs.has(p) || this.base.exists(p);
  }

  async list(dir: string): Promise<string[]> {
    const d = norm(dir);
    const names = new Set<string>();
    if (!this.newDirs.has(d)) for (const n of await this.base.list(d)) names.add(n);
    for (const [p, e] of this.entries) {
      if (dirName(p) !== d) continue;
      if (e === null) names.delete(baseName(p));
      else names.add(baseName(p));
    }
    for (const q of this.newDirs) if (dirName(q) === d) names.add(baseName(q));
    return [...names].sort(compareUtf8);
  }

  async mkdir(dir: string): Promise<void> {
    for (let q = norm(dir); !(await this.dirExists(q)); q = dirName(q)) this.newDirs.add(q);
  }

  async rename(from: string, to: string): Promise<void> {
    const a = norm(from);
    if ((await this.isDir(a)) || (await this.isDir(norm(to)))) throw ioError('rename', from, 'EISDIR', 'the overlay renames files only');
    const inode = await this.inodeOf(a);
    if (inode === undefined) throw ioError('rename', from, 'ENOENT');
    this.entries.set(a, null);
    this.entries.set(norm(to), inode);
  }

  async link(existing: string, newPath: string): Promise<void> {
    const a = norm(existing);
    const b = norm(newPath);
    if (await this.isDir(a)) throw ioError('link', existing, 'EPERM', 'directories cannot be linked');
    const inode = await this.inodeOf(a);
    if (inode === undefined) throw ioError('link', existing, 'ENOENT');
    if ((await this.isDir(b)) || (await this.inodeOf(b)) !== undefined) throw ioError('link', newPath, 'EEXIST');
    if (!(await this.dirExists(dirName(b)))) throw ioError('link', newPath, 'ENOENT');
    // Both names now share one inode, as a hard link does; nothing reaches the base.
    this.entries.set(b, inode);
  }

  async unlink(path: string): Promise<void> {
    const p = norm(path);
    if (await this.isDir(p)) throw ioError('unlink', path, 'EISDIR');
    if ((await this.inodeOf(p)) === undefined) throw ioError('unlink', path, 'ENOENT');
    this.entries.set(p, null);
  }

  async fsyncDir(dir: string): Promise<void> {
    if (!(await this.dirExists(norm(dir)))) throw ioError('fsyncDir', dir, 'ENOENT');
  }
}
