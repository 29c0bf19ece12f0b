/**
 * What each log record means (spec recovery.md §5–§7, tokulog-format.md §4, §7, §8), written
 * once for every reader that replays a log: crash recovery's forward scan (engine/recovery.ts)
 * and the forensic replay (log/replay.ts). The interpreter keeps the part both need, the table
 * of live transactions with their parent/child links, the checkpoint phase, and the decoding
 * of names, and turns each record into a Meaning in a small vocabulary (a transaction begins,
 * commits into its parent or as a root, aborts; a row is written in a filenum; a file is
 * created, opened, closed, deleted or renamed; a checkpoint begins or ends). What a meaning
 * does to data (a B-tree on disk, or rows in memory) is the reader's business.
 *
 * The reader decides how strict to be through a TxnPolicy: recovery fails on a record naming a
 * transaction that is not live; the forensic replay notes it and skips the record.
 *
 * Invariants:
 *  - A live transaction's parent is live and lists it among its children; a root has no parent.
 *  - A transaction leaves the table exactly once, at its commit or abort (children of an
 *    aborted transaction are aborted with it, deepest first; children still live at their
 *    parent's commit are committed into it first, and that is reported as an anomaly).
 *  - Phase: 'between' from the turning point's begin_checkpoint (when there is one) to its
 *    end_checkpoint, 'newer' after it and throughout a log read without a turning point.
 *  - tokudb.rollback is never a dictionary: records that open or close it mean nothing here,
 *    and creating it is an anomaly.
 *  - Inames are given as their bytes without a trailing NUL (each reader decodes them).
 */
import type { LogRecord, LogRecordOf, TxnidPair, Xid } from '../format/record-types.js';
import { ROLLBACK_INAME, stripNul } from './inames.js';

/** A transaction the log has shown to be live, with the reader's own state for it. */
export interface LoggedTxn<T> {
  readonly xid: TxnidPair;
  readonly parent: LoggedTxn<T> | undefined;
  readonly children: Set<LoggedTxn<T>>;
  /** LSN of its xbegin, or of the record where it was first seen. */
  readonly beginLsn: bigint;
  /** Prepared (xprepare, or listed by xstillopenprepared); only roots are ever prepared. */
  prepared: boolean;
  /** The XA id it was prepared with. */
  xaXid: Xid | undefined;
  /** The reader's state (a write set, a queue of operations, ...). */
  readonly data: T;
}

/** The checkpoint phase of the record being interpreted (recovery.md §5, §6). */
export type CheckpointPhase = 'between' | 'newer';

/** What a row record does to one key. */
export type RowOpKind = 'insert' | 'insert_no_overwrite' | 'delete';

