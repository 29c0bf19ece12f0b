/**
 * Crash recovery of an environment (spec recovery.md §4–§8, adapted to our engine, see
 * docs/engine.md), in the spec's passes, each a function of its own:
 *  - backwardScan (§5): from the last entry back to the newest complete checkpoint (its
 *    end_checkpoint names its begin, the turning point);
 *  - forwardScan (§6): tokudb.rollback read as of the turning point rebuilds the transactions
 *    xstillopen / xstillopenprepared name; every record from the turning point on is replayed
 *    through the log interpreter (log/interpreter.ts), reopening dictionaries by fassociate /
 *    fopen / fcreate; a root xcommit applies its write set to a dictionary only if the commit
 *    LSN is above that dictionary's header checkpoint_lsn (the LSN filter);
 *  - endOfReplay (§7, §4 steps 9–12): abort what is left open (logging xabort), keep prepared
 *    transactions prepared, log comment "recover" and take a recovery checkpoint.
 * The torn tail was already cut (repairLogTail) before recoverEnvironment runs. Recovery works
 * through a RecoveryHost (implemented by Env): it never builds a transaction itself.
 *
 * Invariants:
 *  - The forward scan starts at the turning point's begin_checkpoint and reads every later
 *    entry once; it never reads entries before it (cost depends on the log since then).
 *  - Records met between begin and end of the chosen checkpoint are acted on ('between');
 *    checkpoint records after it are only checked ('newer').
 *  - Replay never logs; the first record logged after it has LSN lastLsn + 1.
 *  - A record naming a transaction that recovery does not know is a recovery failure
 *    (TokusimError with the LSN), never silently skipped; so is an enq_update naming an
 *    update function the environment does not have, and any anomaly the interpreter meets.
 */
import { TokusimError } from '../base/errors.js';
import { isBugPlanted } from '../base/bug-switches.js';
import type { LogRecord, LogRecordOf, TxnidPair, Xid } from '../format/record-types.js';
import { readCheckpointedImage } from '../checkpoint/checkpointable-dictionary.js';
import type { CheckpointResult } from '../checkpoint/checkpointer.js';
import { LogCursor, type RepairResult } from '../log/cursor.js';
import type { LogRecordInput } from '../log/writer.js';
import { LogInterpreter, xidStr, type LoggedTxn, type Meaning, type TxnPolicy } from '../log/interpreter.js';
import { joinPath, type Storage } from '../storage/storage.js';
import type { Dictionary } from './dictionary.js';
import { DIRECTORY_INAME, ENVIRONMENT_INAME, FILENUM_DIRECTORY, FILENUM_ENVIRONMENT, FILENUM_NONE, NO_ROLLBACK_NODE, ROLLBACK_INAME } from './names.js';
import { decodeUpdateExtra } from './update-functions.js';
import { WriteSet } from './write-set.js';

/** What crash recovery did when an environment was opened. */
export interface RecoveryReport {
  /** The repair of a damaged log tail, or null when the log was intact. */
  repaired: RepairResult | null;
  /** The LSN of the last log record recovery read. */
  lastLsn: bigint;
  /** LSN of the begin_checkpoint recovery turned around at (0 = start of the log). */
  turningPointLsn: bigint;
  /** How many log records the forward pass replayed. */
  entriesReplayed: number;
  /** How many transaction commits the replay applied. */
  commitsApplied: number;
  /** Transactions left open by the crash that recovery aborted. */
  txnsAborted: string[];
  /** Prepared transactions recovery kept prepared, for the application to commit or abort. */
  txnsPrepared: string[];
  /** The dictionary files open at the end of the replay. */
  dictionariesOpen: string[];
  /** Inames the replayed log opened (fassociate / fopen) whose file is missing: their changes were not replayed. */
  missingFiles: string[];
  /** The narration of recovery, one line per step. */
  lines: string[];
}

/** The events recovery reports: one narration line per step, and progress every 1000 entries. */
export type RecoveryEvent =
  | { type: 'recovery'; line: string }
  | { type: 'recovery-progress'; lsn: bigint; lastLsn: bigint; phase: 'backward' | 'forward' };

