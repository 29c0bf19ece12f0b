import { describe, expect, it } from 'vitest';
import { Cachetable } from '../../src/cachetable/cachetable.js';
import type { CachetableEvent } from '../../src/cachetable/events.js';
import { LockTask } from '../../src/cachetable/lock-order.js';
import { InvariantError } from '../../src/base/errors.js';
import { beginCheckpoint, endCheckpoint, makeFile, modify, runCheckpoint } from './helpers.js';

// The PAIR transition table of checkpoint-algorithm.md §10.1, one scenario per row.
describe('cachetable transitions (§10.1)', () => {
  it('Scenario T1: begin marks every PAIR of a participating file, clean or dirty, pinned or not', async () => {
    const ct = new Cachetable();
    const { cf } = await makeFile(ct, 'a');
    await modify(ct, cf, 1n, 1);
    const pinned = await ct.getAndPin(cf, 2n, { mode: 'read' });
    const cfs = await beginCheckpoint(ct);
    expect(ct.peek(cf, 1n)!.checkpointPending).toBe(true);
    expect(ct.peek(cf, 2n)!.checkpointPending).toBe(true);
    expect(ct.pendingPairs().map((p) => p.blocknum)).toEqual([2n, 1n]); // pushed at the head
    ct.checkInvariants();
    ct.unpin(pinned);
    await endCheckpoint(ct, cfs);
  });

  it('Scenario T2: a client write-pins a clean pending PAIR — bit cleared, no write, checkpoint_complete called', async () => {
    const ct = new Cachetable();
    const { cf, disk } = await makeFile(ct, 'a');
    (await ct.getAndPin(cf, 1n, { mode: 'read' })).valueLock.readUnlock();
    const cfs = await beginCheckpoint(ct);
    const p = await ct.getAndPin(cf, 1n, { mode: 'write' });
    expect(p.checkpointPending).toBe(false);
    expect(disk.completes).toEqual([1n]);
    ct.unpin(p);
    await endCheckpoint(ct, cfs);
    expect(disk.writes).toEqual([]);
    expect(ct.stats.pendingResolved.client).toBe(1);
  });

  it('Scenario T3/T3′: a client write-pins a dirty pending cloneable PAIR — it is cloned and the clone written in the background', async () => {
    const events: CachetableEvent[] = [];
    const ct = new Cachetable({ listener: (e) => events.push(e) });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { cf, disk } = await makeFile(ct, 'a', { yieldPoint: (label) => (label.startsWith('flush') ? gate : Promise.resolve()) });
    await modify(ct, cf, 1n, 7);
    const cfs = await beginCheckpoint(ct);
    const p = await ct.getAndPin(cf, 1n, { mode: 'write' });
    expect(p.dirty).toBe(false);
    expect(p.clone).not.toBeNull();
    expect(p.diskMutex.writeLocked).toBe(true);
    p.value.a = p.value.b = 8; // the client may modify at once; the clone keeps version 7
    ct.unpin(p, { dirty: true });
    expect(ct.sizeCloned).toBe(10);
    release();
    await endCheckpoint(ct, cfs);
    expect(disk.writes).toEqual([{ cf: 'a', blocknum: 1n, version: 7, forCheckpoint: true, isClone: true }]);
    expect(p.clone).toBeNull();
    expect(p.dirty).toBe(true);
    expect(ct.sizeCloned).toBe(0);
    expect(events.some((e) => e.type === 'pair-cloned' && e.by === 'client')).toBe(true);
  });

  it('Scenario T4: a dirty pending PAIR of a file without clone is written synchronously by the client', async () => {
    const ct = new Cachetable();
    const { cf, disk } = await makeFile(ct, 'a', { cloneable: false });
    await modify(ct, cf, 1n, 3);
    const cfs = await beginCheckpoint(ct);
    const p = await ct.getAndPin(cf, 1n, { mode: 'write' });
    expect(disk.writes).toEqual([{ cf: 'a', blocknum: 1n, version: 3, forCheckpoint: true, isClone: false }]);
    expect(p.dirty).toBe(false);
    ct.unpin(p);
    await endCheckpoint(ct, cfs);
    expect(disk.writes.length).toBe(1);
  });

  it('Scenario T5: a read pin leaves the bit alone and sees the current value', async () => {
    const ct = new Cachetable();
    const { cf } = await makeFile(ct, 'a');
    await modify(ct, cf, 1n, 2);
    const cfs = await beginCheckpoint(ct);
    const p = await ct.getAndPin(cf, 1n, { mode: 'read' });
    expect(p.checkpointPending).toBe(true);
    expect(p.value.a).toBe(2);
    expect(() => ct.unpin(p, { dirty: true })).toThrow(InvariantError);
    ct.unpin(p);
    await endCheckpoint(ct, cfs);
  });

  it('Scenario T7/T7′: the checkpoint thread writes dirty pending PAIRs once and only clears clean ones', async () => {
    const ct = new Cachetable();
    const { cf, disk } = await makeFile(ct, 'a');
    await modify(ct, cf, 1n, 5);
    (await ct.getAndPin(cf, 2n, { mode: 'read' })).valueLock.readUnlock();
    const marked = await runCheckpoint(ct);
    expect(marked).toBe(2);
    expect(disk.writes).toEqual([{ cf: 'a', blocknum: 1n, version: 5, forCheckpoint: true, isClone: true }]);
    expect(ct.stats.pendingResolved.checkpoint).toBe(2);
    expect(ct.peek(cf, 1n)!.dirty).toBe(false);
    expect(ct.pendingPairs()).toEqual([]);
  });

  it('Scenario T8/T9: eviction writes a dirty pending PAIR for the checkpoint and drops clean ones without I/O', async () => {
    const ct = new Cachetable({ autoEvict: false });
    const { cf, disk } = await makeFile(ct, 'a');
    await modify(ct, cf, 1n, 4);
    (await ct.getAndPin(cf, 2n, { mode: 'read' })).valueLock.readUnlock();
    const cfs = await beginCheckpoint(ct);
    ct.memoryLimit = 0;
    expect(await ct.evict()).toBe(2);
    expect(disk.writes).toEqual([{ cf: 'a', blocknum: 1n, version: 4, forCheckpoint: true, isClone: false }]);
    expect(ct.pairCount).toBe(0);
    expect(ct.pendingPairs()).toEqual([]);
    await endCheckpoint(ct, cfs);
    expect(disk.writes.length).toBe(1);
    // Outside a checkpoint an eviction write is not for the checkpoint.
    ct.memoryLimit = Infinity;
    await modify(ct, cf, 3n, 9);
    ct.memoryLimit = 0;
    await ct.evict();
    expect(disk.writes[1]).toEqual({ cf: 'a', blocknum: 3n, version: 9, forCheckpoint: false, isClone: false });
  });

  it('Scenario: the evictor never takes a pinned PAIR or one whose clone is being written', async () => {
    const ct = new Cachetable({ autoEvict: false });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { cf } = await makeFile(ct, 'a', { yieldPoint: (label) => (label.startsWith('flush') ? gate : Promise.resolve()) });
    await modify(ct, cf, 1n, 1);
    const pinned = await ct.getAndPin(cf, 2n, { mode: 'read' });
    const cfs = await beginCheckpoint(ct);
    const p1 = await ct.getAndPin(cf, 1n, { mode: 'write' }); // clones; the clone write waits at the gate
    ct.unpin(p1);
    ct.memoryLimit = 0;
    expect(await ct.evict()).toBe(0);
    expect(ct.pairCount).toBe(2);
    release();
    ct.unpin(pinned);
    await endCheckpoint(ct, cfs);
    expect(await ct.evict()).toBe(2);
  });

  it('Scenario T10: unpinAndRemove frees the blocknum in _inprogress too iff the PAIR was still pending', async () => {
    const ct = new Cachetable();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { cf, disk } = await makeFile(ct, 'a', { yieldPoint: (label) => (label === 'fetch a:3' ? gate : Promise.resolve()) });
    (await ct.getAndPin(cf, 2n, { mode: 'read' })).valueLock.readUnlock();
    const fetching = ct.getAndPin(cf, 3n, { mode: 'write' });
    await new Promise((r) => setImmediate(r));
    const cfs = await beginCheckpoint(ct);
    release();
    const p3 = await fetching; // T14: still pending
    const p2 = await ct.getAndPin(cf, 2n, { mode: 'write' }); // clean: resolved on pin
    await ct.unpinAndRemove(p2);
    await ct.unpinAndRemove(p3);
    expect(disk.removed).toEqual([
      { blocknum: 2n, forCheckpoint: false },
      { blocknum: 3n, forCheckpoint: true },
    ]);
    expect(ct.stats.pendingResolved.remove).toBe(1);
    await endCheckpoint(ct, cfs);
    expect(ct.peek(cf, 2n)).toBeUndefined();
    expect(ct.pairCount).toBe(0);
    expect(ct.sizeCurrent).toBe(0);
  });

  it('Scenario T13: a put PAIR is dirty, write-pinned and never pending in the running checkpoint', async () => {
    const ct = new Cachetable();
    const { cf, disk } = await makeFile(ct, 'a');
    const cfs = await beginCheckpoint(ct);
    let next = 100n;
    const p = await ct.put(cf, () => next++, { a: 1, b: 1 }, 10);
    expect(p.blocknum).toBe(100n);
    expect(p.dirty).toBe(true);
    expect(p.checkpointPending).toBe(false);
    ct.unpin(p);
    await endCheckpoint(ct, cfs);
    expect(disk.writes).toEqual([]);
    await runCheckpoint(ct);
    expect(disk.writes).toEqual([{ cf: 'a', blocknum: 100n, version: 1, forCheckpoint: true, isClone: true }]);
  });

  it('Scenario T14: a PAIR fetched across begin reaches the fetching client still pending; the checkpoint captures its later content', async () => {
    const ct = new Cachetable();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { cf, disk } = await makeFile(ct, 'a', { yieldPoint: (label) => (label === 'fetch a:1' ? gate : Promise.resolve()) });
    const pin = ct.getAndPin(cf, 1n, { mode: 'write' });
    await new Promise((r) => setImmediate(r));
    const cfs = await beginCheckpoint(ct);
    release();
    const p = await pin;
    expect(p.checkpointPending).toBe(true);
    p.value.a = p.value.b = 6;
    ct.unpin(p, { dirty: true });
    await endCheckpoint(ct, cfs);
    expect(disk.writes).toEqual([{ cf: 'a', blocknum: 1n, version: 6, forCheckpoint: true, isClone: true }]);
  });

  it('Scenario: a dependent PAIR held across begin is resolved when a new node is put beside it', async () => {
    const ct = new Cachetable();
    const { cf, disk } = await makeFile(ct, 'a', { cloneable: false });
    const parent = await ct.getAndPin(cf, 1n, { mode: 'write' });
    const cfs = await beginCheckpoint(ct);
    parent.value.a = parent.value.b = 2;
    const child = await ct.put(cf, 50n, { a: 1, b: 1 }, 10, { dependents: [{ pair: parent, dirty: true }] });
    expect(parent.checkpointPending).toBe(false);
    expect(disk.writes).toEqual([{ cf: 'a', blocknum: 1n, version: 2, forCheckpoint: true, isClone: false }]);
    ct.unpin(child);
    ct.unpin(parent);
    await endCheckpoint(ct, cfs);
    expect(disk.writes.length).toBe(1);
  });

  it('Scenario: closing a cachefile writes its dirty PAIRs and refuses while it takes part in a checkpoint', async () => {
    const ct = new Cachetable();
    const { cf, disk } = await makeFile(ct, 'a');
    await modify(ct, cf, 1n, 3);
    const cfs = await beginCheckpoint(ct);
    await expect(ct.closeCachefile(cf)).rejects.toThrow(InvariantError);
    await endCheckpoint(ct, cfs);
    await modify(ct, cf, 1n, 4);
    await ct.closeCachefile(cf);
    expect(disk.blocks.get(1n)).toEqual({ a: 4, b: 4 });
    expect(ct.pairCount).toBe(0);
    expect((await ct.activeCachefiles()).length).toBe(0);
    await expect(ct.getAndPin(cf, 1n, { mode: 'read' })).rejects.toThrow(/closed/);
  });

  it('Scenario: a cachefile opened after begin does not take part', async () => {
    const ct = new Cachetable();
    const { cf: a } = await makeFile(ct, 'a');
    await modify(ct, a, 1n, 1);
    const cfs = await beginCheckpoint(ct);
    const { cf: b } = await makeFile(ct, 'b');
    await modify(ct, b, 1n, 1);
    expect(ct.peek(b, 1n)!.checkpointPending).toBe(false);
    expect((await ct.checkpointCachefiles()).map((c) => c.name)).toEqual(['a']);
    await endCheckpoint(ct, cfs);
  });
});

