/**
 * LogWriter with the preallocate option: zeros are kept written ahead of the write position,
 * cut again at close and rollover; readers, repair and crash recovery treat a zero tail as the
 * end of the log, while a torn entry before it is still damage.
 */
import { describe, expect, it } from 'vitest';
import { LogCursor, repairLogTail, scanLogFile } from '../../src/log/cursor.js';
import { findLogFiles } from '../../src/log/names.js';
import { LogWriter, type LogRecordInput } from '../../src/log/writer.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import type { Storage } from '../../src/storage/storage.js';

const DIR = 'log';

function commit(i: number): LogRecordInput {
  return { type: 'xcommit', xid: { parent: BigInt(i + 1), child: 0n } };
}
function insert(i: number): LogRecordInput {
  return { type: 'enq_insert', filenum: 3, xid: { parent: 1n, child: 0n }, key: new TextEncoder().encode(`k${i}`), value: new Uint8Array(60).fill(i & 0xff) };
}

async function disk(seed: number): Promise<SimStorage> {
  const s = new SimStorage({ seed, sectorSize: 64 });
  await s.mkdir(DIR);
  return s;
}

async function fileBytes(s: Storage, path: string): Promise<Uint8Array> {
  const f = await s.open(path, 'read');
  try {
    const buf = new Uint8Array(await f.size());
    let got = 0;
    while (got < buf.length) {
      const n = await f.pread(buf.subarray(got), got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    await f.close();
  }
}

async function allFiles(s: Storage): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const f of await findLogFiles(s, DIR)) out.push(await fileBytes(s, f.path));
  return out;
}

async function lsnsOnDisk(s: Storage): Promise<bigint[]> {
  const c = await LogCursor.open(s, DIR);
  const out: bigint[] = [];
  try {
    for (let e = await c.next(); e !== undefined; e = await c.next()) out.push(e.record.lsn);
  } finally {
    await c.close();
  }
  return out;
}

/** Write the same records with and without preallocation (rolling over at lgMax); return both directories' files. */
async function writeBoth(lgMax: number, n: number, syncEvery: number): Promise<{ plain: Uint8Array[]; pre: Uint8Array[]; sizesWhileOpen: number[] }> {
  const sizesWhileOpen: number[] = [];
  const result: Uint8Array[][] = [];
  for (const preallocate of [0, 512]) {
    const s = await disk(5);
    const w = await LogWriter.open({ storage: s, dir: DIR, dsync: true, preallocate, lgMax, bufferSize: 300 });
    for (let i = 0; i < n; i++) {
      const lsn = w.append(i % 4 === 3 ? commit(i) : insert(i));
      if (i % syncEvery === syncEvery - 1) await w.fsync(lsn);
      if (preallocate > 0 && i === n - 2) {
        const files = await findLogFiles(s, DIR);
        const f = await s.open(files.at(-1)!.path, 'read');
        sizesWhileOpen.push(await f.size(), w.currentFileSize);
        await f.close();
      }
    }
    await w.close();
    result.push(await allFiles(s));
  }
  return { plain: result[0]!, pre: result[1]!, sizesWhileOpen };
}

