/**
 * The cachetable: PAIRs keyed by (cachefile, blocknum), the pair list with its locks, pins,
 * clone-on-write for the checkpoint, eviction and the checkpointer-facing hooks
 * (spec checkpoint-algorithm.md §2–§7, §10).
 *
 * Threads are async tasks; synchronous code runs atomically, which stands in for PAIR->mutex.
 * The cachetable does no I/O: the cachefile's fetch and flush callbacks do.
 *
 * Invariants (checked where they can break):
 *  - Lock order §3.2 (LockTask): pending_expensive < list < cachefile list < pending_cheap;
 *    blocking PAIR-lock acquisitions happen with no ordered lock held (I14).
 *  - I1: a PAIR with checkpointPending belongs to a for_checkpoint cachefile and is on the
 *    pending list.
 *  - I2: turnOnPendingBits starts with no pending bit, an empty pending list, no clone and
 *    no clone job.
 *  - I3: checkpointPendingPairs returns with no pending bit, an empty list, no clone.
 *  - I4/I8: a pending bit is cleared exactly once; a for_checkpoint write happens only for
 *    a PAIR whose bit the writer captured, so at most once per PAIR per checkpoint.
 *  - I6/I7: a clone exists only under disk_nb_mutex, never two at once, and a PAIR with a
 *    clone is never evicted or removed before the clone is written; a clone whose write
 *    failed is dropped and its PAIR left dirty.
 *  - unpinAndRemove releases the caller's write pin whether or not the removal succeeds.
 *  - Eviction (§7.4) never takes a PAIR with holders or waiters on either lock, or a clone.
 *  - A read pin never dirties a PAIR; a new PAIR (put) is never pending (T13).
 *  - sizeCurrent equals the sum of the sizes of the PAIRs in the table.
 *  - A PAIR that left the table (removed) no longer holds its value.
 *  - A scan's unpin (unpin's `scan`) removes a PAIR only if that pin fetched it, no other pin
 *    reached it since, and it is clean, not pending, without a clone and with nobody holding
 *    or waiting on its locks: no write and no pending bit change come of it (dropScanned).
 *  - The checkpoint thread's writes run in its write window (write-window.ts) as clone jobs, so
 *    waiting for the clone jobs is waiting for the window to drain, and I3 holds on return.
 *  - A sliced clone (CachefileCallbacks.slicedClone) runs entirely under the PAIR's write lock and
 *    disk_nb_mutex, and the PAIR's fields (clone, dirty, size) change only after its last
 *    slice, so no other task can observe a half-made clone. Without a yield hook the slices
 *    run back to back in one synchronous step, exactly like an ordinary clone.
 */

import { invariant, TokusimError } from '../base/errors.js';
import { isBugPlanted } from '../base/bug-switches.js';
import { BackgroundJobManager } from './background-jobs.js';
import type { CachetableEmitter, CachetableListener, PendingResolver } from './events.js';
import { LockLevel, LockTask, OrderedLock } from './lock-order.js';
import { Cachefile, CLOCK_INITIAL_COUNT, CLOCK_SATURATION, Pair, type CachefileCallbacks, type CloneResult } from './pair.js';
import { CheckpointWriteWindow } from './write-window.js';

/** Options for a {@link Cachetable}. */
export interface CachetableOptions {
  /** Evict when the PAIRs plus clones exceed this many bytes. Default: unlimited. */
  memoryLimit?: number;
  /** Run the evictor in the background after pins that leave the table over the limit. */
  autoEvict?: boolean;
  listener?: CachetableListener;
}

/** A PAIR the caller already holds in write mode, resolved together with a pin (dep pairs). */
export interface DependentPair {
  readonly pair: Pair<any>;
  /** ORed into the PAIR's dirty bit before it is resolved. */
  readonly dirty?: boolean;
}

/** How to pin a PAIR: read or write, and whether the write pin may take long. */
export interface PinOptions {
  mode: 'read' | 'write';
  /** A write pin that may take long (PL_WRITE_EXPENSIVE). Default true for writes. */
  expensive?: boolean;
  dependents?: readonly DependentPair[];
  task?: LockTask;
}

/** Counters of a {@link Cachetable}. */
export interface CachetableStats {
  /** Bits set by turnOnPendingBits, summed over checkpoints. */
  pairsMarkedPending: number;
  /** Bits cleared, by resolver. */
  pendingResolved: Record<PendingResolver, number>;
  pairsWritten: number;
  pairsWrittenForCheckpoint: number;
  pairsCloned: number;
  bytesWritten: number;
  bytesWrittenForCheckpoint: number;
  pairsEvicted: number;
  /** Of pairsEvicted, the PAIRs a scan's unpin dropped (Cachetable.unpin's `scan`). */
  pairsDroppedAfterScan: number;
  pairsFetched: number;
}

type AnyPair = Pair<any>;

const NO_UNPIN_OPTIONS: { dirty?: boolean; size?: number } = Object.freeze({});
type AnyCachefile = Cachefile<any>;

function pairKey(cf: AnyCachefile, blocknum: bigint): string {
  return `${cf.id}/${blocknum}`;
}

/** The cachetable: PAIRs of every open file with their locks, pin and unpin, clone on write, eviction and the checkpoint's pending bits. */
export class Cachetable {
  /** Where the cachetable's trace events go (no listener: nothing is built). */
  readonly events: CachetableEmitter = {};
  /** The lock PerconaFT calls pending_lock_expensive. */
  readonly pendingExpensive: OrderedLock;
  /** The lock on the PAIR list. */
  readonly listLock: OrderedLock;
  /** The lock on the list of open cachefiles. */
  readonly cachefileListLock: OrderedLock;
  /** The lock PerconaFT calls pending_lock_cheap. */
  readonly pendingCheap: OrderedLock;
  /** The checkpoint's writes in flight (clients' clone writes and the write window's), which checkpointPendingPairs waits for. */
  readonly cloneJobs = new BackgroundJobManager('checkpoint clones');
  /** The checkpoint thread's PAIR writes in flight, each one of cloneJobs (16 writes, 16 MiB by default). */
  private readonly writeWindow = new CheckpointWriteWindow(this.cloneJobs, 16, 16 * 1024 * 1024);
  /** The task of every tryGetAndPin: it takes and drops its ordered locks within one synchronous call, so one task serves them all. */
  private readonly tryPinTask = new LockTask('tryGetAndPin');
  /** The cachetable's counters. */
  readonly stats: CachetableStats = {
    pairsMarkedPending: 0,
    pendingResolved: { client: 0, checkpoint: 0, evictor: 0, remove: 0 },
    pairsWritten: 0,
    pairsWrittenForCheckpoint: 0,
    pairsCloned: 0,
    bytesWritten: 0,
    bytesWrittenForCheckpoint: 0,
    pairsEvicted: 0,
    pairsDroppedAfterScan: 0,
    pairsFetched: 0,
  };
  /** Evict once PAIR values plus clones exceed this many bytes. */
  memoryLimit: number;
  /** Whether the evictor runs in the background after pins that leave the table over the limit. */
  autoEvict: boolean;