/** The meaning of one record; `txn` is undefined when the record names a transaction that is not live and the policy let it go. */
export type Meaning<T> =
  | { kind: 'checkpoint-begin'; lsn: bigint; lastXid: bigint; phase: CheckpointPhase }
  /** The end of the turning point's checkpoint (the phase becomes 'newer'), or of another one. */
  | { kind: 'checkpoint-end'; lsn: bigint; beginLsn: bigint; endsTurningPoint: boolean }
  | { kind: 'begin'; txn: LoggedTxn<T> }
  /** A checkpoint lists a live transaction. In 'between' it was made live here; `adopted` when it predates the log (partial). */
  | { kind: 'still-open'; rec: LogRecordOf<'xstillopen'> | LogRecordOf<'xstillopenprepared'>; txn: LoggedTxn<T> | undefined; phase: CheckpointPhase; adopted: boolean }
  | { kind: 'prepare'; txn: LoggedTxn<T> }
  /** A commit: into `parent` (already merged through the policy) for a child, or of a root (its data is now committed). */
  | { kind: 'commit'; lsn: bigint; txn: LoggedTxn<T>; parent: LoggedTxn<T> | undefined }
  /** An abort: every transaction it ends, deepest child first, the named one last. */
  | { kind: 'abort'; lsn: bigint; txns: Array<LoggedTxn<T>> }
  | { kind: 'row'; lsn: bigint; txn: LoggedTxn<T> | undefined; filenum: number; op: RowOpKind; key: Uint8Array; value: Uint8Array }
  /** One key changed by the application's update function (enq_update). */
  | { kind: 'update'; lsn: bigint; txn: LoggedTxn<T> | undefined; filenum: number; key: Uint8Array; extra: Uint8Array }
  /** Every row of a dictionary changed by the update function (enq_updatebroadcast). */
  | { kind: 'update-broadcast'; lsn: bigint; txn: LoggedTxn<T> | undefined; filenum: number }
  /** A source row and the rows the application's generator makes from it (enq_*_multiple). */
  | { kind: 'rows-multiple'; rec: LogRecordOf<'enq_insert_multiple'> | LogRecordOf<'enq_delete_multiple'>; txn: LoggedTxn<T> | undefined; put: boolean }
  | { kind: 'file-create'; lsn: bigint; txn: LoggedTxn<T> | undefined; filenum: number; iname: Uint8Array }
  | { kind: 'file-open'; lsn: bigint; filenum: number; iname: Uint8Array; via: 'fopen' | 'fassociate'; phase: CheckpointPhase }
  | { kind: 'file-close'; lsn: bigint; filenum: number; iname: Uint8Array }
  /** The dictionary is removed when the root transaction commits. */
  | { kind: 'file-delete'; lsn: bigint; txn: LoggedTxn<T> | undefined; filenum: number }
  /** A rename done at once; the transaction (if live: frename forces no xbegin) undoes it on abort. */
  | { kind: 'file-rename'; lsn: bigint; txn: LoggedTxn<T> | undefined; oldIname: Uint8Array; newIname: Uint8Array; oldFilenum: number }
  | { kind: 'load'; rec: LogRecordOf<'load'>; txn: LoggedTxn<T> | undefined; newIname: Uint8Array }
  | { kind: 'hot-index'; rec: LogRecordOf<'hot_index'>; txn: LoggedTxn<T> | undefined }
  /** A descriptor change; its transaction (none when xid is (0,0)) is looked up by the reader with txnOf, only if the dictionary is open. */
  | { kind: 'descriptor'; rec: LogRecordOf<'change_fdescriptor'> }
  /** Recovery's `comment`: it closed every dictionary of the crashed process without logging fclose. */
  | { kind: 'comment' }
  /** Nothing (shutdown, or a record skipped). */
  | { kind: 'none' };

/** How a reader wants transactions handled where the log does not say enough. */
export interface TxnPolicy<T> {
  /** The reader's state for a transaction that becomes live. */
  newData(): T;
  /**
   * A record names a transaction that is not live: `role` 'txn' (the record's own), 'parent'
   * (the parent of a begin or of a listed transaction) or 'listed' (named by a checkpoint after
   * the turning point). Throw to stop; return to skip the transaction part of the record.
   */
  unknownTxn(rec: LogRecord, xid: TxnidPair, role: 'txn' | 'parent' | 'listed'): void;
  /** The log does something a well-formed log never does; the interpreter goes on as its comment says unless this throws. */
  anomaly(rec: LogRecord, detail: string): void;
  /** A child commits: its state becomes its parent's. */
  mergeInto(child: LoggedTxn<T>, parent: LoggedTxn<T>): void;
}

/** Options of a {@link LogInterpreter}. */
export interface InterpreterOptions {
  /** The begin_checkpoint LSN the reader starts at (recovery's turning point); absent: the log is read without one. */
  turningPoint?: bigint;
  /** The log may not start at LSN 1: a transaction first named after the first record predates the log and is made live on sight. */
  partial?: boolean;
}

const NO_XID: TxnidPair = { parent: 0n, child: 0n };

function isNone(x: TxnidPair): boolean {
  return x.parent === 0n && x.child === 0n;
}

/** A transaction id as text: `root` or `root.child`. */
export function xidStr(x: TxnidPair): string {
  return x.child === 0n ? `${x.parent}` : `${x.parent}.${x.child}`;
}

