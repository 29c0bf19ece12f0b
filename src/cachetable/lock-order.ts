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

import { invariant } from '../base/errors.js';
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
/** The level of a lock in the lock order: a task takes locks only in increasing level. */
export type LockLevelValue = (typeof LockLevel)[keyof typeof LockLevel];

let nextTaskId = 1;

/** A named unit of work that takes locks, so that lock-order violations and reports can name who holds what. */
export class LockTask {
  /** A number unique to this task in the process. */
  readonly id: number;
  /** The name, or a function that builds it: built only when something asks for it (a report). */
  private label: string | (() => string);
  /**
   * The ordered locks held, outermost first, with their modes in a parallel array: a pin
   * notes and drops locks many times per op, so this keeps the fast path free of allocation.
   */
  private readonly heldLocks: OrderedLock[] = [];
  private readonly heldModes: Array<'read' | 'write'> = [];

  /** `name` may be a function, so a caller on a hot path pays for the string only when it is reported. */
  constructor(name: string | (() => string)) {
    this.id = nextTaskId++;
    this.label = name;
  }

  /** The task's name, for messages and reports. */
  get name(): string {
    if (typeof this.label !== 'string') this.label = this.label();
    return this.label;
  }

  /** Names of the ordered locks this task holds, outermost first. */
  holding(): string[] {
    return this.heldLocks.map((l, i) => `${l.name}(${this.heldModes[i]!})`);
  }

  /** True while the task holds any lock. */
  holdsAny(): boolean {
    return this.heldLocks.length > 0;
  }

  /** True while the task holds lock. */
  holds(lock: OrderedLock): boolean {
    return this.heldLocks.includes(lock);
  }

  /** Throws InvariantError if acquiring `lock` now would break the order. */
  checkAcquire(lock: OrderedLock): void {
    for (const h of this.heldLocks) {
      if (h.level < lock.level) continue;
      invariant(
        false,
        () =>
          `lock order: task ${this.name}#${this.id} acquires ${lock.name} (level ${lock.level}) ` +
          `while holding ${h.name} (level ${h.level})`,
      );
    }
  }

  /**
   * Throws InvariantError if this task may not block on a PAIR lock now. `what` names the
   * lock; pass a function to build the name only when the check fails.
   */
  checkBlockingPairAcquire(what: string | (() => string)): void {
    if (this.heldLocks.length === 0) return;
    invariant(
      false,
      () => `lock order: task ${this.name}#${this.id} blocks on ${typeof what === 'string' ? what : what()} while holding ${this.holding().join(', ')}`,
    );
  }

  /** Records that the task took lock in mode. */
  noteAcquired(lock: OrderedLock, mode: 'read' | 'write'): void {
    this.heldLocks.push(lock);
    this.heldModes.push(mode);
  }

  /** Records that the task released lock in mode; throws an invariant error when it did not hold it. */
  noteReleased(lock: OrderedLock, mode: 'read' | 'write'): void {
    // Usually the innermost lock is released first: search from the end.
    let i = this.heldLocks.length - 1;
    while (i >= 0 && (this.heldLocks[i] !== lock || this.heldModes[i] !== mode)) i--;
    invariant(i >= 0, () => `task ${this.name}#${this.id} releases ${lock.name}(${mode}) which it does not hold`);
    if (i === this.heldLocks.length - 1) {
      this.heldLocks.pop();
      this.heldModes.pop();
    } else {
      this.heldLocks.splice(i, 1);
      this.heldModes.splice(i, 1);
    }
  }
}

/** A reader-writer lock with a place in the lock order. */
export class OrderedLock {
  /** The lock's name, as events and messages show it. */
  readonly name: string;
  /** The lock's level in the lock order. */
  readonly level: LockLevelValue;
  /** The readers-writer lock underneath. */
  readonly rw: RwLock;
  private readonly emitter: CachetableEmitter;

  /** A lock named name at level in the lock order, reporting to emitter. */
  constructor(name: string, level: LockLevelValue, emitter: CachetableEmitter) {
    this.name = name;
    this.level = level;
    this.rw = new RwLock(name);
    this.emitter = emitter;
  }

  /**
   * Acquire at once if the lock is free for `mode` (same order check and event as acquire);
   * returns false, having changed nothing, when acquiring would wait. No promise is made, so
   * an uncontended pin costs no allocation here.
   */
  tryAcquire(task: LockTask, mode: 'read' | 'write'): boolean {
    task.checkAcquire(this);
    if (!(mode === 'read' ? this.rw.tryReadLock() : this.rw.tryWriteLock())) return false;
    task.noteAcquired(this, mode);
    this.emitter.emit?.({ type: 'lock-taken', lock: this.name, mode, task: task.name });
    return true;
  }

  /** Takes the lock for task in mode, after checking the lock order (throws an invariant error on a violation). */
  async acquire(task: LockTask, mode: 'read' | 'write'): Promise<void> {
    task.checkAcquire(this);
    if (mode === 'read') await this.rw.readLock();
    else await this.rw.writeLock();
    task.noteAcquired(this, mode);
    this.emitter.emit?.({ type: 'lock-taken', lock: this.name, mode, task: task.name });
  }

  /** Releases the lock task holds in mode. */
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
