import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Cachetable } from '../../src/cachetable/cachetable.js';
import { LockTask } from '../../src/cachetable/lock-order.js';
import type { Cachefile, FlushArgs } from '../../src/cachetable/pair.js';
import { beginCheckpoint, endCheckpoint, makeFile, modify, type Val } from './helpers.js';

/** Everything tryGetAndPin could change, to check that a refusal changed nothing. */
function snapshot(ct: Cachetable, cf: Cachefile<Val>, b: bigint): unknown {
  const p = ct.peek(cf, b);
  return {
    present: p !== undefined,
    pending: p?.checkpointPending,
    dirty: p?.dirty,
    clone: p?.clone === null ? null : p?.clone === undefined ? undefined : 'clone',
    lockUsers: p?.valueLock.users(),
    diskUsers: p?.diskMutex.users(),
    count: p?.count,
    resolved: { ...ct.stats.pendingResolved },
    pairs: ct.stats.pairsWritten,
  };
}

// The non-blocking pin: the fast path of toku_cachetable_get_and_pin_nonblocking. It pins only
// what needs no wait, and when it refuses it leaves everything as it was.
describe('tryGetAndPin (non-blocking pin)', () => {
  it('Scenario: a miss is refused without fetching or inserting anything', async () => {
    const ct = new Cachetable();
    const { cf, disk } = await makeFile(ct, 'a');
    expect(ct.tryGetAndPin(cf, 1n, { mode: 'read' })).toBeUndefined();
    expect(ct.tryGetAndPin(cf, 1n, { mode: 'write' })).toBeUndefined();
    expect(ct.peek(cf, 1n)).toBeUndefined();
    expect(disk.writes).toEqual([]);
    ct.checkInvariants();
  });

  it('Scenario: a free PAIR is pinned at once, read or write; a held one is refused as the lock rules say', async () => {
    const ct = new Cachetable();
    const { cf } = await makeFile(ct, 'a');
    await modify(ct, cf, 1n, 1);
    const before = ct.peek(cf, 1n)!.count;
    const w = ct.tryGetAndPin(cf, 1n, { mode: 'write' })!;
    expect(w).toBeDefined();
    expect(w.valueLock.writeLocked).toBe(true);
    expect(w.count).toBeGreaterThanOrEqual(before);
    // Write-locked: both kinds refused, nothing queued on the lock.
    expect(ct.tryGetAndPin(cf, 1n, { mode: 'read' })).toBeUndefined();
    expect(ct.tryGetAndPin(cf, 1n, { mode: 'write' })).toBeUndefined();
    expect(w.valueLock.users()).toBe(1);
    w.value.a = w.value.b = 2;
    ct.unpin(w, { dirty: true });
    // Read-locked: another reader gets in, a writer does not.
    const r1 = ct.tryGetAndPin(cf, 1n, { mode: 'read' })!;
    const r2 = ct.tryGetAndPin(cf, 1n, { mode: 'read' })!;
    expect(r2).toBe(r1);
    expect(r1.value).toEqual({ a: 2, b: 2 });
    expect(ct.tryGetAndPin(cf, 1n, { mode: 'write' })).toBeUndefined();
    ct.unpin(r1);
    ct.unpin(r2);
    expect(r1.valueLock.users()).toBe(0);
    ct.checkInvariants();
  });

  it('Scenario: a busy list lock refuses the pin', async () => {
    const ct = new Cachetable();
    const { cf } = await makeFile(ct, 'a');
    await modify(ct, cf, 1n, 1);
    const holder = new LockTask('holder');
    await ct.listLock.acquire(holder, 'write');
    const snap = snapshot(ct, cf, 1n);
    expect(ct.tryGetAndPin(cf, 1n, { mode: 'read' })).toBeUndefined();
    expect(snapshot(ct, cf, 1n)).toEqual(snap);
    ct.listLock.release(holder, 'write');
    const p = ct.tryGetAndPin(cf, 1n, { mode: 'read' })!;
    expect(p).toBeDefined();
    ct.unpin(p);
  });

  it('Scenario T2 without waiting: a clean pending PAIR is write-pinned and its bit cleared, nothing written', async () => {
    const ct = new Cachetable();
    const { cf, disk } = await makeFile(ct, 'a');
    ct.unpin(await ct.getAndPin(cf, 1n, { mode: 'read' }));
    const cfs = await beginCheckpoint(ct);
    const p = ct.tryGetAndPin(cf, 1n, { mode: 'write' })!;
    expect(p).toBeDefined();
    expect(p.checkpointPending).toBe(false);
    expect(disk.completes).toEqual([1n]);
    expect(ct.stats.pendingResolved.client).toBe(1);
    ct.unpin(p);
    await endCheckpoint(ct, cfs);
    expect(disk.writes).toEqual([]);
  });

  it('Scenario: a read pin of a pending PAIR leaves its bit for the checkpoint', async () => {
    const ct = new Cachetable();
    const { cf, disk } = await makeFile(ct, 'a');
    await modify(ct, cf, 1n, 4);
    const cfs = await beginCheckpoint(ct);
    const p = ct.tryGetAndPin(cf, 1n, { mode: 'read' })!;
    expect(p.checkpointPending).toBe(true);
    expect(p.value.a).toBe(4);
    ct.unpin(p);
    await endCheckpoint(ct, cfs);
    expect(disk.writes).toEqual([{ cf: 'a', blocknum: 1n, version: 4, forCheckpoint: true, isClone: true }]);
    expect(ct.stats.pendingResolved.checkpoint).toBe(1);
  });

  it('Scenario T3 without waiting: a dirty pending PAIR with a synchronous clone is cloned in the pin; the checkpoint writes the image of that moment', async () => {
    const ct = new Cachetable();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { cf, disk } = await makeFile(ct, 'a', { yieldPoint: (label) => (label.startsWith('flush') ? gate : Promise.resolve()) });
    await modify(ct, cf, 1n, 7);
    const cfs = await beginCheckpoint(ct);
    const p = ct.tryGetAndPin(cf, 1n, { mode: 'write' })!;
    expect(p).toBeDefined();
    expect(p.checkpointPending).toBe(false);
    expect(p.clone).not.toBeNull();
    expect(p.dirty).toBe(false);
    expect(p.diskMutex.writeLocked).toBe(true); // held by the background clone write
    expect(ct.stats.pendingResolved.client).toBe(1);
    p.value.a = p.value.b = 8;
    ct.unpin(p, { dirty: true });
    // While the clone write is in flight, the disk mutex is busy: a second write pin still
    // succeeds (the bit is already resolved, no I/O is needed).
    const again = ct.tryGetAndPin(cf, 1n, { mode: 'write' })!;
    expect(again).toBe(p);
    ct.unpin(again, { dirty: true });
    release();
    await endCheckpoint(ct, cfs);
    expect(disk.writes).toEqual([{ cf: 'a', blocknum: 1n, version: 7, forCheckpoint: true, isClone: true }]);
    expect(p.clone).toBeNull();
    expect(p.dirty).toBe(true);
    expect(p.value.a).toBe(8);
  });

  it('Scenario: a dirty pending PAIR that needs a write (no clone callback) is refused and left to the blocking pin', async () => {
    const ct = new Cachetable();
    const { cf, disk } = await makeFile(ct, 'a', { cloneable: false });
    await modify(ct, cf, 1n, 3);
    const cfs = await beginCheckpoint(ct);
    const snap = snapshot(ct, cf, 1n);
    expect(ct.tryGetAndPin(cf, 1n, { mode: 'write' })).toBeUndefined();
    expect(snapshot(ct, cf, 1n)).toEqual(snap);
    expect(disk.writes).toEqual([]);
    const p = await ct.getAndPin(cf, 1n, { mode: 'write' }); // T4: written by the client
    expect(disk.writes).toEqual([{ cf: 'a', blocknum: 1n, version: 3, forCheckpoint: true, isClone: false }]);
    ct.unpin(p);
    await endCheckpoint(ct, cfs);
    expect(disk.writes.length).toBe(1);
  });

  it('Scenario: a dirty pending PAIR is refused while its disk_nb_mutex is held, or while pending_lock_cheap is taken in write mode', async () => {
    const ct = new Cachetable();
    const { cf, disk } = await makeFile(ct, 'a');
    await modify(ct, cf, 1n, 5);
    const cfs = await beginCheckpoint(ct);
    const p = ct.peek(cf, 1n)!;
    expect(p.diskMutex.tryWriteLock()).toBe(true);
    let snap = snapshot(ct, cf, 1n);
    expect(ct.tryGetAndPin(cf, 1n, { mode: 'write' })).toBeUndefined();
    expect(snapshot(ct, cf, 1n)).toEqual(snap);
    p.diskMutex.writeUnlock();
    const holder = new LockTask('begin');
    await ct.pendingCheap.acquire(holder, 'write');
    snap = snapshot(ct, cf, 1n);
    expect(ct.tryGetAndPin(cf, 1n, { mode: 'write' })).toBeUndefined();
    expect(snapshot(ct, cf, 1n)).toEqual(snap);
    ct.pendingCheap.release(holder, 'write');
    await endCheckpoint(ct, cfs);
    expect(disk.writes).toEqual([{ cf: 'a', blocknum: 1n, version: 5, forCheckpoint: true, isClone: true }]);
    expect(ct.stats.pendingResolved.checkpoint).toBe(1);
  });

  it('Scenario: a cachefile whose clone runs in slices is refused (the clone would wait), and cloned by the blocking pin', async () => {
    const ct = new Cachetable();
    const writes: Array<{ v: number; isClone: boolean }> = [];
    let yields = 0;
    const cf = await ct.openCachefile<{ v: number }>('sliced', {
      fetch: async () => ({ value: { v: 0 }, size: 1 }),
      flush: async (args: FlushArgs<{ v: number }>) => {
        writes.push({ v: args.value.v, isClone: args.isClone });
        return 1;
      },
      clone: (v) => ({ clone: { ...v }, cloneSize: 1 }),
      slicedClone: {
        cloneSteps: function* (v: { v: number }) {
          yield;
          return { clone: { ...v }, cloneSize: 1 };
        },
        yieldNow: async () => {
          yields++;
        },
      },
    });
    const put = await ct.put(cf, () => 1n, { v: 1 }, 1);
    ct.unpin(put, { dirty: true });
    const cfs = await beginCheckpoint(ct);
    expect(ct.tryGetAndPin(cf, 1n, { mode: 'write' })).toBeUndefined();
    expect(ct.peek(cf, 1n)!.checkpointPending).toBe(true);
    const p = await ct.getAndPin(cf, 1n, { mode: 'write' });
    expect(yields).toBeGreaterThan(0);
    p.value.v = 2;
    ct.unpin(p, { dirty: true });
    await endCheckpoint(ct, cfs);
    expect(writes).toEqual([{ v: 1, isClone: true }]);
  });

  // Property: for any sequence of pins (try or blocking), modifications and checkpoints, a
  // refused try changes nothing, a granted one holds the lock it asked for, and each
  // checkpoint writes every dirty pending PAIR exactly once with its value at resolution.
  it('Scenario: random try-pins across checkpoints keep the checkpoint image and change nothing when refused', async () => {
    type Op = { kind: 'try-write' | 'try-read' | 'write' | 'hold-disk' | 'checkpoint'; block: number };
    const op: fc.Arbitrary<Op> = fc.record({
      kind: fc.constantFrom<Op['kind']>('try-write', 'try-write', 'try-read', 'write', 'hold-disk', 'checkpoint'),
      block: fc.integer({ min: 1, max: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), fc.boolean(), async (ops, cloneable) => {
        const ct = new Cachetable();
        const { cf, disk } = await makeFile(ct, 'a', { cloneable, blocks: 3 });
        let version = 0;
        const truth = new Map<bigint, number>();
        const expected: Array<{ blocknum: bigint; version: number }> = [];
        let cfs: Awaited<ReturnType<typeof beginCheckpoint>> | null = null;
        const resolve = (b: bigint, wasDirty: boolean): void => {
          if (wasDirty) expected.push({ blocknum: b, version: truth.get(b) ?? 0 });
        };
        for (const o of ops) {
          const b = BigInt(o.block);
          if (o.kind === 'checkpoint') {
            if (cfs === null) {
              disk.writes.length = 0;
              cfs = await beginCheckpoint(ct);
            } else {
              for (const p of ct.pendingPairs()) if (p.checkpointPending) resolve(p.blocknum, p.dirty);
              await endCheckpoint(ct, cfs);
              const written = disk.writes.filter((w) => w.forCheckpoint).map((w) => ({ blocknum: w.blocknum, version: w.version }));
              const byBlock = (x: { blocknum: bigint }, y: { blocknum: bigint }): number => Number(x.blocknum - y.blocknum);
              expect([...written].sort(byBlock)).toEqual([...expected].sort(byBlock));
              expected.length = 0;
              cfs = null;
            }
            continue;
          }
          if (o.kind === 'hold-disk') {
            const p = ct.peek(cf, b);
            if (p !== undefined && p.diskMutex.tryWriteLock()) {
              const snap = snapshot(ct, cf, b);
              const tried = ct.tryGetAndPin(cf, b, { mode: 'write' });
              if (p.checkpointPending && p.dirty) {
                expect(tried).toBeUndefined();
                expect(snapshot(ct, cf, b)).toEqual(snap);
              }
              if (tried !== undefined) ct.unpin(tried);
              p.diskMutex.writeUnlock();
            }
            continue;
          }
          const write = o.kind !== 'try-read';
          const before = ct.peek(cf, b);
          const wasPending = before?.checkpointPending === true;
          const wasDirty = before?.dirty === true;
          const snap = snapshot(ct, cf, b);
          let p = o.kind === 'write' ? await ct.getAndPin(cf, b, { mode: 'write' }) : ct.tryGetAndPin(cf, b, { mode: write ? 'write' : 'read' });
          if (p === undefined) {
            expect(snapshot(ct, cf, b)).toEqual(snap);
            if (!write) continue;
            p = await ct.getAndPin(cf, b, { mode: 'write' });
          }
          if (write && wasPending) resolve(b, wasDirty);
          expect(write ? p.valueLock.writeLocked : p.valueLock.users() > 0).toBe(true);
          expect(p.value.a).toBe(truth.get(b) ?? 0);
          if (write) {
            expect(p.checkpointPending).toBe(false);
            p.value.a = p.value.b = ++version;
            truth.set(b, version);
          }
          ct.unpin(p, { dirty: write });
          await new Promise((r) => setImmediate(r)); // let background clone writes run
          ct.checkInvariants();
        }
        if (cfs !== null) await endCheckpoint(ct, cfs);
        await ct.cloneJobs.waitForJobsToFinish();
        ct.checkInvariants();
      }),
      { numRuns: 200 },
    );
  });
});
