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
  /** A number unique to this cachefile in its cachetable. */
  readonly id: number;
  /** The cachefile's name (its file name), for messages and events. */
  readonly name: string;
  /** How the cachefile's blocks are read, written and cloned. */
  readonly callbacks: CachefileCallbacks<V>;
  /** True while the file takes part in the checkpoint in progress. */
  forCheckpoint = false;
  /** True once the cachefile has been closed. */
  closed = false;
  /** The file's own PAIRs (cf_head / num_pairs), keyed by blocknum. */
  readonly pairs = new Map<bigint, Pair<V>>();

  /** Made by {@link Cachetable.openCachefile}. */
  constructor(id: number, name: string, callbacks: CachefileCallbacks<V>) {
    this.id = id;
    this.name = name;
    this.callbacks = callbacks;
  }

  /** True when the cachefile's callbacks can clone a value, so that checkpoints write clones. */
  get cloneable(): boolean {
    return this.callbacks.clone !== undefined;
  }
}

/** A PAIR: one cached block of a cachefile, with its pin count, lock, dirty and checkpoint-pending bits and optional clone. */
export class Pair<V = unknown> {
  /** The cachefile this PAIR belongs to. */
  readonly cachefile: Cachefile<V>;
  /** The block number of this PAIR in its cachefile. */
  readonly blocknum: bigint;
  /** The cached value. */
  value: V;
  /** The value's size in bytes, as counted against the memory limit. */
  size: number;
  /** True when the value changed since it was last written. */
  dirty: boolean;
  /** True while the checkpoint in progress still has to write this PAIR's value as of its begin. */
  checkpointPending = false;
  /** The copy made for the checkpoint and not yet written, with its size in bytes. */
  clone: { value: V; size: number } | null = null;
  /** Clock count for eviction. */
  count = CLOCK_INITIAL_COUNT;
  /** True once the PAIR was removed from the cachetable. */
  removed = false;
  /** The lock on the value: read or write pins take it. */
  readonly valueLock: RwLock;
  /** Exclusive: held for any I/O on the PAIR (used in write mode only). */
  readonly diskMutex: RwLock;
  /** Links of the pending list (non-circular, headed by the cachetable). */
  pendingNext: Pair<unknown> | null = null;
  /** The previous PAIR on the pending list. */
  pendingPrev: Pair<unknown> | null = null;
  /** True while the PAIR is on the pending list. */
  onPendingList = false;

  /** Made by the cachetable when a block is first pinned or created. */
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
