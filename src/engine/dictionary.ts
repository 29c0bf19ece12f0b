/**
 * An open dictionary (docs/engine.md): the binding of a name and an iname to a filenum, a
 * checkpointable dictionary file and the B+tree whose nodes are its PAIRs; committed reads go
 * through the environment's commit-visibility lock.
 *
 * Invariants:
 *  - Every committed read (getCommitted, committedRange, committedChunk) runs inside
 *    DictionaryHost.readVisible, so it sees all of a commit or none of it.
 *  - A closed dictionary refuses every read (checkOpen).
 *  - A snapshot read (getAsOf, chunkAsOf) reads the tree first, then the version store.
 *    That order needs no common lock: a commit after the snapshot records the value it
 *    replaces before it changes the tree, and a live snapshot's versions are never collected,
 *    so a key the tree read saw changed is found changed in the store read after it, and a
 *    key the store shows unchanged since the snapshot had its snapshot value in the tree.
 */
import { TokusimError } from '../base/errors.js';
import type { CheckpointableDictionary } from '../checkpoint/checkpointable-dictionary.js';
import type { Btree, BtreeCursor } from './btree/btree.js';
import type { BtreeNode } from './btree/node.js';
import { inRange, type Entry, type RangeOptions } from './range.js';
import type { RowWrite } from './write-set.js';
import { compareKeys } from './btree/node.js';
import { isBugPlanted } from '../base/bug-switches.js';
import type { Snapshot, VersionStore } from './mvcc.js';

/** @hidden What a Dictionary needs from its environment (implemented by Env). */
export interface DictionaryHost {
  /** Run a read of committed data so that no commit is half visible to it. */
  readVisible<T>(read: () => Promise<T>): Promise<T>;
}

function stripUndefined(r: Record<string, Uint8Array | undefined>): RangeOptions {
  const out: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(r)) if (v !== undefined) out[k] = v;
  return out;
}

/** An open dictionary: the file binding, the tree, and its names. */
export class Dictionary {
  /** Set when the dictionary was removed or the environment closed. */
  closed = false;
  /** Open user handles (createDictionary / openDictionary minus closeDictionary). */
  handles = 0;
  /** Set when the last handle closed while live transactions still wrote to it. */
  closeWhenIdle = false;
  /** While ft_close runs: resolves when the file is closed. */
  closing: Promise<void> | undefined;
  /** Made by {@link Env.createDictionary} and {@link Env.openDictionary}, not by users. */
  constructor(
    /** The environment's commit-visibility lock, through which every committed read goes. */
    readonly env: DictionaryHost,
    public name: string,
    public iname: string,
    readonly filenum: number,
    readonly file: CheckpointableDictionary<BtreeNode>,
    readonly tree: Btree,
    /** The header checkpoint_lsn when the file was opened (replay's LSN filter). */
    readonly openedCheckpointLsn: bigint,
    /** The values commits replaced while older snapshots were live (see mvcc.ts). */
    readonly versions: VersionStore,
  ) {}

  /** Throws a TokusimError (kind `bad-argument`) when the dictionary has been closed. */
  checkOpen(): void {
    if (this.closed) throw new TokusimError('bad-argument', `dictionary ${this.name} is closed`, { file: this.iname });
  }

  /** Committed value of key (no transaction). */
  async getCommitted(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.checkOpen();
    return this.env.readVisible(() => this.tree.get(key));
  }

  /** Committed entries in range, read atomically with respect to commits. */
  async committedRange(r: RangeOptions): Promise<Entry[]> {
    this.checkOpen();
    return this.env.readVisible(() => this.committedRangeUnlocked(r));
  }

  /**
   * Up to max committed entries of range r in key order (descending when r.reverse), read
   * atomically with respect to commits. Starts at the range's bound, so the cost depends on
   * max, not on the dictionary's size (iterators read in such chunks).
   */
  async committedChunk(r: RangeOptions, max: number): Promise<Entry[]> {
    this.checkOpen();
    return (await this.env.readVisible(() => this.treeChunk(r, max, null))).entries;
  }

