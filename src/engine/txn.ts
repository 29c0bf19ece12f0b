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
 */
import { TokusimError, invariant } from '../format/errors.js';
import type { TxnidPair, Xid } from '../format/record-types.js';
import { isBugPlanted } from '../format/planted-bugs.js';
import type { Release } from '../checkpoint/locks.js';
import { compareKeys } from './btree/node.js';
import { WriteSet, type RowOp, type RowWrite } from './write-set.js';
import type { Dictionary, EnvCore } from './env.js';

export type TxnState = 'live' | 'preparing' | 'committed' | 'aborted';

export interface RangeOptions {
  gt?: Uint8Array;
  gte?: Uint8Array;
  lt?: Uint8Array;
  lte?: Uint8Array;
  reverse?: boolean;
  limit?: number;
}

export interface Entry {
  key: Uint8Array;
  value: Uint8Array;
}

function badState(what: string, state: string): TokusimError {
  return new TokusimError('bad-argument', `${what} on a transaction that is ${state}`, { expected: 'live', actual: state });
}

export function inRange(key: Uint8Array, r: RangeOptions): boolean {
  if (r.gt !== undefined && compareKeys(key, r.gt) <= 0) return false;
  if (r.gte !== undefined && compareKeys(key, r.gte) < 0) return false;
  if (r.lt !== undefined && compareKeys(key, r.lt) >= 0) return false;
  if (r.lte !== undefined && compareKeys(key, r.lte) > 0) return false;
  return true;
}

export class Txn {
  readonly ws = new WriteSet();
  state: TxnState = 'live';
  loggedBegin = false;
  xaXid: Xid | undefined;
  /** Blocknum of this txn's rollback node in tokudb.rollback (null until the first write). */
  rollbackBlocknum: bigint | null = null;
  child: Txn | undefined;
  private childCounter = 0n;

  constructor(
    private readonly env: EnvCore,
    readonly id: bigint,
    readonly parent: Txn | undefined,
    readonly xid: TxnidPair,
  ) {}

  get root(): Txn {
    return this.parent === undefined ? this : this.parent.root;
  }

  /** Next child TXNID_PAIR: (root id, root id + n). */
  nextChildXid(): TxnidPair {
    const root = this.root;
    root.childCounter++;
    return { parent: root.id, child: root.id + root.childCounter };
  }

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

  async get(dict: Dictionary, key: Uint8Array): Promise<Uint8Array | undefined> {
    this.checkUsable('get');
    const w = this.overlay(dict.filenum, key);
    if (w !== undefined) return w.op === 'delete' ? undefined : w.value.slice();
    return dict.getCommitted(key);
  }

  /** Ordered entries in range: committed data with this txn's (and its ancestors') writes on top. */
  async range(dict: Dictionary, r: RangeOptions = {}): Promise<Entry[]> {
    this.checkUsable('range');
    const merged = new Map<string, Entry | null>();
    const order: Uint8Array[] = [];
    for (const e of await dict.committedRange(r)) {
      const k = keyStr(e.key);
      merged.set(k, e);
      order.push(e.key);
    }
    const chain: Txn[] = [];
    for (let t: Txn | undefined = this; t !== undefined; t = t.parent) chain.unshift(t);
    for (const t of chain) {
      for (const w of t.ws.sorted(dict.filenum)) {
        if (!inRange(w.key, r)) continue;
        const k = keyStr(w.key);
        if (!merged.has(k)) order.push(w.key);
        merged.set(k, w.op === 'delete' ? null : { key: w.key.slice(), value: w.value.slice() });
      }
    }
    const out: Entry[] = [];
    const seen = new Set<string>();
    order.sort(compareKeys);
    if (r.reverse === true) order.reverse();
    for (const key of order) {
      const k = keyStr(key);
      if (seen.has(k)) continue;
      seen.add(k);
      const e = merged.get(k);
      if (e !== null && e !== undefined) out.push(e);
      if (r.limit !== undefined && r.limit >= 0 && out.length >= r.limit) break;
    }
    return out;
  }

  /** An ordered cursor over range (a snapshot taken at the first step). */
  cursor(dict: Dictionary, r: RangeOptions = {}): TxnCursor {
    return new TxnCursor(() => this.range(dict, r));
  }

  // ------------------------------------------------------------------ writes

  async put(dict: Dictionary, key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.write(dict, 'insert', key, value);
  }

  async del(dict: Dictionary, key: Uint8Array): Promise<void> {
    await this.write(dict, 'delete', key, new Uint8Array(0));
  }

  /** Insert only if the key is absent as this txn sees it; returns whether it inserted. */
  async insertIfAbsent(dict: Dictionary, key: Uint8Array, value: Uint8Array): Promise<boolean> {
    this.checkWritable('insertIfAbsent');
    this.env.lockRow(this, dict, key);
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
    this.env.lockRow(this, dict, key);
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
    this.env.lockRow(this, dict, key);
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

  /** Log xbegin for this txn and its ancestors (outermost first) if not yet logged. */
  ensureBegun(): void {
    if (this.loggedBegin) return;
    this.parent?.ensureBegun();
    this.env.log({ type: 'xbegin', xid: this.xid, parentxid: this.parent?.xid ?? { parent: 0n, child: 0n } });
    this.loggedBegin = true;
  }

  // ------------------------------------------------------------------ end

  async commit(): Promise<void> {
    if (this.state !== 'live' && this.state !== 'preparing') throw badState('commit', this.state);
    if (this.child !== undefined) throw new TokusimError('bad-argument', 'commit of a transaction whose child is still live', { expected: 'no live child', actual: `child ${this.child.id}` });
    await this.env.finishTxn(this, 'commit');
  }

  async abort(): Promise<void> {
    if (this.state !== 'live' && this.state !== 'preparing') throw badState('abort', this.state);
    if (this.child !== undefined) await this.child.abort();
    await this.env.finishTxn(this, 'abort');
    if (isBugPlanted('abort-leaks-client-lock')) await this.env.clientLock();
  }

  /** XA prepare with a global id: logged (xprepare) and made durable before it returns. */
  async prepare(xid: Xid): Promise<void> {
    this.checkWritable('prepare');
    if (this.parent !== undefined) throw new TokusimError('bad-argument', 'only a root transaction can be prepared', { expected: 'root', actual: `child of ${this.parent.id}` });
    if (this.child !== undefined) throw new TokusimError('bad-argument', 'prepare with a live child', { actual: `child ${this.child.id}` });
    await this.env.prepareTxn(this, xid);
  }

  checkUsable(what: string): void {
    if (this.state === 'committed' || this.state === 'aborted') throw badState(what, this.state);
    this.env.checkNotFailed();
  }

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

export class TxnCursor implements AsyncIterable<Entry> {
  private entries: Entry[] | undefined;
  private i = 0;
  constructor(private readonly load: () => Promise<Entry[]>) {}

  async next(): Promise<Entry | undefined> {
    this.entries ??= await this.load();
    return this.entries[this.i++];
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Entry> {
    for (;;) {
      const e = await this.next();
      if (e === undefined) return;
      yield e;
    }
  }
}

export type { Release };
export const _internal = { invariant };