  private readonly table = new Map<string, AnyPair>();
  /** The clock ring (insertion order); the evictor's hand indexes it. */
  private readonly clock: AnyPair[] = [];
  private clockHand = 0;
  private pendingHead: AnyPair | null = null;
  private readonly cachefiles = new Map<number, AnyCachefile>();
  private nextCachefileId = 1;
  private sizeCurrentBytes = 0;
  private sizeClonedBytes = 0;
  private evictorRun: Promise<number> | null = null;
  private readonly backgroundFailures: unknown[] = [];

  /** An empty cachetable configured by options. */
  constructor(options: CachetableOptions = {}) {
    this.events.emit = options.listener;
    this.memoryLimit = options.memoryLimit ?? Number.POSITIVE_INFINITY;
    this.autoEvict = options.autoEvict ?? true;
    this.pendingExpensive = new OrderedLock('pending_lock_expensive', LockLevel.pendingExpensive, this.events);
    this.listLock = new OrderedLock('list_lock', LockLevel.list, this.events);
    this.cachefileListLock = new OrderedLock('cachefile_list_lock', LockLevel.cachefileList, this.events);
    this.pendingCheap = new OrderedLock('pending_lock_cheap', LockLevel.pendingCheap, this.events);
  }

  /** Install or remove the trace listener. */
  setListener(listener: CachetableListener | undefined): void {
    this.events.emit = listener;
  }

  /**
   * How many checkpoint-thread PAIR writes may be in flight at once (at least 1). With 1 the
   * checkpoint thread writes each PAIR before it takes the next, as PerconaFT does; a larger
   * window lets the disk work on several writes while the thread clones (or write-locks) the
   * next PAIRs (src/cachetable/write-window.ts; what it buys: docs/checkpoint.md).
   */
  get checkpointWriteWindow(): number {
    return this.writeWindow.maxWrites;
  }

  /** Sets how many checkpoint-thread PAIR writes may be in flight at once. */
  set checkpointWriteWindow(writes: number) {
    this.writeWindow.maxWrites = writes;
  }

  /** The most bytes of PAIR values in the checkpoint write window at once; one write may always run. */
  get checkpointWriteWindowBytes(): number {
    return this.writeWindow.maxBytes;
  }

  /** Sets the most bytes of PAIR values in the checkpoint write window at once. */
  set checkpointWriteWindowBytes(bytes: number) {
    this.writeWindow.maxBytes = bytes;
  }

  /** Bytes held by PAIR values. */
  get sizeCurrent(): number {
    return this.sizeCurrentBytes;
  }

  /** Bytes held by clones that are waiting to be written. */
  get sizeCloned(): number {
    return this.sizeClonedBytes;
  }

  /** How many PAIRs the cachetable holds. */
  get pairCount(): number {
    return this.table.size;
  }

  /** All PAIRs, in clock order (a snapshot, for inspection). */
  pairs(): AnyPair[] {
    return [...this.clock];
  }

  /** PAIRs on the pending list, head first (a snapshot). */
  pendingPairs(): AnyPair[] {
    const out: AnyPair[] = [];
    for (let p = this.pendingHead; p !== null; p = p.pendingNext) out.push(p);
    return out;
  }

  /** The PAIR for (cf, blocknum) if cached; no lock, no pin (inspection only). */
  peek<V>(cf: Cachefile<V>, blocknum: bigint): Pair<V> | undefined {
    // The cachefile's own map, keyed by the blocknum itself: no key string is built per
    // lookup (insertPair and unlinkPair keep it and the table in step).
    return cf.pairs.get(blocknum);
  }

  // ---------------------------------------------------------------- cachefiles

  /** Opens a cachefile named name whose blocks are read and written through callbacks. */
  async openCachefile<V>(name: string, callbacks: CachefileCallbacks<V>): Promise<Cachefile<V>> {
    const task = new LockTask(`open ${name}`);
    return this.cachefileListLock.with(task, 'write', () => {
      const cf = new Cachefile<V>(this.nextCachefileId++, name, callbacks);
      this.cachefiles.set(cf.id, cf);
      return cf;
    });
  }

  /** Open cachefiles (m_active_fileid), in open order, under the cachefile list lock. */
  async activeCachefiles(): Promise<AnyCachefile[]> {
    const task = new LockTask('list cachefiles');
    return this.cachefileListLock.with(task, 'read', () => [...this.cachefiles.values()]);
  }

  /**
   * Write every dirty PAIR of cf (for_checkpoint = its captured pending bit), waiting for
   * pins and clone writes. With remove, the PAIRs are also dropped from the table.
   */
  async flushCachefile(cf: AnyCachefile, options: { remove?: boolean } = {}): Promise<void> {
    this.checkOpen(cf);
    const task = new LockTask(`flush ${cf.name}`);
    for (const p of [...cf.pairs.values()]) {
      task.checkBlockingPairAcquire(`value_rwlock ${p}`);
      await p.valueLock.writeLock(true);
      if (p.removed) {
        p.valueLock.writeUnlock();
        continue;
      }
      try {
        await this.waitDiskIdle(task, p);
        await this.writeAndMaybeRemove(task, p, options.remove === true);
      } finally {
        if (p.removed) this.events.emit?.({ type: 'pair-removed', cachefile: cf.name, blocknum: p.blocknum, wasPending: false });
        p.valueLock.writeUnlock();
      }
    }
  }

  /** toku_cachefile_close: flush and drop all PAIRs, then unregister. Not while for_checkpoint. */
  async closeCachefile(cf: AnyCachefile): Promise<void> {
    this.checkOpen(cf);
    invariant(!cf.forCheckpoint, () => `close of ${cf.name} while it takes part in a checkpoint`);
    await this.flushCachefile(cf, { remove: true });
    invariant(cf.pairs.size === 0, () => `close of ${cf.name}: ${cf.pairs.size} PAIR(s) were added during the close`);
    const task = new LockTask(`close ${cf.name}`);
    await this.cachefileListLock.with(task, 'write', () => {
      this.cachefiles.delete(cf.id);
      cf.closed = true;
    });
    this.throwBackgroundFailure();
  }

