import { copyFileSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogCursor, readLastEntryOfFile, repairLogTail, scanLogFile, type LogEntry } from '../../src/log/cursor.js';
import { TokusimError } from '../../src/base/errors.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { S4, lsnCrcFromLogprint, tempDir } from './helpers.js';

const storage = new NodeStorage();

/** The S4 files in order: logs_trimmed/0..6 then logs/7, a complete sequence. */
function s4Paths(): string[] {
  const trimmed = readdirSync(join(S4, 'logs_trimmed')).sort().map((n) => join(S4, 'logs_trimmed', n));
  return [...trimmed, join(S4, 'logs', 'log000000000007.tokulog29')];
}

function s4Expected(): Array<{ lsn: bigint; crc: number; type: string }> {
  const out: Array<{ lsn: bigint; crc: number; type: string }> = [];
  for (let i = 0; i <= 7; i++) out.push(...lsnCrcFromLogprint(join(S4, 'logprint', `log00000000000${i}.tokulog29.txt`)));
  return out;
}

async function readAll(c: LogCursor, dir: 'next' | 'prev'): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for (let e = await c[dir](); e !== undefined; e = await c[dir]()) out.push(e);
  return out;
}

async function expectError(p: Promise<unknown>): Promise<TokusimError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TokusimError);
    return err as TokusimError;
  }
  throw new Error('expected an error');
}

describe('LogCursor over the PerconaFT S4_rollover logs', () => {
  // Scenario: eight files written by real PerconaFT with lg_max 128 KiB are read as one log.
  it('Scenario: reading forward yields every record of logs_trimmed + logs in LSN order, matching tokuft_logprint', async () => {
    const expected = s4Expected();
    expect(expected.length).toBe(3181);
    const c = new LogCursor(storage, s4Paths(), { chunkSize: 4096 });
    const entries = await readAll(c, 'next');
    await c.close();
    expect(entries.map((e) => e.record.lsn)).toEqual(expected.map((e) => e.lsn));
    expect(entries.map((e) => e.crc)).toEqual(expected.map((e) => e.crc));
    expect(entries.map((e) => e.record.type)).toEqual(expected.map((e) => e.type));
    // Each file's entries sit back to back after the 12-byte header.
    const firstOfFile = entries.filter((e, i) => i === 0 || entries[i - 1]!.file !== e.file);
    expect(firstOfFile.length).toBe(8);
    for (const e of firstOfFile) expect(e.offset).toBe(12);
  });

  it('Scenario: reading backward yields the exact reverse, across every file boundary', async () => {
    const expected = s4Expected();
    const c = new LogCursor(storage, s4Paths(), { chunkSize: 3000 });
    const entries = await readAll(c, 'prev');
    await c.close();
    expect(entries.map((e) => e.record.lsn)).toEqual(expected.map((e) => e.lsn).reverse());
    expect(entries.map((e) => e.crc)).toEqual(expected.map((e) => e.crc).reverse());
  });

  it('Scenario: batched reading returns the same entries as one-at-a-time reading, across files and window reloads', async () => {
    const c = new LogCursor(storage, s4Paths(), { chunkSize: 5000 });
    const lsns: bigint[] = [];
    let batches = 0;
    for (let b = await c.nextBatch(100); b.length > 0; b = await c.nextBatch(100)) {
      batches++;
      expect(new Set(b.map((e) => e.file)).size).toBe(1);
      lsns.push(...b.map((e) => e.record.lsn));
    }
    await c.close();
    expect(lsns).toEqual(s4Expected().map((e) => e.lsn));
    expect(batches).toBeLessThan(3181);
  });

  it('Scenario: switching direction mid-file steps over the current entry, not onto it', async () => {
    const c = new LogCursor(storage, s4Paths());
    for (let i = 0; i < 440; i++) await c.next(); // into the second file
    expect(c.lastLsn).toBe(440n);
    expect((await c.prev())?.record.lsn).toBe(439n);
    expect((await c.prev())?.record.lsn).toBe(438n); // back across the file boundary
    expect((await c.next())?.record.lsn).toBe(439n);
    expect((await c.last())?.record.lsn).toBe(3181n);
    expect((await c.first())?.record.lsn).toBe(1n);
    await c.close();
  });

  it('Scenario: a missing middle file is an lsn-gap error naming the file, the last good LSN and the expected LSN', async () => {
    const paths = s4Paths().filter((p) => !p.includes('log000000000003'));
    const c = new LogCursor(storage, paths);
    const err = await expectError(readAll(c, 'next'));
    await c.close();
    expect(err.kind).toBe('lsn-gap');
    expect(err.where.file).toContain('log000000000004');
    expect(err.where.offset).toBe(12);
    expect(err.where.lsn).toBe(1277n);
    expect(err.where.expected).toBe('1278');
    expect(err.where.actual).toBe('1701');
  });

  it('Scenario: a directory cursor finds files by name and ignores other entries', async () => {
    const { dir, cleanup } = tempDir();
    try {
      for (const p of s4Paths().slice(5)) copyFileSync(p, join(dir, p.split('/').pop()!));
      writeFileSync(join(dir, 'log000000000009.tokulog29~'), 'backup');
      writeFileSync(join(dir, 'tokudb.rollback'), 'x');
      const c = await LogCursor.open(storage, dir);
      const entries = await readAll(c, 'next');
      await c.close();
      expect(entries[0]!.record.lsn).toBe(2117n);
      expect(entries[entries.length - 1]!.record.lsn).toBe(3181n);
      expect(entries.length).toBe(3181 - 2117 + 1);
    } finally {
      cleanup();
    }
  });
});