/** The dictionaries recovery has open, by filenum (recovery.md §1 "file map"). */
export type FileMap = Map<number, Dictionary>;

/** @hidden What recovery needs from the environment it recovers (implemented by Env). */
export interface RecoveryHost {
  readonly storage: Storage;
  readonly dir: string;
  /** The transaction-id counter: set from the turning point, raised by what the replay meets. */
  lastXid: bigint;
  emit(e: RecoveryEvent): void;
  /** Cachetable, logger (a new log file) and checkpointer. */
  initCore(withLogger: boolean): Promise<void>;
  /** Open tokudb.rollback as of maxAcceptableLsn, owning no node. */
  openRollbackFile(maxAcceptableLsn?: bigint): Promise<void>;
  /** Open an existing dictionary file as filenum, without logging. */
  openDictionaryFile(name: string, iname: string, filenum: number, logIt: false): Promise<Dictionary>;
  /** Create a dictionary file as filenum, without logging (replay of fcreate). */
  createDictionaryFile(txn: null, name: string, iname: string, filenum: number): Promise<Dictionary>;
  /** The file of d now has this iname. */
  setIname(d: Dictionary, iname: string): void;
  /** Apply a committed root write set to the dictionaries of dicts (only past each one's checkpoint LSN when commitLsn is given). */
  applyCommitted(ws: WriteSet, commitLsn: bigint | null, dicts: FileMap): Promise<void>;
  /** Undo the file operations of an aborted write set. */
  undoFileOps(ws: WriteSet, dicts: FileMap): Promise<void>;
  /** Run update function name (TokusimError on failure). */
  applyUpdate(name: string, old: Uint8Array | undefined, arg: Uint8Array, where?: { lsn?: bigint; file?: string }): Uint8Array | undefined;
  /** Make the transaction live again as prepared, with its writes, rollback node and row locks. */
  keepPreparedTxn(xid: TxnidPair, xaXid: Xid, ws: WriteSet, dicts: FileMap): Promise<void>;
  /** Append a record to the (restarted) log. */
  log(rec: LogRecordInput): bigint;
  /** Make the log durable up to its last record. */
  fsyncLog(): Promise<void>;
  checkpoint(caller: 'recovery'): Promise<CheckpointResult>;
}

/** What the forward scan keeps per transaction: its write set. */
interface Replayed {
  ws: WriteSet;
}

type RTxn = LoggedTxn<Replayed>;
type Say = (line: string) => void;

/** Where the backward scan turned around. */
export interface TurningPoint {
  /** The turning point's begin_checkpoint, or undefined: replay from the start of the log. */
  turning: LogRecordOf<'begin_checkpoint'> | undefined;
}

/** What the forward scan leaves for endOfReplay. */
export interface ReplayState {
  interpreter: LogInterpreter<Replayed>;
  filemap: FileMap;
}

const dec = new TextDecoder();

function fail(msg: string, rec: LogRecord | undefined, file?: string): TokusimError {
  const where: { lsn?: bigint; file?: string } = {};
  if (rec !== undefined) where.lsn = rec.lsn;
  if (file !== undefined) where.file = file;
  return new TokusimError('recovery', `recovery failed: ${msg}`, where);
}

/**
 * Recover the environment of host from the log files paths (do_recovery, recovery.md §4).
 * `cursor`, when given, is a cursor over those paths that the caller hands over (recovery
 * closes it): one still holding the newest file open saves reading it again.
 */
