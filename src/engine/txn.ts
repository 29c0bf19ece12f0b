/**
 * Transactions of the embeddable engine (docs/engine.md): a private write set per txn, row
 * write locks from the locktree, every write logged at once with the real record types
 * (xbegin lazily before the first logged record, parents before children), and a rollback
 * node PAIR in tokudb.rollback mirroring the write set so a checkpoint captures it sharply.
 *
 * Invariants:
 *  - A txn writes only while 'live' and with no live child (the innermost txn writes).
 *  - xbegin is logged at most once, and a parent's before its child's.
 *  - Every logged write happens under the MO client lock together with the rollback-node
 *    update, so a checkpoint's begin sees both or neither.
 *  - Root commit logs xcommit and applies the write set under the same client lock.
 *  - After commit/abort a txn is 'committed'/'aborted', owns no locks and no rollback node.
 *  - A root commit whose log write or fsync failed leaves the txn 'failed' (never visible).
 *  - A snapshot transaction's snapshot is taken at begin and shared by its children; it and
 *    every implicit cursor snapshot of a txn are released when the txn ends, if not before.
 *  - Under snapshot isolation no write to a key changed after the snapshot is ever logged.
 */
import { TokusimError, invariant } from '../base/errors.js';
import type { TxnidPair, Xid } from '../format/record-types.js';
import { isBugPlanted } from '../base/bug-switches.js';
import type { Release } from '../checkpoint/locks.js';
import { compareKeys, escapeKey } from './btree/node.js';
import { WriteSet, type RowOp, type RowWrite } from './write-set.js';
import type { EnvCore } from './core.js';
import type { BtreeCursor } from './btree/btree.js';
import type { Dictionary } from './dictionary.js';
import { inRange, type Entry, type RangeOptions } from './range.js';
import type { Snapshot } from './mvcc.js';

/**
 * What a transaction's reads see (TokuDB's isolation levels, docs/engine.md "Isolation and
 * snapshots"); every level sees the transaction's own writes first.
 *  - `serializable`: the newest committed value, under a row read lock held to the end, so a
 *    key read cannot change until the transaction ends (point reads; a range read locks the
 *    keys it returns, not the gaps between them).
 *  - `snapshot`: the state committed when the transaction began, whatever commits since; a
 *    write to a key some commit changed after that is refused (first committer wins, so no
 *    lost update).
 *  - `read-committed`: the newest committed value at each read; a cursor reads on a snapshot
 *    taken when it is made.
 *  - `read-uncommitted`: as read-committed (other transactions' writes are private until they
 *    commit, so there is nothing uncommitted to read).
 */
export type Isolation = 'serializable' | 'snapshot' | 'read-committed' | 'read-uncommitted';
/** The isolation levels, in the order TokuDB lists them. */
export const ISOLATION_LEVELS: readonly Isolation[] = ['serializable', 'snapshot', 'read-committed', 'read-uncommitted'];

/**
 * A write refused under snapshot isolation because a commit after the transaction's snapshot
 * changed the key (kind `lock-conflict`): writing it would lose that update. Abort and retry.
 */
export class SnapshotConflictError extends TokusimError {
  /** The refused write's dictionary, key, transaction and the snapshot it read at. */
  constructor(readonly dictionary: string, readonly key: Uint8Array, readonly txnId: bigint, readonly snapshotSeq: number) {
    super('lock-conflict', `write conflict: dictionary ${dictionary} key "${escapeKey(key)}" was changed by a commit after txn ${txnId}'s snapshot (commit ${snapshotSeq}); abort and retry`, {
      file: `dictionary ${dictionary}`,
      expected: `no commit to the key after commit ${snapshotSeq}`,
      actual: 'a later commit changed it',
    });
    this.name = 'SnapshotConflictError';
  }
}

/**
 * A transaction's state: `live` until commit, abort or prepare; `preparing` while xprepare is
 * logged; `failed` when its commit was logged but could not be made durable (the environment
 * failed): it was never made visible, and only a reopen tells whether its xcommit reached the
 * disk.
 */
export type TxnState = 'live' | 'preparing' | 'committed' | 'aborted' | 'failed';