function xidKey(x: TxnidPair): string {
  return `${x.parent},${x.child}`;
}

const dec = new TextDecoder();

/** The interpreter: feed it records in LSN order with interpret(). */
export class LogInterpreter<T> {
  private readonly txns = new Map<string, LoggedTxn<T>>();
  private readonly turningPoint: bigint | undefined;
  private readonly partial: boolean;
  private phaseNow: CheckpointPhase;

  /** An interpreter with no live transaction, in the phase the turning point implies. */
  constructor(
    private readonly policy: TxnPolicy<T>,
    opts: InterpreterOptions = {},
  ) {
    this.turningPoint = opts.turningPoint;
    this.partial = opts.partial ?? false;
    this.phaseNow = opts.turningPoint === undefined ? 'newer' : 'between';
  }

  /** The current checkpoint phase. */
  get phase(): CheckpointPhase {
    return this.phaseNow;
  }

  /** The live transaction with this xid, if any. */
  get(xid: TxnidPair): LoggedTxn<T> | undefined {
    return this.txns.get(xidKey(xid));
  }

  /** Every live transaction, in the order they became live. */
  live(): Array<LoggedTxn<T>> {
    return [...this.txns.values()];
  }

  /** Live root transactions in ascending root id. */
  liveRoots(): Array<LoggedTxn<T>> {
    return this.live().filter((t) => t.parent === undefined).sort((a, b) => (a.xid.parent < b.xid.parent ? -1 : a.xid.parent > b.xid.parent ? 1 : 0));
  }

  /** t and its live descendants, t first (depth first). */
  subtree(t: LoggedTxn<T>): Array<LoggedTxn<T>> {
    const out = [t];
    for (const c of t.children) out.push(...this.subtree(c));
    return out;
  }

  /** Remove a transaction from the table (the reader ended it itself, e.g. an abort at the end of recovery). */
  forget(t: LoggedTxn<T>): void {
    this.txns.delete(xidKey(t.xid));
    t.parent?.children.delete(t);
  }

