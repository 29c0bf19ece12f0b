/**
 * The checkpointer's global locks (spec checkpoint-algorithm.md §3.1): the checkpoint-safe
 * lock, the low-priority multi-operation lock, the multi-operation (MO) lock and the
 * open/close lock. All are FIFO, writer-preferring reader-writer locks (the open/close lock is
 * used exclusively, as a mutex), reused from the cachetable's RwLock.
 *
 * Invariants:
 *  - Global order, checked per holder: checkpoint_safe < low_priority_mo < mo < open_close.
 *    A holder never acquires a lock that is not strictly inner to every lock it holds, so the
 *    checkpoint's sequence CS(W) → low-priority MO(W) → MO(W) → open/close and the client
 *    sequence CS(R) → MO(R) cannot deadlock against each other.
 *  - A holder releases only what it holds.
 *  - lockedMo / lockedCs are true exactly while the checkpoint holds the MO / CS write lock;
 *    a client lock call that finds them true counts one CP_CLIENT_WAIT_ON_MO / _CS.
 */

import { invariant } from '../base/errors.js';
import { RwLock } from '../cachetable/rwlock.js';

/** The levels of the checkpoint's global locks in the lock order. */
export const GlobalLockLevel = {
  checkpointSafe: 1,
  lowPriorityMo: 2,
  mo: 3,
  openClose: 4,
} as const;
/** The name of one of the checkpoint's global locks. */
export type GlobalLockName = keyof typeof GlobalLockLevel;

type Mode = 'read' | 'write';

/** One "thread" that holds global locks; remembers what it holds to check the order. */
export class GlobalLockHolder {
  private readonly held: Array<{ name: GlobalLockName; mode: Mode }> = [];
  /** A holder named name (the name appears in lock events and messages), holding nothing. */
  constructor(readonly name: string) {}

  /** The global locks this holder holds, as `name(mode)`, for messages. */
  holding(): string[] {
    return this.held.map((h) => `${h.name}(${h.mode})`);
  }

  /** Throws an invariant error when taking lock name now would break the lock order. */
  checkAcquire(name: GlobalLockName): void {
    for (const h of this.held) {
      invariant(
        GlobalLockLevel[h.name] < GlobalLockLevel[name],
        () => `global lock order: ${this.name} acquires ${name} while holding ${h.name}`,
      );
    }
  }

  /** Records that the holder took lock name in mode. */
  noteAcquired(name: GlobalLockName, mode: Mode): void {
    this.held.push({ name, mode });
  }

  /** Records that the holder released lock name in mode; throws an invariant error when it did not hold it. */
  noteReleased(name: GlobalLockName, mode: Mode): void {
    const i = this.held.findIndex((h) => h.name === name && h.mode === mode);
    invariant(i >= 0, () => `${this.name} releases ${name}(${mode}) which it does not hold`);
    this.held.splice(i, 1);
  }
}

/** Counters the client-lock API feeds (CP_CLIENT_WAIT_ON_MO / _CS). */
export interface ClientWaitCounters {
  clientWaitOnMo: number;
  clientWaitOnCs: number;
}

/** A release function returned by the client-lock API. Calling it twice is a bug. */
export type Release = () => void;

/** Receives an event each time a global lock is taken or released. */
export type GlobalLockListener = (e: { type: 'global-lock'; lock: GlobalLockName; mode: Mode; action: 'taken' | 'released'; holder: string }) => void;