  // ---------------------------------------------------------------- client pins

  /**
   * Pin (cf, blocknum), fetching it on a miss. A write pin resolves the pending bit first
   * (§7.1): clean → just cleared; dirty → cloned (background write) or written now.
   * The miss path does not re-check the fetched PAIR's own bit (T14).
   */
  async getAndPin<V>(cf: Cachefile<V>, blocknum: bigint, options: PinOptions): Promise<Pair<V>> {
    this.checkOpen(cf);
    // The task's name is built only if something reports it (a lock-order failure, a trace).
    const task = options.task ?? new LockTask(() => `getAndPin ${cf.name}:${blocknum}`);
    const write = options.mode === 'write';
    const expensive = write && options.expensive !== false;
    for (;;) {
      // Every lock is first tried synchronously: an uncontended pin makes no promise of its
      // own and never gives up the thread, so it allocates little (fewer young-generation
      // GCs) and cannot be overtaken halfway.
      if (!this.listLock.tryAcquire(task, 'read')) await this.listLock.acquire(task, 'read');
      let p = this.peek(cf, blocknum);
      let listMode: 'read' | 'write' = 'read';
      if (p === undefined) {
        this.listLock.release(task, 'read');
        await this.listLock.acquire(task, 'write');
        listMode = 'write';
        p = this.peek(cf, blocknum);
        if (p === undefined) return this.pinOnMiss(task, cf, blocknum, options);
      }
      // Queue on the PAIR's lock synchronously with dropping the list lock, so that no
      // evictor can see it unused in between.
      this.listLock.release(task, listMode);
      task.checkBlockingPairAcquire(p.valueLock.name);
      if (!(write ? p.valueLock.tryWriteLock(expensive) : p.valueLock.tryReadLock())) {
        await (write ? p.valueLock.writeLock(expensive) : p.valueLock.readLock());
      }
      if (p.removed) {
        this.unlockValue(p);
        continue;
      }
      p.count = Math.min(CLOCK_SATURATION, p.count + 1);
      p.onlyFetchPin = false;
      if (write && !isBugPlanted('checkpoint-no-clone')) {
        const deps = options.dependents;
        if (deps === undefined || deps.length === 0) {
          // The common case, without the arrays of the dependent-pair path.
          const captured = this.capturePendingOne(task, p);
          if (captured === true || (captured !== false && (await captured))) await this.writeLockedPairForCheckpoint(task, p, true);
        } else {
          const targets = [p, ...deps.map((d) => d.pair)];
          const captured = await this.capturePending(task, targets, 'read', 'client');
          await this.resolveCaptured(task, targets, captured, deps);
        }
      }
      return p;
    }
  }

  /**
   * capturePending for one PAIR by a client: read and clear its bit under pending_lock_cheap
   * (read), taken synchronously when it is free (the usual case: only begin_checkpoint takes
   * it in write mode). Returns a plain boolean then, else a promise of it.
   */
  private capturePendingOne(task: LockTask, p: AnyPair): boolean | Promise<boolean> {
    if (!this.pendingCheap.tryAcquire(task, 'read')) {
      return this.capturePending(task, [p], 'read', 'client').then((c) => c[0] === true);
    }
    try {
      return this.clearPending(p, 'client');
    } finally {
      this.pendingCheap.release(task, 'read');
    }
  }

  /** Miss path, entered holding the list lock in write mode (released here). */
  private async pinOnMiss<V>(task: LockTask, cf: Cachefile<V>, blocknum: bigint, options: PinOptions): Promise<Pair<V>> {
    const p = new Pair<V>(cf, blocknum, undefined as V, 0, false);
    invariant(p.valueLock.tryWriteLock(true), 'a new PAIR is unlocked');
    this.insertPair(p);
    let captured: boolean[] = [];
    try {
      if (options.mode === 'write' && options.dependents !== undefined) {
        captured = await this.capturePending(task, options.dependents.map((d) => d.pair), 'read', 'client');
      }
    } finally {
      this.listLock.release(task, 'write');
    }
    invariant(p.diskMutex.tryWriteLock(), 'a new PAIR has no disk I/O');
    try {
      const fetched = await cf.callbacks.fetch(blocknum);
      p.value = fetched.value;
      this.setSize(p, fetched.size);
      this.stats.pairsFetched++;
      p.onlyFetchPin = true;
    } catch (err) {
      p.diskMutex.writeUnlock();
      await this.removeFromTable(task, p, 'remove');
      p.valueLock.writeUnlock();
      throw err;
    }
    p.diskMutex.writeUnlock();
    if (options.mode === 'write') {
      const deps = options.dependents ?? [];
      await this.resolveCaptured(task, deps.map((d) => d.pair), captured.length > 0 ? captured : deps.map(() => false), deps);
    } else {
      // Downgrade: the fetch ran under the write lock; the caller asked for a read pin.
      p.valueLock.writeUnlock();
      await p.valueLock.readLock();
      if (p.removed) {
        p.valueLock.readUnlock();
        return this.getAndPin(cf, blocknum, { ...options, task });
      }
    }
    this.maybeEvictInBackground();
    return p;
  }

  /**
   * Insert a new, dirty PAIR, write-pinned (T13: never pending). `blocknum` may be a function
   * (FT: allocate the BLOCKNUM) that runs under the write list lock, so that no
   * begin_checkpoint falls between allocating and inserting.
   */
  async put<V>(
    cf: Cachefile<V>,
    blocknum: bigint | (() => bigint),
    value: V,
    size: number,
    options: { dependents?: readonly DependentPair[]; task?: LockTask } = {},
  ): Promise<Pair<V>> {
    this.checkOpen(cf);
    const task = options.task ?? new LockTask(`put ${cf.name}`);
    await this.listLock.acquire(task, 'write');
    let p: Pair<V>;
    let captured: boolean[] = [];
    try {
      const b = typeof blocknum === 'function' ? blocknum() : blocknum;
      invariant(this.peek(cf, b) === undefined, () => `put of ${cf.name}:${b}, which is already cached`);
      p = new Pair<V>(cf, b, value, 0, true);
      invariant(p.valueLock.tryWriteLock(true), 'a new PAIR is unlocked');
      this.insertPair(p);
      this.setSize(p, size);
      if (options.dependents !== undefined) {
        captured = await this.capturePending(task, options.dependents.map((d) => d.pair), 'write', 'client');
      }
    } finally {
      this.listLock.release(task, 'write');
    }
    const deps = options.dependents ?? [];
    await this.resolveCaptured(task, deps.map((d) => d.pair), captured.length > 0 ? captured : deps.map(() => false), deps);
    this.maybeEvictInBackground();
    return p;
  }