function badState(what: string, state: string): TokusimError {
  return new TokusimError('bad-argument', `${what} on a transaction that is ${state}`, { expected: 'live', actual: state });
}


/**
 * A transaction (from {@link Env.begin}): reads see its own and its ancestors' writes over
 * committed data, the newest or as of a snapshot per its {@link Isolation} level; writes take
 * row write locks at once and are logged at once.
 * End it with {@link Txn.commit}, {@link Txn.abort} or {@link Txn.prepare}.
 */
export class Txn {
  /** The rows and file operations this transaction wrote, applied at commit. */
  readonly ws = new WriteSet();
  /** Where the transaction is in its life: live, preparing (prepared, awaiting commit or abort), committed, aborted or failed. */
  state: TxnState = 'live';
  /** True once the transaction logged its begin record (at its first write). */
  loggedBegin = false;
  /** The XA transaction id given to {@link Txn.prepare}, once prepared. */
  xaXid: Xid | undefined;
  /** Blocknum of this txn's rollback node in tokudb.rollback (null until the first write). */
  rollbackBlocknum: bigint | null = null;
  /** The live child transaction, if one was begun from this one. */
  child: Txn | undefined;
  private childCounter = 0n;
  /** The snapshot every read of a snapshot transaction uses (a child uses its root's). */
  readonly snapshot: Snapshot | undefined;
  /** Snapshots of this transaction's cursors not yet released (released when it ends at the latest). */
  private readonly cursorSnapshots = new Set<Snapshot>();

  /** Made by {@link Env.begin}, not by users. */
  constructor(
    private readonly env: EnvCore<Txn>,
    readonly id: bigint,
    readonly parent: Txn | undefined,
    readonly xid: TxnidPair,
    /** What its reads see (a child has its parent's). */
    readonly isolation: Isolation = 'read-committed',
  ) {
    if (isolation === 'snapshot') this.snapshot = parent !== undefined ? parent.snapshot : env.snapshot();
  }

  /** The outermost ancestor of this transaction (itself for a root transaction). */
  get root(): Txn {
    return this.parent === undefined ? this : this.parent.root;
  }

  /** Next child TXNID_PAIR: (root id, root id + n). */
  nextChildXid(): TxnidPair {
    const root = this.root;
    root.childCounter++;
    return { parent: root.id, child: root.id + root.childCounter };
  }

  /** True while the transaction has written nothing (so it logged nothing). */
  get isReadOnly(): boolean {
    return !this.loggedBegin;
  }

  // ------------------------------------------------------------------ reads

  /** The newest write to key visible to this txn (own or ancestors'), if any. */
  private overlay(filenum: number, key: Uint8Array): RowWrite | undefined {
    for (let t: Txn | undefined = this; t !== undefined; t = t.parent) {
      const w = t.ws.lookup(filenum, key);
      if (w !== undefined) return w;
    }
    return undefined;
  }

  /** The value of key as this transaction sees it (undefined when absent). */
  async get(dict: Dictionary, key: Uint8Array): Promise<Uint8Array | undefined> {
    this.checkUsable('get');
    const w = this.overlay(dict.filenum, key);
    if (w !== undefined) return w.op === 'delete' ? undefined : w.value.slice();
    if (this.snapshot !== undefined) return dict.getAsOf(key, this.snapshot);
    if (this.isolation === 'serializable' && !isBugPlanted('serializable-skips-read-locks')) this.env.lockRead(this, dict, key);
    return dict.getCommitted(key);
  }

  /**
   * All entries in range, in order, as one array: committed data read at one instant (all of
   * every commit or none of it) with this transaction's (and its ancestors') writes on top.
   * It loads the whole range into memory, so memory grows with the range; use
   * {@link Txn.cursor} to stream a range of any size.
   */
  async range(dict: Dictionary, r: RangeOptions = {}): Promise<Entry[]> {
    this.checkUsable('range');
    // A cursor whose one chunk is the whole range: one read of the tree, merged as a cursor
    // merges, without a second copy of the rows.
    const cursor = new TxnCursor(this, dict, r, Number.POSITIVE_INFINITY, this.cursorSnapshot({}));
    const out: Entry[] = [];
    try {
      for (let e = await cursor.next(); e !== undefined; e = await cursor.next()) out.push(e);
    } finally {
      cursor.close();
    }
    return out;
  }

