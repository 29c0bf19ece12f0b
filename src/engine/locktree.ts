/**
 * Row locks, like TokuDB's lock tree at row granularity. Locks are owned by a ROOT
 * transaction: a child transaction asks with its root's id, so parent and children share
 * their locks, and releaseAll(root) on commit or abort drops them all.
 *
 * A write lock excludes every other owner's read and write locks on the same (dictionary,
 * key); read locks are shared. An owner may hold both, and may upgrade read to write when it
 * is the only reader. A conflicting request fails at once with a LockConflictError naming the
 * dictionary, the key (escaped), the holder and the requester — unless a bounded wait is asked
 * for, in which case it waits at most that long on the Clock and fails with reason 'timeout';
 * a wait that would close a cycle in the wait-for graph fails at once with reason 'deadlock'.
 * Nothing ever waits without a bound.
 *
 * Invariants (checkInvariants verifies them):
 *  - per lock: at most one writer; if there is a writer, every reader is that same owner;
 *  - the per-owner index lists exactly the locks where the owner is writer or reader;
 *  - a lock entry with no holder and no waiter is deleted;
 *  - every waiter is blocked by at least one holder, and has a pending timer.
 */
import { invariant, TokusimError } from '../base/errors.js';
import type { Clock, TimerHandle } from '../storage/clock.js';
import { escapeKey } from './btree/node.js';

/** Whether a row lock is shared (read) or exclusive (write). */
export type LockMode = 'read' | 'write';
/** Identifies a dictionary in the lock manager. */
export type DictionaryId = string | number | bigint;

/** Who asks: the root transaction that owns the locks, and (for messages) the asking txn. */
export interface LockRequester {
  rootTxnId: bigint;
  txnId?: bigint;
}

/** Why a lock request was refused. */
export type LockFailure = 'conflict' | 'deadlock' | 'timeout';

/** A lock request refused (kind 'lock-conflict'); `reason` says why. */
export class LockConflictError extends TokusimError {
  /** A refused lock request: why, on which dictionary, key and mode. */
  constructor(
    readonly reason: LockFailure,
    readonly dictionary: string,
    readonly key: Uint8Array,
    readonly mode: LockMode,
    readonly holderTxnId: bigint,
    readonly holderMode: LockMode,
    readonly requester: LockRequester,
  ) {
    const who =
      requester.txnId !== undefined && requester.txnId !== requester.rootTxnId
        ? `txn ${requester.txnId} (root ${requester.rootTxnId})`
        : `txn ${requester.rootTxnId}`;
    const what =
      reason === 'deadlock' ? 'deadlock' : reason === 'timeout' ? 'lock wait timed out' : 'lock conflict';
    super(
      'lock-conflict',
      `${what}: dictionary ${dictionary} key "${escapeKey(key)}" is ${holderMode}-locked by txn ${holderTxnId}; ${who} wants a ${mode} lock`,
      { file: `dictionary ${dictionary}`, expected: `no conflicting lock`, actual: `${holderMode} lock held by txn ${holderTxnId}` },
    );
    this.name = 'LockConflictError';
  }
}

interface Waiter {
  readonly who: LockRequester;
  readonly mode: LockMode;
  readonly entry: LockEntry;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  timer: TimerHandle | null;
}

interface LockEntry {
  readonly id: string;
  readonly dictionary: string;
  readonly key: Uint8Array;
  writer: bigint | null;
  readonly readers: Set<bigint>;
  readonly waiters: Waiter[];
}

/** One row lock held by a transaction. */
export interface HeldLock {
  dictionary: string;
  key: Uint8Array;
  mode: LockMode;
}

/** Options for a {@link LockManager}. */
export interface LockManagerOptions {
  /** Needed only for bounded waits. */
  clock?: Clock;
  /** Default wait in ms for acquire() (0, the default, fails fast). */
  waitMs?: number;
}

/** Row locks of transactions: shared and exclusive locks per key, deadlock detection and optionally bounded waits. */
export class LockManager {
  private readonly locks = new Map<string, LockEntry>();
  private readonly byOwner = new Map<bigint, Set<string>>();
  /** Pending waits per root owner. */
  private readonly waits = new Map<bigint, Set<Waiter>>();

  /** A lock manager with no locks held. */
  constructor(private readonly options: LockManagerOptions = {}) {}

  /** Take a lock now or throw LockConflictError('conflict'). */
  tryAcquire(who: LockRequester, dictionary: DictionaryId, key: Uint8Array, mode: LockMode): void {
    const entry = this.entryFor(String(dictionary), key);
    const blocker = this.blocker(entry, who.rootTxnId, mode);
    if (blocker !== null) {
      this.dropIfUnused(entry);
      throw this.errorFor('conflict', entry, mode, blocker, who);
    }
    this.grant(entry, who.rootTxnId, mode);
  }

