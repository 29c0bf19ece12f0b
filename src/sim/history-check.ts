/**
 * The crash harness's history checker (docs/engine.md "History checks in the crash harness"):
 * every read a transaction makes is checked against the model for the isolation level the transaction
 * asked for, and every write a snapshot transaction makes is checked for a lost update.
 *
 * The runner executes one operation at a time, so the model's committed state at a read is
 * exact (Elle infers the order of a history it only observed; here the harness chose the
 * order and knows it). What each level must return for a read of (d, k) by slot x:
 *  - snapshot: the committed state when x began, with x's own writes applied on top; a
 *    different value is a dirty read (it shows a write not committed at the snapshot) or a
 *    non-repeatable read (it shows a commit made after the snapshot);
 *  - read-committed, read-uncommitted, serializable: the newest committed state, with x's own
 *    writes on top; anything else is a dirty read (a value no commit produced) or a stale one;
 *  - snapshot writes: a write to a key some commit changed after x began must be refused (it
 *    would lose that update); a refused write to a key nobody changed is a false conflict.
 * Serializable reads also lock: a serializable read of a key another transaction has written
 * (live or prepared) must be refused, and once x read a key, every write to it by anyone else
 * (another transaction, an autocommit write) must be refused until x commits or aborts, or,
 * prepared, is resolved: a write let through would make x's next read of the key differ (a
 * non-repeatable read) and x's write of it after that a lost update. The runner tries such
 * writes and checks that each is refused (checkLockedWrite).
 * A failure is a violation message; the run's operations so far are its replayable script.
 *
 * Invariants:
 *  - Reads change nothing in the model; a serializable read that returned adds the key to
 *    x's read locks, nothing else changes the state the checker keeps per slot.
 *  - A slot's record lives from its begin to its commit, abort or prepare; a crash or a
 *    reopen ends every slot (forget).
 *  - Read locks follow the engine's: held by a slot from its read to its commit or abort,
 *    moved to the transaction id at prepare and dropped at its resolution; a crash or a reopen
 *    drops them all (recovery restores a prepared transaction's write locks only).
 */
import type { Isolation } from '../engine/txn.js';
import { applyCommit, cloneState, type Model, type ModelState, type RowWrite } from './model.js';

interface SlotRecord {
  isolation: Isolation;
  /** The model's committed state when the transaction began (snapshot reads). */
  begin: ModelState;
  /** How many model commits there were at the begin (writes after it are "since"). */
  commitsAtBegin: number;
}

/** The value a row has after applying writes (in order) to base (null: absent). */
function applyWrites(base: number | null, writes: readonly RowWrite[], d: number, k: number): number | null {
  let v = base;
  for (const w of writes) {
    if (w.d !== d || w.k !== k) continue;
    if (w.v === null) v = null;
    else if (w.add === true) v = (v ?? 0) + w.v;
    else v = w.v;
  }
  return v;
}

function show(v: number | null): string {
  return v === null ? 'absent' : String(v);
}

/** Checks the reads and snapshot writes of the crash harness's transactions against the model. */
export class HistoryChecker {
  private readonly slots = new Map<number, SlotRecord>();
  /** Reads checked (for the run's summary). */
  reads = 0;
  /** Snapshot writes refused as expected (lost updates prevented). */
  refusedWrites = 0;

  /** Row read locks of serializable transactions, by holder ('x<slot>' while live, 'p<txn id>' once prepared): the keys 'd:k'. */
  private readonly readLocks = new Map<string, Set<string>>();
  /** Writes refused because a serializable transaction had read the key. */
  refusedByReadLock = 0;
  /** Serializable reads refused because another transaction had written the key. */
  refusedReads = 0;

  constructor(private readonly model: Model) {}

  /** Slot x began a transaction with this isolation level. */
  begin(x: number, isolation: Isolation): void {
    this.slots.set(x, { isolation, begin: cloneState(this.model.current()), commitsAtBegin: this.model.commits.length });
  }

  /** Slot x's transaction committed or aborted (its read locks are released). */
  end(x: number): void {
    this.slots.delete(x);
    this.readLocks.delete(`x${x}`);
  }

  /** Slot x's transaction was prepared as transaction id: it keeps its read locks until resolved. */
  prepared(x: number, id: bigint): void {
    this.slots.delete(x);
    const held = this.readLocks.get(`x${x}`);
    this.readLocks.delete(`x${x}`);
    if (held !== undefined) this.readLocks.set(`p${id}`, held);
  }

  /** Prepared transaction id committed or aborted. */
  resolved(id: bigint): void {
    this.readLocks.delete(`p${id}`);
  }

  /** A crash or a reopen ended every transaction. */
  forget(): void {
    this.slots.clear();
    this.readLocks.clear();
  }

  /** The holders of a read lock on (d, k) other than slot `except` ('x<slot>', 'p<txn id>'). */
  readLockHolders(d: number, k: number, except?: number): string[] {
    const key = `${d}:${k}`;
    const out: string[] = [];
    for (const [holder, keys] of this.readLocks) if (holder !== `x${except}` && keys.has(key)) out.push(holder);
    return out;
  }