  /**
   * An ordered cursor over range that streams from the tree: committed entries are read in
   * chunks and merged with this transaction's own and its ancestors' writes as they were at
   * the cursor's first step. What the committed entries are: the transaction's snapshot under
   * `snapshot` isolation; otherwise a snapshot taken now (an implicit snapshot, released at
   * the end of the range, by {@link TxnCursor.close} or when the transaction ends), unless
   * `opts.snapshot` is false or the transaction is `serializable`: then each chunk sees all
   * of a commit or none of it and later chunks may see later commits (serializable read-locks
   * each key it returns). Memory is one chunk plus that overlay (plus, under a snapshot, the
   * values commits replaced since), whatever the size of the range.
   */
  cursor(dict: Dictionary, r: RangeOptions = {}, opts: { snapshot?: boolean } = {}): TxnCursor {
    return new TxnCursor(this, dict, r, CURSOR_CHUNK, this.cursorSnapshot(opts));
  }

  /** The snapshot a new cursor reads at (see {@link Txn.cursor}); none for an ended txn, whose cursor's first step throws. */
  private cursorSnapshot(opts: { snapshot?: boolean }): { snap: Snapshot; owned: boolean } | undefined {
    if (this.state !== 'live' && this.state !== 'preparing') return undefined;
    if (this.snapshot !== undefined) return { snap: this.snapshot, owned: false };
    if (opts.snapshot === false || this.isolation === 'serializable') return undefined;
    const snap = this.env.snapshot();
    this.cursorSnapshots.add(snap);
    return { snap, owned: true };
  }

  /** @internal A cursor is done with its own snapshot. */
  releaseCursorSnapshot(snap: Snapshot): void {
    snap.release();
    this.cursorSnapshots.delete(snap);
  }

  /** @internal The transaction ended: its snapshot and its cursors' are released. */
  releaseSnapshots(): void {
    for (const s of this.cursorSnapshots) s.release();
    this.cursorSnapshots.clear();
    if (this.parent === undefined) this.snapshot?.release();
  }

  /** @internal A serializable cursor returned key: it is read-locked like a point read. */
  lockReadIfSerializable(dict: Dictionary, key: Uint8Array): void {
    if (this.isolation === 'serializable' && !isBugPlanted('serializable-skips-read-locks')) this.env.lockRead(this, dict, key);
  }

  /**
   * @internal This txn's (and its ancestors') writes to dict inside r, the newest per key, in
   * scan order (descending when r.reverse).
   */
  overlayIn(dict: Dictionary, r: RangeOptions): RowWrite[] {
    this.checkUsable('cursor');
    const merged = new Map<string, RowWrite>();
    const chain: Txn[] = [];
    for (let t: Txn | undefined = this; t !== undefined; t = t.parent) chain.unshift(t);
    for (const t of chain) {
      for (const w of t.ws.sorted(dict.filenum)) if (inRange(w.key, r)) merged.set(keyStr(w.key), w);
    }
    const out = [...merged.values()].sort((a, b) => compareKeys(a.key, b.key));
    if (r.reverse === true) out.reverse();
    return out;
  }

  // ------------------------------------------------------------------ writes

  /** Insert or overwrite key (logged as enq_insert). */
  async put(dict: Dictionary, key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.write(dict, 'insert', key, value);
  }

  /** Delete key (logged as enq_delete_any). */
  async del(dict: Dictionary, key: Uint8Array): Promise<void> {
    await this.write(dict, 'delete', key, new Uint8Array(0));
  }

  /** Insert only if the key is absent as this txn sees it; returns whether it inserted. */
  async insertIfAbsent(dict: Dictionary, key: Uint8Array, value: Uint8Array): Promise<boolean> {
    this.checkWritable('insertIfAbsent');
    this.lockForWrite(dict, key);
    if ((await this.get(dict, key)) !== undefined) return false;
    await this.write(dict, 'insert_no_overwrite', key, value);
    return true;
  }