  /**
   * Release a pin. `dirty` ORs into the PAIR (write pins only); `size` replaces its size.
   * `scan` says the pin was a scan's, which took what it needed and moves on: when this pin
   * fetched the PAIR, no other pin has reached it since, and it is clean, unlocked and not
   * pending, it leaves the table now (see dropScanned).
   */
  unpin(p: AnyPair, options: { dirty?: boolean; size?: number; scan?: boolean } = NO_UNPIN_OPTIONS): void {
    // Checks are tested before their messages are built (no allocation on the fast path).
    if (p.removed) invariant(false, () => `unpin of removed PAIR ${p}`);
    if (p.valueLock.writeLocked) {
      if (options.dirty === true) p.dirty = true;
      if (options.size !== undefined) this.setSize(p, options.size);
      p.valueLock.writeUnlock();
    } else {
      if (p.valueLock.readerCount <= 0) invariant(false, () => `unpin of ${p}, which is not pinned`);
      if (options.dirty === true) invariant(false, () => `a read pin of ${p} cannot dirty it`);
      if (options.size !== undefined) this.setSize(p, options.size);
      p.valueLock.readUnlock();
    }
    if (options.scan === true && p.onlyFetchPin) this.dropScanned(p);
    this.maybeEvictInBackground();
  }

  /**
   * A scan's PAIR leaves the table as soon as the scan has read it: a clean eviction (no
   * write), done synchronously or not at all. Without it every node a long scan passes over
   * would stay cached up to the memory limit (with no limit, the whole dictionary), evicting
   * what other work uses. Only a PAIR nothing else has pinned since its fetch qualifies, so a
   * node that other work reads stays; one that is pinned, waited for, dirty, cloned or
   * checkpoint-pending stays too, so checkpoints and writes see exactly what they would
   * without it. A PAIR the scan found already cached is not touched.
   */
  private dropScanned(p: AnyPair): void {
    const task = this.tryPinTask;
    if (p.dirty || p.checkpointPending || !Cachetable.evictable(p)) return;
    if (!this.listLock.tryAcquire(task, 'write')) return;
    try {
      if (!p.valueLock.tryWriteLock(true)) return;
      this.unlinkPair(p);
      p.valueLock.writeUnlock();
    } finally {
      this.listLock.release(task, 'write');
    }
    this.stats.pairsEvicted++;
    this.stats.pairsDroppedAfterScan++;
    this.events.emit?.({ type: 'pair-evicted', cachefile: p.cachefile.name, blocknum: p.blocknum, wasDirty: false, wasPending: false });
  }

  /** §7.5: the caller holds the write pin; the PAIR leaves the table and its blocknum is freed. */
  async unpinAndRemove(p: AnyPair): Promise<void> {
    invariant(p.valueLock.writeLocked && !p.removed, () => `unpinAndRemove of ${p} without its write pin`);
    const task = new LockTask(`unpinAndRemove ${p}`);
    // The write pin is released on every path: a removal that fails must not leave the PAIR
    // locked for ever, or the next task that pins it (the checkpointer) waits for ever.
    try {
      p.dirty = false;
      await this.waitDiskIdle(task, p);
      let captured = false;
      await this.listLock.acquire(task, 'write');
      try {
        captured = (await this.capturePending(task, [p], 'read', 'remove'))[0] ?? false;
        this.unlinkPair(p);
      } finally {
        this.listLock.release(task, 'write');
      }
      this.emitRemoved(p, captured);
      await p.cachefile.callbacks.removeKey?.(p.blocknum, captured);
    } finally {
      p.valueLock.writeUnlock();
    }
  }

  // ---------------------------------------------------------------- non-blocking pin (a fast path beside getAndPin)

  /**
   * The non-blocking pin (the fast path of PerconaFT's toku_cachetable_get_and_pin_nonblocking,
   * which client operations use): pin (cf, blocknum) synchronously if that needs no wait and
   * no I/O, or return undefined having changed nothing (then call getAndPin). It pins a PAIR
   * already in the table whose lock is free now. A write pin of a pending PAIR resolves the bit
   * here only when that needs no wait either: a clean PAIR (the bit is just cleared), or a
   * dirty one whose cachefile clones synchronously (a clone callback and no sliced clone) and
   * whose disk_nb_mutex is free; it is cloned here and the clone written in the background,
   * exactly as getAndPin does. Everything happens in one synchronous step, so the checks and
   * the changes cannot be separated by another task.
   */
  tryGetAndPin<V>(cf: Cachefile<V>, blocknum: bigint, options: Pick<PinOptions, 'mode' | 'expensive'>): Pair<V> | undefined {
    this.checkOpen(cf);
    const task = this.tryPinTask;
    invariant(!task.holdsAny(), () => `tryGetAndPin's task still holds ${task.holding().join(', ')}`);
    const write = options.mode === 'write';
    if (!this.listLock.tryAcquire(task, 'read')) return undefined;
    const p = this.peek(cf, blocknum);
    const locked = p !== undefined && !p.removed && (write ? p.valueLock.tryWriteLock(options.expensive !== false) : p.valueLock.tryReadLock());
    this.listLock.release(task, 'read');
    if (!locked) return undefined;
    if (write && p.checkpointPending && !isBugPlanted('checkpoint-no-clone')) {
      const cloneNow = p.dirty && p.cachefile.cloneable && !this.clonesInSlices(p) && p.diskMutex.users() === 0;
      if ((p.dirty && !cloneNow) || !this.pendingCheap.tryAcquire(task, 'read')) {
        this.unlockValue(p);
        return undefined;
      }
      try {
        this.clearPending(p, 'client');
      } finally {
        this.pendingCheap.release(task, 'read');
      }
      p.cachefile.callbacks.checkpointComplete?.(p.value, p.blocknum);
      if (cloneNow) {
        invariant(p.diskMutex.tryWriteLock(), () => `disk_nb_mutex of ${p} was free a moment ago`);
        invariant(this.clonePair(p, 'client') === undefined, () => `the clone of ${p} was to be synchronous`);
        this.writeCloneInBackground(p);
      }
    }
    p.count = Math.min(CLOCK_SATURATION, p.count + 1);
    p.onlyFetchPin = false;
    return p;
  }

