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
import type { LogRecord, LogRecordName, TxnidPair, Xid } from '../format/record-types.js';
import { FILENUM_NONE, SYSTEM_INAMES } from './inames.js';
import { LogInterpreter, type LoggedTxn, type Meaning, type TxnPolicy } from './interpreter.js';

export { FILENUM_NONE, ROLLBACK_INAME, SYSTEM_INAMES, stripNul } from './inames.js';

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

/** What the replay keeps per transaction: its queued operations and the undo of its file effects. */
interface Queue {
  ops: Op[];
  undo: Undo[];
}

type Txn = LoggedTxn<Queue>;

function fmtXid(x: TxnidPair): string {
  return `${x.parent},${x.child}`;
}

/**
 * Replays records one at a time. Call apply() for each record in LSN order, then finish().
 * apply() throws TokusimError only for a log that cannot be replayed at all (LSN gap, or a
 * first LSN other than 1 outside partial mode); everything else is recorded as a note. What
 * each record means comes from the LogInterpreter (log/interpreter.ts); this class applies
 * the meanings to rows in memory.
 */
export class LogReplayer {
  private readonly partial: boolean;
  /** Dictionary files that exist now (including ones whose creating txn has not committed). */
  private readonly files = new Map<string, Dict>();
  private readonly openFilenums = new Map<number, Dict>();
  private readonly interpreter: LogInterpreter<Queue>;
  private readonly notApplied: ReplayNote[] = [];
  private readonly anomalies: ReplayNote[] = [];
  private firstLsn: bigint | undefined;
  private lastLsn: bigint | undefined;
  private records = 0;
  private finished = false;

  private readonly alreadyInFile: ReplayOptions['alreadyInFile'];

  /** A replayer with no dictionaries yet; feed it records in LSN order with apply(). */
  constructor(opts: ReplayOptions = {}) {
    this.partial = opts.partial ?? false;
    this.alreadyInFile = opts.alreadyInFile;
    const policy: TxnPolicy<Queue> = {
      newData: () => ({ ops: [], undo: [] }),
      unknownTxn: (rec, xid, role) => {
        if (role === 'listed') this.anomaly(rec, `checkpoint lists transaction ${fmtXid(xid)} that never began in this log`);
        else this.anomaly(rec, `transaction ${fmtXid(xid)} is not live (no xbegin, or already resolved); record skipped`);
      },
      anomaly: (rec, detail) => this.anomaly(rec, detail),
      // A child commit: its queued writes and undo actions become its parent's.
      mergeInto: (child, parent) => {
        parent.data.ops.push(...child.data.ops);
        parent.data.undo.push(...child.data.undo);
      },
    };
    this.interpreter = new LogInterpreter(policy, { partial: this.partial });
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
    this.perform(rec, this.interpreter.interpret(rec));
  }

  private perform(rec: LogRecord, m: Meaning<Queue>): void {
    switch (m.kind) {
      case 'commit':
        if (m.parent === undefined) this.applyRoot(m.txn, rec.lsn);
        return;
      case 'abort':
        for (const t of m.txns) for (let i = t.data.undo.length - 1; i >= 0; i--) t.data.undo[i]!.run();
        return;
      case 'still-open':
        if (m.adopted && m.txn !== undefined) {
          m.txn.data.ops.push({
            kind: 'note',
            lsn: rec.lsn,
            note: { lsn: rec.lsn, record: rec.type, detail: `transaction ${fmtXid(m.txn.xid)} wrote before the first record of the log; those writes are unknown` },
          });
        }
        return;
      case 'file-create':
        return this.fcreate(rec, m);
      case 'file-open':
        return this.fopen(rec, m);
      case 'file-close':
        return this.fclose(rec, m);
      case 'file-delete': {
        const d = this.openFilenums.get(m.filenum);
        if (m.txn === undefined || d === undefined) return; // file already gone: nothing (as recovery)
        m.txn.data.ops.push({ kind: 'drop', lsn: m.lsn, dict: d });
        return;
      }
      case 'file-rename':
        return this.frename(rec, m);
      case 'row':
        return this.write(rec, m);
      case 'update':
      case 'update-broadcast':
        return this.update(rec, m);
      case 'rows-multiple':
        return this.multiple(m);
      case 'load':
        return this.load(m);
      case 'hot-index':
        return this.hotIndex(m);
      case 'descriptor':
        return this.changeDescriptor(m);
      case 'comment':
        // Only recovery writes a comment ("recover"), right after it closed every dictionary
        // without logging fclose: the handles of the crashed process are gone. Its checkpoint
        // that follows re-associates the ones still in use.
        this.openFilenums.clear();
        return;
      case 'checkpoint-begin':
      case 'checkpoint-end':
      case 'begin':
      case 'prepare':
      case 'none':
        return;
    }
  }