  /**
   * Update the row at key with update function fnName (default 'add') and argument extra:
   * logged as enq_update (extra = function name, NUL, argument; see update-functions.ts)
   * under the row write lock. The new value is computed at once from what this txn sees (the
   * lock keeps the committed base unchanged until the commit), recorded in the write set as a
   * put (or a delete when the function returns undefined), visible to this txn, applied at
   * commit. A function error is a TokusimError and nothing is logged.
   */
  async update(dict: Dictionary, key: Uint8Array, extra: Uint8Array, fnName = 'add'): Promise<void> {
    this.checkWritable('update');
    dict.checkOpen();
    this.env.checkWritableEnv();
    const logged = this.env.updateExtra(fnName, extra);
    this.lockForWrite(dict, key);
    const release = await this.env.clientLock();
    try {
      const next = this.env.applyUpdate(fnName, await this.get(dict, key), extra);
      this.ensureBegun();
      this.env.log({ type: 'enq_update', filenum: dict.filenum, xid: this.xid, key, extra: logged });
      const w: RowWrite = next === undefined ? { op: 'delete', key, value: new Uint8Array(0) } : { op: 'insert', key, value: next };
      await this.env.updateRollbackNode(this, () => this.ws.record(dict.filenum, w));
    } finally {
      release();
    }
    this.env.noteWrite();
  }

  private async write(dict: Dictionary, op: RowOp, key: Uint8Array, value: Uint8Array): Promise<void> {
    this.checkWritable(op);
    dict.checkOpen();
    this.env.checkWritableEnv();
    this.lockForWrite(dict, key);
    const release = await this.env.clientLock();
    try {
      this.ensureBegun();
      const type = op === 'insert' ? 'enq_insert' : op === 'insert_no_overwrite' ? 'enq_insert_no_overwrite' : 'enq_delete_any';
      if (type === 'enq_delete_any') this.env.log({ type, filenum: dict.filenum, xid: this.xid, key });
      else this.env.log({ type, filenum: dict.filenum, xid: this.xid, key, value });
      await this.env.updateRollbackNode(this, () => this.ws.record(dict.filenum, { op, key, value }));
    } finally {
      release();
    }
    this.env.noteWrite();
  }

  /**
   * Take the row write lock on key; under snapshot isolation first refuse the write when a
   * commit after the snapshot changed the key (SnapshotConflictError). Synchronous from the
   * check to the lock: no commit can slip in between (a committer holds the row lock until
   * its versions are recorded).
   */
  private lockForWrite(dict: Dictionary, key: Uint8Array): void {
    const snap = this.snapshot;
    if (snap !== undefined && !this.ownsWrite(dict.filenum, key) && dict.versions.changedAfter(key, snap.seq)) {
      throw new SnapshotConflictError(dict.name, key, this.id, snap.seq);
    }
    this.env.lockRow(this, dict, key);
  }

  /** True when this txn or an ancestor already wrote key (it holds the row lock since). */
  private ownsWrite(filenum: number, key: Uint8Array): boolean {
    return this.overlay(filenum, key) !== undefined;
  }

  /** Log xbegin for this txn and its ancestors (outermost first) if not yet logged. */
  ensureBegun(): void {
    if (this.loggedBegin) return;
    this.parent?.ensureBegun();
    this.env.log({ type: 'xbegin', xid: this.xid, parentxid: this.parent?.xid ?? { parent: 0n, child: 0n } });
    this.loggedBegin = true;
  }

  // ------------------------------------------------------------------ end

  /** Commit: a child merges into its parent; a root logs xcommit and waits per the durability mode. */
  async commit(): Promise<void> {
    if (this.state !== 'live' && this.state !== 'preparing') throw badState('commit', this.state);
    if (this.child !== undefined) throw new TokusimError('bad-argument', 'commit of a transaction whose child is still live', { expected: 'no live child', actual: `child ${this.child.id}` });
    try {
      await this.env.finishTxn(this, 'commit');
    } finally {
      if (this.state !== 'live' && this.state !== 'preparing') this.releaseSnapshots();
    }
  }