  // ---------------------------------------------------------------- pending bits (§7.1)

  /** Read and clear the bits of `pairs` under pending_lock_cheap; the caller holds their W. */
  private async capturePending(
    task: LockTask,
    pairs: readonly AnyPair[],
    mode: 'read' | 'write',
    by: PendingResolver,
  ): Promise<boolean[]> {
    return this.pendingCheap.with(task, mode, () => pairs.map((p) => this.clearPending(p, by)));
  }

  /** Clear p's bit if set; returns whether it was set. Caller holds the right locks. */
  private clearPending(p: AnyPair, by: PendingResolver): boolean {
    if (!p.checkpointPending) return false;
    p.checkpointPending = false;
    this.stats.pendingResolved[by]++;
    this.events.emit?.({ type: 'pending-cleared', cachefile: p.cachefile.name, blocknum: p.blocknum, by, dirty: p.dirty });
    return true;
  }

  /**
   * checkpoint_pair_and_dependent_pairs: OR the dependents' dirty flags in, then resolve each
   * captured bit in order (the pinned PAIR first when there is one). All are write-pinned.
   */
  private async resolveCaptured(
    task: LockTask,
    pairs: readonly AnyPair[],
    captured: readonly boolean[],
    dependents: readonly DependentPair[] | undefined,
  ): Promise<void> {
    for (const d of dependents ?? []) {
      invariant(d.pair.valueLock.writeLocked, () => `dependent PAIR ${d.pair} is not write-pinned`);
      if (d.dirty === true) d.pair.dirty = true;
    }
    invariant(pairs.length === captured.length, 'one captured bit per PAIR');
    for (let i = 0; i < pairs.length; i++) await this.writeLockedPairForCheckpoint(task, pairs[i]!, captured[i]!);
  }

  /**
   * Take disk_nb_mutex and clone the PAIR (the caller holds W). On return the mutex is held
   * and the clone installed; a failed (sliced) clone releases the mutex before rethrowing.
   */
  private async cloneUnderDiskMutex(task: LockTask, p: AnyPair, who: 'client' | 'checkpoint'): Promise<void> {
    await this.acquireDisk(task, p);
    const slicing = this.clonePair(p, who);
    if (slicing === undefined) return;
    try {
      await slicing;
    } catch (err) {
      p.diskMutex.writeUnlock();
      throw err;
    }
  }

  /** write_locked_pair_for_checkpoint: the caller holds W and has captured `wasPending`. */
  private async writeLockedPairForCheckpoint(task: LockTask, p: AnyPair, wasPending: boolean): Promise<void> {
    if (!wasPending) return;
    p.cachefile.callbacks.checkpointComplete?.(p.value, p.blocknum);
    if (!p.dirty) return;
    if (p.cachefile.cloneable) {
      await this.cloneUnderDiskMutex(task, p, 'client');
      this.writeCloneInBackground(p);
    } else {
      await this.writeLockedPair(task, p, true);
    }
  }

  // ---------------------------------------------------------------- writes and clones

  /**
   * clone_pair (§7.2): W and disk_nb_mutex held. Returns a promise only when the clone is
   * sliced with yields (CachefileCallbacks.slicedClone); otherwise it completes synchronously, so
   * callers await only what is returned and the unsliced path keeps its exact scheduling.
   */
  private clonePair(p: AnyPair, by: 'client' | 'checkpoint'): Promise<void> | undefined {
    invariant(p.valueLock.writeLocked && p.diskMutex.writeLocked, () => `clone of ${p} without its locks`);
    invariant(p.clone === null, () => `I7: a second clone of ${p} while one is in flight`);
    const clone = p.cachefile.callbacks.clone;
    invariant(clone !== undefined, () => `clone of ${p}, whose cachefile has no clone callback`);
    const sliced = p.cachefile.callbacks.slicedClone;
    if (sliced !== undefined) {
      return this.clonePairInSlices(p, by, sliced.cloneSteps(p.value, p.blocknum), sliced.yieldNow);
    }
    this.installClone(p, by, clone(p.value, p.blocknum));
    return undefined;
  }

  /** The clone is made: record it, mark the PAIR clean, charge its memory. */
  private installClone(p: AnyPair, by: 'client' | 'checkpoint', r: CloneResult<unknown>): void {
    p.clone = { value: r.clone, size: r.cloneSize };
    p.dirty = false;
    if (r.newSize !== undefined) this.setSize(p, r.newSize);
    this.sizeClonedBytes += r.cloneSize;
    this.stats.pairsCloned++;
    this.events.emit?.({ type: 'pair-cloned', cachefile: p.cachefile.name, blocknum: p.blocknum, size: r.cloneSize, by });
  }

  /** Whether clonePair would clone p in slices (asynchronously) rather than in one step. */
  private clonesInSlices(p: AnyPair): boolean {
    return p.cachefile.callbacks.slicedClone !== undefined;
  }

  /** Run the clone's steps with a yield after each; W and disk_nb_mutex stay held throughout. */
  private async clonePairInSlices(
    p: AnyPair,
    by: 'client' | 'checkpoint',
    steps: Generator<void, CloneResult<unknown>, void>,
    yieldNow: () => Promise<void>,
  ): Promise<void> {
    for (;;) {
      const step = steps.next();
      if (step.done === true) {
        invariant(p.valueLock.writeLocked && p.diskMutex.writeLocked && p.clone === null, () => `sliced clone of ${p} lost its locks`);
        this.installClone(p, by, step.value);
        return;
      }
      await yieldNow();
    }
  }

  /** A client's clone, written by the clone job manager; disk_nb_mutex (held) is released after the write. */
  private writeCloneInBackground(p: AnyPair): void {
    this.cloneJobs.run(async () => {
      try {
        await this.writeClone(p);
      } finally {
        p.diskMutex.writeUnlock();
      }
    });
  }