  /** The meaning of rec (the next record in LSN order); the transaction table is updated. */
  interpret(rec: LogRecord): Meaning<T> {
    switch (rec.type) {
      case 'begin_checkpoint':
        return { kind: 'checkpoint-begin', lsn: rec.lsn, lastXid: rec.last_xid, phase: this.phaseNow };
      case 'end_checkpoint': {
        const ends = this.turningPoint !== undefined && rec.lsn_begin_checkpoint === this.turningPoint;
        if (ends) this.phaseNow = 'newer';
        return { kind: 'checkpoint-end', lsn: rec.lsn, beginLsn: rec.lsn_begin_checkpoint, endsTurningPoint: ends };
      }
      case 'xbegin': {
        if (this.get(rec.xid) !== undefined) {
          this.policy.anomaly(rec, `transaction ${fmtXid(rec.xid)} begins twice; the second xbegin is ignored`);
          return { kind: 'none' };
        }
        let parent: LoggedTxn<T> | undefined;
        if (!isNone(rec.parentxid)) {
          parent = this.txnFor(rec, rec.parentxid, 'parent');
          if (parent === undefined) return { kind: 'none' };
        }
        return { kind: 'begin', txn: this.newTxn(rec.xid, parent, rec.lsn) };
      }
      case 'xstillopen':
      case 'xstillopenprepared':
        return this.stillOpen(rec);
      case 'xprepare': {
        const t = this.txnFor(rec, rec.xid);
        // PerconaFT ignores the prepare of a child.
        if (t === undefined || t.parent !== undefined) return { kind: 'none' };
        t.prepared = true;
        t.xaXid = rec.xa_xid;
        return { kind: 'prepare', txn: t };
      }
      case 'xcommit': {
        const t = this.txnFor(rec, rec.xid);
        if (t === undefined) return { kind: 'none' };
        if (t.children.size > 0) {
          // PerconaFT commits children first, each with its own xcommit; this log did not.
          this.policy.anomaly(rec, `transaction ${fmtXid(t.xid)} commits with ${t.children.size} live child(ren); they are committed with it`);
          for (const c of [...t.children]) this.commitInto(c, t);
        }
        const parent = t.parent;
        if (parent !== undefined) this.commitInto(t, parent);
        else this.forget(t);
        return { kind: 'commit', lsn: rec.lsn, txn: t, parent };
      }
      case 'xabort': {
        const t = this.txnFor(rec, rec.xid);
        if (t === undefined) return { kind: 'none' };
        const txns = this.abortOrder(t);
        for (const x of txns) this.forget(x);
        return { kind: 'abort', lsn: rec.lsn, txns };
      }
      case 'enq_insert':
      case 'enq_insert_no_overwrite':
      case 'enq_delete_any': {
        const txn = this.txnFor(rec, rec.xid);
        const op: RowOpKind = rec.type === 'enq_insert' ? 'insert' : rec.type === 'enq_insert_no_overwrite' ? 'insert_no_overwrite' : 'delete';
        return { kind: 'row', lsn: rec.lsn, txn, filenum: rec.filenum, op, key: rec.key, value: rec.type === 'enq_delete_any' ? new Uint8Array(0) : rec.value };
      }
      case 'enq_update':
        return { kind: 'update', lsn: rec.lsn, txn: this.txnFor(rec, rec.xid), filenum: rec.filenum, key: rec.key, extra: rec.extra };
      case 'enq_updatebroadcast':
        return { kind: 'update-broadcast', lsn: rec.lsn, txn: this.txnFor(rec, rec.xid), filenum: rec.filenum };
      case 'enq_insert_multiple':
      case 'enq_delete_multiple':
        return { kind: 'rows-multiple', rec, txn: this.txnFor(rec, rec.xid), put: rec.type === 'enq_insert_multiple' };
      case 'fcreate': {
        const txn = this.txnFor(rec, rec.xid);
        const iname = stripNul(rec.iname);
        if (isRollback(iname)) {
          this.policy.anomaly(rec, 'fcreate of tokudb.rollback');
          return { kind: 'none' };
        }
        return { kind: 'file-create', lsn: rec.lsn, txn, filenum: rec.filenum, iname };
      }
      case 'fopen':
      case 'fassociate': {
        const iname = stripNul(rec.iname);
        if (isRollback(iname)) return { kind: 'none' };
        return { kind: 'file-open', lsn: rec.lsn, filenum: rec.filenum, iname, via: rec.type, phase: this.phaseNow };
      }
      case 'fclose': {
        const iname = stripNul(rec.iname);
        if (isRollback(iname)) return { kind: 'none' };
        return { kind: 'file-close', lsn: rec.lsn, filenum: rec.filenum, iname };
      }
      case 'fdelete':
        return { kind: 'file-delete', lsn: rec.lsn, txn: this.txnFor(rec, rec.xid), filenum: rec.filenum };
      case 'frename': {
        // frename does not force an xbegin: its transaction may not be live, and then nothing undoes it.
        const txn = this.get(rec.xid) ?? (this.partial ? this.adopt(rec, rec.xid) : undefined);
        return { kind: 'file-rename', lsn: rec.lsn, txn, oldIname: stripNul(rec.old_iname), newIname: stripNul(rec.new_iname), oldFilenum: rec.old_filenum };
      }
      case 'load':
        return { kind: 'load', rec, txn: this.txnFor(rec, rec.xid), newIname: stripNul(rec.new_iname) };
      case 'hot_index':
        return { kind: 'hot-index', rec, txn: this.txnFor(rec, rec.xid) };
      case 'change_fdescriptor':
        return { kind: 'descriptor', rec };
      case 'comment':
        return { kind: 'comment' };
      default:
        return { kind: 'none' };
    }
  }