  /**
   * committedChunk's read of the tree, inside readVisible. With `held` (a tree cursor kept by
   * the caller across its reads, see scanChunk) the read continues from it when it stands on
   * the key r starts strictly after, and stops at the end of the leaf it holds once it has a
   * row. `done`: nothing of r is left after the entries.
   */
  private async treeChunk(r: RangeOptions, max: number, held: BtreeCursor | null): Promise<{ entries: Entry[]; done: boolean }> {
    const out: Entry[] = [];
    if (max <= 0) return { entries: out, done: false };
    const c = held ?? this.tree.cursor();
    const rev = r.reverse === true;
    // The scan starts at one bound; leaving the other bound ends it.
    const end = rev ? stripUndefined({ gt: r.gt, gte: r.gte }) : stripUndefined({ lt: r.lt, lte: r.lte });
    const from = rev ? r.lt : r.gt;
    let e: Entry | undefined;
    if (held !== null && from !== undefined && held.isAt(from)) e = rev ? (c.prevHeld() ?? (await c.prev())) : (c.nextHeld() ?? (await c.next()));
    else if (rev) e = r.lt !== undefined ? await c.seekBefore(r.lt) : r.lte !== undefined ? await c.seekForPrev(r.lte) : await c.last();
    else e = r.gt !== undefined ? await c.seekAfter(r.gt) : r.gte !== undefined ? await c.seek(r.gte) : await c.first();
    while (e !== undefined) {
      if (!inRange(e.key, end)) return { entries: out, done: true };
      // The tree cursor's entries are already copies the caller may keep: a second copy
      // per row would only double the garbage a long scan makes.
      if (inRange(e.key, r)) out.push(e);
      // Stop on the last entry taken, so that a held cursor stands where the next read starts.
      if (out.length >= max) return { entries: out, done: false };
      // Rows of the leaf already held are taken synchronously; only a leaf boundary awaits.
      const next = rev ? c.prevHeld() : c.nextHeld();
      if (next !== undefined) e = next;
      else if (held !== null && out.length > 0) return { entries: out, done: false };
      else e = rev ? await c.prev() : await c.next();
    }
    return { entries: out, done: true };
  }

  /**
   * The value of key as of snapshot snap (undefined when absent then). A key changed since the
   * snapshot is answered from the version store without reading the tree (its first version
   * newer than the snapshot never changes while the snapshot lives); any other key is read
   * from the tree and looked up again after, for a commit that landed during the read.
   */
  getAsOf(key: Uint8Array, snap: Snapshot): Promise<Uint8Array | undefined> {
    try {
      this.checkOpen();
      snap.checkLive('get');
    } catch (err) {
      return Promise.reject(err);
    }
    const ignoreVersions = isBugPlanted('snapshot-reads-latest');
    const before = ignoreVersions ? undefined : this.versions.asOf(key, snap.seq);
    if (before !== undefined) return Promise.resolve(before.prior?.slice());
    return this.getCommitted(key).then((newest) => {
      // Released during the read: what it needed may be collected already.
      snap.checkLive('get');
      const v = ignoreVersions ? undefined : this.versions.asOf(key, snap.seq);
      return v !== undefined ? v.prior?.slice() : newest;
    });
  }

  /**
   * The entries of range r as of snapshot snap, in scan order, read from at most max tree
   * entries: the tree's entries with the keys changed after the snapshot replaced by (or,
   * when they were absent then, dropped for) their value as of the snapshot, and the keys the
   * snapshot had that commits since deleted added back. `last` is the last key the read
   * covered (resume strictly after it); `done` says nothing of r is left after it. The
   * entries may be fewer than max, even none, while not done.
   */
  async chunkAsOf(r: RangeOptions, max: number, snap: Snapshot): Promise<{ entries: Entry[]; last: Uint8Array | undefined; done: boolean }> {
    snap.checkLive('read');
    const tree = await this.committedChunk(r, max);
    return this.asOf(r, tree, tree.length < max, snap);
  }

