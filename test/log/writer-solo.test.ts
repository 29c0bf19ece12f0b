/**
 * LogWriter.fsync's solo option: when the caller says nobody else can join the group commit
 * and no other caller is waiting, a dsync handle that offers pwriteSync is written on the
 * calling thread. Same bytes, same durability; otherwise the usual asynchronous group commit.
 */
import { describe, expect, it } from 'vitest';
import { LogWriter, SoloWayChooser, type LogRecordInput } from '../../src/log/writer.js';
import { NodeStorage } from '../../src/storage/node-storage.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { RealClock } from '../../src/storage/clock.js';
import { readAllRecords } from '../support/log-records.js';
import { tempDir } from './helpers.js';

const commit = (i: number): LogRecordInput => ({ type: 'xcommit', xid: { parent: BigInt(i + 1), child: 0n } });


describe('LogWriter: solo commits', () => {
  it('Scenario: a solo fsync on a dsync NodeStorage log writes on this thread; a log written that way reads back the same', async () => {
    const { dir, cleanup } = tempDir('solo');
    try {
      const storage = new NodeStorage();
      const w = await LogWriter.open({ storage, dir, dsync: true });
      const lsns: bigint[] = [];
      for (let i = 0; i < 5; i++) {
        const lsn = w.append(commit(i));
        lsns.push(lsn);
        await w.fsync(lsn, { solo: true });
      }
      expect(w.stats().writesOnThisThread).toBe(5);
      expect(w.stats().durableWrites).toBe(5);
      expect(w.syncedLsn).toBe(lsns[4]);
      // Not solo: the asynchronous path.
      const last = w.append(commit(9));
      await w.fsync(last);
      expect(w.stats().writesOnThisThread).toBe(5);
      await w.close();
      const got = await readAllRecords(storage, dir);
      expect(got.filter((r) => r.type === 'xcommit').map((r) => r.lsn)).toEqual([...lsns, last]);
    } finally {
      cleanup();
    }
  });

  it('Scenario: with a second caller already waiting, a solo fsync joins the group instead', async () => {
    const { dir, cleanup } = tempDir('solo2');
    try {
      const storage = new NodeStorage();
      const w = await LogWriter.open({ storage, dir, dsync: true });
      const a = w.append(commit(1));
      const pa = w.fsync(a);
      const b = w.append(commit(2));
      await Promise.all([pa, w.fsync(b, { solo: true })]);
      expect(w.stats().writesOnThisThread).toBe(0);
      expect(w.syncedLsn).toBe(b);
      await w.close();
    } finally {
      cleanup();
    }
  });

  it('Scenario: syncSoloNow writes a solo commit synchronously on a dsync NodeStorage log, the same bytes as through fsync', async () => {
    const { dir, cleanup } = tempDir('solo-now');
    try {
      const storage = new NodeStorage();
      const w = await LogWriter.open({ storage, dir, dsync: true });
      const events: string[] = [];
      w.setListener((e) => events.push(e.type === 'fsync' ? `fsync ${e.upToLsn} waiters ${e.waiters}` : e.type));
      const lsns: bigint[] = [];
      for (let i = 0; i < 4; i++) {
        const lsn = w.append(commit(i));
        lsns.push(lsn);
        // Durable on return: no promise to wait for.
        expect(w.syncSoloNow(lsn)).toBe(true);
        expect(w.syncedLsn).toBe(lsn);
      }
      expect(w.syncSoloNow(lsns[3]!)).toBe(true); // already durable
      expect(w.stats().writesOnThisThread).toBe(4);
      expect(w.stats().soloWrites).toBe(4);
      expect(w.stats().durableWrites).toBe(4);
      expect(events.filter((e) => e.startsWith('fsync'))).toEqual(lsns.map((l) => `fsync ${l} waiters 1`));
      await w.close();
      const got = await readAllRecords(storage, dir);
      expect(got.filter((r) => r.type === 'xcommit').map((r) => r.lsn)).toEqual(lsns);
    } finally {
      cleanup();
    }
  });

  it('Scenario: syncSoloNow leaves the write to fsync while another sync is in flight, on an off-thread writer, and on SimStorage', async () => {
    const { dir, cleanup } = tempDir('solo-now2');
    try {
      const storage = new NodeStorage();
      const w = await LogWriter.open({ storage, dir, dsync: true });
      const a = w.append(commit(1));
      const pa = w.fsync(a);
      const b = w.append(commit(2));
      expect(w.syncSoloNow(b)).toBe(false);
      await Promise.all([pa, w.fsync(b, { solo: true })]);
      expect(w.syncedLsn).toBe(b);
      expect(w.stats().writesOnThisThread).toBe(0);
      await w.close();
      const off = await LogWriter.open({ storage, dir, dsync: true, soloWrites: 'off-thread' });
      const c = off.append(commit(3));
      expect(off.syncSoloNow(c)).toBe(false);
      expect(off.syncedLsn).toBeLessThan(c);
      await off.close();
    } finally {
      cleanup();
    }
    const s = new SimStorage({ seed: 3 });
    await s.mkdir('log');
    const sw = await LogWriter.open({ storage: s, dir: 'log', dsync: true });
    const lsn = sw.append(commit(1));
    expect(sw.syncSoloNow(lsn)).toBe(false);
    expect(sw.stats().writes).toBe(0);
    await sw.close();
  });

  it('Scenario: on SimStorage (no pwriteSync) a solo fsync takes the usual path and stays deterministic', async () => {
    const s = new SimStorage({ seed: 3 });
    await s.mkdir('log');
    const w = await LogWriter.open({ storage: s, dir: 'log', dsync: true });
    const lsn = w.append(commit(1));
    await w.fsync(lsn, { solo: true });
    expect(w.stats().writesOnThisThread).toBe(0);
    expect(w.syncedLsn).toBe(lsn);
    await w.close();
  });

  it('Scenario: the solo-way chooser tries each way for 8 writes, then keeps to the way whose cycles were shorter, and explores again every 128 writes', () => {
    // A committer whose cycle takes `on` ms after an on-thread write and `off` ms after one
    // that went through the I/O threads.
    const run = (on: number, off: number, writes: number): boolean[] => {
      const c = new SoloWayChooser();
      const ways: boolean[] = [];
      let now = 0;
      for (let i = 0; i < writes; i++) {
        const way = c.choose(now);
        ways.push(way);
        now += way ? on : off;
      }
      return ways;
    };
    const fasterOff = run(3, 1, 140);
    expect(fasterOff.slice(0, 8).every((w) => w)).toBe(true);
    expect(fasterOff.slice(8, 16).every((w) => !w)).toBe(true);
    expect(fasterOff.slice(16, 128).every((w) => !w)).toBe(true);
    // The next period explores again, on the thread first.
    expect(fasterOff.slice(128, 136).every((w) => w)).toBe(true);
    const fasterOn = run(1, 3, 128);
    expect(fasterOn.slice(16).every((w) => w)).toBe(true);
  });

  it('Scenario: a cycle cut by a write that was not solo is not counted', () => {
    const c = new SoloWayChooser();
    let now = 0;
    for (let i = 0; i < 16; i++) {
      const way = c.choose(now);
      // The on-thread cycles would look slow, but each is cut by a group write: uncounted.
      if (way) {
        now += 10;
        c.interrupt();
      } else now += 2;
    }
    // Only off-thread cycles were counted: no comparison, so the default way (on) stays.
    expect(c.choose(now)).toBe(true);
    expect(c.preferOnThread).toBe(true);
  });

  it('Scenario: soloWrites off-thread writes a solo commit through the I/O threads; same bytes read back', async () => {
    const { dir, cleanup } = tempDir('solo-off');
    try {
      const storage = new NodeStorage();
      const w = await LogWriter.open({ storage, dir, dsync: true, soloWrites: 'off-thread' });
      const lsns: bigint[] = [];
      for (let i = 0; i < 3; i++) {
        lsns.push(w.append(commit(i)));
        await w.fsync(lsns[i], { solo: true });
      }
      expect(w.stats().writesOnThisThread).toBe(0);
      expect(w.stats().soloWrites).toBe(3);
      expect(w.stats().durableWrites).toBe(3);
      await w.close();
      const got = await readAllRecords(storage, dir);
      expect(got.filter((r) => r.type === 'xcommit').map((r) => r.lsn)).toEqual(lsns);
    } finally {
      cleanup();
    }
  });

  it('Scenario: group commits with gathering turns (gather always, and adaptive) on a dsync NodeStorage log: every commit durable when its fsync resolves, all read back in LSN order', async () => {
    for (const gather of ['always', 'adaptive'] as const) {
      const { dir, cleanup } = tempDir(`gather-${gather}`);
      try {
        const storage = new NodeStorage();
        const w = await LogWriter.open({ storage, dir, dsync: true, clock: new RealClock(), gather });
        const acknowledged: bigint[] = [];
        // Four committers, each logging its next commit as soon as the last one is durable.
        await Promise.all(
          [0, 1, 2, 3].map(async (c) => {
            for (let i = 0; i < 6; i++) {
              const lsn = w.append(commit(c * 100 + i));
              await w.fsync(lsn);
              expect(w.syncedLsn).toBeGreaterThanOrEqual(lsn);
              acknowledged.push(lsn);
            }
          }),
        );
        // Groups formed: fewer durable writes than commits.
        expect(w.stats().durableWrites).toBeLessThan(24);
        await w.close();
        const got = (await readAllRecords(storage, dir)).filter((r) => r.type === 'xcommit').map((r) => r.lsn);
        expect(got).toEqual([...acknowledged].sort((a, b) => (a < b ? -1 : 1)));
      } finally {
        cleanup();
      }
    }
  });
});