  /**
   * Check whether a read of (d, k) by slot x was rightly refused with a lock conflict: a
   * serializable read must be refused exactly when another transaction holds the key's write
   * lock (`writeLocked`); other levels take no lock. Returns the violation message, or null.
   */
  checkReadLock(x: number, d: number, k: number, refused: boolean, writeLocked: boolean): string | null {
    const iso = this.isolation(x);
    const must = iso === 'serializable' && writeLocked;
    if (must && refused) this.refusedReads++;
    if (must === refused) return null;
    return must
      ? `history: x${x} (serializable) read d${d} k${k}, which another transaction has written and not ended: the read must wait or be refused (it would see a value that is not committed, or let it commit under the read)`
      : `history: x${x} (${iso}) had its read of d${d} k${k} refused as a lock conflict, but ${iso === 'serializable' ? 'no other transaction holds its write lock' : `${iso} reads take no lock`}`;
  }

  /**
   * Check a write of (d, k) by `who` (a slot x, or an autocommit write when undefined) to a
   * key that serializable transactions other than x had read: it must be refused. Returns the
   * violation message, or null.
   */
  checkLockedWrite(who: number | undefined, d: number, k: number, refused: boolean): string | null {
    const holders = this.readLockHolders(d, k, who);
    if (holders.length === 0 || refused) {
      if (refused && holders.length > 0) this.refusedByReadLock++;
      return null;
    }
    const by = who === undefined ? 'an autocommit write' : `x${who} (${this.isolation(who)})`;
    const readers = holders.map((h) => (h.startsWith('x') ? `${h} (serializable)` : `prepared transaction ${h.slice(1)} (serializable)`)).join(', ');
    return `history: ${by} changed d${d} k${k} while ${readers} holds a read lock on it: the reader's next read of the key would differ (a non-repeatable read) and its write of it would lose this update; the write must be refused`;
  }

  /** The isolation level slot x's transaction runs at (read-committed when unknown). */
  isolation(x: number): Isolation {
    return this.slots.get(x)?.isolation ?? 'read-committed';
  }

  /** What a read of (d, k) by slot x must return under its isolation level. */
  expected(x: number, d: number, k: number): number | null {
    const rec = this.slots.get(x);
    const committed = rec?.isolation === 'snapshot' ? rec.begin : this.model.current();
    const own = this.model.slots.get(x)?.writes ?? [];
    return applyWrites(committed.get(d)?.get(k) ?? null, own, d, k);
  }

  /** Check a read of (d, k) by slot x that returned actual; returns the violation message, or null. */
  checkRead(x: number, d: number, k: number, actual: number | null): string | null {
    this.reads++;
    const want = this.expected(x, d, k);
    if (want === actual) {
      if (this.isolation(x) === 'serializable') {
        let held = this.readLocks.get(`x${x}`);
        if (held === undefined) this.readLocks.set(`x${x}`, (held = new Set()));
        held.add(`${d}:${k}`);
      }
      return null;
    }
    const iso = this.isolation(x);
    const rec = this.slots.get(x);
    const newest = applyWrites(this.model.current().get(d)?.get(k) ?? null, this.model.slots.get(x)?.writes ?? [], d, k);
    const why =
      iso === 'snapshot' && actual === newest
        ? `a non-repeatable read: it shows a commit made after its snapshot (taken after ${rec?.commitsAtBegin ?? 0} commits)`
        : iso === 'snapshot'
          ? 'a value that was not committed at its snapshot (a dirty or phantom value)'
          : 'a value that is not the newest committed one with its own writes on top (a dirty or stale read)';
    return `history: x${x} (${iso}) read d${d} k${k} = ${show(actual)}, but ${iso} requires ${show(want)}: ${why}`;
  }

  /**
   * Whether a write of (d, k) by slot x must be refused: x is a snapshot transaction and a
   * commit after its begin changed the key (as the engine counts a change: a delete of an
   * absent row changes nothing).
   */
  mustRefuseWrite(x: number, d: number, k: number): boolean {
    const rec = this.slots.get(x);
    if (rec === undefined || rec.isolation !== 'snapshot') return false;
    // x's own earlier write to the key holds its row lock: nobody changed it since.
    if ((this.model.slots.get(x)?.writes ?? []).some((w) => w.d === d && w.k === k)) return false;
    const state = cloneState(rec.begin);
    for (const c of this.model.commits.slice(rec.commitsAtBegin)) {
      const before = state.get(d)?.get(k) ?? null;
      const after = applyWrites(before, c.writes, d, k);
      const touched = c.writes.some((w) => w.d === d && w.k === k);
      if (touched && !(before === null && after === null)) return true;
      applyCommit(state, c);
    }
    return false;
  }

  /** Check the outcome of a write of (d, k) by slot x (refused: the engine refused it); returns the violation message, or null. */
  checkWrite(x: number, d: number, k: number, refused: boolean): string | null {
    const must = this.mustRefuseWrite(x, d, k);
    if (refused) this.refusedWrites++;
    if (must === refused) return null;
    return must
      ? `history: x${x} (snapshot) wrote d${d} k${k}, which a commit changed after its snapshot: a lost update (the write must be refused)`
      : `history: x${x} (${this.isolation(x)}) had its write of d${d} k${k} refused as a snapshot conflict, but no commit changed the key since it began`;
  }
}