export async function recoverEnvironment(host: RecoveryHost, paths: string[], repaired: RepairResult, cursor: LogCursor = new LogCursor(host.storage, paths)): Promise<RecoveryReport> {
  const report: RecoveryReport = {
    repaired: repaired.repaired ? repaired : null, lastLsn: 0n, turningPointLsn: 0n, entriesReplayed: 0,
    commitsApplied: 0, txnsAborted: [], txnsPrepared: [], dictionariesOpen: [], missingFiles: [], lines: [],
  };
  const say: Say = (line) => {
    report.lines.push(line);
    host.emit({ type: 'recovery', line });
  };
  let state: ReplayState;
  try {
    if (repaired.repaired) {
      const d = repaired.discardedEntries ?? 0;
      const lsns = repaired.discardedLsns !== undefined ? ` (LSNs ${repaired.discardedLsns.first}..${repaired.discardedLsns.last})` : '';
      say(`repaired the log: cut ${repaired.file} at offset ${repaired.newSize} (from ${repaired.oldSize} to ${repaired.newSize} bytes, ${repaired.bytesCut} bytes cut, ${d} whole-looking entr${d === 1 ? 'y' : 'ies'} discarded${lsns}; last good LSN ${repaired.lastGoodLsn ?? 'none'}) (${repaired.problem?.message ?? 'torn tail'})`);
    }
    const point = await backwardScan(host, cursor, report, say);
    await host.initCore(true);
    state = await forwardScan(host, cursor, point, report, say);
  } finally {
    await cursor.close();
  }
  await endOfReplay(host, state, report, say);
  return report;
}

/**
 * Backward scan (recovery.md §5): from the last entry back to the begin_checkpoint that the
 * newest end_checkpoint names; a begin met before that end is an incomplete checkpoint,
 * skipped. Without a complete checkpoint, the log must start at LSN 1. Leaves the cursor on
 * the turning point (or at the start of the log) and sets the host's last xid from it.
 */
export async function backwardScan(host: RecoveryHost, cursor: LogCursor, report: RecoveryReport, say: Say): Promise<TurningPoint> {
  const last = await cursor.last();
  if (last === undefined) throw fail('the log has no entries', undefined, host.dir);
  report.lastLsn = last.record.lsn;
  say(`scanning backward from ${report.lastLsn}`);
  let wantBegin: bigint | undefined;
  let turning: LogRecordOf<'begin_checkpoint'> | undefined;
  let firstSeen: LogRecord | undefined;
  let n = 0;
  for (let e: typeof last | undefined = last; e !== undefined; e = await cursor.prev()) {
    const r = e.record;
    firstSeen = r;
    if (++n % 1000 === 0) host.emit({ type: 'recovery-progress', lsn: r.lsn, lastLsn: report.lastLsn, phase: 'backward' });
    if (r.type === 'end_checkpoint' && wantBegin === undefined) {
      wantBegin = r.lsn_begin_checkpoint;
      say(`end_checkpoint at ${r.lsn} (begin ${wantBegin})`);
    } else if (r.type === 'begin_checkpoint') {
      if (wantBegin === r.lsn) {
        turning = r;
        break;
      }
      say(`skipping incomplete checkpoint begun at ${r.lsn}`);
    }
  }
  if (turning === undefined) {
    if (firstSeen === undefined || firstSeen.lsn !== 1n) {
      throw fail(`no complete checkpoint in the log, and the log does not start at LSN 1 (it starts at ${firstSeen?.lsn})`, undefined, host.dir);
    }
    say('no complete checkpoint: replaying from the start of the log');
    // The cursor read back to the first entry: forward reading starts there again.
    cursor.rewind();
  } else {
    report.turningPointLsn = turning.lsn;
    host.lastXid = turning.last_xid;
    say(`turning around at begin checkpoint ${turning.lsn}`);
  }
  return { turning };
}

/**
 * Forward scan (recovery.md §6): tokudb.rollback as of the turning point, then every record
 * from the turning point to the end, each interpreted (log/interpreter.ts) and acted on here.
 */
