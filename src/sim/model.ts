/**
 * The reference model of the crash-test harness: what the engine promised, as a sequence of
 * commits (in commit order, which is log order) and how many of them were acknowledged as
 * durable, plus the transactions still open and the prepared ones.
 *
 * Invariants:
 *  - 0 <= durable <= commits.length; durable only grows, except that a recovery may settle
 *    the history on a longer prefix (it then becomes the new durable prefix).
 *  - A commit is appended before the engine is asked to commit, so a commit in flight at a
 *    crash is part of the history but not acknowledged.
 *  - The oracle after a crash: the recovered contents equal the state after some prefix of
 *    the commits that is at least `durable` long. This single check means: every commit
 *    acknowledged as durable is visible, no uncommitted write is visible, and every
 *    unacknowledged commit is all-or-nothing (and no later commit survives an earlier lost one).
 */
import { invariant } from '../base/errors.js';

/** A row write: value null is a delete; with `add` the row becomes its value (0 if absent) + v. */
export interface RowWrite {
  d: number;
  k: number;
  v: number | null;
  add?: true;
}

export interface ModelCommit {
  writes: RowWrite[];
  /** Dictionaries this commit creates. */
  creates: number[];
  /** Label for reports ("x1", "autoput", ...). */
  label: string;
}

/** Contents of every existing dictionary: dictionary -> key -> value. */
export type ModelState = Map<number, Map<number, number>>;

export interface ModelTxn {
  id: bigint;
  writes: RowWrite[];
  state: 'live' | 'preparing' | 'prepared';
}

export function applyCommit(state: ModelState, c: ModelCommit): void {
  for (const d of c.creates) if (!state.has(d)) state.set(d, new Map());
  for (const w of c.writes) {
    const rows = state.get(w.d);
    invariant(rows !== undefined, () => `commit ${c.label} writes to d${w.d}, which exists`);
    if (w.v === null) rows.delete(w.k);
    else if (w.add === true) rows.set(w.k, (rows.get(w.k) ?? 0) + w.v);
    else rows.set(w.k, w.v);
  }
}

export function cloneState(s: ModelState): ModelState {
  return new Map([...s].map(([d, rows]) => [d, new Map(rows)]));
}

export function statesEqual(a: ModelState, b: ModelState): boolean {
  if (a.size !== b.size) return false;
  for (const [d, rows] of a) {
    const other = b.get(d);
    if (other === undefined || other.size !== rows.size) return false;
    for (const [k, v] of rows) if (other.get(k) !== v) return false;
  }
  return true;
}

export function formatState(s: ModelState): string {
  const parts = [...s]
    .sort((a, b) => a[0] - b[0])
    .map(([d, rows]) => `d${d}{${[...rows].sort((a, b) => a[0] - b[0]).map(([k, v]) => `k${k}=${v}`).join(',')}}`);
  return parts.length === 0 ? '(no dictionaries)' : parts.join(' ');
}

export class Model {
  /** The state every commit in `commits` applies to (the settled base after recoveries). */
  private base: ModelState = new Map();
  commits: ModelCommit[] = [];
  durable = 0;
  /** Open transactions by slot. */
  readonly slots = new Map<number, ModelTxn>();
  /** Prepared transactions by id, oldest first; `acked` when prepare returned. */
  readonly prepared = new Map<bigint, { writes: RowWrite[]; acked: boolean }>();

  /**
   * An independent copy (a crash point forked from a run gets its own history). Commits and
   * their write lists are shared: they never change once appended.
   */
  clone(): Model {
    const c = new Model();
    c.base = this.base;
    c.commits = [...this.commits];
    c.durable = this.durable;
    for (const [slot, t] of this.slots) c.slots.set(slot, { ...t, writes: [...t.writes] });
    for (const [id, p] of this.prepared) c.prepared.set(id, { ...p });
    return c;
  }

  /** Start from contents already on disk (acknowledged durable). */
  setBase(state: ModelState): void {
    this.base = cloneState(state);
  }

  stateAfter(n: number): ModelState {
    const s = cloneState(this.base);
    for (let i = 0; i < n; i++) applyCommit(s, this.commits[i]!);
    return s;
  }

  /** The state with every commit so far applied. */
  current(): ModelState {
    return this.stateAfter(this.commits.length);
  }

  dictExists(d: number): boolean {
    return this.current().has(d);
  }

  /** Append a commit (before the engine runs it); returns its index. */
  addCommit(c: ModelCommit): number {
    this.commits.push(c);
    return this.commits.length - 1;
  }

  /** Everything up to and including commit count n is durable. */
  markDurable(n: number): void {
    invariant(n <= this.commits.length, () => `durable prefix ${n} <= ${this.commits.length} commits`);
    if (n > this.durable) this.durable = n;
  }

  /** Keys written by a live or prepared transaction other than `slot` (the row locks). */
  lockedKeys(exceptSlot?: number): Set<string> {
    const out = new Set<string>();
    for (const [slot, t] of this.slots) if (slot !== exceptSlot) for (const w of t.writes) out.add(`${w.d}:${w.k}`);
    for (const p of this.prepared.values()) for (const w of p.writes) out.add(`${w.d}:${w.k}`);
    return out;
  }

  /**
   * After a crash: find the longest prefix (>= durable) whose state equals `actual`; settle the
   * history on it (later commits are lost for good). Returns the prefix length or null.
   */
  settle(actual: ModelState, upTo: number = this.commits.length): number | null {
    const n = this.matchingPrefix(actual, upTo);
    if (n === null) return null;
    this.base = this.stateAfter(n);
    this.commits = [];
    this.durable = 0;
    return n;
  }

  /**
   * The longest prefix n with durable <= n <= upTo whose state equals `actual`, or null. upTo
   * excludes commits other evidence says did not happen (a prepared transaction whose commit
   * was in flight at the crash and that is still prepared after it: its writes may be
   * indistinguishable from no change, e.g. deleting an absent key).
   */
  matchingPrefix(actual: ModelState, upTo: number = this.commits.length): number | null {
    for (let n = Math.min(upTo, this.commits.length); n >= this.durable; n--) {
      if (statesEqual(this.stateAfter(n), actual)) return n;
    }
    return null;
  }

  /** A crash ends every open transaction. */
  dropOpenTxns(): void {
    this.slots.clear();
  }
}