  private stillOpen(rec: LogRecordOf<'xstillopen'> | LogRecordOf<'xstillopenprepared'>): Meaning<T> {
    const parentxid = rec.type === 'xstillopen' ? rec.parentxid : NO_XID;
    const known = this.get(rec.xid);
    if (this.phaseNow === 'between') {
      // The turning point's list: the transactions live at its begin become live here.
      if (known !== undefined) {
        this.policy.anomaly(rec, `checkpoint lists transaction ${fmtXid(rec.xid)} twice`);
        return { kind: 'still-open', rec, txn: known, phase: 'between', adopted: false };
      }
      let parent: LoggedTxn<T> | undefined;
      if (!isNone(parentxid)) {
        parent = this.get(parentxid);
        if (parent === undefined) {
          this.policy.unknownTxn(rec, parentxid, 'parent');
          return { kind: 'still-open', rec, txn: undefined, phase: 'between', adopted: false };
        }
      }
      const t = this.newTxn(rec.xid, parent, rec.lsn);
      if (rec.type === 'xstillopenprepared') {
        t.prepared = true;
        t.xaXid = rec.xa_xid;
      }
      return { kind: 'still-open', rec, txn: t, phase: 'between', adopted: false };
    }
    // After the turning point (or without one) the list only confirms what the log showed.
    if (known !== undefined) return { kind: 'still-open', rec, txn: known, phase: 'newer', adopted: false };
    if (!this.partial) {
      this.policy.unknownTxn(rec, rec.xid, 'listed');
      return { kind: 'still-open', rec, txn: undefined, phase: 'newer', adopted: false };
    }
    const parent = isNone(parentxid) ? undefined : this.txnFor(rec, parentxid, 'parent');
    const t = this.newTxn(rec.xid, parent, rec.lsn);
    if (rec.type === 'xstillopenprepared') {
      t.prepared = true;
      t.xaXid = rec.xa_xid;
    }
    return { kind: 'still-open', rec, txn: t, phase: 'newer', adopted: true };
  }

  private newTxn(xid: TxnidPair, parent: LoggedTxn<T> | undefined, lsn: bigint): LoggedTxn<T> {
    const t: LoggedTxn<T> = { xid, parent, children: new Set(), beginLsn: lsn, prepared: false, xaXid: undefined, data: this.policy.newData() };
    this.txns.set(xidKey(xid), t);
    parent?.children.add(t);
    return t;
  }

  /** A transaction that began before the log's first record, made live on first sight (partial). */
  private adopt(rec: LogRecord, xid: TxnidPair): LoggedTxn<T> {
    const parent = xid.child === 0n ? undefined : this.txnFor(rec, { parent: xid.parent, child: 0n });
    return this.newTxn(xid, parent, rec.lsn);
  }

  /** The live transaction rec names ((0,0): none), adopted in partial mode; otherwise the policy decides (undefined: skipped). */
  txnOf(rec: LogRecord, xid: TxnidPair): LoggedTxn<T> | undefined {
    return isNone(xid) ? undefined : this.txnFor(rec, xid);
  }

  private txnFor(rec: LogRecord, xid: TxnidPair, role: 'txn' | 'parent' = 'txn'): LoggedTxn<T> | undefined {
    const t = this.get(xid);
    if (t !== undefined) return t;
    if (this.partial) return this.adopt(rec, xid);
    this.policy.unknownTxn(rec, xid, role);
    return undefined;
  }

  /** A child commit: its children first, then its state moves to its parent through the policy. */
  private commitInto(child: LoggedTxn<T>, parent: LoggedTxn<T>): void {
    for (const c of [...child.children]) this.commitInto(c, child);
    this.policy.mergeInto(child, parent);
    this.forget(child);
  }

  /** t's live subtree in abort order: each child's subtree before its parent. */
  private abortOrder(t: LoggedTxn<T>): Array<LoggedTxn<T>> {
    const out: Array<LoggedTxn<T>> = [];
    for (const c of t.children) out.push(...this.abortOrder(c));
    out.push(t);
    return out;
  }
}

function fmtXid(x: TxnidPair): string {
  return `${x.parent},${x.child}`;
}

function isRollback(iname: Uint8Array): boolean {
  return dec.decode(iname) === ROLLBACK_INAME;
}
