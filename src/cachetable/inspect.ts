/**
 * Read-only views of the cachetable's state for the teaching mode, tests and tools: every
 * PAIR with its bits, pin count, clone and the state of its two locks, the pending list, and
 * the pair list's locks. Nothing here takes a lock or changes a field; a view is a plain
 * object that stays valid after the state moves on.
 *
 * Invariants:
 *  - A view is built synchronously, so it is one consistent instant of the cachetable (no
 *    task runs in between: see READING.md, "threads are async tasks").
 *  - Views are JSON-safe (blocknums as decimal strings), so they travel into a page as they are.
 */
import type { Cachetable } from './cachetable.js';
import type { Pair } from './pair.js';
import type { RwLock } from './rwlock.js';

/** The state of one readers-writer lock: holders and waiters by mode, and the expensive flag. */
export interface RwLockView {
  name: string;
  readers: number;
  writer: boolean;
  waitingReaders: number;
  waitingWriters: number;
  expensive: boolean;
}

/** One PAIR as the spec's state table (§10.1) names its fields. */
export interface PairView {
  /** The cachefile's name (its path). */
  cachefile: string;
  blocknum: string;
  dirty: boolean;
  checkpointPending: boolean;
  onPendingList: boolean;
  /** A clone of the value is in flight (being written as the checkpoint image). */
  cloned: boolean;
  /** Readers plus the writer holding value_rwlock. */
  pinCount: number;
  /** 'W' write pinned, 'R' read pinned, '-' unpinned. */
  pin: 'W' | 'R' | '-';
  size: number;
  valueLock: RwLockView;
  /** disk_nb_mutex: held for any I/O on the PAIR (fetch, write, clone write). */
  diskMutex: RwLockView;
  /** The cachefile can clone (clone-on-write) rather than write before a change. */
  cloneable: boolean;
}

/** The whole cachetable: its PAIRs in clock order, the pending list, the list locks and the clone jobs. */
export interface CachetableView {
  pairs: PairView[];
  /** The pending list, head first, as "cachefile:blocknum". */
  pendingList: string[];
  locks: RwLockView[];
  /** Clone writes running in the background (bjm jobs). */
  cloneJobs: number;
  sizeCurrent: number;
  memoryLimit: number | null;
}

/** A view of one lock. */
export function inspectRwLock(l: RwLock): RwLockView {
  return {
    name: l.name,
    readers: l.readerCount,
    writer: l.writeLocked,
    waitingReaders: l.blockedReaders(),
    waitingWriters: l.blockedWriters(),
    expensive: l.writeLockIsExpensive(),
  };
}

/** A view of one PAIR. */
export function inspectPair(p: Pair<unknown>): PairView {
  return {
    cachefile: p.cachefile.name,
    blocknum: p.blocknum.toString(),
    dirty: p.dirty,
    checkpointPending: p.checkpointPending,
    onPendingList: p.onPendingList,
    cloned: p.clone !== null,
    pinCount: p.pinCount,
    pin: p.valueLock.writeLocked ? 'W' : p.valueLock.readerCount > 0 ? 'R' : '-',
    size: p.size,
    valueLock: inspectRwLock(p.valueLock),
    diskMutex: inspectRwLock(p.diskMutex),
    cloneable: p.cachefile.cloneable,
  };
}

/** A view of the cachetable: PAIRs sorted by cachefile and blocknum, so two views compare line by line. */
export function inspectCachetable(ct: Cachetable): CachetableView {
  const pairs = ct.pairs().map(inspectPair);
  pairs.sort((a, b) => (a.cachefile === b.cachefile ? Number(BigInt(a.blocknum) - BigInt(b.blocknum)) : a.cachefile < b.cachefile ? -1 : 1));
  return {
    pairs,
    pendingList: ct.pendingPairs().map((p) => `${p.cachefile.name}:${p.blocknum}`),
    locks: [ct.pendingExpensive.rw, ct.listLock.rw, ct.cachefileListLock.rw, ct.pendingCheap.rw].map(inspectRwLock),
    cloneJobs: ct.cloneJobs.numJobs,
    sizeCurrent: ct.sizeCurrent,
    memoryLimit: Number.isFinite(ct.memoryLimit) ? ct.memoryLimit : null,
  };
}