  /**
   * Take a lock, waiting at most waitMs (default: the manager's waitMs, else 0 = fail fast).
   * Rejects with LockConflictError reason 'conflict', 'timeout' or 'deadlock'.
   */
  async acquire(
    who: LockRequester,
    dictionary: DictionaryId,
    key: Uint8Array,
    mode: LockMode,
    opts: { waitMs?: number } = {},
  ): Promise<void> {
    const waitMs = opts.waitMs ?? this.options.waitMs ?? 0;
    const entry = this.entryFor(String(dictionary), key);
    const blocker = this.blocker(entry, who.rootTxnId, mode);
    if (blocker === null) {
      this.grant(entry, who.rootTxnId, mode);
      return;
    }
    if (waitMs <= 0) {
      this.dropIfUnused(entry);
      throw this.errorFor('conflict', entry, mode, blocker, who);
    }
    const clock = this.options.clock;
    if (clock === undefined) {
      this.dropIfUnused(entry);
      throw new TokusimError('bad-argument', 'a lock wait needs a Clock (LockManagerOptions.clock)');
    }
    if (this.wouldDeadlock(who.rootTxnId, entry, mode)) {
      this.dropIfUnused(entry);
      throw this.errorFor('deadlock', entry, mode, blocker, who);
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { who, mode, entry, resolve, reject, timer: null };
      entry.waiters.push(waiter);
      let mine = this.waits.get(who.rootTxnId);
      if (!mine) this.waits.set(who.rootTxnId, (mine = new Set()));
      mine.add(waiter);
      waiter.timer = clock.setTimer(waitMs, () => {
        const still = this.blocker(entry, who.rootTxnId, mode);
        this.removeWaiter(waiter);
        reject(this.errorFor('timeout', entry, mode, still ?? blocker, who));
      });
    });
  }

  /** Drop every lock of a root transaction (commit or abort); returns how many. */
  releaseAll(rootTxnId: bigint): number {
    const ids = this.byOwner.get(rootTxnId);
    this.byOwner.delete(rootTxnId);
    // A finished transaction stops waiting too.
    for (const w of [...(this.waits.get(rootTxnId) ?? [])]) {
      this.removeWaiter(w);
      w.reject(
        new TokusimError('bad-argument', `txn ${rootTxnId} released its locks while waiting for a ${w.mode} lock`, {
          file: `dictionary ${w.entry.dictionary}`,
        }),
      );
    }
    if (!ids) return 0;
    const touched: LockEntry[] = [];
    for (const id of ids) {
      const e = this.locks.get(id)!;
      if (e.writer === rootTxnId) e.writer = null;
      e.readers.delete(rootTxnId);
      touched.push(e);
    }
    for (const e of touched) this.wake(e);
    return ids.size;
  }

  /** Locks held by a root transaction. */
  locksHeldBy(rootTxnId: bigint): HeldLock[] {
    const out: HeldLock[] = [];
    for (const id of this.byOwner.get(rootTxnId) ?? []) {
      const e = this.locks.get(id)!;
      out.push({ dictionary: e.dictionary, key: e.key.slice(), mode: e.writer === rootTxnId ? 'write' : 'read' });
    }
    return out;
  }

  /** Holders of one row lock. */
  holdersOf(dictionary: DictionaryId, key: Uint8Array): { writer: bigint | null; readers: bigint[] } {
    const e = this.locks.get(lockId(String(dictionary), key));
    return { writer: e?.writer ?? null, readers: e ? [...e.readers] : [] };
  }

  /** Number of requests waiting. */
  get waiting(): number {
    let n = 0;
    for (const s of this.waits.values()) n += s.size;
    return n;
  }

  /** Number of row locks with a holder or waiter. */
  get size(): number {
    return this.locks.size;
  }

  /** Checks the lock table against the per-owner index; throws an invariant error when they disagree. */
  checkInvariants(): void {
    const index = new Map<bigint, Set<string>>();
    for (const e of this.locks.values()) {
      invariant(e.writer !== null || e.readers.size > 0 || e.waiters.length > 0, () => `unused lock entry ${e.id}`);
      if (e.writer !== null) {
        for (const r of e.readers) invariant(r === e.writer, () => `lock ${e.id}: reader ${r} beside writer ${e.writer}`);
      }
      const holders = new Set([...e.readers, ...(e.writer !== null ? [e.writer] : [])]);
      for (const h of holders) {
        if (!index.has(h)) index.set(h, new Set());
        index.get(h)!.add(e.id);
      }
      for (const w of e.waiters) {
        invariant(this.blocker(e, w.who.rootTxnId, w.mode) !== null, () => `lock ${e.id}: waiter ${w.who.rootTxnId} is not blocked`);
        invariant(w.timer !== null, () => `lock ${e.id}: waiter without a timer`);
      }
    }
    invariant(index.size === this.byOwner.size, 'owner index lists a different set of owners');
    for (const [owner, ids] of index) {
      const mine = this.byOwner.get(owner);
      invariant(mine !== undefined && mine.size === ids.size && [...ids].every((i) => mine.has(i)), () => `owner index of txn ${owner} is wrong`);
    }
  }

  // ------------------------------------------------------------------ internals

  private entryFor(dictionary: string, key: Uint8Array): LockEntry {
    const id = lockId(dictionary, key);
    let e = this.locks.get(id);
    if (!e) {
      e = { id, dictionary, key: key.slice(), writer: null, readers: new Set(), waiters: [] };
      this.locks.set(id, e);
    }
    return e;
  }

  private dropIfUnused(e: LockEntry): void {
    if (e.writer === null && e.readers.size === 0 && e.waiters.length === 0) this.locks.delete(e.id);
  }

  /** The first other owner whose lock conflicts with this request, or null. */
  private blocker(e: LockEntry, owner: bigint, mode: LockMode): { txn: bigint; mode: LockMode } | null {
    if (e.writer !== null && e.writer !== owner) return { txn: e.writer, mode: 'write' };
    if (mode === 'write') {
      for (const r of e.readers) if (r !== owner) return { txn: r, mode: 'read' };
    }
    return null;
  }

  private grant(e: LockEntry, owner: bigint, mode: LockMode): void {
    if (mode === 'write') {
      e.writer = owner;
      e.readers.delete(owner);
    } else if (e.writer !== owner) {
      e.readers.add(owner);
    }
    let mine = this.byOwner.get(owner);
    if (!mine) this.byOwner.set(owner, (mine = new Set()));
    mine.add(e.id);
  }

  private removeWaiter(w: Waiter): void {
    w.timer?.cancel();
    const at = w.entry.waiters.indexOf(w);
    if (at >= 0) w.entry.waiters.splice(at, 1);
    const mine = this.waits.get(w.who.rootTxnId);
    mine?.delete(w);
    if (mine && mine.size === 0) this.waits.delete(w.who.rootTxnId);
    this.dropIfUnused(w.entry);
  }

  /** Grant, in arrival order, every waiter of e that no longer conflicts. */
  private wake(e: LockEntry): void {
    for (const w of [...e.waiters]) {
      if (this.blocker(e, w.who.rootTxnId, w.mode) !== null) continue;
      w.timer?.cancel();
      e.waiters.splice(e.waiters.indexOf(w), 1);
      const mine = this.waits.get(w.who.rootTxnId);
      mine?.delete(w);
      if (mine && mine.size === 0) this.waits.delete(w.who.rootTxnId);
      this.grant(e, w.who.rootTxnId, w.mode);
      w.resolve();
    }
    this.dropIfUnused(e);
  }

  /** Owners that block a request (every conflicting holder). */
  private blockers(e: LockEntry, owner: bigint, mode: LockMode): bigint[] {
    const out: bigint[] = [];
    if (e.writer !== null && e.writer !== owner) out.push(e.writer);
    if (mode === 'write') for (const r of e.readers) if (r !== owner) out.push(r);
    return out;
  }

  /** Would `owner` waiting on (e, mode) close a cycle in the wait-for graph? */
  private wouldDeadlock(owner: bigint, e: LockEntry, mode: LockMode): boolean {
    const seen = new Set<bigint>();
    const stack = this.blockers(e, owner, mode);
    while (stack.length > 0) {
      const t = stack.pop()!;
      if (t === owner) return true;
      if (seen.has(t)) continue;
      seen.add(t);
      for (const w of this.waits.get(t) ?? []) stack.push(...this.blockers(w.entry, t, w.mode));
    }
    return false;
  }

  private errorFor(
    reason: LockFailure,
    e: LockEntry,
    mode: LockMode,
    blocker: { txn: bigint; mode: LockMode },
    who: LockRequester,
  ): LockConflictError {
    return new LockConflictError(reason, e.dictionary, e.key.slice(), mode, blocker.txn, blocker.mode, who);
  }
}

function lockId(dictionary: string, key: Uint8Array): string {
  // Length-prefixed so no (dictionary, key) pair can spell another's id.
  let s = `${dictionary.length}:${dictionary}:`;
  for (let i = 0; i < key.length; i++) s += String.fromCharCode(key[i]!);
  return s;
}
