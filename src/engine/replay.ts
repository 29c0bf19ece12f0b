/**
 * Forensic replay: rebuild the committed contents of every dictionary from a redo log that
 * starts at environment creation (LSN 1), without dictionary files and without the
 * application's callbacks. Pure: log records in, state out (no I/O, no clock).
 *
 * Semantics (spec recovery.md §6, §7; tokulog-format.md §4, §7, §8):
 *  - FILENUM → dictionary comes from fcreate / fopen / fassociate and ends at fclose (or at the
 *    `comment` that recovery logs after closing everything); the same filenum may name different
 *    files over time, so every write is bound to the dictionary the filenum names at its LSN.
 *  - Writes (enq_insert, enq_insert_no_overwrite, enq_delete_any, ...) are queued in their
 *    transaction. A child's queue moves to its parent when the child commits and is dropped when
 *    it aborts; only a root commit applies the queue, in LSN order, to the committed rows.
 *  - File-level effects that PerconaFT performs at once (fcreate makes the file, frename renames
 *    it, a loader's file exists before its `load` record) happen at once here too and are undone
 *    when their transaction aborts or is still open or prepared at the end of the log. fdelete and
 *    the old dictionary of a `load` are removed when the root transaction commits.
 *  - Records whose effect needs the application (enq_update, enq_updatebroadcast, the row
 *    generators of *_multiple, loader and hot-indexer contents) are never guessed: the rows they
 *    touch become "undetermined" and the dictionary lists why.
 *  - On top of a dictionary file (ReplayOptions.alreadyInFile, used by extract): a committed
 *    write that the file already holds is skipped, and the result says which keys the replayed
 *    records deleted and whether they may have changed rows older than them, so that the
 *    file's rows and the replay's can be merged.
 *
 * Invariants (checked with invariant()):
 *  - LSNs are consecutive; in full mode the first one is 1.
 *  - A live transaction's parent is live; a root has no parent.
 *  - A dictionary's known keys, undetermined keys and deleted keys are pairwise disjoint.
 *  - tokudb.rollback is never a dictionary here (it holds undo logs, not rows).
 */
import { TokusimError, invariant } from '../base/errors.js';
import type { LogRecord, LogRecordName, LogRecordOf, TxnidPair, Xid } from '../format/record-types.js';

/** FILENUM_NONE (0xFFFFFFFF): "no dictionary", e.g. the source of a sourceless put_multiple. */
export const FILENUM_NONE = 0xffffffff;
/** The rollback-log dictionary: never replayed as rows. */
export const ROLLBACK_INAME = 'tokudb.rollback';
/** The environment's internal dictionaries; they hold real rows (see --user-only). */
export const SYSTEM_INAMES: readonly string[] = ['tokudb.directory', 'tokudb.environment'];

/** One key/value row of a replayed dictionary. */
export interface ReplayRow {
  key: Uint8Array;
  value: Uint8Array;
}

/** Something the replay could not apply, or noticed, tied to the record that caused it. */
export interface ReplayNote {
  lsn: bigint;
  record: LogRecordName;
  /** The dictionary concerned (no trailing NUL), when there is one. */
  iname?: Uint8Array;
  detail: string;
}

/** One dictionary rebuilt by a replay: its file name, its rows in key order and whether its contents are known. */
export interface ReplayedDictionary {
  /** The file name relative to the data dir, without a trailing NUL. */
  iname: Uint8Array;
  /** tokudb.directory or tokudb.environment. */
  system: boolean;
  /** Committed rows whose value the log determines, sorted by key bytes. */
  rows: ReplayRow[];
  /** Keys that may exist but whose presence or value the log cannot determine, sorted. */
  undeterminedKeys: Uint8Array[];
  /** The dictionary may hold further rows that the log does not show at all. */
  unknownRows: boolean;
  /** Why rows are undetermined or unknown (in LSN order). */
  notes: ReplayNote[];
  /**
   * Keys whose last committed effect in the replayed records is a delete, sorted: a row of
   * that key older than the replayed records (in a dictionary file) is gone.
   */
  deletedKeys: Uint8Array[];
  /**
   * A committed record whose effect needs the application (a broadcast update, a row
   * generator, the hot indexer) may have changed rows older than the replayed records too.
   */
  olderRowsUndetermined: boolean;
}

