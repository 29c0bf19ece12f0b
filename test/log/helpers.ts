/** Shared helpers for the log tests: temp directories, fixture paths, a counting storage wrapper. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { PLAIN_CAPABILITIES, type OpenMode, type Storage, type StorageFile } from '../../src/storage/storage.js';

export const FIXTURES = join(import.meta.dirname, '../../fixtures/perconaft');
export const S4 = join(FIXTURES, 'S4_rollover');

export function tempDir(prefix = 'tokusim-log-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The (lsn, crc) pairs printed by the real tokuft_logprint in a fixture output file. */
export function lsnCrcFromLogprint(path: string): Array<{ lsn: bigint; crc: number; type: string }> {
  const out: Array<{ lsn: bigint; crc: number; type: string }> = [];
  for (const line of readFileSync(path, 'latin1').split('\n')) {
    const m = /^(\w+)\s+'.': lsn=(\d+) .* crc=([0-9a-f]{8}) len=\d+$/.exec(line);
    if (m) out.push({ type: m[1]!, lsn: BigInt(m[2]!), crc: parseInt(m[3]!, 16) });
  }
  return out;
}

/** Wraps a Storage and counts file fsyncs and directory fsyncs. */
export class CountingStorage implements Storage {
  fileFsyncs = 0;
  dirFsyncs = 0;
  readonly capabilities = PLAIN_CAPABILITIES;
  constructor(readonly inner: Storage = new NodeStorage()) {}
  async open(path: string, mode: OpenMode): Promise<StorageFile> {
    const f = await this.inner.open(path, mode);
    const self = this;
    return {
      path: f.path,
      pread: (b, o) => f.pread(b, o),
      pwrite: (d, o) => f.pwrite(d, o),
      pwriteSync: () => {
        throw new Error('CountingStorage has no synchronous writes');
      },
      size: () => f.size(),
      truncate: (n) => f.truncate(n),
      async fsync() {
        self.fileFsyncs++;
        await f.fsync();
      },
      close: () => f.close(),
    };
  }
  exists(p: string) {
    return this.inner.exists(p);
  }
  list(d: string) {
    return this.inner.list(d);
  }
  mkdir(d: string) {
    return this.inner.mkdir(d);
  }
  rename(a: string, b: string) {
    return this.inner.rename(a, b);
  }
  link(a: string, b: string) {
    return this.inner.link(a, b);
  }
  unlink(p: string) {
    return this.inner.unlink(p);
  }
  async fsyncDir(d: string) {
    this.dirFsyncs++;
    await this.inner.fsyncDir(d);
  }
}
