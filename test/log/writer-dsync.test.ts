/**
 * LogWriter with the dsync option: buffer writes go through an O_DSYNC handle, so making the
 * log durable costs one write and no fsync; on a storage that does not honour the option the
 * writer falls back to fsync.
 */
import { describe, expect, it } from 'vitest';
import type { LogRecord } from '../../src/format/record-types.js';
import { LogCursor } from '../../src/log/cursor.js';
import type { LogEvent } from '../../src/log/events.js';
import { LogWriter, type LogRecordInput } from '../../src/log/writer.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { CountingStorage } from './helpers.js';

const DIR = 'log';

function commit(i: number): LogRecordInput {
  return { type: 'xcommit', xid: { parent: BigInt(i + 1), child: 0n } };
}
function insert(i: number): LogRecordInput {
  return { type: 'enq_insert', filenum: 3, xid: { parent: 1n, child: 0n }, key: new TextEncoder().encode(`k${i}`), value: new Uint8Array(60).fill(i & 0xff) };
}

async function disk(seed = 11): Promise<{ s: SimStorage; logFsyncs: () => number }> {
  const s = new SimStorage({ seed, sectorSize: 64 });
  await s.mkdir(DIR);
  let n = 0;
  s.onIo((ev) => {
    if (ev.op === 'fsync' && ev.path.endsWith('.tokulog29')) n++;
  });
  return { s, logFsyncs: () => n };
}

async function lsnsOnDisk(storage: Storage): Promise<bigint[]> {
  const c = await LogCursor.open(storage, DIR);
  const out: LogRecord[] = [];
  for (let e = await c.next(); e !== undefined; e = await c.next()) out.push(e.record);
  await c.close();
  return out.map((r) => r.lsn);
}

describe('LogWriter with dsync', () => {
  // Scenario: a client commits and waits; the machine loses power without any log fsync having run.
  it('Scenario: fsync() makes the log durable with dsync writes alone, and a crash dropping every unsynced write keeps it all', async () => {
    const { s, logFsyncs } = await disk();
    const events: LogEvent[] = [];
    const w = await LogWriter.open({ storage: s, dir: DIR, dsync: true, listener: (e) => events.push(e) });
    for (let i = 0; i < 5; i++) w.append(insert(i));
    const lsn = w.append(commit(0));
    await w.fsync(lsn);
    expect(w.syncedLsn).toBe(lsn);
    expect(logFsyncs()).toBe(0);
    expect(w.stats().fsyncs).toBe(0);
    expect(w.stats().durableWrites).toBe(1);
    expect(events.filter((e) => e.type === 'fsync').map((e) => (e as { upToLsn: bigint }).upToLsn)).toEqual([lsn]);
    expect(w.logFiles().at(-1)!.maxLsn).toBe(lsn);
    s.crash({ mode: 'drop-all' });
    expect(await lsnsOnDisk(s)).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
  });

  // Scenario: many clients commit at once; their commits share durable writes.
  it('Scenario: 40 concurrent fsync requests are served by fewer than 10 durable writes and no fsync, and all survive a crash', async () => {
    const { s, logFsyncs } = await disk(12);
    const w = await LogWriter.open({ storage: s, dir: DIR, dsync: true });
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) waits.push(w.fsync(w.append(commit(i))));
    await Promise.all(waits);
    expect(w.stats().durableWrites).toBeGreaterThanOrEqual(1);
    expect(w.stats().durableWrites).toBeLessThan(10);
    expect(logFsyncs()).toBe(0);
    s.crash({ mode: 'faults' });
    expect((await lsnsOnDisk(s)).length).toBe(40);
  });

  // Scenario: a storage wrapper that drops the open option (it cannot do O_DSYNC); durability must not depend on it.
  it('Scenario: on a storage that does not honour dsync the writer still fsyncs, so nothing committed is lost', async () => {
    const { s } = await disk(13);
    const counting = new CountingStorage(s);
    const w = await LogWriter.open({ storage: counting, dir: DIR, dsync: true });
    const lsn = w.append(commit(0));
    await w.fsync(lsn);
    expect(counting.fileFsyncs).toBe(1);
    expect(w.stats().durableWrites).toBe(0);
    s.crash({ mode: 'drop-all' });
    expect(await lsnsOnDisk(s)).toEqual([1n]);
  });

  // Scenario: a small lg_max makes the dsync writer roll over; the old file is still fsynced and closed, the new one created durably.
  it('Scenario: rollover with dsync keeps the fsync of the old file and loses nothing at a crash', async () => {
    const { s, logFsyncs } = await disk(14);
    const w = await LogWriter.open({ storage: s, dir: DIR, dsync: true, lgMax: 600, bufferSize: 250 });
    for (let i = 0; i < 60; i++) {
      const lsn = w.append(insert(i));
      if (i % 3 === 2) await w.fsync(lsn);
    }
    await w.fsync();
    const st = w.stats();
    expect(st.rollovers).toBeGreaterThan(2);
    expect(logFsyncs()).toBe(st.rollovers);
    expect(w.logFiles().length).toBe(st.rollovers + 1);
    s.crash({ mode: 'drop-all' });
    expect(await lsnsOnDisk(s)).toEqual(Array.from({ length: 60 }, (_, i) => BigInt(i + 1)));
  });

  // Scenario: without the option the writer behaves as before: a write, then an fsync.
  it('Scenario: without dsync a commit costs a write and an fsync, and the plain write alone would not survive', async () => {
    const { s, logFsyncs } = await disk(15);
    const w = await LogWriter.open({ storage: s, dir: DIR });
    const lsn = w.append(commit(0));
    await w.flush();
    expect(w.syncedLsn).toBe(0n);
    await w.fsync(lsn);
    expect(logFsyncs()).toBe(1);
    expect(w.stats().durableWrites).toBe(0);
    const copy = s.snapshot();
    s.crash({ mode: 'drop-all' });
    expect(await lsnsOnDisk(s)).toEqual([1n]);
    // The same moment, had the fsync not run: shown by a fresh writer whose flush is not synced.
    const w2 = await LogWriter.open({ storage: copy, dir: DIR });
    w2.append(commit(1));
    await w2.flush();
    copy.crash({ mode: 'drop-all' });
    expect(await lsnsOnDisk(copy)).toEqual([1n]);
  });
});
