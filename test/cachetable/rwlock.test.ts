import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RwLock } from '../../src/cachetable/rwlock.js';
import { InvariantError } from '../../src/base/errors.js';

type Kind = 'read' | 'write' | 'tryRead' | 'tryWrite';
interface Op {
  kind: Kind;
  expensive: boolean;
}

/**
 * A deliberately naive model of toku::frwlock (spec §2.7): one FIFO queue of requests; on a
 * release that frees the lock the head is granted, and a read head brings every read
 * directly behind it.
 */
class Model {
  readonly holders = new Map<number, 'read' | 'write'>();
  writerExpensive = false;
  readonly queue: Array<{ id: number; kind: 'read' | 'write'; expensive: boolean }> = [];
  readonly granted: number[] = [];

  private writerHolds(): boolean {
    return [...this.holders.values()].includes('write');
  }
  private writerQueued(): boolean {
    return this.queue.some((q) => q.kind === 'write');
  }
  canRead(): boolean {
    return !this.writerHolds() && !this.writerQueued();
  }
  canWrite(): boolean {
    return this.holders.size === 0 && this.queue.length === 0;
  }
  grant(id: number, kind: 'read' | 'write', expensive: boolean): void {
    this.holders.set(id, kind);
    if (kind === 'write') this.writerExpensive = expensive;
    this.granted.push(id);
  }
  request(id: number, kind: 'read' | 'write', expensive: boolean): boolean {
    if (kind === 'read' ? this.canRead() : this.canWrite()) {
      this.grant(id, kind, expensive);
      return true;
    }
    this.queue.push({ id, kind, expensive });
    return false;
  }
  release(id: number): void {
    this.holders.delete(id);
    if (this.holders.size > 0) return;
    const head = this.queue.shift();
    if (head === undefined) return;
    this.grant(head.id, head.kind, head.expensive);
    if (head.kind === 'read') {
      while (this.queue[0]?.kind === 'read') {
        const r = this.queue.shift()!;
        this.grant(r.id, 'read', false);
      }
    }
  }
  writeExpensive(): boolean {
    return (this.writerHolds() && this.writerExpensive) || this.queue.some((q) => q.kind === 'write' && q.expensive);
  }
}

function expectSameState(lock: RwLock, model: Model): void {
  const readers = [...model.holders.values()].filter((k) => k === 'read').length;
  const writers = [...model.holders.values()].filter((k) => k === 'write').length;
  expect(writers).toBeLessThanOrEqual(1);
  expect(writers === 1 && readers > 0).toBe(false);
  expect(lock.readerCount).toBe(readers);
  expect(lock.writeLocked).toBe(writers === 1);
  expect(lock.users()).toBe(model.holders.size + model.queue.length);
  expect(lock.readWouldBlock()).toBe(!model.canRead());
  expect(lock.writeWouldBlock()).toBe(!model.canWrite());
  expect(lock.writeLockIsExpensive()).toBe(model.writeExpensive());
  expect(lock.readLockIsExpensive()).toBe(!model.canRead() && model.writeExpensive());
}

const opArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom<Kind>('read', 'write', 'read', 'write', 'tryRead', 'tryWrite'),
  expensive: fc.boolean(),
});

describe('RwLock (frwlock semantics)', () => {
  // Property: under any interleaving, every acquisition, grant and release leaves the lock in
  // exactly the state of the naive FIFO model (so mutual exclusion, writer preference, FIFO
  // grant order and try-lock rules all hold), and every blocked request is eventually granted.
  it('Scenario: random readers and writers agree with the FIFO writer-preferring model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(opArb, { minLength: 1, maxLength: 12 }), async (s, ops) => {
        const lock = new RwLock('test');
        const model = new Model();
        const done: boolean[] = ops.map(() => false);
        const grantOrder: number[] = [];
        const actor = async (id: number, op: Op): Promise<void> => {
          await s.schedule(Promise.resolve(), `arrive ${id}`);
          let mode: 'read' | 'write';
          if (op.kind === 'tryRead' || op.kind === 'tryWrite') {
            mode = op.kind === 'tryRead' ? 'read' : 'write';
            const want = mode === 'read' ? model.canRead() : model.canWrite();
            const got = mode === 'read' ? lock.tryReadLock() : lock.tryWriteLock(op.expensive);
            expect(got).toBe(want);
            if (!got) {
              expectSameState(lock, model);
              done[id] = true;
              return;
            }
            model.grant(id, mode, op.expensive);
          } else {
            mode = op.kind;
            const p = mode === 'read' ? lock.readLock() : lock.writeLock(op.expensive);
            model.request(id, mode, op.expensive);
            expectSameState(lock, model);
            await p;
          }
          grantOrder.push(id);
          expect(model.holders.get(id)).toBe(mode);
          expectSameState(lock, model);
          await s.schedule(Promise.resolve(), `hold ${id}`);
          if (mode === 'read') lock.readUnlock();
          else lock.writeUnlock();
          model.release(id);
          expectSameState(lock, model);
          done[id] = true;
        };
        const all = Promise.all(ops.map((op, i) => actor(i, op)));
        await s.waitIdle();
        await all;
        // No lost wakeups: everyone finished and the lock is free.
        expect(done.every(Boolean)).toBe(true);
        expect(lock.users()).toBe(0);
        // Grants happened in the model's order (FIFO with grouped readers).
        expect(grantOrder).toEqual(model.granted);
        expect(grantOrder.filter((id) => ops[id]!.kind !== 'tryRead' && ops[id]!.kind !== 'tryWrite').length).toBe(
          ops.filter((o) => o.kind === 'read' || o.kind === 'write').length,
        );
      }),
      { numRuns: 150 },
    );
  });

  // Scenario: a reader arriving while a writer waits behind current readers queues behind the writer.
  it('Scenario: writer preference — a late reader waits for the queued writer', async () => {
    const lock = new RwLock('pref');
    const order: string[] = [];
    await lock.readLock();
    const w = lock.writeLock(true).then(() => order.push('writer'));
    expect(lock.readWouldBlock()).toBe(true);
    expect(lock.tryReadLock()).toBe(false);
    expect(lock.readLockIsExpensive()).toBe(true);
    const r = lock.readLock().then(() => order.push('late reader'));
    lock.readUnlock();
    await w;
    expect(lock.writeLocked).toBe(true);
    lock.writeUnlock();
    await r;
    expect(order).toEqual(['writer', 'late reader']);
    lock.readUnlock();
    expect(lock.users()).toBe(0);
  });

  // Scenario: readers queued together behind a writer are admitted as one group.
  it('Scenario: consecutive waiting readers are admitted together', async () => {
    const lock = new RwLock('group');
    expect(lock.tryWriteLock(false)).toBe(true);
    expect(lock.writeLockIsExpensive()).toBe(false);
    const r1 = lock.readLock();
    const r2 = lock.readLock();
    const w2 = lock.writeLock(false);
    const r3 = lock.readLock();
    expect(lock.blockedReaders()).toBe(3);
    expect(lock.blockedWriters()).toBe(1);
    lock.writeUnlock();
    await Promise.all([r1, r2]);
    expect(lock.readerCount).toBe(2);
    expect(lock.blockedReaders()).toBe(1);
    lock.readUnlock();
    lock.readUnlock();
    await w2;
    lock.writeUnlock();
    await r3;
    expect(lock.readerCount).toBe(1);
  });

  it('Scenario: unlocking a mode that is not held is an invariant violation', () => {
    const lock = new RwLock('bad');
    expect(() => lock.readUnlock()).toThrow(InvariantError);
    expect(() => lock.writeUnlock()).toThrow(InvariantError);
  });
});
