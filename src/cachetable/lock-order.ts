/**
 * The cachetable's lock order (spec checkpoint-algorithm.md §3.2), checked per task.
 *
 * A LockTask stands for one thread of PerconaFT: a client call, the evictor, the checkpoint
 * thread, a clone writer. Each ordered lock is acquired on behalf of a task, and the task
 * remembers what it holds so an out-of-order acquisition throws InvariantError before it
 * can deadlock.
 *
 * Invariants:
 *  - A task acquires an ordered lock only if every ordered lock it holds is strictly outer
 *    (a lower level). So no lock is taken twice, and nothing is acquired while
 *    pending_lock_cheap (the innermost) is held.
 *  - A task releases only locks it holds.
 *  - A blocking acquisition of a PAIR's value_rwlock or disk_nb_mutex is made while the task
 *    holds no ordered lock (PAIR->mutex is implicit: synchronous JavaScript runs atomically).
 */

import { invariant } from '../format/errors.js';
import { RwLock } from './rwlock.js';
import type { CachetableEmitter } from './events.js';

/** Outer (small) to inner (large), as in §3.2. Level 4, PAIR->mutex, is implicit. */
export const LockLevel = {
  pendingExpensive: 1,
  list: 2,
  cachefileList: 3,
  pairMutex: 4,
  pendingCheap: 5,
} as const;
export type LockLevelValue = (typeof LockLevel)[keyof typeof LockLevel];

interface Held {
  readonly lock: OrderedLock;
  readonly mode: 'read' | 'write';
}

let nextTaskId = 1;

export class LockTask {
  readonly id: number;
  readonly name: string;
  private readonly held: Held[] = [];

  constructor(name: string) {
    this.id = nextTaskId++;
    this.name = name;
  }

  /** Names of the ordered locks this task holds, outermost first. */
  holding(): string[] {
    return this.held.map((h) => `${h.lock.name}(${h.mode})`);
  }

  holdsAny(): boolean {
    return this.held.length > 0;
  }

  holds(lock: OrderedLock): boolean {
    return this.held.some((h) => h.lock === lock);
  }

  /** Throws InvariantError if acquiring `lock` now would break the order. */
  checkAcquire(lock: OrderedLock): void {
    for (const h of this.held) {
      invariant(
        h.lock.level < lock.level,
        () =>
          `lock order: task ${this.name}#${this.id} acquires ${lock.name} (level ${lock.level}) ` +
          `while holding ${h.lock.name} (level ${h.lock.level})`,
      );
    }
  }

  /** Throws InvariantError if this task may not block on a PAIR lock now. */
  checkBlockingPairAcquire(what: string): void {
    invariant(
      this.held.length === 0,
      () => `lock order: task ${this.name}#${this.id} blocks on ${what} while holding ${this.holding().join(', ')}`,
    );
  }

  noteAcquired(lock: OrderedLock, mode: 'read' | 'write'): void {
    this.held.push({ lock, mode });
  }

  noteReleased(lock: OrderedLock, mode: 'read' | 'write'): void {
    const i = this.held.findIndex((h) => h.lock === lock && h.mode === mode);
    invariant(i >= 0, () => `task ${this.name}#${this.id} releases ${lock.name}(${mode}) which it does not hold`);
    this.held.splice(i, 1);
  }
}

/** A reader-writer lock with a place in the lock order. */
export class OrderedLock {
  readonly name: string;
  readonly level: LockLevelValue;
  readonly rw: RwLock;
  private readonly emitter: CachetableEmitter;

  constructor(name: string, level: LockLevelValue, emitter: CachetableEmitter) {
    this.name = name;
    this.level = level;
    this.rw = new RwLock(name);
    this.emitter = emitter;
  }

  async acquire(task: LockTask, mode: 'read' | 'write'): Promise<void> {
    task.checkAcquire(this);
    if (mode === 'read') await this.rw.readLock();
    else await this.rw.writeLock();
    task.noteAcquired(this, mode);
    this.emitter.emit?.({ type: 'lock-taken', lock: this.name, mode, task: task.name });
  }

  release(task: LockTask, mode: 'read' | 'write'): void {
    task.noteReleased(this, mode);
    if (mode === 'read') this.rw.readUnlock();
    else this.rw.writeUnlock();
  }

  /** Run fn while holding the lock in the given mode; always releases. */
  async with<T>(task: LockTask, mode: 'read' | 'write', fn: () => T | Promise<T>): Promise<T> {
    await this.acquire(task, mode);
    try {
      return await fn();
    } finally {
      this.release(task, mode);
    }
  }
}