  /** Abort: the writes are undone and its locks released (logged as xabort). */
  async abort(): Promise<void> {
    if (this.state !== 'live' && this.state !== 'preparing') throw badState('abort', this.state);
    if (this.child !== undefined) await this.child.abort();
    try {
      await this.env.finishTxn(this, 'abort');
    } finally {
      if (this.state !== 'live' && this.state !== 'preparing') this.releaseSnapshots();
    }
    if (isBugPlanted('abort-leaks-client-lock')) await this.env.clientLock();
  }

  /** XA prepare with a global id: logged (xprepare) and made durable before it returns. */
  async prepare(xid: Xid): Promise<void> {
    this.checkWritable('prepare');
    if (this.parent !== undefined) throw new TokusimError('bad-argument', 'only a root transaction can be prepared', { expected: 'root', actual: `child of ${this.parent.id}` });
    if (this.child !== undefined) throw new TokusimError('bad-argument', 'prepare with a live child', { actual: `child ${this.child.id}` });
    await this.env.prepareTxn(this, xid);
  }

  /** @internal */
  checkUsable(what: string): void {
    if (this.state === 'committed' || this.state === 'aborted' || this.state === 'failed') throw badState(what, this.state);
    this.env.checkNotFailed();
  }

  /** @internal */
  checkWritable(what: string): void {
    if (this.state !== 'live') throw badState(what, this.state);
    this.env.checkNotFailed();
    if (this.child !== undefined) {
      throw new TokusimError('bad-argument', `${what} on a transaction with a live child (write through the child)`, { actual: `child ${this.child.id}` });
    }
  }

  /** Apply the committed root write set of this txn as undo/redo-free row operations. */
  static sortedRows(ws: WriteSet): Array<{ filenum: number; rows: RowWrite[] }> {
    return [...ws.rows.keys()].sort((a, b) => a - b).map((filenum) => ({ filenum, rows: ws.sorted(filenum) }));
  }
}

function keyStr(k: Uint8Array): string {
  let s = '';
  for (const b of k) s += String.fromCharCode(b);
  return s;
}

/** Committed entries a cursor reads from the tree at a time. */
export const CURSOR_CHUNK = 256;

/** TxnCursor.step's answer when the chunk held is used up and the next must be read. */
const NEED_CHUNK = Symbol('need chunk');

/**
 * A streaming cursor over one dictionary for one transaction (see {@link Txn.cursor}).
 *
 * Invariants:
 *  - Keys come out strictly increasing (strictly decreasing when reversed), all inside the
 *    range, at most `limit` of them.
 *  - `pos` is the last key consumed from either source; every committed chunk is read
 *    strictly after it, so a key is never returned twice even if commits land between chunks.
 *  - At most one chunk of committed entries is held at a time.
 *  - With a snapshot, every committed entry is the key's value as of that snapshot, and the
 *    next chunk starts strictly after the last key the previous read covered (`resume`),
 *    which may be past the last entry it returned.
 *  - A snapshot the cursor owns is released once: at the end of the range, at close, or
 *    when its transaction ends.
 */
export class TxnCursor implements AsyncIterable<Entry> {
  private overlay: RowWrite[] | undefined;
  private oi = 0;
  private chunk: Entry[] = [];
  private ci = 0;
  private committedDone = false;
  private pos: Uint8Array | undefined;
  private returned = 0;
  private readonly dir: 1 | -1;
  private readonly scan: RangeOptions;
  /** Under a snapshot: the last key the previous chunk read covered. */
  private resume: Uint8Array | undefined;
  /** The tree cursor every chunk is read with (Dictionary.scanChunk): it continues where the last chunk ended. */
  private treeCursor: BtreeCursor | undefined;

