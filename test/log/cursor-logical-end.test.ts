/**
 * Reading a log backward starts at the end of its entries (LogCursor.last / prev), which must
 * be found from the end of the file: a clean file, or one ending in a preallocated zero tail,
 * costs a few reads near its end, never a scan of the whole file.
 */
import { describe, expect, it } from 'vitest';
import { LogCursor } from '../../src/log/cursor.js';
import { LogWriter } from '../../src/log/writer.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import type { OpenMode, StorageFile } from '../../src/storage/storage.js';

/** SimStorage counting the bytes pread from log files. */
class ReadCounting extends SimStorage {
  bytesRead = 0;
  override async open(path: string, mode: OpenMode): Promise<StorageFile> {
    const f = await super.open(path, mode);
    const pread = f.pread.bind(f);
    f.pread = async (buf: Uint8Array, off: number): Promise<number> => {
      const n = await pread(buf, off);
      this.bytesRead += n;
      return n;
    };
    return f;
  }
}

async function writeLog(s: ReadCounting, n: number, zeroTail: number): Promise<{ lastLsn: bigint; size: number }> {
  await s.mkdir('log');
  const w = await LogWriter.open({ storage: s, dir: 'log', lgMax: 1 << 30 });
  let lastLsn = 0n;
  for (let i = 0; i < n; i++) {
    // Entries of assorted lengths, so the trailing length word's bytes vary.
    lastLsn = w.append({ type: 'enq_insert', filenum: 1, xid: { parent: 1n, child: 0n }, key: new Uint8Array(1 + (i % 300)), value: new Uint8Array(i % 7) });
  }
  await w.close();
  const path = (await s.list('log')).map((f) => `log/${f}`)[0]!;
  const h = await s.open(path, 'readwrite');
  const size = await h.size();
  if (zeroTail > 0) await h.pwrite(new Uint8Array(zeroTail), size);
  await h.close();
  return { lastLsn, size: size + zeroTail };
}

describe('LogCursor: the end of a file is found from its end', () => {
  for (const zeroTail of [0, 3, 64 * 1024]) {
    it(`Scenario: last() on a 60 000-entry log${zeroTail > 0 ? ` ending in ${zeroTail} zero bytes` : ''} finds the last entry reading a small fraction of the file`, async () => {
      const s = new ReadCounting({ seed: 1 });
      const { lastLsn, size } = await writeLog(s, 60_000, zeroTail);
      s.bytesRead = 0;
      const c = await LogCursor.open(s, 'log');
      const last = await c.last();
      await c.close();
      expect(last?.record.lsn).toBe(lastLsn);
      expect(size).toBeGreaterThan(10_000_000);
      // The cursor reads in 1 MiB windows: one at the start of the file (its header), a few
      // near its end (the zero tail, the last entries); the entries are not scanned (that
      // would read all of the file's 10+ MB).
      expect(s.bytesRead).toBeLessThan(4 * (1 << 20) + zeroTail);
    });
  }
});