describe('lock order (§3.2, I14)', () => {
  it('Scenario: acquiring an outer lock while holding an inner one throws before waiting', async () => {
    const ct = new Cachetable();
    const t = new LockTask('bad client');
    await ct.listLock.acquire(t, 'read');
    await expect(ct.pendingExpensive.acquire(t, 'read')).rejects.toThrow(InvariantError);
    ct.listLock.release(t, 'read');
    expect(t.holdsAny()).toBe(false);
  });

  it('Scenario: nothing may be acquired while pending_lock_cheap is held', async () => {
    const ct = new Cachetable();
    const t = new LockTask('bad client');
    await ct.pendingCheap.acquire(t, 'read');
    await expect(ct.cachefileListLock.acquire(t, 'read')).rejects.toThrow(/pending_lock_cheap/);
    await expect(ct.pendingCheap.acquire(t, 'read')).rejects.toThrow(InvariantError);
    ct.pendingCheap.release(t, 'read');
  });

  it('Scenario: a pin that could block while the task holds the list lock is refused', async () => {
    const ct = new Cachetable();
    const { cf } = await makeFile(ct, 'a');
    const t = new LockTask('bad client');
    await ct.listLock.acquire(t, 'read');
    await expect(ct.getAndPin(cf, 1n, { mode: 'read', task: t })).rejects.toThrow(InvariantError);
    ct.listLock.release(t, 'read');
  });

  it('Scenario: the declared order is accepted and releasing a lock not held is refused', async () => {
    const ct = new Cachetable();
    const t = new LockTask('begin');
    await ct.pendingExpensive.acquire(t, 'write');
    await ct.listLock.acquire(t, 'read');
    await ct.cachefileListLock.acquire(t, 'read');
    await ct.pendingCheap.acquire(t, 'write');
    expect(t.holding()).toEqual([
      'pending_lock_expensive(write)',
      'list_lock(read)',
      'cachefile_list_lock(read)',
      'pending_lock_cheap(write)',
    ]);
    expect(() => ct.listLock.release(t, 'write')).toThrow(InvariantError);
    for (const l of [ct.pendingCheap, ct.cachefileListLock, ct.listLock]) l.release(t, l === ct.pendingCheap ? 'write' : 'read');
    ct.pendingExpensive.release(t, 'write');
  });
});
