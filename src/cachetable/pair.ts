/**
 * PAIRs and cachefiles (spec checkpoint-algorithm.md §2.1, §2.2).
 *
 * Invariants:
 *  - (cachefile, blocknum) and the callbacks never change after creation.
 *  - `clone` is non-null only between clone_pair and the end of the clone's write, and only
 *    while `diskMutex` is held (I6); a second clone is never made while one exists (I7).
 *  - `checkpointPending` is set only by begin_checkpoint (under both pending locks) and
 *    cleared only by a holder of the write lock on `valueLock` (or by the removal of the PAIR).
 *  - A removed PAIR is never handed to a client; a waiter that wakes on one retries.
 *
 * The fields are public so the cachetable and the checkpointer's tests can read them; only
 * src/cachetable writes them, except `value`, which the holder of the write pin may replace.
 */

import { RwLock } from './rwlock.js';

/** The clock count a PAIR starts with; eviction lowers it and every access raises it. */
export const CLOCK_INITIAL_COUNT = 3;
/** The highest clock count a PAIR can reach. */
export const CLOCK_SATURATION = 15;

/** What a flush callback receives. */
export interface FlushArgs<V> {
  readonly cachefile: Cachefile<V>;
  readonly blocknum: bigint;
  /** The PAIR's value, or its clone when isClone. */
  readonly value: V;
  /** True when the write is the checkpoint image (update _current and _inprogress). */
  readonly forCheckpoint: boolean;
  readonly isClone: boolean;
}

/** The clone callback's result. */
export interface CloneResult<V> {
  readonly clone: V;
  /** Memory charged for the clone until it is written. */
  readonly cloneSize: number;
  /** New size of the original after cloning, when cloning changed it. */
  readonly newSize?: number;
}

/**
 * Per-cachefile callbacks. The cachetable does no I/O itself: fetch and flush do it.
 * A cachefile without `clone` takes the no-clone paths (synchronous writes under the
 * write lock).
 */
export interface CachefileCallbacks<V> {
  /** Reads the value of a block from the file, with its size in bytes. */
  fetch(blocknum: bigint): Promise<{ value: V; size: number }>;
  /** Write the value; resolves to the size of what was written, which for a non-clone
   *  write also becomes the PAIR's new size. */
  flush(args: FlushArgs<V>): Promise<number>;
  /** Makes the copy a checkpoint writes while the value goes on changing; present only for cloneable cachefiles. */
  clone?: (value: V, blocknum: bigint) => CloneResult<V>;
  /** Called when a pending bit is resolved, before any write (FT: rotate flow counters). */
  checkpointComplete?: (value: V, blocknum: bigint) => void;
  /** Free the blocknum on unpin_and_remove (BTT free_blocknum with for_checkpoint). */
  removeKey?: (blocknum: bigint, forCheckpoint: boolean) => void | Promise<void>;
}

/** An open file in the cachetable (a dictionary), with its callbacks to write and read its pairs. */
export class Cachefile<V = unknown> {
  readonly id: number;
  readonly name: string;
  readonly callbacks: CachefileCallbacks<V>;
  /** True while the file takes part in the checkpoint in progress. */
  forCheckpoint = false;
  closed = false;
  /** The file's own PAIRs (cf_head / num_pairs), keyed by blocknum. */
  readonly pairs = new Map<bigint, Pair<V>>();

  constructor(id: number, name: string, callbacks: CachefileCallbacks<V>) {
    this.id = id;
    this.name = name;
    this.callbacks = callbacks;
  }

  get cloneable(): boolean {
    return this.callbacks.clone !== undefined;
  }
}

/** A PAIR: one cached block of a cachefile, with its pin count, lock, dirty and checkpoint-pending bits and optional clone. */
export class Pair<V = unknown> {
  readonly cachefile: Cachefile<V>;
  readonly blocknum: bigint;
  value: V;
  size: number;
  dirty: boolean;
  checkpointPending = false;
  clone: { value: V; size: number } | null = null;
  /** Clock count for eviction. */
  count = CLOCK_INITIAL_COUNT;
  removed = false;
  readonly valueLock: RwLock;
  /** Exclusive: held for any I/O on the PAIR (used in write mode only). */
  readonly diskMutex: RwLock;
  /** Links of the pending list (non-circular, headed by the cachetable). */
  pendingNext: Pair<unknown> | null = null;
  pendingPrev: Pair<unknown> | null = null;
  onPendingList = false;

  constructor(cachefile: Cachefile<V>, blocknum: bigint, value: V, size: number, dirty: boolean) {
    this.cachefile = cachefile;
    this.blocknum = blocknum;
    this.value = value;
    this.size = size;
    this.dirty = dirty;
    this.valueLock = new RwLock(`value_rwlock ${cachefile.name}:${blocknum}`);
    this.diskMutex = new RwLock(`disk_nb_mutex ${cachefile.name}:${blocknum}`);
  }

  /** Number of pins held (readers, or 1 for the writer). */
  get pinCount(): number {
    return this.valueLock.readerCount + (this.valueLock.writeLocked ? 1 : 0);
  }

  /** The PAIR as `cachefile:blocknum`, for messages. */
  toString(): string {
    return `${this.cachefile.name}:${this.blocknum}`;
  }
}