describe('LogWriter with preallocation', () => {
  // Scenario: a writer preallocates while it runs and is then closed cleanly.
  it('Scenario: a cleanly closed preallocated log is byte-identical to one written without preallocation', async () => {
    const { plain, pre, sizesWhileOpen } = await writeBoth(1 << 20, 40, 4);
    expect(pre.length).toBe(1);
    // While open, the file held zeros past its last entry.
    expect(sizesWhileOpen[0]!).toBeGreaterThan(sizesWhileOpen[1]!);
    expect(pre).toEqual(plain);
  });

  // Scenario: a small lg_max makes the preallocating writer roll over several times.
  it('Scenario: at every rollover the old file is cut to its last entry; all files match a log written without preallocation', async () => {
    // One durable write per record, so both writers cut their writes (and files) alike.
    const { plain, pre } = await writeBoth(900, 120, 1);
    expect(pre.length).toBeGreaterThan(3);
    expect(pre.map((b) => b.length)).toEqual(plain.map((b) => b.length));
    expect(pre).toEqual(plain);
    // And every file ends exactly at its last entry (a scan finds no zero tail, no damage).
    const s = await disk(6);
    const w = await LogWriter.open({ storage: s, dir: DIR, dsync: true, preallocate: 512, lgMax: 900, bufferSize: 300 });
    for (let i = 0; i < 120; i++) w.append(insert(i));
    await w.fsync();
    const files = await findLogFiles(s, DIR);
    for (const f of files.slice(0, -1)) {
      const scan = await scanLogFile(s, f.path);
      expect(scan.problem).toBeUndefined();
      expect(scan.zeroTail).toBe(0);
      expect(scan.goodEnd).toBe(scan.size);
    }
    await w.close();
  });

  // Property: for any crash seed, a preallocating writer whose every commit was made durable
  // loses nothing, reads back without error forward and backward, and repair only cuts zeros.
  it('Scenario: crashes with a preallocated zero tail lose no durable commit and are not treated as damage', async () => {
    let zeroTails = 0;
    for (let seed = 1; seed <= 25; seed++) {
      const s = await disk(seed);
      const w = await LogWriter.open({ storage: s, dir: DIR, dsync: true, preallocate: 1024, bufferSize: 400 });
      const n = 10 + (seed % 7) * 5;
      for (let i = 0; i < n; i++) await w.fsync(w.append(commit(i)));
      s.crash({ mode: 'faults' });
      const expected = Array.from({ length: n }, (_, i) => BigInt(i + 1));
      expect(await lsnsOnDisk(s)).toEqual(expected);
      const c = await LogCursor.open(s, DIR);
      expect((await c.last())?.record.lsn).toBe(BigInt(n));
      await c.close();
      const path = (await findLogFiles(s, DIR)).at(-1)!.path;
      const before = await scanLogFile(s, path);
      expect(before.problem).toBeUndefined();
      if (before.zeroTail > 0) zeroTails++;
      const r = await repairLogTail(s, DIR);
      expect(r.repaired).toBe(false);
      expect(r.lastGoodLsn).toBe(BigInt(n));
      expect(r.zeroTailCut ?? 0).toBe(before.zeroTail);
      expect((await s.list(DIR)).filter((name) => name.includes('.cut-'))).toEqual([]);
      const after = await scanLogFile(s, path);
      expect(after.size).toBe(after.goodEnd);
      expect(after.zeroTail).toBe(0);
      expect(await lsnsOnDisk(s)).toEqual(expected);
    }
    expect(zeroTails).toBeGreaterThan(10);
  });

  // Scenario: a write tore inside preallocated space: part of an entry, then zeros.
  it('Scenario: a torn entry before the zero tail is still reported and cut (with its bytes saved)', async () => {
    const s = await disk(9);
    const w = await LogWriter.open({ storage: s, dir: DIR, dsync: true, preallocate: 4096 });
    for (let i = 0; i < 3; i++) await w.fsync(w.append(insert(i)));
    const path = (await findLogFiles(s, DIR)).at(-1)!.path;
    const end = w.currentFileSize;
    const whole = await fileBytes(s, path);
    expect(whole.length).toBeGreaterThan(end);
    // The first 20 bytes of the first entry, written again at the end: a torn entry.
    const f = await s.open(path, 'readwrite');
    await f.pwrite(whole.slice(12, 32), end);
    await f.fsync();
    await f.close();
    s.crash({ mode: 'keep-all' });
    const scan = await scanLogFile(s, path);
    expect(scan.problem?.entryStart).toBe(end);
    expect(scan.zeroTail).toBe(0);
    await expect(lsnsOnDisk(s)).rejects.toThrow(/checksum|torn|length/);
    const r = await repairLogTail(s, DIR);
    expect(r.repaired).toBe(true);
    expect(r.newSize).toBe(end);
    expect(r.savedTo).toBe(`${path}.cut-${end}`);
    expect(await lsnsOnDisk(s)).toEqual([1n, 2n, 3n]);
  });

  // Scenario: preallocation without O_DSYNC: zeros are fsynced, commits fsync as before.
  it('Scenario: without dsync, a preallocating writer keeps every fsynced commit through any crash', async () => {
    for (let seed = 30; seed < 40; seed++) {
      const s = await disk(seed);
      const w = await LogWriter.open({ storage: s, dir: DIR, preallocate: 2048, bufferSize: 500 });
      for (let i = 0; i < 20; i++) await w.fsync(w.append(insert(i)));
      w.append(commit(99));
      await w.flush();
      s.crash({ mode: 'faults' });
      await repairLogTail(s, DIR);
      const got = await lsnsOnDisk(s);
      expect(got.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => BigInt(i + 1)));
      expect(got.length).toBeLessThanOrEqual(21);
    }
  });
});