  /** @internal Use {@link Txn.cursor}. */
  constructor(
    private readonly txn: Txn,
    private readonly dict: Dictionary,
    private readonly r: RangeOptions,
    private readonly chunkSize = CURSOR_CHUNK,
    /** The snapshot committed entries are read at (owned: the cursor releases it), or none. */
    private readonly snap?: { snap: Snapshot; owned: boolean },
  ) {
    invariant(chunkSize >= 1, 'a cursor chunk holds at least one entry');
    this.dir = r.reverse === true ? -1 : 1;
    const { limit: _limit, ...scan } = r;
    this.scan = scan;
  }

  /** The next entry, or undefined at the end of the range. */
  async next(): Promise<Entry | undefined> {
    for (;;) {
      const e = this.step();
      if (e !== NEED_CHUNK) {
        if (e === undefined) this.close();
        return e;
      }
      await this.readChunk();
    }
  }

  /** Stop early: releases the cursor's own snapshot (the end of the range does too). Idempotent. */
  close(): void {
    if (this.snap?.owned === true && !this.snap.snap.released) this.txn.releaseCursorSnapshot(this.snap.snap);
  }

  /**
   * The next entry as far as it can be decided from the chunk held: an entry, undefined at
   * the end, or NEED_CHUNK when the committed chunk is used up and the next must be read.
   * Synchronous, so the rows of a chunk cost no promise of their own.
   */
  private step(): Entry | undefined | typeof NEED_CHUNK {
    if (this.r.limit !== undefined && this.r.limit >= 0 && this.returned >= this.r.limit) return undefined;
    this.overlay ??= this.txn.overlayIn(this.dict, this.scan);
    for (;;) {
      if (this.ci >= this.chunk.length && !this.committedDone) return NEED_CHUNK;
      const c = this.chunk[this.ci];
      const o = this.overlay[this.oi];
      if (c === undefined && o === undefined) return undefined;
      const order = c === undefined ? 1 : o === undefined ? -1 : compareKeys(c.key, o.key) * this.dir;
      if (order < 0) {
        this.ci++;
        this.pos = c!.key;
        this.txn.lockReadIfSerializable(this.dict, c!.key);
        this.returned++;
        return c;
      }
      // The transaction's own write to this key decides what it sees.
      this.oi++;
      if (order === 0) this.ci++;
      this.pos = o!.key;
      if (o!.op === 'delete') continue;
      this.returned++;
      return { key: o!.key.slice(), value: o!.value.slice() };
    }
  }

  /** Replace the used-up chunk with the committed entries after pos. */
  private async readChunk(): Promise<void> {
    // Drop the old chunk first, so that at most one is held while the next is read.
    this.chunk = [];
    this.ci = 0;
    // An unbounded chunk (range()) is one read of the tree, at one instant.
    if (this.chunkSize !== Number.POSITIVE_INFINITY) this.treeCursor ??= this.dict.tree.cursor();
    const res = await this.dict.scanChunk(this.after(), this.chunkSize, this.treeCursor ?? null, this.snap?.snap);
    this.chunk = res.entries;
    if (this.snap !== undefined) this.resume = res.last;
    if (res.done) this.committedDone = true;
  }

  /** The scan range narrowed to start strictly after pos. */
  private after(): RangeOptions {
    // Every key up to resume was read and is consumed (pos <= resume), so resume is the start.
    const from = this.resume ?? this.pos;
    if (from === undefined) return this.scan;
    const out: RangeOptions = { ...this.scan };
    if (this.dir === 1) {
      delete out.gte;
      out.gt = from;
    } else {
      delete out.lte;
      out.lt = from;
    }
    return out;
  }

  /**
   * `for await (const e of cursor)`: the entries in order. A plain iterator rather than an
   * async generator: a row of the chunk held is answered with one settled promise, without
   * the generator's and next()'s own promises per row.
   */
  [Symbol.asyncIterator](): AsyncIterator<Entry> {
    const result = (e: Entry | undefined): IteratorResult<Entry> => (e === undefined ? { done: true, value: undefined } : { done: false, value: e });
    return {
      next: () => {
        try {
          const e = this.step();
          if (e === undefined) this.close();
          return e === NEED_CHUNK ? this.next().then(result) : Promise.resolve(result(e));
        } catch (err) {
          return Promise.reject(err);
        }
      },
    };
  }
}

export type { Release };
export const _internal = { invariant };