export async function forwardScan(host: RecoveryHost, cursor: LogCursor, point: TurningPoint, report: RecoveryReport, say: Say): Promise<ReplayState> {
  const { turning } = point;
  const path = (iname: string): string => joinPath(host.dir, iname);
  let rollbackBlocks = new Map<bigint, { frozen: Uint8Array } | { live: WriteSet }>();
  if (turning !== undefined) {
    const rbPath = path(ROLLBACK_INAME);
    if (!(await host.storage.exists(rbPath))) throw fail('tokudb.rollback is missing', turning, rbPath);
    const img = await readCheckpointedImage(host.storage, rbPath, { deserialize: (b: Uint8Array) => ({ frozen: b.slice() }) }, { maxAcceptableLsn: turning.lsn });
    rollbackBlocks = img.blocks;
  }
  const policy: TxnPolicy<Replayed> = {
    newData: () => ({ ws: new WriteSet() }),
    unknownTxn: (rec, xid, role) => {
      // A later (incomplete) checkpoint's list is only checked, as before the turning point's end.
      if (role === 'listed') return;
      if (role === 'parent' && (rec.type === 'xstillopen' || rec.type === 'xstillopenprepared')) throw fail(`child ${xidStr(rec.xid)} of an unknown parent`, rec);
      throw fail(`${rec.type} names transaction ${xidStr(xid)}, which is not live`, rec);
    },
    anomaly: (rec, detail) => {
      throw fail(detail, rec);
    },
    mergeInto: (child, parent) => parent.data.ws.mergeFrom(child.data.ws),
  };
  const interpreter = new LogInterpreter<Replayed>(policy, turning !== undefined ? { turningPoint: turning.lsn } : {});
  const filemap: FileMap = new Map();
  say(`scanning forward to ${report.lastLsn} from ${turning?.lsn ?? 1n} (${interpreter.phase === 'between' ? 'fw_between' : 'fw_newer'})`);
  /**
   * Inames named by fassociate / fopen whose file is missing, with their filenums: a later
   * frename (done before the crash) names where the file went.
   */
  const missing = new Map<string, number[]>();
  /** Open iname as filenum (sharing the handle when the file is already open). */
  const openInto = async (filenum: number, iname: string): Promise<void> => {
    const already = [...filemap.values()].find((d) => d.iname === iname);
    if (already !== undefined) filemap.set(filenum, already);
    else if (await host.storage.exists(path(iname))) filemap.set(filenum, await host.openDictionaryFile(iname, iname, filenum, false));
    else missing.set(iname, [...(missing.get(iname) ?? []), filenum]);
  };
  const act = async (r: LogRecord, m: Meaning<Replayed>): Promise<void> => {
    switch (m.kind) {
      case 'checkpoint-begin':
        if (m.lastXid > host.lastXid) host.lastXid = m.lastXid;
        return;
      case 'file-open': {
        // fassociate is acted on only for the turning point's checkpoint; a later one is a check.
        if (m.via === 'fassociate' && m.phase !== 'between') return;
        if (filemap.has(m.filenum)) return;
        await openInto(m.filenum, dec.decode(m.iname));
        return;
      }
      case 'still-open': {
        if (m.phase !== 'between' || m.txn === undefined) return;
        const rec = m.rec;
        if (rec.current_rollback !== NO_ROLLBACK_NODE) {
          const node = rollbackBlocks.get(rec.current_rollback);
          if (node === undefined) throw fail(`rollback node ${rec.current_rollback} of txn ${xidStr(rec.xid)} is not in the checkpointed tokudb.rollback`, rec, path(ROLLBACK_INAME));
          m.txn.data.ws = WriteSet.decode('frozen' in node ? node.frozen : node.live.encode(), `${path(ROLLBACK_INAME)} block ${rec.current_rollback}`);
        }
        return;
      }
      case 'begin':
        if (m.txn.xid.parent > host.lastXid) host.lastXid = m.txn.xid.parent;
        return;
      case 'row':
        if (!filemap.has(m.filenum)) return;
        m.txn!.data.ws.record(m.filenum, { op: m.op, key: m.key, value: m.value });
        return;
      case 'update':
        return replayUpdate(host, m.txn!, filemap.get(m.filenum), m);
      case 'commit':
        if (m.parent !== undefined) return; // merged into the parent by the interpreter
        await host.applyCommitted(m.txn.data.ws, isBugPlanted('replay-ignores-checkpoint-lsn') ? null : m.lsn, filemap);
        report.commitsApplied++;
        return;
      case 'abort':
        for (const t of m.txns) await host.undoFileOps(t.data.ws, filemap);
        return;
      case 'file-create': {
        const iname = dec.decode(m.iname);
        if (filemap.has(m.filenum)) throw fail(`fcreate of filenum ${m.filenum}, which is open`, r);
        filemap.set(m.filenum, await host.createDictionaryFile(null, iname, iname, m.filenum));
        m.txn!.data.ws.fileOps.push({ kind: 'fcreate', filenum: m.filenum, iname });
        return;
      }
      case 'file-rename': {
        // recovery.md §6.2: redo the rename on disk if it did not happen, fix the open
        // handle's iname, and remember it in the txn (if known) so an abort renames back.
        const oldIname = dec.decode(m.oldIname);
        const newIname = dec.decode(m.newIname);
        const oldPath = path(oldIname);
        const newPath = path(newIname);
        if (await host.storage.exists(oldPath)) {
          if (await host.storage.exists(newPath)) await host.storage.unlink(newPath);
          await host.storage.rename(oldPath, newPath);
          await host.storage.fsyncDir(host.dir);
        }
        const open = [...filemap.values()].find((d) => d.iname === oldIname);
        if (open !== undefined) host.setIname(open, newIname);
        for (const fn of missing.get(oldIname) ?? []) await openInto(fn, newIname);
        missing.delete(oldIname);
        const filenum = m.oldFilenum !== FILENUM_NONE && filemap.has(m.oldFilenum) ? m.oldFilenum : FILENUM_NONE;
        m.txn?.data.ws.fileOps.push({ kind: 'frename', filenum, iname: oldIname, newIname });
        return;
      }
      case 'file-close':
        // Kept open: its rows are made durable by the recovery checkpoint, closed after it.
        return;
      case 'file-delete': {
        const d = filemap.get(m.filenum);
        if (d !== undefined) m.txn!.data.ws.fileOps.push({ kind: 'fdelete', filenum: m.filenum, iname: d.iname });
        return;
      }
      default:
        return; // checkpoint end, prepare (the interpreter marks it), comment, shutdown, and record types this engine never writes
    }
  };
  // With a turning point the cursor stands on its begin_checkpoint: next() reads on from there.
  for (let e = await cursor.next(); e !== undefined; e = await cursor.next()) {
    const r = e.record;
    report.entriesReplayed++;
    if (report.entriesReplayed % 1000 === 0) host.emit({ type: 'recovery-progress', lsn: r.lsn, lastLsn: report.lastLsn, phase: 'forward' });
    await act(r, interpreter.interpret(r));
  }
  for (const [iname, filenums] of missing) {
    report.missingFiles.push(iname);
    say(`dictionary file ${iname} (filenum ${filenums.join(', ')}) is missing: its changes in the log were not replayed`);
  }
  return { interpreter, filemap };
}