  /** End of the log: undo what open and prepared transactions did, and report the state. */
  finish(): ReplayResult {
    invariant(!this.finished, 'finish() called twice');
    this.finished = true;
    const roots = this.interpreter.liveRoots();
    const pending: PendingTxn[] = roots.map((r) => {
      const all = this.interpreter.subtree(r);
      return {
        xid: r.xid,
        state: r.prepared ? 'prepared' : 'live',
        ...(r.xaXid !== undefined ? { xaXid: r.xaXid } : {}),
        beginLsn: r.beginLsn,
        openChildren: all.length - 1,
        pendingWrites: all.reduce((n, t) => n + t.data.ops.filter(isWrite).length, 0),
      };
    });
    // Their file-level effects (a created file, a rename) did not become permanent.
    const undos = roots.flatMap((r) => this.interpreter.subtree(r).flatMap((t) => t.data.undo));
    undos.sort((a, b) => cmpBig(b.lsn, a.lsn));
    for (const u of undos) u.run();
    for (const t of this.interpreter.live()) this.interpreter.forget(t);

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

  private anomaly(rec: LogRecord, detail: string, dict?: Dict): void {
    this.anomalies.push({ lsn: rec.lsn, record: rec.type, detail, ...(dict ? { iname: keyToBytes(dict.iname) } : {}) });
  }

  /** Root commit: apply the queue in LSN order (children's writes interleave by LSN). */
  private applyRoot(t: Txn, commitLsn: bigint): void {
    invariant(t.parent === undefined, 'applyRoot on a child transaction');
    const ops = [...t.data.ops].sort((a, b) => cmpBig(a.lsn, b.lsn));
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

  private fcreate(rec: LogRecord, m: Extract<Meaning<Queue>, { kind: 'file-create' }>): void {
    const iname = bytesToKey(m.iname);
    if (this.openFilenums.has(m.filenum)) {
      this.anomaly(rec, `filenum ${m.filenum} is already open; it now names the new dictionary`);
    }
    // Like recovery: an existing file of that name is deleted and a fresh, empty one created.
    const previous = this.files.get(iname);
    const d = new Dict(iname);
    this.files.set(iname, d);
    this.openFilenums.set(m.filenum, d);
    m.txn?.data.undo.push({
      lsn: m.lsn,
      run: () => {
        if (this.files.get(iname) === d) {
          if (previous !== undefined) this.files.set(iname, previous);
          else this.files.delete(iname);
        }
      },
    });
  }

  private fopen(rec: LogRecord, m: Extract<Meaning<Queue>, { kind: 'file-open' }>): void {
    const iname = bytesToKey(m.iname);
    const open = this.openFilenums.get(m.filenum);
    if (open !== undefined) {
      // A checkpoint re-lists every open dictionary; that is expected, a different name is not.
      if (m.via === 'fassociate' && open.iname === iname) return;
      this.anomaly(rec, `filenum ${m.filenum} is reused while still open (was ${JSON.stringify(open.iname)})`);
    }
    let d = this.files.get(iname);
    if (d === undefined) {
      const why = this.partial && m.via === 'fassociate'
        ? 'dictionary existed before the first record of the log; its earlier rows are unknown'
        : 'dictionary file was not created in this log (e.g. written by a loader); its rows are not in the log';
      d = this.adoptFile(iname, m.lsn, rec.type, why);
      if (!this.partial) this.anomaly(rec, `opened dictionary ${JSON.stringify(iname)} that no fcreate or load made`, d);
    }
    this.openFilenums.set(m.filenum, d);
  }

  private fclose(rec: LogRecord, m: Extract<Meaning<Queue>, { kind: 'file-close' }>): void {
    const iname = bytesToKey(m.iname);
    const d = this.openFilenums.get(m.filenum);
    if (d === undefined) return; // like recovery: nothing open under that filenum
    if (d.iname !== iname) this.anomaly(rec, `fclose names ${JSON.stringify(iname)} but filenum ${m.filenum} is ${JSON.stringify(d.iname)}`, d);
    this.openFilenums.delete(m.filenum);
  }

  /** The dictionary a data record's filenum names, or undefined (and an anomaly). */
  private dictFor(rec: LogRecord, filenum: number): Dict | undefined {
    const d = this.openFilenums.get(filenum);
    if (d === undefined) this.anomaly(rec, `filenum ${filenum} is not open; record skipped`);
    return d;
  }

  private frename(rec: LogRecord, m: Extract<Meaning<Queue>, { kind: 'file-rename' }>): void {
    const oldName = bytesToKey(m.oldIname);
    const newName = bytesToKey(m.newIname);
    const d = this.files.get(oldName);
    if (d === undefined) {
      this.anomaly(rec, `rename of ${JSON.stringify(oldName)}, which does not exist`);
      return;
    }
    const displaced = this.files.get(newName);
    this.files.delete(oldName);
    this.files.set(newName, d);
    d.iname = newName;
    m.txn?.data.undo.push({
      lsn: m.lsn,
      run: () => {
        if (this.files.get(newName) !== d) return;
        this.files.delete(newName);
        if (displaced !== undefined) this.files.set(newName, displaced);
        this.files.set(oldName, d);
        d.iname = oldName;
      },
    });
  }

  private write(rec: LogRecord, m: Extract<Meaning<Queue>, { kind: 'row' }>): void {
    const d = this.dictFor(rec, m.filenum);
    if (m.txn === undefined || d === undefined) return;
    const key = bytesToKey(m.key);
    if (m.op === 'delete') m.txn.data.ops.push({ kind: 'delete', lsn: m.lsn, dict: d, key });
    else m.txn.data.ops.push({ kind: m.op === 'insert' ? 'insert' : 'insert-no-overwrite', lsn: m.lsn, dict: d, key, value: m.value });
  }

  private note(rec: LogRecord, d: Dict | undefined, detail: string): ReplayNote {
    return { lsn: rec.lsn, record: rec.type, detail, ...(d ? { iname: keyToBytes(d.iname) } : {}) };
  }

  private update(rec: LogRecord, m: Extract<Meaning<Queue>, { kind: 'update' | 'update-broadcast' }>): void {
    const d = this.dictFor(rec, m.filenum);
    if (m.txn === undefined || d === undefined) return;
    if (m.kind === 'update') {
      m.txn.data.ops.push({
        kind: 'undetermine-key',
        lsn: m.lsn,
        dict: d,
        key: bytesToKey(m.key),
        note: this.note(rec, d, "update of one key needs the application's update function; that key's row is undetermined"),
      });
    } else {
      m.txn.data.ops.push({
        kind: 'undetermine-all',
        lsn: m.lsn,
        dict: d,
        unknownRows: false,
        note: this.note(rec, d, "broadcast update needs the application's update function; every row present is undetermined"),
      });
    }
  }

  private multiple(m: Extract<Meaning<Queue>, { kind: 'rows-multiple' }>): void {
    const { rec, txn: t, put } = m;
    if (t === undefined) return;
    if (rec.src_filenum !== FILENUM_NONE) {
      // As in recovery: a source that is no longer open means the whole record is skipped.
      if (!this.openFilenums.has(rec.src_filenum)) return;
    }
    const key = bytesToKey(rec.src_key);
    for (const filenum of rec.dest_filenums) {
      const d = this.openFilenums.get(filenum);
      if (d === undefined) continue;
      if (filenum === rec.src_filenum) {
        // The source dictionary receives the source row itself: no callback involved.
        t.data.ops.push(put ? { kind: 'insert', lsn: rec.lsn, dict: d, key, value: rec.src_val } : { kind: 'delete', lsn: rec.lsn, dict: d, key });
      } else {
        const fn = put ? 'generate_row_for_put' : 'generate_row_for_del';
        t.data.ops.push({
          kind: 'undetermine-all',
          lsn: rec.lsn,
          dict: d,
          unknownRows: true,
          note: this.note(rec, d, `rows made by the application's ${fn} callback are not in the log; this dictionary's rows are undetermined`),
        });
      }
    }
  }

  private load(m: Extract<Meaning<Queue>, { kind: 'load' }>): void {
    const { rec, txn: t } = m;
    if (t === undefined) return;
    const newName = bytesToKey(m.newIname);
    // The loader wrote the new file before logging; its rows never appear in the log.
    const previous = this.files.get(newName);
    const d = this.adoptFile(newName, rec.lsn, rec.type, 'rows written by the bulk loader are not in the log');
    t.data.undo.push({
      lsn: rec.lsn,
      run: () => {
        if (this.files.get(newName) !== d) return;
        if (previous !== undefined) this.files.set(newName, previous);
        else this.files.delete(newName);
      },
    });
    t.data.ops.push({ kind: 'note', lsn: rec.lsn, note: this.note(rec, d, 'bulk load: the loaded rows are not in the log') });
    const old = this.openFilenums.get(rec.old_filenum);
    if (old !== undefined) t.data.ops.push({ kind: 'drop', lsn: rec.lsn, dict: old });
  }

  private hotIndex(m: Extract<Meaning<Queue>, { kind: 'hot-index' }>): void {
    const { rec, txn: t } = m;
    if (t === undefined) return;
    for (const filenum of rec.hot_index_filenums) {
      const d = this.openFilenums.get(filenum);
      if (d === undefined) continue;
      t.data.ops.push({
        kind: 'undetermine-all',
        lsn: rec.lsn,
        dict: d,
        unknownRows: true,
        note: this.note(rec, d, 'rows built by the hot indexer (through the application\'s row generator) are not in the log'),
      });
    }
  }

  private changeDescriptor(m: Extract<Meaning<Queue>, { kind: 'descriptor' }>): void {
    const { rec } = m;
    const d = this.openFilenums.get(rec.filenum);
    if (d === undefined) return;
    const t = this.interpreter.txnOf(rec, rec.xid);
    const note = this.note(rec, d, "descriptor changed; rows are listed in key-byte order, which may differ from the application's comparator");
    if (t === undefined) {
      this.notApplied.push(note);
      d.notes.push(note);
    } else {
      // Reported only if it commits.
      t.data.ops.push({ kind: 'note', lsn: rec.lsn, dict: d, note });
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