  /** Write the clone (for_checkpoint, is_clone) and drop it. disk_nb_mutex held by the caller. */
  private async writeClone(p: AnyPair): Promise<void> {
    const c = p.clone;
    invariant(c !== null && p.diskMutex.writeLocked, () => `clone write of ${p} without a clone or its disk lock`);
    let bytes: number;
    try {
      bytes = await p.cachefile.callbacks.flush({
        cachefile: p.cachefile,
        blocknum: p.blocknum,
        value: c.value,
        forCheckpoint: true,
        isClone: true,
      });
    } catch (err) {
      // Nothing will ever write this clone now (the checkpoint it belongs to fails with err),
      // so it is dropped (I6: a PAIR keeps a clone only while its write is in flight) and the
      // PAIR is dirty again: its value holds changes that never reached the disk.
      p.clone = null;
      this.sizeClonedBytes -= c.size;
      p.dirty = true;
      throw err;
    }
    p.clone = null;
    this.sizeClonedBytes -= c.size;
    this.noteWritten(p, true, true, bytes);
  }

  /** cachetable_write_locked_pair: W held; write the value under disk_nb_mutex, mark clean. */
  private async writeLockedPair(task: LockTask, p: AnyPair, forCheckpoint: boolean): Promise<void> {
    invariant(p.valueLock.writeLocked, () => `write of ${p} without its write lock`);
    await this.acquireDisk(task, p);
    try {
      await this.writeValueHoldingDisk(p, forCheckpoint);
    } finally {
      p.diskMutex.writeUnlock();
    }
  }

  /** The write itself: W and disk_nb_mutex held by the caller, who also releases them. */
  private async writeValueHoldingDisk(p: AnyPair, forCheckpoint: boolean): Promise<void> {
    invariant(p.valueLock.writeLocked && p.diskMutex.writeLocked, () => `write of ${p} without its locks`);
    const bytes = await p.cachefile.callbacks.flush({
      cachefile: p.cachefile,
      blocknum: p.blocknum,
      value: p.value,
      forCheckpoint,
      isClone: false,
    });
    this.setSize(p, bytes);
    p.dirty = false;
    this.noteWritten(p, forCheckpoint, false, bytes);
  }

  private noteWritten(p: AnyPair, forCheckpoint: boolean, isClone: boolean, bytes: number): void {
    this.stats.pairsWritten++;
    this.stats.bytesWritten += bytes;
    if (forCheckpoint) {
      this.stats.pairsWrittenForCheckpoint++;
      this.stats.bytesWrittenForCheckpoint += bytes;
    }
    this.events.emit?.({ type: 'pair-written', cachefile: p.cachefile.name, blocknum: p.blocknum, forCheckpoint, isClone, bytes });
  }

  /**
   * Eviction-style write (cachetable_evicter): hold pending_lock_expensive (read) across
   * capturing the bit, the write and the removal, so no begin_checkpoint can fall between
   * them (§7.4). W held, disk idle. The PAIR is removed only when asked and when nobody
   * else waits for it. Returns whether it was removed.
   */
  private async writeAndMaybeRemove(task: LockTask, p: AnyPair, remove: boolean): Promise<boolean> {
    return this.pendingExpensive.with(task, 'read', async () => {
      if (p.dirty) {
        const captured = this.clearPending(p, 'evictor');
        await this.writeLockedPair(task, p, captured);
      }
      if (!remove || p.valueLock.users() > 1 || p.diskMutex.users() > 0) return false;
      await this.removeFromTable(task, p, 'evictor');
      return true;
    });
  }

  /** Take disk_nb_mutex: at once if free, else by blocking (only with no ordered lock held). */
  private async acquireDisk(task: LockTask, p: AnyPair): Promise<void> {
    if (p.diskMutex.tryWriteLock()) return;
    task.checkBlockingPairAcquire(`disk_nb_mutex ${p}`);
    await p.diskMutex.writeLock();
  }

  /** Wait until no I/O runs on p. With W held no new clone can start, so it stays idle. */
  private async waitDiskIdle(task: LockTask, p: AnyPair): Promise<void> {
    await this.acquireDisk(task, p);
    p.diskMutex.writeUnlock();
  }

  private unlockValue(p: AnyPair): void {
    if (p.valueLock.writeLocked) p.valueLock.writeUnlock();
    else p.valueLock.readUnlock();
  }

  // ---------------------------------------------------------------- evictor (§7.4)

  /** Whether the evictor may take p now: nobody holds or waits on either lock, no clone. */
  static evictable(p: AnyPair): boolean {
    return !p.removed && p.valueLock.users() === 0 && p.diskMutex.users() === 0 && p.clone === null;
  }

  /**
   * Evict until the PAIRs plus clones fit in memoryLimit or nothing is evictable. Dirty
   * victims are written with for_checkpoint = their captured pending bit. Only one evictor
   * runs at a time; a second call joins the first. Resolves to the number evicted.
   */
  async evict(): Promise<number> {
    this.throwBackgroundFailure();
    return this.startEvictor();
  }

  private startEvictor(): Promise<number> {
    if (this.evictorRun === null) {
      this.evictorRun = this.runEvictor().finally(() => {
        this.evictorRun = null;
      });
    }
    return this.evictorRun;
  }

  private overLimit(): boolean {
    return this.sizeCurrentBytes + this.sizeClonedBytes > this.memoryLimit;
  }

  private maybeEvictInBackground(): void {
    if (!this.autoEvict || !this.overLimit() || this.evictorRun !== null) return;
    this.startEvictor().catch((err: unknown) => this.backgroundFailures.push(err));
  }

  private async runEvictor(): Promise<number> {
    const task = new LockTask('evictor');
    let evicted = 0;
    let fruitless = 0;
    while (this.overLimit()) {
      // A victim that gained waiters during its write is kept; stop if that keeps happening.
      if (fruitless > this.clock.length) break;
      const victim = await this.pickVictim(task);
      if (victim === null) break;
      fruitless++;
      let removed = false;
      const wasDirty = victim.dirty;
      const wasPending = victim.checkpointPending;
      try {
        removed = await this.writeAndMaybeRemove(task, victim, true);
      } finally {
        victim.valueLock.writeUnlock();
      }
      if (removed) {
        fruitless = 0;
        evicted++;
        this.stats.pairsEvicted++;
        this.events.emit?.({ type: 'pair-evicted', cachefile: victim.cachefile.name, blocknum: victim.blocknum, wasDirty, wasPending });
      }
    }
    return evicted;
  }

  /** Walk the clock under the list lock; return a victim write-locked (expensive), or null. */
  private async pickVictim(task: LockTask): Promise<AnyPair | null> {
    return this.listLock.with(task, 'read', () => {
      const budget = this.clock.length * (CLOCK_SATURATION + 1);
      for (let step = 0; step < budget && this.clock.length > 0; step++) {
        if (this.clockHand >= this.clock.length) this.clockHand = 0;
        const p = this.clock[this.clockHand]!;
        this.clockHand++;
        if (!Cachetable.evictable(p)) continue;
        if (p.count > 0) {
          p.count--;
          continue;
        }
        // Non-blocking under the list lock, as the spec allows.
        if (p.valueLock.tryWriteLock(true)) return p;
      }
      return null;
    });
  }