/**
 * enq_update, evaluated now against what the txn saw (its own and its ancestors' writes over
 * the tree): the row lock it held kept the base unchanged until its commit, and the commit
 * applies the result only past the dictionary's checkpoint LSN, so an update already in a
 * checkpointed header is not applied twice.
 */
async function replayUpdate(host: RecoveryHost, t: RTxn, d: Dictionary | undefined, m: Extract<Meaning<Replayed>, { kind: 'update' }>): Promise<void> {
  if (d === undefined) return;
  const where = { lsn: m.lsn, file: d.iname };
  let old: Uint8Array | undefined;
  let seen = false;
  for (let a: RTxn | undefined = t; a !== undefined && !seen; a = a.parent) {
    const w = a.data.ws.lookup(m.filenum, m.key);
    if (w !== undefined) {
      seen = true;
      old = w.op === 'delete' ? undefined : w.value;
    }
  }
  if (!seen) old = await d.getCommitted(m.key);
  let next: Uint8Array | undefined;
  try {
    const { name, arg } = decodeUpdateExtra(m.extra, where);
    next = host.applyUpdate(name, old, arg, where);
  } catch (err) {
    throw new TokusimError('recovery', `recovery failed: cannot replay enq_update: ${err instanceof Error ? err.message : String(err)}`, where);
  }
  t.data.ws.record(m.filenum, next === undefined ? { op: 'delete', key: m.key, value: new Uint8Array(0) } : { op: 'insert', key: m.key, value: next });
}

