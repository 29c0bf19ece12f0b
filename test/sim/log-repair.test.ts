import { readAllRecords } from '../support/log-records.js';
import { describe, expect, it } from 'vitest';
import { encodeRecord } from '../../src/format/codec.js';
import { TokusimError } from '../../src/base/errors.js';
import type { LogRecord } from '../../src/format/record-types.js';
import { LogCursor, repairLogTail } from '../../src/log/cursor.js';
import { findLogFiles } from '../../src/log/names.js';
import { LogWriter, type LogRecordInput } from '../../src/log/writer.js';
import { ALL_FAULTS, SimStorage } from '../../src/storage/sim-storage.js';

const hex = (r: LogRecord) => Buffer.from(encodeRecord(r)).toString('hex');

function record(i: number): LogRecordInput {
  return i % 3 === 0
    ? { type: 'xcommit', xid: { parent: BigInt(i), child: 0n } }
    : { type: 'enq_insert', filenum: 5, xid: { parent: BigInt(i), child: 0n }, key: new TextEncoder().encode(`k${i}`), value: new Uint8Array(300 + (i % 500)).fill(i & 0xff) };
}

/** A log written with a few fsyncs, then crashed with every fault on (reordered writes too). */
async function crashedLog(seed: number): Promise<{ storage: SimStorage; logged: LogRecord[]; synced: bigint }> {
  const storage = new SimStorage({ seed, faults: ALL_FAULTS });
  await storage.mkdir('/env');
  // One big file (no rollover fsyncs), fsynced once in the middle, then many unsynced writes.
  const w = await LogWriter.open({ storage, dir: '/env', lgMax: 1 << 20, bufferSize: 1500 });
  const logged: LogRecord[] = [];
  for (let i = 1; i <= 50; i++) {
    const rec = record(i);
    const lsn = w.append(rec);
    logged.push({ ...rec, lsn } as LogRecord);
    if (i === 5 + (seed % 20)) await w.fsync();
    else if (i % 2 === 0) await w.flush();
  }
  const synced = w.syncedLsn;
  storage.crash({ seed: seed * 7919 });
  return { storage, logged, synced };
}

describe('sim: log repair when unsynced writes persist out of order', () => {
  // Property: with reordered and torn unsynced writes, repair cuts the newest file at its first
  // damaged entry; the log then reads cleanly, is a prefix of what was logged, holds every
  // fsynced record, and the repair reports exactly where it cut and the last good LSN.
  it('Property: the repaired log is a prefix holding every fsynced record; the cut is reported', async () => {
    let discardedSome = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const { storage, logged, synced } = await crashedLog(seed);
      const repair = await repairLogTail(storage, '/env');
      const back = await readAllRecords(storage, '/env');
      expect(BigInt(back.length), `seed ${seed}`).toBeGreaterThanOrEqual(synced);
      expect(back.map(hex), `seed ${seed}`).toEqual(logged.slice(0, back.length).map(hex));
      if (repair.repaired) {
        expect(repair.lastGoodLsn, `seed ${seed}`).toBe(back.length === 0 ? undefined : BigInt(back.length));
        expect(repair.bytesCut).toBe(repair.oldSize! - repair.newSize!);
        expect(storage.fileBytes(repair.file!)!.length).toBe(repair.newSize);
        if (repair.discardedEntries! > 0) {
          discardedSome++;
          // Whatever whole entries were cut lie after the last good one and were never fsynced.
          expect(repair.discardedLsns!.first).toBeGreaterThan(repair.lastGoodLsn ?? 0n);
          expect(repair.discardedLsns!.first).toBeGreaterThan(synced);
        }
      }
    }
    // The seeds really produced damage followed by whole entries (the case repair used to refuse).
    expect(discardedSome).toBeGreaterThan(0);
  });

  // Scenario: damage in an older, rolled-over (fsynced) file is not a torn tail: repair leaves
  // it alone and reading the log fails with an error naming the file and offset.
  it('Scenario: damage in an older log file is a clear refusal, not a repair', async () => {
    const storage = new SimStorage({ seed: 3 });
    await storage.mkdir('/env');
    const w = await LogWriter.open({ storage, dir: '/env', lgMax: 2000, bufferSize: 700 });
    for (let i = 1; i <= 60; i++) {
      w.append(record(i));
      await w.flush();
    }
    await w.close();
    const files = await findLogFiles(storage, '/env');
    expect(files.length).toBeGreaterThan(2);
    const older = files[0]!.path;
    storage.flipBits(older, 100, 1, 5);
    const repair = await repairLogTail(storage, '/env');
    expect(repair.repaired).toBe(false);
    const c = await LogCursor.open(storage, '/env');
    let err: unknown;
    try {
      for (let e = await c.next(); e !== undefined; e = await c.next());
    } catch (e) {
      err = e;
    } finally {
      await c.close();
    }
    expect(err).toBeInstanceOf(TokusimError);
    expect((err as TokusimError).where.file).toBe(older);
  });
});