/** A root transaction that a replay found still live or prepared at the end of the log; its writes were not applied. */
export interface PendingTxn {
  xid: TxnidPair;
  state: 'live' | 'prepared';
  xaXid?: Xid;
  /** LSN of the xbegin (or of the first record that named it in partial mode). */
  beginLsn: bigint;
  /** Live children (all depths) still open under this root. */
  openChildren: number;
  /** Writes queued in the root and its open children, none of them applied. */
  pendingWrites: number;
}

/** What a replay rebuilt: the dictionaries present at the end of the log and the transactions left unresolved there. */
export interface ReplayResult {
  /** Dictionaries that exist at the end of the log, sorted by iname bytes. */
  dictionaries: ReplayedDictionary[];
  /** Root transactions still open or prepared at the end (not applied), by root id. */
  pending: PendingTxn[];
  /** Committed records whose effect could not be applied (needs the application). */
  notApplied: ReplayNote[];
  /** Inconsistencies in the log itself (a write to a closed filenum, an unknown txn, ...). */
  anomalies: ReplayNote[];
  firstLsn: bigint | undefined;
  lastLsn: bigint | undefined;
  records: number;
}

/** Options for {@link replayRecords} and {@link LogReplayer}. */
export interface ReplayOptions {
  /**
   * Accept a log that does not start at LSN 1 (older files trimmed). Dictionaries and
   * transactions that predate the first record are then marked as having unknown contents.
   */
  partial?: boolean;
  /**
   * Replay on top of dictionary files: called for each write of a committed transaction with
   * the dictionary's name at that moment (no trailing NUL), the write's LSN and the root
   * commit's LSN; true means the dictionary file already holds the write's effect, so it is
   * skipped. With this option a dictionary is taken to hold rows older than the replayed
   * records, so an insert_no_overwrite of a key the replay has not seen is undetermined.
   */
  alreadyInFile?: (iname: Uint8Array, writeLsn: bigint, commitLsn: bigint) => boolean;
}

// ---- internal model ----------------------------------------------------------------------

/** Bytes as a latin1 string: one char per byte, so `<` on strings is byte order. */
export function bytesToKey(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}