  // ---------------------------------------------------------------- begin_checkpoint (§5)

  /**
   * begin_checkpoint step 2: under the cachefile list lock (read), call notePin on every open
   * cachefile and set its for_checkpoint flag. Returns the participating cachefiles.
   */
  async pinCachefilesForCheckpoint(notePin?: (cf: AnyCachefile) => void): Promise<AnyCachefile[]> {
    const task = new LockTask('begin_checkpoint: pin cachefiles');
    return this.cachefileListLock.with(task, 'read', () => {
      const cfs = [...this.cachefiles.values()];
      for (const cf of cfs) invariant(!cf.forCheckpoint, () => `I2: ${cf.name} is still for_checkpoint at begin`);
      for (const cf of cfs) {
        notePin?.(cf);
        cf.forCheckpoint = true;
      }
      return cfs;
    });
  }

  /**
   * begin_checkpoint steps 4–8: reset the clone job manager, take pending_expensive (W),
   * list (R), cachefile list (R), pending_cheap (W); set checkpoint_pending on every PAIR of a
   * for_checkpoint cachefile and push it on the pending list; call updateCachefiles (step 7,
   * e.g. ft_begin_checkpoint per file) while all four are held; release in reverse order.
   * updateCachefiles must not call back into the cachetable. Resolves to the number marked.
   */
  async turnOnPendingBits(
    updateCachefiles?: (participating: AnyCachefile[]) => void | Promise<void>,
  ): Promise<number> {
    this.checkQuiescent('begin_checkpoint');
    this.cloneJobs.reset();
    const task = new LockTask('begin_checkpoint');
    await this.pendingExpensive.acquire(task, 'write');
    await this.listLock.acquire(task, 'read');
    await this.cachefileListLock.acquire(task, 'read');
    await this.pendingCheap.acquire(task, 'write');
    try {
      let marked = 0;
      for (const p of this.clock) {
        invariant(!p.checkpointPending, () => `I2: ${p} is already pending at begin`);
        if (!p.cachefile.forCheckpoint) continue;
        p.checkpointPending = true;
        this.pendingPush(p);
        marked++;
        this.events.emit?.({ type: 'pending-set', cachefile: p.cachefile.name, blocknum: p.blocknum });
      }
      this.stats.pairsMarkedPending += marked;
      if (updateCachefiles !== undefined) {
        await updateCachefiles([...this.cachefiles.values()].filter((cf) => cf.forCheckpoint));
      }
      return marked;
    } finally {
      this.pendingCheap.release(task, 'write');
      this.cachefileListLock.release(task, 'read');
      this.listLock.release(task, 'read');
      this.pendingExpensive.release(task, 'write');
    }
  }

  // ---------------------------------------------------------------- end_checkpoint (§6.1, §6.2, §6.6)

  /** fill_checkpoint_cfs: the for_checkpoint cachefiles, under the cachefile list lock. */
  async checkpointCachefiles(): Promise<AnyCachefile[]> {
    const task = new LockTask('fill_checkpoint_cfs');
    return this.cachefileListLock.with(task, 'read', () => [...this.cachefiles.values()].filter((cf) => cf.forCheckpoint));
  }

  /**
   * checkpoint_pending_pairs (§6.2), step by step as the spec writes it: pop each PAIR off the
   * pending list and write it (write_pair_for_checkpoint_thread), then wait for every write
   * still in flight, those of the checkpoint thread's window and the clone writes clients
   * started. PAIR->mutex has no counterpart: synchronous code runs atomically. Ends with I3.
   */
  async checkpointPendingPairs(): Promise<void> {
    const task = new LockTask('checkpoint thread');
    this.writeWindow.open();
    for (;;) {
      // A failed write ends the walk; bjm_wait_for_jobs_to_finish below rethrows it.
      if (this.writeWindow.failed) break;
      // read_list_lock; p = m_pending_head.
      await this.listLock.acquire(task, 'read');
      const p = this.pendingHead;
      if (p === null) {
        // m_pending_head == null: read_list_unlock, the walk is done.
        this.listLock.release(task, 'read');
        break;
      }
      // pending_pairs_remove(p): under the read lock, since only this task walks the list.
      this.pendingRemove(p);
      // read_list_unlock.
      this.listLock.release(task, 'read');
      // write_pair_for_checkpoint_thread(p).
      task.checkBlockingPairAcquire(`value_rwlock ${p}`);
      await this.writePairForCheckpointThread(task, p);
    }
    // bjm_wait_for_jobs_to_finish: the window's writes are jobs too.
    await this.cloneJobs.waitForJobsToFinish();
    this.writeWindow.checkDrained();
    this.checkQuiescent('end of checkpoint_pending_pairs');
  }

  /**
   * write_pair_for_checkpoint_thread (§6.2 steps 1–4; T7, T7′). The write itself goes to the
   * write window, which drops the PAIR's locks once it lands: read each writeXInWindow as the
   * spec's write on this thread followed by those unlocks.
   */
  private async writePairForCheckpointThread(task: LockTask, p: AnyPair): Promise<void> {
    // Room in the write window first; a window of 1 waits here for the previous PAIR's write.
    await this.writeWindow.waitForSlot(p.size);
    // 1. value_rwlock.write_lock, not expensive: cloning is quick.
    await p.valueLock.writeLock(false);
    if (p.removed) {
      // Removed while we waited (the removal cleared its bit): nothing to write.
      p.valueLock.writeUnlock();
      return;
    }
    let handedOff = false;
    try {
      // 2. checkpoint_complete callback, if pending.
      if (p.checkpointPending) p.cachefile.callbacks.checkpointComplete?.(p.value, p.blocknum);
      // 3./4. dirty && checkpoint_pending decides; checkpoint_pending = false. Clearing the bit
      // before the clone or write is safe: W is held throughout, so nobody sees the gap, and
      // its event reports the state being captured.
      const capture = p.dirty && p.checkpointPending;
      this.clearPending(p, 'checkpoint');
      if (capture) {
        if (p.cachefile.cloneable) {
          // 3. cloneable: nb_mutex_lock(disk_nb_mutex), clone_pair; W is released below, at
          // once, and the clone written under disk_nb_mutex alone.
          await this.cloneUnderDiskMutex(task, p, 'checkpoint');
          this.writeCloneInWindow(p);
        } else {
          // 3. not cloneable: cachetable_write_locked_pair, under W and disk_nb_mutex; W stays
          // held until the write lands, so a client that pins the PAIR waits for the disk.
          await this.acquireDisk(task, p);
          handedOff = true;
          this.writeValueInWindow(p);
        }
      }
    } finally {
      // 3./4. value_rwlock.write_unlock (the no-clone write does it when it lands).
      if (!handedOff) p.valueLock.writeUnlock();
    }
  }