  /**
   * @internal A TxnCursor's read: up to max committed entries of r, as of snap when given.
   * With `cursor`, a tree cursor the TxnCursor keeps for all its reads, a read that starts
   * where the previous one ended continues in the leaf the cursor holds, with no new descent,
   * and every read stops at the end of a leaf: a long scan holds one leaf's rows at a time,
   * and each leaf is read once. Without it, one read of up to max entries (as committedChunk).
   * `last` and `done` as for chunkAsOf.
   */
  async scanChunk(
    r: RangeOptions,
    max: number,
    cursor: BtreeCursor | null,
    snap: Snapshot | undefined,
  ): Promise<{ entries: Entry[]; last: Uint8Array | undefined; done: boolean }> {
    this.checkOpen();
    snap?.checkLive('read');
    const tree = await this.env.readVisible(() => this.treeChunk(r, max, cursor));
    if (snap !== undefined) return this.asOf(r, tree.entries, tree.done, snap);
    return { entries: tree.entries, last: tree.done ? undefined : tree.entries[tree.entries.length - 1]!.key, done: tree.done };
  }

  /** chunkAsOf's second half: the tree's entries (done: none left after them) as of snap. */
  private asOf(r: RangeOptions, tree: Entry[], done: boolean, snap: Snapshot): { entries: Entry[]; last: Uint8Array | undefined; done: boolean } {
    // Released during the read: what it needed may be collected already.
    snap.checkLive('read');
    const last = done ? undefined : tree[tree.length - 1]!.key;
    if (isBugPlanted('snapshot-reads-latest')) return { entries: tree, last, done };
    const changed = this.versions.changedIn(r, snap.seq, last);
    if (changed.length === 0) return { entries: tree, last, done };
    const dir = r.reverse === true ? -1 : 1;
    const entries: Entry[] = [];
    let ti = 0;
    let vi = 0;
    while (ti < tree.length || vi < changed.length) {
      const t = tree[ti];
      const v = changed[vi];
      const order = t === undefined ? 1 : v === undefined ? -1 : compareKeys(t.key, v.key) * dir;
      if (order < 0) {
        entries.push(t!);
        ti++;
        continue;
      }
      // The key changed after the snapshot: its value then decides (absent: skipped).
      if (order === 0) ti++;
      vi++;
      if (v!.version.prior !== undefined) entries.push({ key: v!.key.slice(), value: v!.version.prior.slice() });
    }
    return { entries, last, done };
  }

  private async committedRangeUnlocked(r: RangeOptions): Promise<Entry[]> {
    const c = this.tree.cursor();
    const out: Entry[] = [];
    let e = r.gte !== undefined ? await c.seek(r.gte) : r.gt !== undefined ? await c.seekAfter(r.gt) : await c.first();
    while (e !== undefined) {
      if (!inRange(e.key, r)) {
        if ((r.lt !== undefined || r.lte !== undefined) && !inRange(e.key, { lt: r.lt, lte: r.lte })) break;
      } else {
        out.push(e);
      }
      e = c.nextHeld() ?? (await c.next());
    }
    return out;
  }

  /**
   * Apply committed row operations to the tree. With commit.keep (a snapshot older than the
   * commit is live), every value a row replaces is first recorded as a version of commit.seq.
   */
  async applyRows(rows: readonly RowWrite[], commit: { seq: number; keep: boolean } = { seq: 0, keep: false }): Promise<void> {
    for (const w of rows) {
      if (commit.keep) {
        const prior = await this.tree.get(w.key);
        const changes = w.op === 'delete' ? prior !== undefined : !(w.op === 'insert_no_overwrite' && prior !== undefined);
        if (changes) this.versions.record(w.key, commit.seq, prior);
      }
      if (w.op === 'insert') await this.tree.put(w.key, w.value);
      else if (w.op === 'insert_no_overwrite') await this.tree.insertIfAbsent(w.key, w.value);
      else await this.tree.delete(w.key);
    }
  }
}

