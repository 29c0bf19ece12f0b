import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeRecord } from '../../src/format/codec.js';
import type { LogRecord } from '../../src/format/record-types.js';
import { LogCursor } from '../../src/log/cursor.js';
import { findLogFiles } from '../../src/log/names.js';
import type { LogEvent } from '../../src/log/events.js';
import { LogWriter, type LogRecordInput } from '../../src/log/writer.js';
import { CountingStorage, tempDir } from './helpers.js';

const enc = new TextEncoder();

function insert(i: number, valueBytes = 100): LogRecordInput {
  return {
    type: 'enq_insert',
    filenum: 5,
    xid: { parent: BigInt(1 + (i % 7)), child: 0n },
    key: enc.encode(`key${String(i).padStart(6, '0')}`),
    value: new Uint8Array(valueBytes).fill(97 + (i % 26)),
  };
}

async function readAll(dir: string, storage = new CountingStorage()): Promise<LogRecord[]> {
  const c = await LogCursor.open(storage, dir);
  const out: LogRecord[] = [];
  for (let e = await c.next(); e !== undefined; e = await c.next()) out.push(e.record);
  await c.close();
  return out;
}

describe('LogWriter', () => {
  // Scenario: a small lg_max forces many rollovers; the cursor reads back exactly what was logged.
  it('Scenario: writes at a small lgMax roll over into many files that the cursor reads back identically', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const events: LogEvent[] = [];
      const w = await LogWriter.open({ storage: new CountingStorage(), dir, lgMax: 4096, bufferSize: 1500, listener: (e) => events.push(e) });
      const logged: LogRecord[] = [];
      for (let i = 0; i < 300; i++) {
        const rec = insert(i);
        const lsn = w.append(rec);
        logged.push({ ...rec, lsn } as LogRecord);
        if (i % 10 === 9) await w.fsync(lsn);
      }
      await w.close();
      expect(logged.map((r) => r.lsn)).toEqual(logged.map((_, i) => BigInt(i + 1)));
      const names = readdirSync(dir).sort();
      expect(names.length).toBeGreaterThan(5);
      expect(names[0]).toBe('log000000000000.tokulog29');
      // Every file but the last passed lgMax by at most one buffer write.
      for (const n of names.slice(0, -1)) {
        const size = statSync(join(dir, n)).size;
        expect(size).toBeGreaterThan(4096);
        expect(size).toBeLessThan(4096 + 1500 + 200);
      }
      expect(events.filter((e) => e.type === 'rollover').length).toBe(names.length - 1);
      const back = await readAll(dir);
      expect(back.map((r) => Buffer.from(encodeRecord(r)).toString('hex'))).toEqual(
        logged.map((r) => Buffer.from(encodeRecord(r)).toString('hex')),
      );
    } finally {
      cleanup();
    }
  });

  it('Scenario: reopening continues LSNs after the existing logs and always starts a new file', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const storage = new CountingStorage();
      const w1 = await LogWriter.open({ storage, dir });
      for (let i = 0; i < 5; i++) w1.append(insert(i));
      await w1.close();
      const w2 = await LogWriter.open({ storage, dir });
      expect(w2.lastLsn).toBe(5n);
      expect(w2.append(insert(5))).toBe(6n);
      await w2.close();
      const w3 = await LogWriter.open({ storage, dir }); // the previous file holds lsn 6 only
      await w3.close();
      expect(readdirSync(dir).sort()).toEqual(['log000000000000.tokulog29', 'log000000000001.tokulog29', 'log000000000002.tokulog29']);
      expect((await readAll(dir)).map((r) => r.lsn)).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
      expect(w3.logFiles().map((f) => f.maxLsn)).toEqual([5n, 6n, 6n]);
    } finally {
      cleanup();
    }
  });

  // Scenario: an opener that has just read the log hands over the files and the newest one's
  // last LSN; the writer then reads only the older files and ends up with the same bookkeeping
  // as one that read everything, in a new file of the same index.
  it('Scenario: open with the existing log described gives the same files, LSNs and new file as reading it', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const storage = new CountingStorage();
      const w1 = await LogWriter.open({ storage, dir });
      for (let i = 0; i < 5; i++) w1.append(insert(i));
      await w1.close();
      const w2 = await LogWriter.open({ storage, dir });
      w2.append(insert(5));
      await w2.close();
      // Two files with entries (maxLsn 5 and 6); the newest one's last entry is LSN 6.
      const files = await findLogFiles(storage, dir);
      const described = await LogWriter.open({ storage, dir, existing: { files, newestLastLsn: 6n } });
      await described.close();
      const describedFiles = described.logFiles().map((f) => [f.index, f.maxLsn]);
      const lastDescribed = described.lastLsn;
      // Remove the file the first open created, and open again reading everything.
      unlinkSync(join(dir, 'log000000000002.tokulog29'));
      const read = await LogWriter.open({ storage, dir });
      await read.close();
      expect(describedFiles).toEqual(read.logFiles().map((f) => [f.index, f.maxLsn]));
      expect(describedFiles).toEqual([[0, 5n], [1, 6n], [2, 6n]]);
      expect(lastDescribed).toBe(read.lastLsn);
      // An empty newest file (no last entry) inherits the previous file's LSN.
      const empty = await LogWriter.open({ storage, dir, existing: { files: await findLogFiles(storage, dir), newestLastLsn: undefined } });
      await empty.close();
      expect(empty.logFiles().map((f) => f.maxLsn)).toEqual([5n, 6n, 6n, 6n]);
    } finally {
      cleanup();
    }
  });

  // Scenario: many clients commit at once and ask for their commit LSN to be durable.
  it('Scenario: N concurrent fsync requests are served by fewer fsyncs (group commit), and every one is durable after', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const storage = new CountingStorage();
      const w = await LogWriter.open({ storage, dir });
      const before = storage.fileFsyncs;
      const n = 40;
      const waits: Promise<void>[] = [];
      const lsns: bigint[] = [];
      for (let i = 0; i < n; i++) {
        const lsn = w.append({ type: 'xcommit', xid: { parent: BigInt(i + 1), child: 0n } });
        lsns.push(lsn);
        waits.push(w.fsync(lsn));
      }
      await Promise.all(waits);
      const used = storage.fileFsyncs - before;
      expect(used).toBeGreaterThanOrEqual(1);
      expect(used).toBeLessThan(n / 4);
      expect(w.syncedLsn).toBe(lsns[n - 1]);
      // Asking again for an LSN already durable costs nothing.
      await w.fsync(lsns[3]);
      expect(storage.fileFsyncs - before).toBe(used);
      await w.close();
    } finally {
      cleanup();
    }
  });

  it('Scenario: trim deletes only old files whose max LSN is below the needed LSN, oldest first, never the current one', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const w = await LogWriter.open({ storage: new CountingStorage(), dir, lgMax: 2000, bufferSize: 800 });
      for (let i = 0; i < 120; i++) {
        w.append(insert(i, 50));
        if (i % 5 === 4) await w.fsync();
      }
      await w.fsync();
      const files = w.logFiles();
      expect(files.length).toBeGreaterThan(3);
      const cut = files[2]!.maxLsn; // files 0 and 1 end below it, file 2 ends at it
      const deleted = await w.trim(cut);
      expect(deleted).toEqual([files[0]!.path, files[1]!.path]);
      expect(w.logFiles()[0]!.path).toBe(files[2]!.path);
      // Trimming past everything keeps the current file.
      await w.trim(1_000_000n);
      const current = w.logFiles();
      expect(current.length).toBe(1);
      expect(readdirSync(dir).map((n) => join(dir, n))).toEqual([current[0]!.path]);
      w.append(insert(120, 50));
      await w.close();
      expect((await readAll(dir)).map((r) => r.lsn)).toContain(121n);
    } finally {
      cleanup();
    }
  });

  it('Scenario: a timestamp of 0 is replaced by the clock, as PerconaFT does', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const clock = { nowMicros: () => 1_700_000_000_123_456n, nowMs: () => 0, sleep: async () => {}, setTimer: () => ({ cancel() {} }) };
      const w = await LogWriter.open({ storage: new CountingStorage(), dir, clock });
      w.append({ type: 'begin_checkpoint', timestamp: 0n, last_xid: 3n });
      w.append({ type: 'begin_checkpoint', timestamp: 5n, last_xid: 3n });
      await w.close();
      const recs = await readAll(dir);
      expect(recs.map((r) => (r as { timestamp: bigint }).timestamp)).toEqual([1_700_000_000_123_456n, 5n]);
    } finally {
      cleanup();
    }
  });
});