  /** The checkpoint thread's clone write (disk_nb_mutex held), in the window; the mutex is released when it lands. */
  private writeCloneInWindow(p: AnyPair): void {
    this.writeWindow.start(
      p.size,
      () => this.writeClone(p),
      () => p.diskMutex.writeUnlock(),
    );
  }

  /** The checkpoint thread's no-clone write (W and disk_nb_mutex held), in the window; both are released when it lands. */
  private writeValueInWindow(p: AnyPair): void {
    this.writeWindow.start(
      p.size,
      () => this.writeValueHoldingDisk(p, true),
      () => {
        p.diskMutex.writeUnlock();
        p.valueLock.writeUnlock();
      },
    );
  }

  /**
   * remove_cachefiles (§6.6): clear for_checkpoint first, then call noteUnpin (which may close
   * the cachefile).
   */
  async unpinCachefilesAfterCheckpoint(
    cfs: readonly AnyCachefile[],
    noteUnpin?: (cf: AnyCachefile) => void | Promise<void>,
  ): Promise<void> {
    for (const cf of cfs) {
      invariant(cf.forCheckpoint, () => `${cf.name} is not for_checkpoint at the end of the checkpoint`);
      cf.forCheckpoint = false;
      await noteUnpin?.(cf);
    }
  }

  /** I2/I3: no pending bit, empty pending list, no clone, no clone job. */
  private checkQuiescent(where: string): void {
    invariant(this.pendingHead === null, () => `${where}: the pending list is not empty (head ${this.pendingHead})`);
    invariant(this.cloneJobs.numJobs === 0, () => `${where}: ${this.cloneJobs.numJobs} clone job(s) outstanding`);
    for (const p of this.clock) {
      invariant(!p.checkpointPending, () => `${where}: ${p} is still pending`);
      invariant(p.clone === null, () => `${where}: ${p} still has a clone`);
    }
  }

  /** I1 over the whole table (for tests and debugging; O(n)). */
  checkInvariants(): void {
    let total = 0;
    for (const p of this.clock) {
      total += p.size;
      if (p.checkpointPending) {
        invariant(p.cachefile.forCheckpoint, () => `I1: ${p} is pending but its cachefile is not for_checkpoint`);
        invariant(p.onPendingList, () => `I1: ${p} is pending but not on the pending list`);
      }
      if (p.clone !== null) invariant(p.diskMutex.writeLocked, () => `I6: ${p} has a clone without disk_nb_mutex`);
    }
    invariant(total === this.sizeCurrentBytes, () => `size accounting: sum ${total} != sizeCurrent ${this.sizeCurrentBytes}`);
  }

  // ---------------------------------------------------------------- table and lists

  private checkOpen(cf: AnyCachefile): void {
    if (cf.closed) throw new TokusimError('bad-argument', `cachefile ${cf.name} is closed`, { file: cf.name });
  }

  /** List lock held in write mode. */
  private insertPair(p: AnyPair): void {
    this.table.set(pairKey(p.cachefile, p.blocknum), p);
    p.cachefile.pairs.set(p.blocknum, p);
    p.count = CLOCK_INITIAL_COUNT;
    this.clock.push(p);
  }

  /** List lock held in write mode; removes p from every list and clears its bit. */
  private unlinkPair(p: AnyPair): void {
    invariant(p.clone === null, () => `I6: ${p} leaves the table with a clone in flight`);
    const key = pairKey(p.cachefile, p.blocknum);
    invariant(this.table.get(key) === p, () => `${p} is not in the table`);
    this.table.delete(key);
    p.cachefile.pairs.delete(p.blocknum);
    // From the end: a PAIR a scan drops was inserted last but for what the scan passed since.
    const i = this.clock.lastIndexOf(p);
    this.clock.splice(i, 1);
    if (i < this.clockHand) this.clockHand--;
    if (p.onPendingList) this.pendingRemove(p);
    this.setSize(p, 0);
    p.removed = true;
    // What still refers to the PAIR (finished pins, lock queues, settled promises) may already
    // sit in the old generation, where only a full collection finds it dead; dropping the value
    // here keeps a long scan's evicted nodes from being kept, and promoted, through it.
    p.value = undefined;
  }

  /** Remove p (W held) under the write list lock; a pending bit dies with it. */
  private async removeFromTable(task: LockTask, p: AnyPair, by: PendingResolver): Promise<void> {
    await this.listLock.with(task, 'write', () => {
      this.clearPending(p, by);
      this.unlinkPair(p);
    });
  }

  private emitRemoved(p: AnyPair, wasPending: boolean): void {
    this.events.emit?.({ type: 'pair-removed', cachefile: p.cachefile.name, blocknum: p.blocknum, wasPending });
  }

  private pendingPush(p: AnyPair): void {
    invariant(!p.onPendingList, () => `${p} is already on the pending list`);
    p.pendingPrev = null;
    p.pendingNext = this.pendingHead;
    if (this.pendingHead !== null) this.pendingHead.pendingPrev = p;
    this.pendingHead = p;
    p.onPendingList = true;
  }

  private pendingRemove(p: AnyPair): void {
    invariant(p.onPendingList, () => `${p} is not on the pending list`);
    if (p.pendingPrev !== null) p.pendingPrev.pendingNext = p.pendingNext;
    else this.pendingHead = p.pendingNext;
    if (p.pendingNext !== null) p.pendingNext.pendingPrev = p.pendingPrev;
    p.pendingNext = null;
    p.pendingPrev = null;
    p.onPendingList = false;
  }

  private setSize(p: AnyPair, size: number): void {
    if (!(Number.isFinite(size) && size >= 0)) invariant(false, () => `size of ${p} must be a non-negative number, got ${size}`);
    if (!p.removed) this.sizeCurrentBytes += size - p.size;
    p.size = size;
  }

  private throwBackgroundFailure(): void {
    if (this.backgroundFailures.length > 0) throw this.backgroundFailures.shift();
  }
}
