/**
 * Snapshot reads (docs/engine.md "Isolation and snapshots"): a commit sequence number, the
 * live snapshots, and per dictionary a store of the values that commits replaced while a
 * snapshot older than them was alive.
 *
 * The tree holds committed values only (the newest). A commit applied with sequence number c
 * that changes key k while some live snapshot was taken before c records (c, prior value of
 * k) in k's version list. A snapshot taken at sequence S reads k as: the prior value of the
 * first version of k with seq > S when there is one (k was changed after S, and that version
 * holds what k was at S), else the tree's value (k has not changed since S). This is the
 * committed part of a PerconaFT leafentry stack kept beside the tree instead of inside it.
 *
 * Invariants:
 *  - Commit sequence numbers only grow; a snapshot's seq is the number of commits applied (or
 *    being applied under the visibility lock) when it was taken.
 *  - A key's versions are in increasing seq order, at most one per commit.
 *  - Versions are recorded only while a snapshot is live; every version a live snapshot S
 *    needs (seq > S) is kept; a version with seq <= the oldest live snapshot's seq (all of
 *    them when none is live) is collected at the next release, counted in `collected`.
 *  - kept (status) = created - collected = the versions held by all stores.
 */
import { invariant, TokusimError } from '../base/errors.js';
import { compareKeys } from './btree/node.js';
import { inRange, type RangeOptions } from './range.js';
import { keyIndex } from './write-set.js';

/** One value a commit replaced: what the key held before the commit with this seq (undefined: absent). */
export interface Version {
  seq: number;
  prior: Uint8Array | undefined;
}

interface KeyVersions {
  key: Uint8Array;
  versions: Version[];
}

/**
 * The replaced values of one dictionary (see the module comment). Kept by the environment's
 * {@link Mvcc} per iname, so a dictionary closed and reopened while a snapshot is live keeps
 * what that snapshot needs.
 */
export class VersionStore {
  private readonly byKey = new Map<string, KeyVersions>();
  /** The keys with versions, sorted; undefined when a key was added or removed since. */
  private sortedKeys: Uint8Array[] | undefined;
  /** Every version in seq order (commits come in seq order), for collection from the front. */
  private fifo: Array<{ id: string; seq: number }> = [];
  private head = 0;

  /** @internal Made by {@link Mvcc.storeFor}. */
  constructor(private readonly owner: Mvcc) {}

  /** How many versions the store holds. */
  get size(): number {
    return this.fifo.length - this.head;
  }

  /** Record that the commit with this seq replaced prior (undefined: the key was absent). */
  record(key: Uint8Array, seq: number, prior: Uint8Array | undefined): void {
    const id = keyIndex(key);
    let kv = this.byKey.get(id);
    if (kv === undefined) {
      this.byKey.set(id, (kv = { key: key.slice(), versions: [] }));
      this.sortedKeys = undefined;
    }
    const last = kv.versions[kv.versions.length - 1];
    invariant(last === undefined || last.seq < seq, () => `versions of a key in commit order (${last?.seq} < ${seq})`);
    kv.versions.push({ seq, prior: prior === undefined ? undefined : prior.slice() });
    this.fifo.push({ id, seq });
    this.owner.noteCreated();
  }

  /** The version that holds key's value as of snapshot seq (the first one newer than it), if key changed since. */
  asOf(key: Uint8Array, seq: number): Version | undefined {
    if (this.byKey.size === 0) return undefined;
    const kv = this.byKey.get(keyIndex(key));
    if (kv === undefined) return undefined;
    for (const v of kv.versions) if (v.seq > seq) return v;
    return undefined;
  }

  /** True when a commit after snapshot seq changed key. */
  changedAfter(key: Uint8Array, seq: number): boolean {
    if (this.byKey.size === 0) return false;
    const kv = this.byKey.get(keyIndex(key));
    const last = kv?.versions[kv.versions.length - 1];
    return last !== undefined && last.seq > seq;
  }

