/**
 * Crash recovery of an environment (spec recovery.md §4–§8, adapted to our engine, see
 * docs/engine.md): the torn tail was already cut (repairLogTail); scan backward to the last
 * complete checkpoint (its end_checkpoint names its begin); open tokudb.rollback as of that
 * begin LSN to rebuild the live transactions named by xstillopen / xstillopenprepared;
 * replay forward, reopening dictionaries by fassociate / fopen / fcreate; a root xcommit
 * applies its write set to a dictionary only if the commit LSN is above that dictionary's
 * header checkpoint_lsn (the LSN filter); then abort what is left open (logging xabort), keep
 * prepared transactions prepared, log comment "recover" and take a recovery checkpoint.
 *
 * Invariants:
 *  - The forward scan starts at the turning point's begin_checkpoint and reads every later
 *    entry once; it never reads entries before it (cost depends on the log since then).
 *  - Records met between begin and end of the chosen checkpoint are acted on ('between');
 *    checkpoint records after it are only checked ('newer').
 *  - Replay never logs; the first record logged after it has LSN lastLsn + 1.
 *  - A record naming a transaction that recovery does not know is a recovery failure
 *    (TokusimError with the LSN), never silently skipped; so is an enq_update naming an
 *    update function the environment does not have.
 */
import { TokusimError } from '../base/errors.js';
import { isBugPlanted } from '../base/bug-switches.js';
import type { LogRecord, LogRecordOf, TxnidPair, Xid } from '../format/record-types.js';
import { readCheckpointedImage } from '../checkpoint/checkpointable-dictionary.js';
import { LogCursor, type RepairResult } from '../log/cursor.js';
import type { Dictionary, Env } from './env.js';
import { DIRECTORY_INAME, ENVIRONMENT_INAME, FILENUM_DIRECTORY, FILENUM_ENVIRONMENT, FILENUM_NONE, NO_ROLLBACK_NODE, ROLLBACK_INAME, inameFromNul } from './env.js';
import { Txn } from './txn.js';
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

interface RTxn {
  xid: TxnidPair;
  parent: RTxn | undefined;
  ws: WriteSet;
  prepared: Xid | undefined;
}

const dec = new TextDecoder();
const xidKey = (x: TxnidPair): string => `${x.parent},${x.child}`;
const xidStr = (x: TxnidPair): string => (x.child === 0n ? `${x.parent}` : `${x.parent}.${x.child}`);

function fail(msg: string, rec: LogRecord | undefined, file?: string): TokusimError {
  const where: { lsn?: bigint; file?: string } = {};
  if (rec !== undefined) where.lsn = rec.lsn;
  if (file !== undefined) where.file = file;
  return new TokusimError('recovery', `recovery failed: ${msg}`, where);
}

