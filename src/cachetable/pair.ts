/**
 * PAIRs and cachefiles (spec checkpoint-algorithm.md §2.1, §2.2; the states below are §10.1).
 *
 * The state of a PAIR across a checkpoint, restated from spec §10.1 (the T-numbers are the
 * spec's rows; test/cachetable/transitions.test.ts has a scenario per row we model, T6 inside
 * the T3 one):
 *
 *   dirty    D: `value` holds changes its block on disk lacks; C: it does not.
 *   pending  1: `checkpointPending`, the checkpoint in progress has not yet captured this
 *            PAIR's image, so before anyone changes the value that image must be taken; 0.
 *   pin      U: `valueLock` free; R: held by readers; W: held by one writer.
 *   clone    none, or in flight: `clone` holds a private copy that is being written as the
 *            checkpoint image.
 *   disk     `diskMutex` (disk_nb_mutex) is held for any I/O on the PAIR: a fetch, a write, or
 *            the write of its clone (the clone's writer holds it until the write settles).
 *
 * Transitions, and who makes them (functions are Cachetable's):
 *   T1   begin_checkpoint (turnOnPendingBits, holding the four cachetable locks): every PAIR
 *        of a cachefile that takes part, whatever its dirty, pin and fetch state, goes from
 *        pending 0 to 1 and is pushed at the head of the pending list. Marking without looking
 *        at `dirty` is what lets begin skip the PAIR's own lock.
 *   T2   A client write pin (getAndPin, tryGetAndPin, or a dependent PAIR of getAndPin/put)
 *        of a clean pending PAIR: the bit is read and cleared under pending_lock_cheap (read;
 *        write for the dependents of a put), checkpointComplete is called, and nothing is
 *        written: the block on disk is already the image.
 *   T3   The same, dirty, cachefile with a clone callback: the bit is cleared, diskMutex taken,
 *        the clone made (the PAIR becomes C, clone in flight) and its write started as a
 *        background job; the client keeps W and may change the value at once.
 *   T3'  That write settles: the clone is dropped, diskMutex released, the job counted off.
 *        If it failed, the PAIR is D again (its changes never reached the disk) and the
 *        checkpoint fails with the error (tokusim's own rule; PerconaFT asserts).
 *   T4   The same, dirty, no clone callback: the client writes the value for the checkpoint
 *        itself, under W and diskMutex, before its pin returns; the PAIR becomes C.
 *        tryGetAndPin never waits, so it refuses (changing nothing) where it would need T4,
 *        a sliced clone, or a busy diskMutex or pending_lock_cheap.
 *   T5   A read pin never looks at the bit: the PAIR stays pending and the reader sees the
 *        current value. A read pin cannot make the PAIR dirty.
 *   T6   unpin of a write pin with dirty: the PAIR becomes D; the bit is not touched.
 *   T7   The checkpoint thread (checkpointPendingPairs) pops a PAIR off the pending list and
 *        takes W (not expensive; a PAIR removed meanwhile is skipped). If it is D and pending:
 *        the bit is cleared, then with a clone callback the clone is made and W released at
 *        once, the clone's write running in the checkpoint write window (clone in flight);
 *        without one the value is written in the window and W is kept until that write
 *        lands. T7': otherwise the bit is cleared if set and W released, with no I/O.
 *   T8   The evictor takes an unpinned clean PAIR (no holder or waiter on either lock, no
 *        clone, clock count 0): it is removed without I/O; a set bit dies with it and it
 *        leaves the pending list.
 *   T9   The evictor, dirty PAIR: holding pending_lock_expensive (read), so no begin can fall
 *        between capture and write, it reads and clears the bit and writes the value with
 *        forCheckpoint = the captured bit, then removes the PAIR (or keeps it, now C, when
 *        someone started waiting for it during the write). A cachefile close writes its
 *        PAIRs the same way.
 *   T10  unpinAndRemove (the caller holds W): the PAIR becomes C, waits for its I/O to end,
 *        the bit is captured and cleared under the write list lock and pending_lock_cheap,
 *        the PAIR is removed and its blocknum freed in _current, and in _inprogress too iff
 *        the bit was set.
 *   T13  put: a new PAIR starts D, W, pending 0. Its blocknum is allocated under the same
 *        write list lock hold that inserts it, so it is never pending in the checkpoint that
 *        is running when it is created.
 *   T14  A miss (getAndPin of an uncached blocknum): a new PAIR starts C, W, pending 0,
 *        inserted under the write list lock and fetched under diskMutex. A begin during the
 *        fetch marks it (T1) and the fetching client receives it still pending; nothing
 *        resolves it there, so the checkpoint captures what that client writes into it.
 *   Not modelled: T11 (maybe_get_and_pin refusing clean or pending PAIRs), T12 (the
 *   cleaner) and partial eviction; tokusim has none of them.
 *
 * Invariants (checked in cachetable.ts where they can break):
 *  - (cachefile, blocknum) and the callbacks never change after creation.
 *  - `checkpointPending` is set only by begin_checkpoint (under both pending locks). It is
 *    cleared only by a holder of W: a client also holds pending_lock_cheap, the evictor
 *    pending_lock_expensive, a removal the write list lock (which begin cannot hold at the
 *    same time); the checkpoint thread needs W alone.
 *  - A pending PAIR belongs to a cachefile with forCheckpoint and is on the pending list
 *    (I1); a PAIR on the list may already have its bit cleared, since only the checkpoint
 *    thread and removal unlink it.
 *  - Each bit set at begin is cleared exactly once per checkpoint, and a write with
 *    forCheckpoint happens only for a PAIR whose bit its writer cleared, so at most one
 *    checkpoint image per PAIR per checkpoint (I4, I8).
 *  - No pending bit, no clone and an empty pending list when a begin starts and when
 *    checkpointPendingPairs returns (I2, I3): the drain waits for every clone write.
 *  - `clone` is non-null only between the clone and the end of its write, and only while
 *    `diskMutex` is held, with the bit already 0 (I6); a second clone is never made while
 *    one exists (I7); a PAIR with a clone is never evicted or removed.
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
  /**
   * The same clone as `clone`, made cooperatively: `cloneSteps` runs to its end with
   * `yieldNow` between steps (each `yield` of the generator marks a bounded slice of work), so
   * one big copy does not hold up other tasks; PerconaFT gets the same from its checkpoint
   * thread. Present only beside `clone`, on a storage that yields.
   */
  slicedClone?: SlicedClone<V>;
  /** Called when a pending bit is resolved, before any write (FT: rotate flow counters). */
  checkpointComplete?: (value: V, blocknum: bigint) => void;
  /** Free the blocknum on unpin_and_remove (BTT free_blocknum with for_checkpoint). */
  removeKey?: (blocknum: bigint, forCheckpoint: boolean) => void | Promise<void>;
}

/** A clone made in bounded steps with yields between them (CachefileCallbacks.slicedClone). */
export interface SlicedClone<V> {
  /** Clones a value in bounded steps (each `yield` ends one), returning the clone at the end. */
  cloneSteps(value: V, blocknum: bigint): Generator<void, CloneResult<V>, void>;
  /** Lets other tasks run between clone steps. */
  yieldNow(): Promise<void>;
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
  /** True while no pin has reached the PAIR except the one that fetched it (see Cachetable.unpin's `scan`). */
  onlyFetchPin = false;
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