  /**
   * The keys inside r (up to and including boundary when given) changed after snapshot seq,
   * in scan order (descending when r.reverse), with the version that holds their value at seq.
   */
  changedIn(r: RangeOptions, seq: number, boundary: Uint8Array | undefined): Array<{ key: Uint8Array; version: Version }> {
    if (this.byKey.size === 0) return [];
    const keys = (this.sortedKeys ??= [...this.byKey.values()].map((kv) => kv.key).sort(compareKeys));
    const rev = r.reverse === true;
    const out: Array<{ key: Uint8Array; version: Version }> = [];
    // Binary search for the first key at or after the scan's start bound.
    const start = rev ? (r.lt ?? r.lte) : (r.gt ?? r.gte);
    let i: number;
    if (start === undefined) i = rev ? keys.length - 1 : 0;
    else {
      let lo = 0;
      let hi = keys.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (compareKeys(keys[mid]!, start) < 0) lo = mid + 1;
        else hi = mid;
      }
      // lo: first key >= start. Reverse scans start at the last key <= start.
      i = rev ? (lo < keys.length && compareKeys(keys[lo]!, start) === 0 ? lo : lo - 1) : lo;
    }
    for (; i >= 0 && i < keys.length; i += rev ? -1 : 1) {
      const k = keys[i]!;
      if (boundary !== undefined && compareKeys(k, boundary) * (rev ? -1 : 1) > 0) break;
      if (!inRange(k, r)) {
        // Outside on the far side ends the scan; on the near side (a strict bound) skip it.
        const farSide = rev
          ? (r.gt !== undefined && compareKeys(k, r.gt) <= 0) || (r.gte !== undefined && compareKeys(k, r.gte) < 0)
          : (r.lt !== undefined && compareKeys(k, r.lt) >= 0) || (r.lte !== undefined && compareKeys(k, r.lte) > 0);
        if (farSide) break;
        continue;
      }
      const v = this.asOf(k, seq);
      if (v !== undefined) out.push({ key: k, version: v });
    }
    return out;
  }

  /** Drop every version with seq <= upTo (all of them when upTo is undefined); returns how many. */
  collect(upTo: number | undefined): number {
    let n = 0;
    while (this.head < this.fifo.length) {
      const f = this.fifo[this.head]!;
      if (upTo !== undefined && f.seq > upTo) break;
      this.head++;
      n++;
      const kv = this.byKey.get(f.id)!;
      kv.versions.shift();
      if (kv.versions.length === 0) {
        this.byKey.delete(f.id);
        this.sortedKeys = undefined;
      }
    }
    if (this.head > 1024 && this.head * 2 > this.fifo.length) {
      this.fifo = this.fifo.slice(this.head);
      this.head = 0;
    }
    return n;
  }
}

/** A point in the commit order to read at (from {@link Env.snapshot} or a snapshot transaction); release it when done. */
export class Snapshot {
  private isReleased = false;

  /** @internal Made by {@link Mvcc.snapshot}. */
  constructor(
    /** Commits applied when the snapshot was taken: it reads exactly their state. */
    readonly seq: number,
    private readonly onRelease: (s: Snapshot) => void,
  ) {}

  /** True once released. */
  get released(): boolean {
    return this.isReleased;
  }

  /** Stop reading at this point: versions only this snapshot needed are collected. Idempotent. */
  release(): void {
    if (this.isReleased) return;
    this.isReleased = true;
    this.onRelease(this);
  }

  /** Throws a TokusimError (kind bad-argument) once released. */
  checkLive(what: string): void {
    if (this.isReleased) throw new TokusimError('bad-argument', `${what} through a released snapshot`, { expected: 'a live snapshot', actual: `snapshot at commit ${this.seq}, released` });
  }
}