export async function recoverEnvironment(env: Env, paths: string[], repaired: RepairResult): Promise<RecoveryReport> {
  const report: RecoveryReport = {
    repaired: repaired.repaired ? repaired : null, lastLsn: 0n, turningPointLsn: 0n, entriesReplayed: 0,
    commitsApplied: 0, txnsAborted: [], txnsPrepared: [], dictionariesOpen: [], missingFiles: [], lines: [],
  };
  const say = (line: string): void => {
    report.lines.push(line);
    env.emit({ type: 'recovery', line });
  };
  if (repaired.repaired) {
    const d = repaired.discardedEntries ?? 0;
    const lsns = repaired.discardedLsns !== undefined ? ` (LSNs ${repaired.discardedLsns.first}..${repaired.discardedLsns.last})` : '';
    say(`repaired the log: cut ${repaired.file} at offset ${repaired.newSize} (from ${repaired.oldSize} to ${repaired.newSize} bytes, ${repaired.bytesCut} bytes cut, ${d} whole-looking entr${d === 1 ? 'y' : 'ies'} discarded${lsns}; last good LSN ${repaired.lastGoodLsn ?? 'none'}) (${repaired.problem?.message ?? 'torn tail'})`);
  }
  const cursor = new LogCursor(env.storage, paths);
  const txns = new Map<string, RTxn>();
  const filemap = new Map<number, Dictionary>();
  try {
    // ---- backward scan
    const last = await cursor.last();
    if (last === undefined) throw fail('the log has no entries', undefined, env.dir);
    report.lastLsn = last.record.lsn;
    say(`scanning backward from ${report.lastLsn}`);
    let wantBegin: bigint | undefined;
    let turning: LogRecordOf<'begin_checkpoint'> | undefined;
    let firstSeen: LogRecord | undefined;
    let n = 0;
    for (let e: typeof last | undefined = last; e !== undefined; e = await cursor.prev()) {
      const r = e.record;
      firstSeen = r;
      if (++n % 1000 === 0) env.emit({ type: 'recovery-progress', lsn: r.lsn, lastLsn: report.lastLsn, phase: 'backward' });
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
        throw fail(`no complete checkpoint in the log, and the log does not start at LSN 1 (it starts at ${firstSeen?.lsn})`, undefined, env.dir);
      }
      say('no complete checkpoint: replaying from the start of the log');
    } else {
      report.turningPointLsn = turning.lsn;
      env.lastXid = turning.last_xid;
      say(`turning around at begin checkpoint ${turning.lsn}`);
    }

    // ---- the engine core and the rollback image as of the turning point
    await env.initCore(true);
    let rollbackBlocks = new Map<bigint, { frozen: Uint8Array } | { live: WriteSet }>();
    if (turning !== undefined) {
      const rbPath = env.path(ROLLBACK_INAME);
      if (!(await env.storage.exists(rbPath))) throw fail('tokudb.rollback is missing', turning, rbPath);
      const img = await readCheckpointedImage(env.storage, rbPath, { deserialize: (b: Uint8Array) => ({ frozen: b.slice() }) }, { maxAcceptableLsn: turning.lsn });
      rollbackBlocks = img.blocks;
    }

    // ---- forward scan
    let state: 'between' | 'newer' = turning === undefined ? 'newer' : 'between';
    say(`scanning forward to ${report.lastLsn} from ${turning?.lsn ?? 1n} (${state === 'between' ? 'fw_between' : 'fw_newer'})`);
    const first = turning === undefined ? firstSeen : undefined;
    /**
     * Inames named by fassociate / fopen whose file is missing, with their filenums: a
     * later frename (done before the crash) names where the file went.
     */
    const missing = new Map<string, number[]>();
    /** Open iname as filenum (sharing the handle when the file is already open). */
    const openInto = async (filenum: number, iname: string): Promise<void> => {
      const already = [...filemap.values()].find((d) => d.iname === iname);
      if (already !== undefined) filemap.set(filenum, already);
      else if (await env.storage.exists(env.path(iname))) filemap.set(filenum, await env.openDictionaryFile(iname, iname, filenum, false));
      else missing.set(iname, [...(missing.get(iname) ?? []), filenum]);
    };
    const handle = async (r: LogRecord): Promise<void> => {
      report.entriesReplayed++;
      if (report.entriesReplayed % 1000 === 0) env.emit({ type: 'recovery-progress', lsn: r.lsn, lastLsn: report.lastLsn, phase: 'forward' });
      const txnOf = (x: TxnidPair): RTxn => {
        const t = txns.get(xidKey(x));
        if (t === undefined) throw fail(`${r.type} names transaction ${xidStr(x)}, which is not live`, r);
        return t;
      };
      switch (r.type) {
        case 'begin_checkpoint':
          if (r.last_xid > env.lastXid) env.lastXid = r.last_xid;
          return;
        case 'end_checkpoint':
          if (turning !== undefined && r.lsn_begin_checkpoint === turning.lsn) state = 'newer';
          return;
        case 'fassociate': {
          if (state !== 'between') return;
          const iname = dec.decode(r.iname);
          if (iname === ROLLBACK_INAME || filemap.has(r.filenum)) return;
          await openInto(r.filenum, iname);
          return;
        }
        case 'xstillopen':
        case 'xstillopenprepared': {
          if (state !== 'between') return;
          const parentxid = r.type === 'xstillopen' ? r.parentxid : { parent: 0n, child: 0n };
          const parent = parentxid.parent === 0n ? undefined : txns.get(xidKey(parentxid));
          if (parentxid.parent !== 0n && parent === undefined) throw fail(`child ${xidStr(r.xid)} of an unknown parent`, r);
          let ws = new WriteSet();
          if (r.current_rollback !== NO_ROLLBACK_NODE) {
            const node = rollbackBlocks.get(r.current_rollback);
            if (node === undefined) throw fail(`rollback node ${r.current_rollback} of txn ${xidStr(r.xid)} is not in the checkpointed tokudb.rollback`, r, env.path(ROLLBACK_INAME));
            ws = WriteSet.decode('frozen' in node ? node.frozen : node.live.encode(), `${env.path(ROLLBACK_INAME)} block ${r.current_rollback}`);
          }
          txns.set(xidKey(r.xid), { xid: r.xid, parent, ws, prepared: r.type === 'xstillopenprepared' ? r.xa_xid : undefined });
          return;
        }
        case 'xbegin': {
          const parent = r.parentxid.parent === 0n ? undefined : txnOf(r.parentxid);
          txns.set(xidKey(r.xid), { xid: r.xid, parent, ws: new WriteSet(), prepared: undefined });
          if (r.xid.parent > env.lastXid) env.lastXid = r.xid.parent;
          return;
        }
        case 'enq_insert':
        case 'enq_insert_no_overwrite':
        case 'enq_delete_any': {
          const t = txnOf(r.xid);
          if (!filemap.has(r.filenum)) return;
          const op = r.type === 'enq_insert' ? 'insert' : r.type === 'enq_insert_no_overwrite' ? 'insert_no_overwrite' : 'delete';
          t.ws.record(r.filenum, { op, key: r.key, value: r.type === 'enq_delete_any' ? new Uint8Array(0) : r.value });
          return;
        }
        case 'enq_update': {
          // Evaluated now, against what the txn saw (its own and its ancestors' writes over the
          // tree): the row lock it held kept the base unchanged until its commit, and the commit
          // applies the result only past the dictionary's checkpoint LSN, so an update already in
          // a checkpointed header is not applied twice.
          const t = txnOf(r.xid);
          const d = filemap.get(r.filenum);
          if (d === undefined) return;
          const where = { lsn: r.lsn, file: d.iname };
          let old: Uint8Array | undefined;
          let seen = false;
          for (let a: RTxn | undefined = t; a !== undefined && !seen; a = a.parent) {
            const w = a.ws.lookup(r.filenum, r.key);
            if (w !== undefined) {
              seen = true;
              old = w.op === 'delete' ? undefined : w.value;
            }
          }
          if (!seen) old = await d.getCommitted(r.key);
          let next: Uint8Array | undefined;
          try {
            const { name, arg } = decodeUpdateExtra(r.extra, where);
            next = env.applyUpdate(name, old, arg, where);
          } catch (err) {
            throw fail(`cannot replay enq_update: ${err instanceof Error ? err.message : String(err)}`, r, d.iname);
          }
          t.ws.record(r.filenum, next === undefined ? { op: 'delete', key: r.key, value: new Uint8Array(0) } : { op: 'insert', key: r.key, value: next });
          return;
        }
        case 'xprepare':
          txnOf(r.xid).prepared = r.xa_xid;
          return;
        case 'xcommit': {
          const t = txnOf(r.xid);
          txns.delete(xidKey(r.xid));
          if (t.parent !== undefined) t.parent.ws.mergeFrom(t.ws);
          else {
            await env.applyCommitted(t.ws, isBugPlanted('replay-ignores-checkpoint-lsn') ? null : r.lsn, filemap);
            report.commitsApplied++;
          }
          return;
        }
        case 'xabort': {
          const t = txnOf(r.xid);
          txns.delete(xidKey(r.xid));
          await env.undoFileOps(t.ws, filemap);
          return;
        }
        case 'fcreate': {
          const t = txnOf(r.xid);
          const iname = dec.decode(r.iname);
          if (iname === ROLLBACK_INAME) throw fail('fcreate of tokudb.rollback', r);
          if (filemap.has(r.filenum)) throw fail(`fcreate of filenum ${r.filenum}, which is open`, r);
          filemap.set(r.filenum, await env.createDictionaryFile(null, iname, iname, r.filenum));
          t.ws.fileOps.push({ kind: 'fcreate', filenum: r.filenum, iname });
          return;
        }
        case 'fopen': {
          const iname = dec.decode(r.iname);
          if (iname === ROLLBACK_INAME || filemap.has(r.filenum)) return;
          await openInto(r.filenum, iname);
          return;
        }
        case 'frename': {
          // recovery.md §6.2: redo the rename on disk if it did not happen, fix the open
          // handle's iname, and remember it in the txn (if known) so an abort renames back.
          const oldIname = inameFromNul(r.old_iname);
          const newIname = inameFromNul(r.new_iname);
          const oldPath = env.path(oldIname);
          const newPath = env.path(newIname);
          if (await env.storage.exists(oldPath)) {
            if (await env.storage.exists(newPath)) await env.storage.unlink(newPath);
            await env.storage.rename(oldPath, newPath);
            await env.storage.fsyncDir(env.dir);
          }
          const open = [...filemap.values()].find((d) => d.iname === oldIname);
          if (open !== undefined) env.setIname(open, newIname);
          for (const fn of missing.get(oldIname) ?? []) await openInto(fn, newIname);
          missing.delete(oldIname);
          const t = txns.get(xidKey(r.xid));
          const filenum = r.old_filenum !== FILENUM_NONE && filemap.has(r.old_filenum) ? r.old_filenum : FILENUM_NONE;
          if (t !== undefined) t.ws.fileOps.push({ kind: 'frename', filenum, iname: oldIname, newIname });
          return;
        }
        case 'fclose':
          // Kept open: its rows are made durable by the recovery checkpoint, closed after it.
          return;
        case 'fdelete': {
          const t = txnOf(r.xid);
          const d = filemap.get(r.filenum);
          if (d !== undefined) t.ws.fileOps.push({ kind: 'fdelete', filenum: r.filenum, iname: d.iname });
          return;
        }
        default:
          return; // comment, shutdown, and record types this engine never writes
      }
    };
    // With a turning point the cursor stands on its begin_checkpoint: next() reads on from there.
    if (first !== undefined) cursor.rewind();
    for (let e = await cursor.next(); e !== undefined; e = await cursor.next()) await handle(e.record);
    for (const [iname, filenums] of missing) {
      report.missingFiles.push(iname);
      say(`dictionary file ${iname} (filenum ${filenums.join(', ')}) is missing: its changes in the log were not replayed`);
    }
  } finally {
    await cursor.close();
  }

  // ---- end of replay: bind the environment's own dictionaries, abort or keep txns
  await env.openRollbackFile(report.turningPointLsn > 0n ? report.turningPointLsn : undefined);
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
    if (find(iname) !== undefined || filemap.has(filenum) || !(await env.storage.exists(env.path(iname)))) continue;
    const d = await env.openDictionaryFile(iname, iname, filenum, false);
    filemap.set(filenum, d);
    say(`opened ${iname} from its file (the replayed log did not open it)`);
  }
  if (find(ENVIRONMENT_INAME) === undefined || find(DIRECTORY_INAME) === undefined) {
    throw fail('tokudb.environment or tokudb.directory was not opened by the replayed log, and its file is missing', undefined, env.dir);
  }
  const roots = [...txns.values()].filter((t) => t.parent === undefined).sort((a, b) => (a.xid.parent < b.xid.parent ? -1 : 1));
  const live = roots.filter((t) => t.prepared === undefined);
  if (live.length > 0) say(`${live.length} live transaction${live.length > 1 ? 's' : ''}`);
  for (const root of isBugPlanted('recovery-keeps-open-txns') ? [] : live) {
    const chain = [...txns.values()].filter((t) => t.xid.parent === root.xid.parent).sort((a, b) => (a.xid.child > b.xid.child ? -1 : 1));
    for (const t of chain) {
      env.log({ type: 'xabort', xid: t.xid });
      await env.undoFileOps(t.ws, filemap);
      txns.delete(xidKey(t.xid));
    }
    report.txnsAborted.push(xidStr(root.xid));
    say(`aborted transaction ${xidStr(root.xid)}`);
  }
  for (const t of txns.values()) {
    if (t.parent !== undefined) throw fail(`prepared transaction ${xidStr(t.parent.xid)} has a live child ${xidStr(t.xid)}`, undefined, env.dir);
    const txn = new Txn(env, t.xid.parent, undefined, t.xid);
    txn.loggedBegin = true;
    txn.state = 'preparing';
    txn.xaXid = t.prepared;
    env.txns.set(txn.id, txn);
    await env.updateRollbackNode(txn, () => txn.ws.mergeFrom(t.ws));
    for (const [fn, rows] of t.ws.rows) {
      const d = filemap.get(fn);
      if (d !== undefined) for (const w of rows.values()) env.lockRow(txn, d, w.key);
    }
    report.txnsPrepared.push(xidStr(t.xid));
    say(`kept prepared transaction ${xidStr(t.xid)}`);
  }
  report.dictionariesOpen = [...filemap.values()].map((d) => d.iname).sort();
  env.log({ type: 'comment', timestamp: 0n, comment: new TextEncoder().encode('recover') });
  await env.logWriter!.fsync();
  say('making a checkpoint');
  await env.checkpoint('recovery');
  say('recovery done');
  return report;
}