describe('torn tails and corruption are reported, not hidden', () => {
  const src = join(S4, 'logs', 'log000000000007.tokulog29');
  const full = readFileSync(src);
  // The last record (shutdown, 37 bytes) starts 37 bytes before the end.
  const lastLen = full.readUInt32LE(full.length - 4);
  const lastStart = full.length - lastLen;

  // Scenario: a crash tore the final write at every possible byte.
  it('Scenario: cutting the last record at every byte offset reports truncation at its start with last good LSN 3180', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'log000000000007.tokulog29');
      for (let keep = 1; keep < lastLen; keep++) {
        writeFileSync(path, full.subarray(0, lastStart + keep));
        // Batched reading returns every good entry, then reports the same damage.
        const cb = new LogCursor(storage, [path], { chunkSize: 1024 });
        let got = 0;
        const batchErr = await expectError((async () => {
          for (let b = await cb.nextBatch(); b.length > 0; b = await cb.nextBatch()) got += b.length;
        })());
        await cb.close();
        expect(got).toBe(3180 - 2956 + 1);
        expect(batchErr.where.offset).toBe(lastStart);
        const c = new LogCursor(storage, [path], { chunkSize: 1024 });
        const err = await expectError(readAll(c, 'next'));
        await c.close();
        expect(err.kind).toBe('truncated');
        expect(err.where.offset).toBe(lastStart);
        expect(err.where.lsn).toBe(3180n);
        expect(err.where.file).toBe(path);
        expect(err.where.actual).toBe(`${keep} bytes`);
        // Backward reading from the end names the same place.
        const back = await expectError(readLastEntryOfFile(storage, path));
        expect(back.kind).toBe('truncated');
        expect(back.where.offset).toBe(lastStart);
      }
      // Cutting exactly at the record boundary is a clean, shorter log.
      writeFileSync(path, full.subarray(0, lastStart));
      expect((await readLastEntryOfFile(storage, path))?.record.lsn).toBe(3180n);
    } finally {
      cleanup();
    }
  });

  it('Scenario: a flipped byte inside a middle record is a bad-checksum error with expected and actual checksums', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'log000000000007.tokulog29');
      const bad = Buffer.from(full);
      const c0 = new LogCursor(storage, [src]);
      let target: LogEntry | undefined;
      for (let i = 0; i < 10; i++) target = await c0.next();
      await c0.close();
      bad[target!.offset + 20]! ^= 0x40;
      writeFileSync(path, bad);
      const c = new LogCursor(storage, [path]);
      const err = await expectError(readAll(c, 'next'));
      await c.close();
      expect(err.kind).toBe('bad-checksum');
      expect(err.where.offset).toBe(target!.offset);
      expect(err.where.lsn).toBe(target!.record.lsn - 1n);
      expect(err.where.expected).toBe(target!.crc.toString(16).padStart(8, '0'));
      expect(err.where.actual).not.toBe(err.where.expected);
    } finally {
      cleanup();
    }
  });

  it('Scenario: repair truncates a torn newest file at the last good entry and the log then reads cleanly', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'log000000000007.tokulog29');
      writeFileSync(path, full.subarray(0, lastStart + 20));
      const r = await repairLogTail(storage, dir);
      expect(r.repaired).toBe(true);
      expect(r.newSize).toBe(lastStart);
      expect(r.lastGoodLsn).toBe(3180n);
      expect(r.problem?.kind).toBe('truncated');
      const scan = await scanLogFile(storage, path);
      expect(scan.problem).toBeUndefined();
      expect(scan.lastLsn).toBe(3180n);
      // A second repair finds nothing to do.
      expect((await repairLogTail(storage, dir)).repaired).toBe(false);
    } finally {
      cleanup();
    }
  });

  // Scenario: like PerconaFT's lc_fix_bad_logfile, repair cuts the newest file at its first
  // damaged entry even when whole entries follow (they were never covered by an fsync), and
  // reports the cut: offset, bytes, how many whole-looking entries it discarded, last good LSN.
  it('Scenario: repair cuts the newest file at the first damaged entry and reports the good entries it discarded', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'log000000000007.tokulog29');
      const intact = await scanLogFile(storage, S4 + '/logs/log000000000007.tokulog29');
      const bad = Buffer.from(full);
      bad[12 + 30]! ^= 0xff; // inside the first entry
      writeFileSync(path, bad);
      const r = await repairLogTail(storage, dir);
      expect(r.repaired).toBe(true);
      expect(r.problem?.kind).toBe('bad-checksum');
      expect(r.newSize).toBe(12);
      expect(r.bytesCut).toBe(full.length - 12);
      expect(r.discardedEntries).toBe(intact.entries - 1);
      expect(r.discardedLsns).toEqual({ first: intact.firstLsn! + 1n, last: intact.lastLsn! });
      expect(readFileSync(path).length).toBe(12);
    } finally {
      cleanup();
    }
  });

  it('Scenario: a file with a bad magic is reported as bad-magic at offset 0', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'log000000000000.tokulog29');
      const bad = Buffer.from(full);
      bad[0] = 0x54;
      writeFileSync(path, bad);
      const c = await LogCursor.open(storage, dir);
      const err = await expectError(c.next());
      await c.close();
      expect(err.kind).toBe('bad-magic');
      expect(err.where.offset).toBe(0);
      truncateSync(path, 5);
      const c2 = await LogCursor.open(storage, dir);
      expect((await expectError(c2.next())).kind).toBe('bad-magic');
      await c2.close();
    } finally {
      cleanup();
    }
  });
});
