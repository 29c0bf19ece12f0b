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
 * A failure is a violation message; the run's operations so far are its replayable script.
 *
 * Invariants:
 *  - Reads change nothing: neither the model nor the state the checker keeps per slot.
 *  - A slot's record lives from its begin to its commit, abort or prepare; a crash or a
 *    reopen ends every slot (forget).
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

  constructor(private readonly model: Model) {}

  /** Slot x began a transaction with this isolation level. */
  begin(x: number, isolation: Isolation): void {
    this.slots.set(x, { isolation, begin: cloneState(this.model.current()), commitsAtBegin: this.model.commits.length });
  }

  /** Slot x's transaction ended (commit, abort or prepare). */
  end(x: number): void {
    this.slots.delete(x);
  }

  /** A crash or a reopen ended every transaction. */
  forget(): void {
    this.slots.clear();
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
    if (want === actual) return null;
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