/**
 * End of replay (recovery.md §7, §4 steps 9–12): bind the environment's own dictionaries,
 * abort the live transactions (logging xabort), keep the prepared ones prepared, log the
 * `recover` comment and take the recovery checkpoint.
 */
export async function endOfReplay(host: RecoveryHost, state: ReplayState, report: RecoveryReport, say: Say): Promise<void> {
  const { interpreter, filemap } = state;
  await host.openRollbackFile(report.turningPointLsn > 0n ? report.turningPointLsn : undefined);
  for (const [fn, d] of filemap) {
    if (fn === FILENUM_ENVIRONMENT || fn === FILENUM_DIRECTORY) continue;
    d.name = d.iname.replace(/_\d+\.tokudb$/, '');
  }
  const find = (iname: string): Dictionary | undefined => [...filemap.values()].find((d) => d.iname === iname);
  // A clean close logs fclose for every dictionary and then a checkpoint that lists none of
  // them; a crash before its `shutdown` record leaves a log whose replayed part never opens the
  // internal dictionaries. They were closed cleanly (their newest header is at least as new as
  // any change they got), and no replayed record could name them, so like PerconaFT's env open
  // we open them from their files after replay: nothing is applied to them, the filter holds.
  for (const [iname, filenum] of [[ENVIRONMENT_INAME, FILENUM_ENVIRONMENT], [DIRECTORY_INAME, FILENUM_DIRECTORY]] as const) {
    if (find(iname) !== undefined || filemap.has(filenum) || !(await host.storage.exists(joinPath(host.dir, iname)))) continue;
    const d = await host.openDictionaryFile(iname, iname, filenum, false);
    filemap.set(filenum, d);
    say(`opened ${iname} from its file (the replayed log did not open it)`);
  }
  if (find(ENVIRONMENT_INAME) === undefined || find(DIRECTORY_INAME) === undefined) {
    throw fail('tokudb.environment or tokudb.directory was not opened by the replayed log, and its file is missing', undefined, host.dir);
  }
  const live = interpreter.liveRoots().filter((t) => !t.prepared);
  if (live.length > 0) say(`${live.length} live transaction${live.length > 1 ? 's' : ''}`);
  for (const root of isBugPlanted('recovery-keeps-open-txns') ? [] : live) {
    // The root and its children, deepest child id first (recovery.md §7).
    const chain = interpreter.live().filter((t) => t.xid.parent === root.xid.parent).sort((a, b) => (a.xid.child > b.xid.child ? -1 : 1));
    for (const t of chain) {
      host.log({ type: 'xabort', xid: t.xid });
      await host.undoFileOps(t.data.ws, filemap);
      interpreter.forget(t);
    }
    report.txnsAborted.push(xidStr(root.xid));
    say(`aborted transaction ${xidStr(root.xid)}`);
  }
  for (const t of interpreter.live()) {
    if (t.parent !== undefined) throw fail(`prepared transaction ${xidStr(t.parent.xid)} has a live child ${xidStr(t.xid)}`, undefined, host.dir);
    await host.keepPreparedTxn(t.xid, t.xaXid!, t.data.ws, filemap);
    report.txnsPrepared.push(xidStr(t.xid));
    say(`kept prepared transaction ${xidStr(t.xid)}`);
  }
  report.dictionariesOpen = [...filemap.values()].map((d) => d.iname).sort();
  host.log({ type: 'comment', timestamp: 0n, comment: new TextEncoder().encode('recover') });
  await host.fsyncLog();
  say('making a checkpoint');
  await host.checkpoint('recovery');
  say('recovery done');
}