/** The `mvcc` part of the environment's status. */
export interface MvccStatus {
  /** Commits applied since the environment was opened (the sequence a snapshot is taken at). */
  commitSeq: number;
  /** Snapshots taken and not yet released (explicit, of snapshot transactions and of cursors). */
  liveSnapshots: number;
  /** The oldest live snapshot's seq, or null when none is live. */
  oldestSnapshot: number | null;
  /** Replaced values held now for live snapshots ("mvcc versions kept"). */
  versionsKept: number;
  /** Replaced values recorded since open. */
  versionsCreated: number;
  /** Replaced values dropped since open because no live snapshot needed them ("mvcc versions collected"). */
  versionsCollected: number;
}

/** The environment's commit sequence, live snapshots and version stores. */
export class Mvcc {
  private seq = 0;
  /** Live snapshots per seq. */
  private readonly live = new Map<number, number>();
  /** Seqs of snapshots in the order taken (nondecreasing); released ones are skipped lazily. */
  private readonly order: number[] = [];
  private orderHead = 0;
  private readonly stores = new Map<string, VersionStore>();
  private created = 0;
  private collected = 0;

  /** The number of commits applied so far. */
  get commitSeq(): number {
    return this.seq;
  }

  /** A snapshot of the state after the commits applied so far. */
  snapshot(): Snapshot {
    const seq = this.seq;
    this.live.set(seq, (this.live.get(seq) ?? 0) + 1);
    this.order.push(seq);
    return new Snapshot(seq, (s) => this.release(s));
  }

  /**
   * The next commit's seq, and whether it must keep the values it replaces (a snapshot taken
   * before it is live). Called once per applied root commit, under the visibility write lock.
   */
  nextCommit(): { seq: number; keep: boolean } {
    this.seq++;
    return { seq: this.seq, keep: this.live.size > 0 };
  }

  /** The oldest live snapshot's seq, or undefined when none is live. */
  oldest(): number | undefined {
    while (this.orderHead < this.order.length && !this.live.has(this.order[this.orderHead]!)) this.orderHead++;
    if (this.orderHead > 1024 && this.orderHead * 2 > this.order.length) {
      this.order.splice(0, this.orderHead);
      this.orderHead = 0;
    }
    return this.orderHead < this.order.length ? this.order[this.orderHead] : undefined;
  }

  /** The version store of the dictionary file iname (made on first use). */
  storeFor(iname: string): VersionStore {
    let s = this.stores.get(iname);
    if (s === undefined) this.stores.set(iname, (s = new VersionStore(this)));
    return s;
  }

  /** The dictionary file was renamed: its store follows it. */
  renameStore(from: string, to: string): void {
    const s = this.stores.get(from);
    if (s === undefined) return;
    this.stores.delete(from);
    this.stores.set(to, s);
  }

  /** The dictionary file was deleted: its versions are collected with it. */
  dropStore(iname: string): void {
    const s = this.stores.get(iname);
    if (s === undefined) return;
    this.collected += s.collect(undefined);
    this.stores.delete(iname);
  }

  /** @internal Counted by a store's record. */
  noteCreated(): void {
    this.created++;
  }

  private release(s: Snapshot): void {
    const n = this.live.get(s.seq);
    invariant(n !== undefined && n > 0, () => `released snapshot at ${s.seq} is live`);
    if (n === 1) this.live.delete(s.seq);
    else this.live.set(s.seq, n - 1);
    const oldest = this.oldest();
    for (const store of this.stores.values()) this.collected += store.collect(oldest);
  }

  /** The counters of {@link MvccStatus}. */
  status(): MvccStatus {
    let live = 0;
    for (const n of this.live.values()) live += n;
    let kept = 0;
    for (const s of this.stores.values()) kept += s.size;
    const oldest = this.oldest();
    return { commitSeq: this.seq, liveSnapshots: live, oldestSnapshot: oldest ?? null, versionsKept: kept, versionsCreated: this.created, versionsCollected: this.collected };
  }
}
