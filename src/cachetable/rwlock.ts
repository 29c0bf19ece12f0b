/**
 * A FIFO, writer-preferring reader-writer lock with PerconaFT's "expensive" flag
 * (toku::frwlock, spec checkpoint-algorithm.md §2.7). It models `value_rwlock`, the pair
 * list's three locks and the cachefile list lock; used in exclusive-only mode it models
 * `disk_nb_mutex`.
 *
 * Built on async-mutex the way a textbook rwlock is built on a mutex and condition variables:
 * the policy (FIFO order, writer preference, the expensive flag, who holds the lock) is our
 * own state machine, updated synchronously inside the unlock that causes a grant, and every
 * blocked request sleeps on an async-mutex Semaphore "gate" (created with no permits) that
 * the grant releases. Using async-mutex's Semaphore as the lock itself would not do: it
 * grants inside release() but the grantee learns of it a microtask later, so the
 * would-block / expensive queries the non-blocking pin path relies on would be racy.
 *
 * Invariants (checked on every state change):
 *  - Mutual exclusion: writer ⇒ readers == 0; at most one writer.
 *  - FIFO: requests are granted in arrival order; consecutive waiting readers form one
 *    queue entry and are admitted together.
 *  - Writer preference: a reader that arrives while a writer holds or waits queues behind it.
 *  - No lost wakeups: whenever the lock is free, the queue is empty (a release always
 *    dispatches the queue head).
 *  - Unlocking a mode that is not held is a bug and throws.
 */

import { Semaphore } from 'async-mutex';
import { invariant } from '../base/errors.js';

interface Waiter {
  readonly kind: 'read' | 'write';
  readonly expensive: boolean;
  /** For a read entry: how many readers share this entry. Always 1 for a writer. */
  count: number;
  /** The sleepers of this entry wait here; a grant releases `count` permits. */
  readonly gate: Semaphore;
}

/** A named readers-writer lock, FIFO and writer-preferring, with PerconaFT's "expensive" flag; it reports when it is taken and released. */
export class RwLock {
  /** The lock's name, as events and messages show it. */
  readonly name: string;
  private readers = 0;
  private writer = false;
  private writerExpensive = false;
  private readonly queue: Waiter[] = [];
  private waitingWriters = 0;
  private waitingReaders = 0;
  private expensiveWaitingWriters = 0;

  /** An unlocked lock named name (the name appears in events and messages). */
  constructor(name: string) {
    this.name = name;
  }

  /** Number of current read holders. */
  get readerCount(): number {
    return this.readers;
  }

  /** True while a writer holds the lock. */
  get writeLocked(): boolean {
    return this.writer;
  }

  /** Holders plus waiters (frwlock::users). */
  users(): number {
    return this.readers + (this.writer ? 1 : 0) + this.waitingReaders + this.waitingWriters;
  }

  /** Waiting writers (not holders). */
  blockedWriters(): number {
    return this.waitingWriters;
  }

  /** Waiting readers (not holders). */
  blockedReaders(): number {
    return this.waitingReaders;
  }

  /** Would a read acquisition made now have to wait? */
  readWouldBlock(): boolean {
    return this.writer || this.waitingWriters > 0;
  }

  /** Would a write acquisition made now have to wait? */
  writeWouldBlock(): boolean {
    return this.writer || this.readers > 0 || this.queue.length > 0;
  }

  /** The current writer is expensive, or an expensive writer waits. */
  writeLockIsExpensive(): boolean {
    return (this.writer && this.writerExpensive) || this.expensiveWaitingWriters > 0;
  }

  /** A reader arriving now would wait behind an expensive writer (holding or queued). */
  readLockIsExpensive(): boolean {
    return this.readWouldBlock() && this.writeLockIsExpensive();
  }

  /** Takes a read lock when that would not wait; true when taken. */
  tryReadLock(): boolean {
    if (this.readWouldBlock()) return false;
    this.readers++;
    this.check();
    return true;
  }

  /** Takes the write lock when that would not wait (marked expensive if asked); true when taken. */
  tryWriteLock(expensive = false): boolean {
    if (this.writeWouldBlock()) return false;
    this.writer = true;
    this.writerExpensive = expensive;
    this.check();
    return true;
  }

  /**
   * Acquire in read mode. The request is queued synchronously (so users() counts it at
   * once); the promise resolves when it is granted.
   */
  readLock(): Promise<void> {
    if (this.tryReadLock()) return Promise.resolve();
    let entry = this.queue[this.queue.length - 1];
    if (entry !== undefined && entry.kind === 'read') {
      entry.count++;
    } else {
      entry = { kind: 'read', expensive: false, count: 1, gate: new Semaphore(0) };
      this.queue.push(entry);
    }
    this.waitingReaders++;
    this.check();
    return sleepOn(entry.gate);
  }

  /** Acquire in write mode; queued synchronously like readLock. */
  writeLock(expensive = false): Promise<void> {
    if (this.tryWriteLock(expensive)) return Promise.resolve();
    const entry: Waiter = { kind: 'write', expensive, count: 1, gate: new Semaphore(0) };
    this.queue.push(entry);
    this.waitingWriters++;
    if (expensive) this.expensiveWaitingWriters++;
    this.check();
    return sleepOn(entry.gate);
  }

  /** Releases one read lock; throws an invariant error when none is held. */
  readUnlock(): void {
    if (this.readers <= 0) invariant(false, () => `${this.name}: read unlock without a read holder`);
    this.readers--;
    this.dispatch();
  }

  /** Releases the write lock; throws an invariant error when it is not held. */
  writeUnlock(): void {
    if (!this.writer) invariant(false, () => `${this.name}: write unlock without the write holder`);
    this.writer = false;
    this.writerExpensive = false;
    this.dispatch();
  }

  /** Grant the queue head if the lock is free. Only one entry can be granted per release. */
  private dispatch(): void {
    if (!this.writer && this.readers === 0) {
      const head = this.queue.shift();
      if (head !== undefined) {
        if (head.kind === 'write') {
          this.waitingWriters--;
          if (head.expensive) this.expensiveWaitingWriters--;
          this.writer = true;
          this.writerExpensive = head.expensive;
        } else {
          this.waitingReaders -= head.count;
          this.readers += head.count;
        }
        head.gate.release(head.count);
      }
    }
    this.check();
  }

  /**
   * The invariants, checked on every state change. The conditions are tested first and the
   * messages built only on failure, so a check costs no allocation on the pin fast path.
   */
  private check(): void {
    const head = this.queue[0];
    if (
      !(this.writer && this.readers > 0) &&
      this.readers >= 0 &&
      this.waitingReaders >= 0 &&
      this.waitingWriters >= 0 &&
      (this.writer || this.readers > 0 || head === undefined) &&
      (head === undefined || head.kind === 'write' || this.writer)
    ) {
      return;
    }
    invariant(!(this.writer && this.readers > 0), () => `${this.name}: writer and readers at once`);
    invariant(this.readers >= 0 && this.waitingReaders >= 0 && this.waitingWriters >= 0, () => `${this.name}: negative count`);
    invariant(
      this.writer || this.readers > 0 || this.queue.length === 0,
      () => `${this.name}: lock is free but ${this.queue.length} request(s) still wait (lost wakeup)`,
    );
    invariant(
      head === undefined || head.kind === 'write' || this.writer,
      () => `${this.name}: readers wait at the head of the queue while no writer holds the lock`,
    );
  }
}

/** Wait for one permit of a gate; the permit is consumed (the gate is used once). */
async function sleepOn(gate: Semaphore): Promise<void> {
  await gate.acquire(1);
}