/** The checkpoint's global locks: the checkpoint-safe lock, the two multi-operation locks and the open/close lock, taken in that order. */
export class CheckpointLocks {
  /** PerconaFT's checkpoint_safe_lock, which a checkpoint holds for write. */
  readonly checkpointSafe = new RwLock('checkpoint_safe_lock');
  /** PerconaFT's low_priority_multi_operation_lock. */
  readonly lowPriorityMo = new RwLock('low_priority_multi_operation_lock');
  /** PerconaFT's multi_operation_lock: clients hold it for read around multi-step operations; a checkpoint takes it for write at its begin. */
  readonly mo = new RwLock('multi_operation_lock');
  /** PerconaFT's ft_open_close_lock, taken around opening and closing dictionaries. */
  readonly openClose = new RwLock('ft_open_close_lock');
  /** True while the checkpoint holds the MO write lock. */
  lockedMo = false;
  /** True while the checkpoint holds the checkpoint-safe write lock. */
  lockedCs = false;
  /** How often clients waited on the multi-operation and checkpoint-safe locks. */
  readonly counters: ClientWaitCounters = { clientWaitOnMo: 0, clientWaitOnCs: 0 };
  /** Receives global lock events, when set. */
  listener: GlobalLockListener | undefined;

  private lock(name: GlobalLockName): RwLock {
    return this[name];
  }

  /** Takes global lock name in mode for holder, after checking the lock order. */
  async acquire(holder: GlobalLockHolder, name: GlobalLockName, mode: Mode): Promise<void> {
    holder.checkAcquire(name);
    const l = this.lock(name);
    if (mode === 'read') await l.readLock();
    else await l.writeLock();
    holder.noteAcquired(name, mode);
    this.listener?.({ type: 'global-lock', lock: name, mode, action: 'taken', holder: holder.name });
  }

  /** Releases global lock name held by holder in mode. */
  release(holder: GlobalLockHolder, name: GlobalLockName, mode: Mode): void {
    holder.noteReleased(name, mode);
    const l = this.lock(name);
    if (mode === 'read') l.readUnlock();
    else l.writeUnlock();
    this.listener?.({ type: 'global-lock', lock: name, mode, action: 'released', holder: holder.name });
  }

  private once(fn: () => void, what: string): Release {
    let done = false;
    return () => {
      invariant(!done, () => `${what} released twice`);
      done = true;
      fn();
    };
  }

  /** toku_multi_operation_client_lock: MO in read mode. */
  async multiOperationClientLock(holder = new GlobalLockHolder('client')): Promise<Release> {
    if (this.lockedMo) this.counters.clientWaitOnMo++;
    await this.acquire(holder, 'mo', 'read');
    return this.once(() => this.release(holder, 'mo', 'read'), 'multi-operation client lock');
  }

  /** toku_low_priority_multi_operation_client_lock: for big transactions' commit/abort. */
  async lowPriorityMultiOperationClientLock(holder = new GlobalLockHolder('big txn')): Promise<Release> {
    await this.acquire(holder, 'lowPriorityMo', 'read');
    return this.once(() => this.release(holder, 'lowPriorityMo', 'read'), 'low-priority multi-operation client lock');
  }

  /** toku_checkpoint_safe_client_lock: checkpoint-safe (read) and then MO (read). */
  async checkpointSafeClientLock(holder = new GlobalLockHolder('checkpoint-safe client')): Promise<Release> {
    if (this.lockedCs) this.counters.clientWaitOnCs++;
    await this.acquire(holder, 'checkpointSafe', 'read');
    try {
      // Released below together with the checkpoint-safe lock, in reverse order.
      await this.multiOperationClientLock(holder);
    } catch (err) {
      this.release(holder, 'checkpointSafe', 'read');
      throw err;
    }
    return this.once(() => {
      this.release(holder, 'mo', 'read');
      this.release(holder, 'checkpointSafe', 'read');
    }, 'checkpoint-safe client lock');
  }

  /** toku_ft_open_close_lock: opening a dictionary or dropping its last reference. */
  async openCloseLock(holder = new GlobalLockHolder('open/close')): Promise<Release> {
    await this.acquire(holder, 'openClose', 'write');
    return this.once(() => this.release(holder, 'openClose', 'write'), 'open/close lock');
  }

  /** Run fn under a release-returning lock call; always releases. */
  static async with<T>(take: Promise<Release>, fn: () => T | Promise<T>): Promise<T> {
    const release = await take;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