export function keyToBytes(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

/** An iname without its trailing NUL (frename's inames carry one). */
export function stripNul(b: Uint8Array): Uint8Array {
  return b.length > 0 && b[b.length - 1] === 0 ? b.subarray(0, b.length - 1) : b;
}

class Dict {
  /** key (latin1) → value, for rows whose committed value is known. */
  readonly rows = new Map<string, Uint8Array>();
  /** Keys whose committed presence/value cannot be known from the log. */
  readonly undetermined = new Set<string>();
  /** Keys whose last committed effect was a delete. */
  readonly deleted = new Set<string>();
  unknownRows = false;
  /** An undetermine-all op was applied: rows older than the replay may have changed. */
  olderRowsUndetermined = false;
  readonly notes: ReplayNote[] = [];
  constructor(public iname: string) {}

  setKnown(k: string, v: Uint8Array): void {
    this.undetermined.delete(k);
    this.deleted.delete(k);
    this.rows.set(k, v);
  }
  setAbsent(k: string): void {
    this.undetermined.delete(k);
    this.rows.delete(k);
    this.deleted.add(k);
  }
  setUndetermined(k: string): void {
    this.rows.delete(k);
    this.deleted.delete(k);
    this.undetermined.add(k);
  }
  /** Every row may have changed (or vanished) in a way the log does not show. */
  undetermineAll(): void {
    for (const k of this.rows.keys()) this.undetermined.add(k);
    this.rows.clear();
  }
  check(): void {
    for (const k of this.undetermined) invariant(!this.rows.has(k), `key both known and undetermined in ${this.iname}`);
    for (const k of this.deleted) invariant(!this.rows.has(k) && !this.undetermined.has(k), `deleted key also known or undetermined in ${this.iname}`);
  }
}

type Op =
  | { kind: 'insert'; lsn: bigint; dict: Dict; key: string; value: Uint8Array }
  | { kind: 'insert-no-overwrite'; lsn: bigint; dict: Dict; key: string; value: Uint8Array }
  | { kind: 'delete'; lsn: bigint; dict: Dict; key: string }
  /** Needs the application: the key's fate is undetermined (enq_update). */
  | { kind: 'undetermine-key'; lsn: bigint; dict: Dict; key: string; note: ReplayNote }
  /** Needs the application: every row may change, more may appear (broadcast, generators). */
  | { kind: 'undetermine-all'; lsn: bigint; dict: Dict; unknownRows: boolean; note: ReplayNote }
  /** The dictionary's file is removed when the root commits (fdelete, load's old file). */
  | { kind: 'drop'; lsn: bigint; dict: Dict }
  /** A note with no data effect that is reported only if the transaction commits. */
  | { kind: 'note'; lsn: bigint; dict?: Dict; note: ReplayNote };

interface Undo {
  lsn: bigint;
  run: () => void;
}

interface Txn {
  readonly xid: TxnidPair;
  readonly parent: Txn | undefined;
  readonly children: Set<Txn>;
  readonly beginLsn: bigint;
  ops: Op[];
  undo: Undo[];
  prepared: boolean;
  xaXid?: Xid;
}

function txnKey(x: TxnidPair): string {
  return `${x.parent},${x.child}`;
}

function fmtXid(x: TxnidPair): string {
  return `${x.parent},${x.child}`;
}

/**
 * Replays records one at a time. Call apply() for each record in LSN order, then finish().
 * apply() throws TokusimError only for a log that cannot be replayed at all (LSN gap, or a
 * first LSN other than 1 outside partial mode); everything else is recorded as a note.
 */
export class LogReplayer {
  private readonly partial: boolean;
  private readonly alreadyInFile: ReplayOptions['alreadyInFile'];
  /** Dictionary files that exist now (including ones whose creating txn has not committed). */
  private readonly files = new Map<string, Dict>();
  private readonly openFilenums = new Map<number, Dict>();
  private readonly txns = new Map<string, Txn>();
  private readonly notApplied: ReplayNote[] = [];
  private readonly anomalies: ReplayNote[] = [];
  private firstLsn: bigint | undefined;
  private lastLsn: bigint | undefined;
  private records = 0;
  private finished = false;

  /** A replayer with no dictionaries yet; feed it records in LSN order with apply(). */
  constructor(opts: ReplayOptions = {}) {
    this.partial = opts.partial ?? false;
    this.alreadyInFile = opts.alreadyInFile;
  }

  /** Records applied so far. */
  get count(): number {
    return this.records;
  }

  /** Applies the next log record (LSNs must follow one another); throws on a record that does not fit the state. */
  apply(rec: LogRecord): void {
    invariant(!this.finished, 'apply() after finish()');
    this.checkLsn(rec.lsn);
    this.records++;
    switch (rec.type) {
      case 'xbegin':
        return this.xbegin(rec);
      case 'xcommit':
        return this.xcommit(rec);
      case 'xabort':
        return this.xabort(rec);
      case 'xprepare':
        return this.xprepare(rec);
      case 'xstillopen':
      case 'xstillopenprepared':
        return this.xstillopen(rec);
      case 'fcreate':
        return this.fcreate(rec);
      case 'fopen':
      case 'fassociate':
        return this.fopen(rec);
      case 'fclose':
        return this.fclose(rec);
      case 'fdelete':
        return this.fdelete(rec);
      case 'frename':
        return this.frename(rec);
      case 'enq_insert':
      case 'enq_insert_no_overwrite':
      case 'enq_delete_any':
        return this.write(rec);
      case 'enq_update':
      case 'enq_updatebroadcast':
        return this.update(rec);
      case 'enq_insert_multiple':
      case 'enq_delete_multiple':
        return this.multiple(rec);
      case 'load':
        return this.load(rec);
      case 'hot_index':
        return this.hotIndex(rec);
      case 'change_fdescriptor':
        return this.changeDescriptor(rec);
      case 'comment':
        // Only recovery writes a comment ("recover"), right after it closed every dictionary
        // without logging fclose: the handles of the crashed process are gone. Its checkpoint
        // that follows re-associates the ones still in use.
        this.openFilenums.clear();
        return;
      case 'begin_checkpoint':
      case 'end_checkpoint':
      case 'shutdown':
      case 'shutdown_up_to_19':
        return;
    }
  }

  /** End of the log: undo what open and prepared transactions did, and report the state. */
  finish(): ReplayResult {
    invariant(!this.finished, 'finish() called twice');
    this.finished = true;
    const roots = [...this.txns.values()].filter((t) => t.parent === undefined);
    roots.sort((a, b) => cmpBig(a.xid.parent, b.xid.parent));
    const pending: PendingTxn[] = roots.map((r) => {
      const all = this.subtree(r);
      return {
        xid: r.xid,
        state: r.prepared ? 'prepared' : 'live',
        ...(r.xaXid !== undefined ? { xaXid: r.xaXid } : {}),
        beginLsn: r.beginLsn,
        openChildren: all.length - 1,
        pendingWrites: all.reduce((n, t) => n + t.ops.filter(isWrite).length, 0),
      };
    });
    // Their file-level effects (a created file, a rename) did not become permanent.
    const undos = roots.flatMap((r) => this.subtree(r).flatMap((t) => t.undo));
    undos.sort((a, b) => cmpBig(b.lsn, a.lsn));
    for (const u of undos) u.run();
    this.txns.clear();

    const dictionaries: ReplayedDictionary[] = [];
    const names = [...this.files.keys()].sort(cmpStr);
    for (const name of names) {
      const d = this.files.get(name)!;
      d.check();
      const keys = [...d.rows.keys()].sort(cmpStr);
      dictionaries.push({
        iname: keyToBytes(name),
        system: SYSTEM_INAMES.includes(name),
        rows: keys.map((k) => ({ key: keyToBytes(k), value: d.rows.get(k)! })),
        undeterminedKeys: [...d.undetermined].sort(cmpStr).map(keyToBytes),
        unknownRows: d.unknownRows,
        notes: [...d.notes].sort((a, b) => cmpBig(a.lsn, b.lsn)),
        deletedKeys: [...d.deleted].sort(cmpStr).map(keyToBytes),
        olderRowsUndetermined: d.olderRowsUndetermined,
      });
    }
    return {
      dictionaries,
      pending,
      notApplied: this.notApplied,
      anomalies: this.anomalies,
      firstLsn: this.firstLsn,
      lastLsn: this.lastLsn,
      records: this.records,
    };
  }

  // ---- LSNs --------------------------------------------------------------------------------

  private checkLsn(lsn: bigint): void {
    if (this.lastLsn === undefined) {
      if (lsn !== 1n && !this.partial) {
        throw new TokusimError(
          'lsn-gap',
          'the log does not start at environment creation (older log files are missing or were trimmed); ' +
            'replay needs the whole log, or ask for a partial replay',
          { expected: 'first LSN 1', actual: `first LSN ${lsn}` },
        );
      }
      this.firstLsn = lsn;
    } else if (lsn !== this.lastLsn + 1n) {
      throw new TokusimError('lsn-gap', 'LSNs are not consecutive', {
        lsn: this.lastLsn,
        expected: String(this.lastLsn + 1n),
        actual: String(lsn),
      });
    }
    this.lastLsn = lsn;
  }

  // ---- transactions ------------------------------------------------------------------------

  private anomaly(rec: LogRecord, detail: string, dict?: Dict): void {
    this.anomalies.push({ lsn: rec.lsn, record: rec.type, detail, ...(dict ? { iname: keyToBytes(dict.iname) } : {}) });
  }

  private newTxn(xid: TxnidPair, parent: Txn | undefined, lsn: bigint): Txn {
    const t: Txn = { xid, parent, children: new Set(), beginLsn: lsn, ops: [], undo: [], prepared: false };
    this.txns.set(txnKey(xid), t);
    parent?.children.add(t);
    return t;
  }

  /**
   * The transaction a record names. In partial mode a transaction that began before the log's
   * first record is created on first sight (its earlier writes are unknown). Otherwise an
   * unknown transaction is an anomaly and the record is skipped (returns undefined).
   */
  private txnFor(rec: LogRecord, xid: TxnidPair): Txn | undefined {
    const t = this.txns.get(txnKey(xid));
    if (t !== undefined) return t;
    if (this.partial) {
      const parent = xid.child === 0n ? undefined : this.txnFor(rec, { parent: xid.parent, child: 0n });
      return this.newTxn(xid, parent, rec.lsn);
    }
    this.anomaly(rec, `transaction ${fmtXid(xid)} is not live (no xbegin, or already resolved); record skipped`);
    return undefined;
  }

  private xbegin(rec: LogRecordOf<'xbegin'>): void {
    if (this.txns.has(txnKey(rec.xid))) {
      this.anomaly(rec, `transaction ${fmtXid(rec.xid)} begins twice; the second xbegin is ignored`);
      return;
    }
    const isRoot = rec.parentxid.parent === 0n && rec.parentxid.child === 0n;
    let parent: Txn | undefined;
    if (!isRoot) {
      parent = this.txnFor(rec, rec.parentxid);
      if (parent === undefined) return;
    }
    this.newTxn(rec.xid, parent, rec.lsn);
  }

  private xstillopen(rec: LogRecordOf<'xstillopen'> | LogRecordOf<'xstillopenprepared'>): void {
    // From LSN 1 every transaction listed by a checkpoint already began; in partial mode this
    // is where an older transaction first shows up.
    const known = this.txns.get(txnKey(rec.xid));
    if (known === undefined) {
      if (!this.partial) {
        this.anomaly(rec, `checkpoint lists transaction ${fmtXid(rec.xid)} that never began in this log`);
        return;
      }
      const parent =
        rec.type === 'xstillopen' && !(rec.parentxid.parent === 0n && rec.parentxid.child === 0n)
          ? this.txnFor(rec, rec.parentxid)
          : undefined;
      const t = this.newTxn(rec.xid, parent, rec.lsn);
      if (rec.type === 'xstillopenprepared') {
        t.prepared = true;
        t.xaXid = rec.xa_xid;
      }
      t.ops.push({
        kind: 'note',
        lsn: rec.lsn,
        note: { lsn: rec.lsn, record: rec.type, detail: `transaction ${fmtXid(rec.xid)} wrote before the first record of the log; those writes are unknown` },
      });
    }
  }

  private xprepare(rec: LogRecordOf<'xprepare'>): void {
    const t = this.txnFor(rec, rec.xid);
    if (t === undefined) return;
    if (t.parent !== undefined) return; // PerconaFT ignores prepare of a child.
    t.prepared = true;
    t.xaXid = rec.xa_xid;
  }

  private subtree(t: Txn): Txn[] {
    const out = [t];
    for (const c of t.children) out.push(...this.subtree(c));
    return out;
  }

  private forget(t: Txn): void {
    this.txns.delete(txnKey(t.xid));
    t.parent?.children.delete(t);
  }

  private xcommit(rec: LogRecordOf<'xcommit'>): void {
    const t = this.txnFor(rec, rec.xid);
    if (t === undefined) return;
    if (t.children.size > 0) {
      // PerconaFT commits children first, each with its own xcommit; this log did not.
      this.anomaly(rec, `transaction ${fmtXid(t.xid)} commits with ${t.children.size} live child(ren); they are committed with it`);
      for (const c of [...t.children]) this.commitInto(c, t);
    }
    if (t.parent !== undefined) {
      this.commitInto(t, t.parent);
      return;
    }
    this.forget(t);
    this.applyRoot(t, rec.lsn);
  }

  /** A child commit: its queued writes and undo actions become its parent's. */
  private commitInto(child: Txn, parent: Txn): void {
    for (const c of [...child.children]) this.commitInto(c, child);
    parent.ops.push(...child.ops);
    parent.undo.push(...child.undo);
    this.forget(child);
  }

  private xabort(rec: LogRecordOf<'xabort'>): void {
    const t = this.txnFor(rec, rec.xid);
    if (t === undefined) return;
    this.abortTree(t);
  }

  private abortTree(t: Txn): void {
    for (const c of [...t.children]) this.abortTree(c);
    for (let i = t.undo.length - 1; i >= 0; i--) t.undo[i]!.run();
    this.forget(t);
  }

  /** Root commit: apply the queue in LSN order (children's writes interleave by LSN). */
  private applyRoot(t: Txn, commitLsn: bigint): void {
    invariant(t.parent === undefined, 'applyRoot on a child transaction');
    const ops = [...t.ops].sort((a, b) => cmpBig(a.lsn, b.lsn));
    for (const op of ops) {
      if (op.kind !== 'drop' && op.kind !== 'note' && this.alreadyInFile?.(keyToBytes(op.dict.iname), op.lsn, commitLsn)) continue;
      switch (op.kind) {
        case 'insert':
          op.dict.setKnown(op.key, op.value);
          break;
        case 'insert-no-overwrite':
          // Applied in order: inserts only if the key is absent at this point.
          if (op.dict.rows.has(op.key)) break;
          // A key the replay deleted is known to be absent; any other key may exist in rows
          // the replay does not show (older than the log, or held by the dictionary file).
          if (op.dict.deleted.has(op.key)) op.dict.setKnown(op.key, op.value);
          else if (op.dict.undetermined.has(op.key) || op.dict.unknownRows || this.alreadyInFile !== undefined) op.dict.setUndetermined(op.key);
          else op.dict.setKnown(op.key, op.value);
          break;
        case 'delete':
          op.dict.setAbsent(op.key);
          break;
        case 'undetermine-key':
          op.dict.setUndetermined(op.key);
          op.dict.notes.push(op.note);
          this.notApplied.push(op.note);
          break;
        case 'undetermine-all':
          op.dict.undetermineAll();
          op.dict.olderRowsUndetermined = true;
          if (op.unknownRows) op.dict.unknownRows = true;
          op.dict.notes.push(op.note);
          this.notApplied.push(op.note);
          break;
        case 'drop':
          if (this.files.get(op.dict.iname) === op.dict) this.files.delete(op.dict.iname);
          break;
        case 'note':
          op.dict?.notes.push(op.note);
          this.notApplied.push(op.note);
          break;
      }
    }
  }

  // ---- dictionaries ------------------------------------------------------------------------

  /** A file whose creation the log does not show (a loader's output, or older than the log). */
  private adoptFile(iname: string, lsn: bigint, record: LogRecordName, why: string): Dict {
    const d = new Dict(iname);
    d.unknownRows = true;
    const note: ReplayNote = { lsn, record, iname: keyToBytes(iname), detail: why };
    d.notes.push(note);
    this.files.set(iname, d);
    return d;
  }

  private fcreate(rec: LogRecordOf<'fcreate'>): void {
    const iname = bytesToKey(stripNul(rec.iname));
    const t = this.txnFor(rec, rec.xid);
    if (iname === ROLLBACK_INAME) {
      this.anomaly(rec, 'fcreate of tokudb.rollback');
      return;
    }
    if (this.openFilenums.has(rec.filenum)) {
      this.anomaly(rec, `filenum ${rec.filenum} is already open; it now names the new dictionary`);
    }
    // Like recovery: an existing file of that name is deleted and a fresh, empty one created.
    const previous = this.files.get(iname);
    const d = new Dict(iname);
    this.files.set(iname, d);
    this.openFilenums.set(rec.filenum, d);
    t?.undo.push({
      lsn: rec.lsn,
      run: () => {
        if (this.files.get(iname) === d) {
          if (previous !== undefined) this.files.set(iname, previous);
          else this.files.delete(iname);
        }
      },
    });
  }

  private fopen(rec: LogRecordOf<'fopen'> | LogRecordOf<'fassociate'>): void {
    const iname = bytesToKey(stripNul(rec.iname));
    if (iname === ROLLBACK_INAME) return;
    const open = this.openFilenums.get(rec.filenum);
    if (open !== undefined) {
      // A checkpoint re-lists every open dictionary; that is expected, a different name is not.
      if (rec.type === 'fassociate' && open.iname === iname) return;
      this.anomaly(rec, `filenum ${rec.filenum} is reused while still open (was ${JSON.stringify(open.iname)})`);
    }
    let d = this.files.get(iname);
    if (d === undefined) {
      const why = this.partial && rec.type === 'fassociate'
        ? 'dictionary existed before the first record of the log; its earlier rows are unknown'
        : 'dictionary file was not created in this log (e.g. written by a loader); its rows are not in the log';
      d = this.adoptFile(iname, rec.lsn, rec.type, why);
      if (!this.partial) this.anomaly(rec, `opened dictionary ${JSON.stringify(iname)} that no fcreate or load made`, d);
    }
    this.openFilenums.set(rec.filenum, d);
  }

  private fclose(rec: LogRecordOf<'fclose'>): void {
    const iname = bytesToKey(stripNul(rec.iname));
    if (iname === ROLLBACK_INAME) return;
    const d = this.openFilenums.get(rec.filenum);
    if (d === undefined) return; // like recovery: nothing open under that filenum
    if (d.iname !== iname) this.anomaly(rec, `fclose names ${JSON.stringify(iname)} but filenum ${rec.filenum} is ${JSON.stringify(d.iname)}`, d);
    this.openFilenums.delete(rec.filenum);
  }

  /** The dictionary a data record's filenum names, or undefined (and an anomaly). */
  private dictFor(rec: LogRecord, filenum: number): Dict | undefined {
    const d = this.openFilenums.get(filenum);
    if (d === undefined) this.anomaly(rec, `filenum ${filenum} is not open; record skipped`);
    return d;
  }

  private fdelete(rec: LogRecordOf<'fdelete'>): void {
    const t = this.txnFor(rec, rec.xid);
    const d = this.openFilenums.get(rec.filenum);
    if (t === undefined || d === undefined) return; // file already gone: nothing (as recovery)
    t.ops.push({ kind: 'drop', lsn: rec.lsn, dict: d });
  }

  private frename(rec: LogRecordOf<'frename'>): void {
    const oldName = bytesToKey(stripNul(rec.old_iname));
    const newName = bytesToKey(stripNul(rec.new_iname));
    const d = this.files.get(oldName);
    if (d === undefined) {
      this.anomaly(rec, `rename of ${JSON.stringify(oldName)}, which does not exist`);
      return;
    }
    const displaced = this.files.get(newName);
    this.files.delete(oldName);
    this.files.set(newName, d);
    d.iname = newName;
    // frename does not force an xbegin: its txn may be unknown, and then nothing can undo it.
    const t = this.txns.get(txnKey(rec.xid)) ?? (this.partial ? this.txnFor(rec, rec.xid) : undefined);
    t?.undo.push({
      lsn: rec.lsn,
      run: () => {
        if (this.files.get(newName) !== d) return;
        this.files.delete(newName);
        if (displaced !== undefined) this.files.set(newName, displaced);
        this.files.set(oldName, d);
        d.iname = oldName;
      },
    });
  }

  private write(rec: LogRecordOf<'enq_insert'> | LogRecordOf<'enq_insert_no_overwrite'> | LogRecordOf<'enq_delete_any'>): void {
    const t = this.txnFor(rec, rec.xid);
    const d = this.dictFor(rec, rec.filenum);
    if (t === undefined || d === undefined) return;
    const key = bytesToKey(rec.key);
    if (rec.type === 'enq_delete_any') t.ops.push({ kind: 'delete', lsn: rec.lsn, dict: d, key });
    else
      t.ops.push({
        kind: rec.type === 'enq_insert' ? 'insert' : 'insert-no-overwrite',
        lsn: rec.lsn,
        dict: d,
        key,
        value: rec.value,
      });
  }

  private note(rec: LogRecord, d: Dict | undefined, detail: string): ReplayNote {
    return { lsn: rec.lsn, record: rec.type, detail, ...(d ? { iname: keyToBytes(d.iname) } : {}) };
  }

  private update(rec: LogRecordOf<'enq_update'> | LogRecordOf<'enq_updatebroadcast'>): void {
    const t = this.txnFor(rec, rec.xid);
    const d = this.dictFor(rec, rec.filenum);
    if (t === undefined || d === undefined) return;
    if (rec.type === 'enq_update') {
      t.ops.push({
        kind: 'undetermine-key',
        lsn: rec.lsn,
        dict: d,
        key: bytesToKey(rec.key),
        note: this.note(rec, d, "update of one key needs the application's update function; that key's row is undetermined"),
      });
    } else {
      t.ops.push({
        kind: 'undetermine-all',
        lsn: rec.lsn,
        dict: d,
        unknownRows: false,
        note: this.note(rec, d, "broadcast update needs the application's update function; every row present is undetermined"),
      });
    }
  }

  private multiple(rec: LogRecordOf<'enq_insert_multiple'> | LogRecordOf<'enq_delete_multiple'>): void {
    const t = this.txnFor(rec, rec.xid);
    if (t === undefined) return;
    let src: Dict | undefined;
    if (rec.src_filenum !== FILENUM_NONE) {
      src = this.openFilenums.get(rec.src_filenum);
      // As in recovery: a source that is no longer open means the whole record is skipped.
      if (src === undefined) return;
    }
    const put = rec.type === 'enq_insert_multiple';
    const key = bytesToKey(rec.src_key);
    for (const filenum of rec.dest_filenums) {
      const d = this.openFilenums.get(filenum);
      if (d === undefined) continue;
      if (filenum === rec.src_filenum) {
        // The source dictionary receives the source row itself: no callback involved.
        t.ops.push(put ? { kind: 'insert', lsn: rec.lsn, dict: d, key, value: rec.src_val } : { kind: 'delete', lsn: rec.lsn, dict: d, key });
      } else {
        const fn = put ? 'generate_row_for_put' : 'generate_row_for_del';
        t.ops.push({
          kind: 'undetermine-all',
          lsn: rec.lsn,
          dict: d,
          unknownRows: true,
          note: this.note(rec, d, `rows made by the application's ${fn} callback are not in the log; this dictionary's rows are undetermined`),
        });
      }
    }
  }

  private load(rec: LogRecordOf<'load'>): void {
    const t = this.txnFor(rec, rec.xid);
    if (t === undefined) return;
    const newName = bytesToKey(stripNul(rec.new_iname));
    // The loader wrote the new file before logging; its rows never appear in the log.
    const previous = this.files.get(newName);
    const d = this.adoptFile(newName, rec.lsn, rec.type, 'rows written by the bulk loader are not in the log');
    t.undo.push({
      lsn: rec.lsn,
      run: () => {
        if (this.files.get(newName) !== d) return;
        if (previous !== undefined) this.files.set(newName, previous);
        else this.files.delete(newName);
      },
    });
    t.ops.push({ kind: 'note', lsn: rec.lsn, note: this.note(rec, d, 'bulk load: the loaded rows are not in the log') });
    const old = this.openFilenums.get(rec.old_filenum);
    if (old !== undefined) t.ops.push({ kind: 'drop', lsn: rec.lsn, dict: old });
  }

  private hotIndex(rec: LogRecordOf<'hot_index'>): void {
    const t = this.txnFor(rec, rec.xid);
    if (t === undefined) return;
    for (const filenum of rec.hot_index_filenums) {
      const d = this.openFilenums.get(filenum);
      if (d === undefined) continue;
      t.ops.push({
        kind: 'undetermine-all',
        lsn: rec.lsn,
        dict: d,
        unknownRows: true,
        note: this.note(rec, d, 'rows built by the hot indexer (through the application\'s row generator) are not in the log'),
      });
    }
  }

  private changeDescriptor(rec: LogRecordOf<'change_fdescriptor'>): void {
    const d = this.openFilenums.get(rec.filenum);
    if (d === undefined) return;
    const note = this.note(rec, d, "descriptor changed; rows are listed in key-byte order, which may differ from the application's comparator");
    const none = rec.xid.parent === 0n && rec.xid.child === 0n;
    const t = none ? undefined : this.txnFor(rec, rec.xid);
    if (t === undefined) {
      this.notApplied.push(note);
      d.notes.push(note);
    } else {
      // Reported only if it commits.
      t.ops.push({ kind: 'note', lsn: rec.lsn, dict: d, note });
    }
  }
}

function isWrite(op: Op): boolean {
  return op.kind !== 'note' && op.kind !== 'drop';
}

function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Replay a whole sequence of records (convenience for tests and small logs). */
export function replayRecords(records: Iterable<LogRecord>, opts: ReplayOptions = {}): ReplayResult {
  const r = new LogReplayer(opts);
  for (const rec of records) r.apply(rec);
  return r.finish();
}
