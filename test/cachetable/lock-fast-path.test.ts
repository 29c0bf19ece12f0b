import { describe, expect, it } from 'vitest';
import { Cachetable } from '../../src/cachetable/cachetable.js';
import type { CachetableEvent } from '../../src/cachetable/events.js';
import { LockTask } from '../../src/cachetable/lock-order.js';
import { RwLock } from '../../src/cachetable/rwlock.js';
import { InvariantError } from '../../src/base/errors.js';
import { beginCheckpoint, endCheckpoint, makeFile, modify } from './helpers.js';

// The pin fast path takes uncontended locks synchronously and builds names only on demand;
// these scenarios check that it keeps the same checks and the same effects as the slow path.
describe('lock fast path', () => {
  it('Scenario: a task named by a function builds its name once, only when asked', () => {
    let built = 0;
    const t = new LockTask(() => {
      built++;
      return 'lazy client';
    });
    expect(built).toBe(0);
    expect(t.name).toBe('lazy client');
    expect(t.name).toBe('lazy client');
    expect(built).toBe(1);
  });

  it('Scenario: tryAcquire takes a free lock, refuses a held one without queueing, and keeps the lock order', async () => {
    const ct = new Cachetable();
    const a = new LockTask('a');
    const b = new LockTask('b');
    expect(ct.listLock.tryAcquire(a, 'write')).toBe(true);
    expect(a.holding()).toEqual(['list_lock(write)']);
    expect(ct.listLock.tryAcquire(b, 'read')).toBe(false);
    expect(b.holdsAny()).toBe(false);
    expect(ct.listLock.rw.users()).toBe(1); // the refused request left nothing queued
    // Out of order: an outer lock while an inner one is held throws before anything changes.
    expect(() => ct.pendingExpensive.tryAcquire(a, 'read')).toThrow(/lock order: task a#\d+ acquires pending_lock_expensive/);
    expect(ct.pendingExpensive.rw.users()).toBe(0);
    ct.listLock.release(a, 'write');
    expect(ct.listLock.tryAcquire(b, 'read')).toBe(true);
    ct.listLock.release(b, 'read');
    expect(() => ct.listLock.release(b, 'read')).toThrow(InvariantError);
  });

  it('Scenario: releasing out of nesting order keeps the right locks noted', async () => {
    const ct = new Cachetable();
    const t = new LockTask('begin');
    await ct.pendingExpensive.acquire(t, 'write');
    await ct.listLock.acquire(t, 'read');
    await ct.pendingCheap.acquire(t, 'write');
    ct.listLock.release(t, 'read');
    expect(t.holding()).toEqual(['pending_lock_expensive(write)', 'pending_lock_cheap(write)']);
    expect(t.holds(ct.listLock)).toBe(false);
    ct.pendingExpensive.release(t, 'write');
    ct.pendingCheap.release(t, 'write');
    expect(t.holdsAny()).toBe(false);
  });

  it('Scenario: a blocking-pair check names the lock lazily, and only when it fails', async () => {
    const ct = new Cachetable();
    const t = new LockTask('bad client');
    let asked = 0;
    const what = (): string => {
      asked++;
      return 'value_rwlock x:1';
    };
    t.checkBlockingPairAcquire(what);
    expect(asked).toBe(0);
    await ct.listLock.acquire(t, 'read');
    expect(() => t.checkBlockingPairAcquire(what)).toThrow(/blocks on value_rwlock x:1 while holding list_lock\(read\)/);
    expect(asked).toBe(1);
    ct.listLock.release(t, 'read');
  });

  it('Scenario: the cheap invariant checks of the rwlock still refuse an unlock that is not held', () => {
    const l = new RwLock('l');
    expect(() => l.readUnlock()).toThrow(/l: read unlock without a read holder/);
    expect(() => l.writeUnlock()).toThrow(/l: write unlock without the write holder/);
    expect(l.tryReadLock()).toBe(true);
    expect(l.tryWriteLock()).toBe(false);
    l.readUnlock();
    expect(l.tryWriteLock()).toBe(true);
    l.writeUnlock();
  });

  it('Scenario: an uncontended pin reports its task by name in the lock-taken trace', async () => {
    const events: CachetableEvent[] = [];
    const ct = new Cachetable({ listener: (e) => events.push(e) });
    const { cf } = await makeFile(ct, 'a');
    await modify(ct, cf, 1n, 1);
    events.length = 0;
    ct.unpin(await ct.getAndPin(cf, 1n, { mode: 'write' }));
    const taken = events.filter((e) => e.type === 'lock-taken');
    expect(taken.map((e) => (e.type === 'lock-taken' ? [e.lock, e.mode, e.task] : []))).toEqual([
      ['list_lock', 'read', 'getAndPin a:1'],
      ['pending_lock_cheap', 'read', 'getAndPin a:1'],
    ]);
  });

  it('Scenario: a write pin that finds pending_lock_cheap held waits for it, then resolves the bit', async () => {
    const ct = new Cachetable();
    const { cf, disk } = await makeFile(ct, 'a', { cloneable: true });
    await modify(ct, cf, 1n, 1);
    const cfs = await beginCheckpoint(ct);
    const holder = new LockTask('holder');
    await ct.pendingCheap.acquire(holder, 'write');
    let pinned = false;
    const pin = ct.getAndPin(cf, 1n, { mode: 'write' }).then((p) => {
      pinned = true;
      return p;
    });
    await new Promise((r) => setImmediate(r));
    expect(pinned).toBe(false);
    expect(ct.peek(cf, 1n)!.checkpointPending).toBe(true);
    ct.pendingCheap.release(holder, 'write');
    const p = await pin;
    expect(p.checkpointPending).toBe(false);
    expect(ct.stats.pendingResolved.client).toBe(1);
    expect(disk.completes).toEqual([1n]);
    ct.unpin(p);
    await endCheckpoint(ct, cfs);
    expect(disk.writes.filter((w) => w.forCheckpoint).map((w) => [w.blocknum, w.isClone])).toEqual([[1n, true]]);
  });
});
