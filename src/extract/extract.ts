/**
 * Extract: the committed rows of every dictionary of an environment, PerconaFT's or
 * tokusim's, crashed or not, without writing to it (docs/extract.md).
 *
 * For each dictionary the rows are its file's checkpointed tree, overlaid with what the log
 * after that file's checkpoint changed, as the forensic replay (src/log/replay.ts) sees it:
 *
 *  1. The log that is there is read twice: once to read the header of every dictionary file
 *     it names and to learn its renames, then once through the replay. A write whose effect the dictionary file
 *     already holds is skipped (ReplayOptions.alreadyInFile): for PerconaFT a write at or below
 *     the file's checkpoint_lsn (the tree holds it, committed or provisional); for tokusim a
 *     write whose transaction committed at or below it (tokusim applies writes at commit).
 *  2. Each transaction's fate comes from the log: a root aborted, still live or prepared at
 *     the end (not committed), or committed (or older than the log, hence resolved: an abort
 *     older than the checkpoint left ABORT messages in the tree); a child aborted (xabort of
 *     the child) or not. Provisional leafentries are resolved with that answer level by
 *     level: a child that aborted after the checkpoint left its records in the leaf with no
 *     ABORT message in the tree, so its level (and any inside it) is dropped even when its
 *     root committed. Each entry left out is counted per transaction and reported.
 *  3. tokudb.directory is extracted first (file + log); its committed rows name the user
 *     dictionaries (dname → iname). Each dictionary's rows are then streamed: file rows in key
 *     order merged with the replay's overlay (src/extract/merge.ts).
 *
 * Rows that need the application (updates, row generators, hot indexes) after a file's
 * checkpoint are withheld and reported; before it they are in the file (a loader's or the hot
 * indexer's rows are read from the file, never from the log).
 *
 * Invariants:
 *  - Nothing is written: every file is opened through a ReadOnlyStorage (a write is a bug that
 *    throws), and a tokusim environment is opened with `readOnly`.
 *  - Memory holds the replay's overlay (the size of the log after the checkpoints), the
 *    directory's rows and one path of tree nodes; never a whole dictionary.
 *  - Log damage stops the replay where it is; everything read before it is used and the
 *    damage is reported (like `tokusim replay`). Damage in a dictionary file is an error.
 */
import { TokusimError } from '../base/errors.js';
import type { LogRecord, TxnidPair } from '../format/record-types.js';
import { LogCursor, type LogEntry } from '../log/cursor.js';
import { findLogFiles } from '../log/names.js';
import { ReadOnlyStorage } from '../storage/read-only-storage.js';
import { joinPath, type Storage } from '../storage/storage.js';
import { Env, type Dictionary } from '../engine/env.js';
import { classifyDirectory, notAnEnvironment } from '../engine/env-identity.js';
import { LogReplayer, ROLLBACK_INAME, SYSTEM_INAMES, type PendingTxn, type ReplayNote, type ReplayResult, type ReplayedDictionary } from './replay-api.js';
import { EMPTY_OVERLAY, keyString, mergeRowBatches, newMergeCounts, type ExtractRow, type MergeCounts, type RowOverlay } from './merge.js';
import { openPerconaTree, readFileState, tokusimTree, type CheckpointedTree, type FileState, type ProvisionalResolver, type TreeOpener } from './trees.js';
import type { LevelCommitted } from '../ft/leafentry.js';
import { LeafMemory } from '../ft/dictionary.js';

/** The dictionary that maps dictionary names to inames. */
export const DIRECTORY_INAME = 'tokudb.directory';
/** tokusim's filenums for its two system dictionaries (env.ts). */
const TOKUSIM_FILENUM_ENVIRONMENT = 1;
const TOKUSIM_FILENUM_DIRECTORY = 2;

/** Options of {@link openExtraction}. */
export interface ExtractOptions {
  /** Only the dictionaries with one of these dnames or inames (default: every one). */
  dicts?: readonly string[];
  /** How PerconaFT dictionary trees are read (default: the layout-29 decoder). */
  openTree?: TreeOpener;
}

/** One dictionary of an extraction; its rows are read once, in key order, by {@link ExtractedDictionary.rows}. */
export interface ExtractedDictionary {
  /** File name relative to the environment (no trailing NUL). */
  iname: Uint8Array;
  /** The application's name for it (from tokudb.directory; undefined for the system dictionaries). */
  dname: Uint8Array | undefined;
  /** tokudb.directory or tokudb.environment. */
  system: boolean;
  /** What the file held: a checkpointed tree (with its checkpoint LSN), nothing yet, or no file. */
  file: FileState;
  /** What the log after the file's checkpoint changed. */
  overlay: RowOverlay;
  /** Rows may exist that neither the file nor the log shows (e.g. a missing file the log did not create). */
  unknownRows: boolean;
  /** Why rows are withheld or unknown, in LSN order (from the replay, plus file notes). */
  notes: ReplayNote[];
  /** Filled in while rows() runs. */
  counts: MergeCounts;
  /** Provisional entries of the file left out, per transaction, in order of first sight (filled in while rows() runs). */
  leftOut: ProvisionalLeftOut[];
  /** The committed rows in key order (call this or rowBatches, once). */
  rows(): AsyncGenerator<ExtractRow>;
  /**
   * The same rows in batches (none empty), for readers that print them: one await per batch
   * instead of per row. With `reuseMemory`, the file's leaves are read into one buffer that
   * every dictionary of the extraction reuses (memory does not grow with the environment) and
   * a batch's rows are valid only until the next batch is asked for; copy what you keep.
   */
  rowBatches(opts?: { reuseMemory?: boolean }): AsyncGenerator<ExtractRow[]>;
}

/** Provisional leaf entries of one transaction that a dictionary file holds and extract left out. */
export interface ProvisionalLeftOut {
  /** The transaction left out: a root (child 0) or a child (its root's id and its own). */
  xid: TxnidPair;
  /** It aborted (after the file's checkpoint), or its root is still live or prepared at the end of the log. */
  state: 'aborted' | 'live' | 'prepared';
  /** Leaf entries whose records of this transaction (and of any inside it) were left out. */
  entries: number;
}

/** The log part of an extraction. */
export interface ExtractLogSummary {
  files: string[];
  records: number;
  firstLsn: bigint | undefined;
  lastLsn: bigint | undefined;
  /** The log does not start at LSN 1 (older files trimmed): replayed in partial mode. */
  partial: boolean;
  /** Damage that stopped the replay early (rows reflect the log up to lastLsn). */
  damage: TokusimError | undefined;
}

/** An environment opened for extraction; close it when done. */
export interface Extraction {
  dir: string;
  kind: 'perconaft' | 'tokusim';
  log: ExtractLogSummary;
  /** Root transactions live or prepared at the end of the log: not committed, reported with their writes. */
  pending: PendingTxn[];
  /** Committed records after a checkpoint whose effect needs the application. */
  notApplied: ReplayNote[];
  /** Inconsistencies the replay found in the log. */
  anomalies: ReplayNote[];
  /** The dictionaries, sorted by iname bytes (system ones included). */
  dictionaries: ExtractedDictionary[];
  /** Closes what the extraction holds open (a tokusim environment opened read-only). */
  close(): Promise<void>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function stripNul(b: Uint8Array): Uint8Array {
  return b.length > 0 && b[b.length - 1] === 0 ? b.subarray(0, b.length - 1) : b;
}

function cmpBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** The inames a record names (so their headers are read before the replay needs them). */
function inamesOf(rec: LogRecord): Uint8Array[] {
  switch (rec.type) {
    case 'fcreate':
    case 'fopen':
    case 'fassociate':
    case 'fclose':
      return [rec.iname];
    case 'load':
      return [rec.new_iname];
    case 'frename':
      return [rec.old_iname, rec.new_iname];
    default:
      return [];
  }
}

/** Knows each dictionary file's state and follows renames from a name to today's file. */
class FileStates {
  private readonly states = new Map<string, FileState>();
  private readonly renamedTo = new Map<string, string>();
  constructor(
    private readonly storage: Storage,
    private readonly dir: string,
  ) {}

  async load(iname: string): Promise<FileState> {
    let s = this.states.get(iname);
    if (s === undefined) {
      s = await readFileState(this.storage, joinPath(this.dir, iname));
      this.states.set(iname, s);
    }
    return s;
  }

  renamed(from: string, to: string): void {
    this.renamedTo.set(from, to);
  }

  /**
   * The checkpoint LSN of the file that holds the dictionary named `iname` at some moment
   * of the log: that name's file if it exists, else the file it was renamed to (a rename
   * that was undone leaves the original name's file in place). -1 when no file holds it.
   */
  checkpointLsnOf(iname: string): bigint {
    let name = iname;
    for (let hops = 0; hops <= this.renamedTo.size; hops++) {
      const s = this.states.get(name);
      if (s?.kind === 'checkpointed') return s.checkpointLsn;
      const next = this.renamedTo.get(name);
      if (next === undefined) break;
      name = next;
    }
    return -1n;
  }
}

interface ReplayOutcome {
  result: ReplayResult;
  log: ExtractLogSummary;
  /** Whether each level of a provisional stack survived (see LevelCommitted). */
  committedLevel: LevelCommitted;
  /** Why the transaction named by a stack that committedLevel refused did not commit. */
  stateOf(xids: readonly bigint[]): ProvisionalLeftOut['state'];
}

/**
 * Pass 1 over the log: read the header of every dictionary file a record names and learn
 * every rename, so that pass 2 knows, at each commit, which file holds the dictionary even
 * when it is renamed later in the log. Damage ends the pass quietly (pass 2 reports it).
 */
async function learnFiles(storage: Storage, files: string[], states: FileStates): Promise<void> {
  await eachLogEntry(storage, files, async ({ record: rec }) => {
    for (const raw of inamesOf(rec)) {
      const name = dec.decode(stripNul(raw));
      if (name !== ROLLBACK_INAME) await states.load(name);
    }
    if (rec.type === 'frename') states.renamed(dec.decode(stripNul(rec.old_iname)), dec.decode(stripNul(rec.new_iname)));
    return undefined;
  });
}

/**
 * Feed the log's entries in order to `each` until the log ends, `each` returns the damage that
 * ends it, or an entry is damaged; returns that damage (undefined at a clean end). I/O errors
 * and broken invariants are thrown, not returned.
 */
async function eachLogEntry(storage: Storage, files: string[], each: (entry: LogEntry) => Promise<TokusimError | undefined> | TokusimError | undefined): Promise<TokusimError | undefined> {
  const cursor = new LogCursor(storage, files);
  try {
    for (;;) {
      let entry;
      try {
        entry = await cursor.next();
      } catch (err) {
        if (!(err instanceof TokusimError) || err.kind === 'io' || err.kind === 'invariant') throw err;
        return err;
      }
      if (entry === undefined) return undefined;
      const stop = await each(entry);
      if (stop !== undefined) return stop;
    }
  } finally {
    await cursor.close();
  }
}

/** Step 1 and 2: replay the log on top of the files and learn each root transaction's fate. */
async function replayLog(storage: Storage, dir: string, kind: 'perconaft' | 'tokusim', states: FileStates): Promise<ReplayOutcome> {
  const files = (await findLogFiles(storage, dir)).map((f) => f.path);
  await learnFiles(storage, files, states);
  const aborted = new Set<bigint>();
  /** Aborted children as `root,child` (the stack holds the root's id, then each child's own). */
  const abortedChildren = new Set<string>();
  const alreadyInFile =
    kind === 'perconaft'
      ? (iname: Uint8Array, writeLsn: bigint) => writeLsn <= states.checkpointLsnOf(dec.decode(iname))
      : (iname: Uint8Array, _writeLsn: bigint, commitLsn: bigint) => commitLsn <= states.checkpointLsnOf(dec.decode(iname));
  let replayer: LogReplayer | undefined;
  let partial = false;
  const damage = await eachLogEntry(storage, files, (entry) => {
    const rec = entry.record;
    if (replayer === undefined) {
      partial = rec.lsn !== 1n;
      replayer = new LogReplayer({ partial, alreadyInFile });
    }
    if (rec.type === 'xabort') {
      if (rec.xid.child === 0n) aborted.add(rec.xid.parent);
      else abortedChildren.add(`${rec.xid.parent},${rec.xid.child}`);
    }
    try {
      replayer.apply(rec);
    } catch (err) {
      if (!(err instanceof TokusimError) || err.kind !== 'lsn-gap') throw err;
      return new TokusimError('lsn-gap', 'LSNs are not consecutive', { file: entry.file, offset: entry.offset, lsn: rec.lsn - 1n, expected: err.where.expected, actual: err.where.actual });
    }
    return undefined;
  });
  const result = (replayer ?? new LogReplayer()).finish();
  const pendingRoots = new Map(result.pending.map((p) => [p.xid.parent, p.state]));
  const rootCommitted = (xid: bigint): boolean => !aborted.has(xid) && !pendingRoots.has(xid);
  return {
    result,
    log: { files, records: result.records, firstLsn: result.firstLsn, lastLsn: result.lastLsn, partial, damage },
    committedLevel: (xids) => (xids.length === 1 ? rootCommitted(xids[0]!) : !abortedChildren.has(`${xids[0]!},${xids[xids.length - 1]!}`)),
    stateOf: (xids) => (xids.length === 1 ? (pendingRoots.get(xids[0]!) ?? 'aborted') : 'aborted'),
  };
}

function overlayOf(d: ReplayedDictionary | undefined): RowOverlay {
  if (d === undefined) return EMPTY_OVERLAY;
  return { rows: d.rows, deletedKeys: d.deletedKeys, undeterminedKeys: d.undeterminedKeys, olderRowsUndetermined: d.olderRowsUndetermined };
}

/** Opens dir for extraction: classifies it, replays its log and reads its directory. */
export async function openExtraction(base: Storage, dir: string, opts: ExtractOptions = {}): Promise<Extraction> {
  const storage = base instanceof ReadOnlyStorage ? base : new ReadOnlyStorage(base);
  const found = await classifyDirectory(storage, dir);
  if (found.kind !== 'perconaft' && found.kind !== 'tokusim') throw notAnEnvironment(dir, found, 'extract rows from it');
  const kind = found.kind;
  const states = new FileStates(storage, dir);
  // One buffer for the leaves of every dictionary read with reuseMemory.
  const leafMemory = new LeafMemory();
  const outcome = await replayLog(storage, dir, kind, states);
  const byIname = new Map(outcome.result.dictionaries.map((d) => [keyString(d.iname), d]));

  const tokusimEnv = kind === 'tokusim' ? await Env.open(dir, { readOnly: true, storage }) : undefined;
  // Closed here on failure; on success the extraction's close() closes it.
  let env = tokusimEnv;
  try {
    const openTree = async (iname: string, dname: string): Promise<CheckpointedTree> => {
      const env = tokusimEnv;
      if (env === undefined) return (opts.openTree ?? openPerconaTree)(storage, joinPath(dir, iname));
      let d: Dictionary;
      if (iname === 'tokudb.environment') d = env.dictByFilenum(TOKUSIM_FILENUM_ENVIRONMENT);
      else if (iname === DIRECTORY_INAME) d = env.dictByFilenum(TOKUSIM_FILENUM_DIRECTORY);
      else d = await env.openDictionaryFile(dname, iname, env.nextFilenum++, false);
      return tokusimTree(d);
    };

    const make = async (iname: string, dname: Uint8Array | undefined): Promise<ExtractedDictionary> => {
      const file = await states.load(iname);
      const replayed = byIname.get(iname);
      const notes = [...(replayed?.notes ?? [])];
      // A file with no checkpoint holds nothing yet: its rows are all in the log, if the log
      // shows the dictionary being created; otherwise they are lost with the file.
      const unknownRows = file.kind !== 'checkpointed' && (replayed === undefined || replayed.unknownRows);
      if (file.kind === 'missing') notes.push({ lsn: outcome.log.lastLsn ?? 0n, record: 'fopen', iname: enc.encode(iname), detail: 'the dictionary file is missing: only rows the log holds are shown' });
      const counts = newMergeCounts();
      const overlay = overlayOf(replayed);
      const leftOut: ProvisionalLeftOut[] = [];
      const leftOutBy = new Map<string, ProvisionalLeftOut>();
      const resolver: ProvisionalResolver = {
        committedLevel: outcome.committedLevel,
        leftOut: (xids) => {
          const xid: TxnidPair = { parent: xids[0]!, child: xids.length === 1 ? 0n : xids[xids.length - 1]! };
          const k = xidText(xid);
          let e = leftOutBy.get(k);
          if (e === undefined) {
            e = { xid, state: outcome.stateOf(xids), entries: 0 };
            leftOutBy.set(k, e);
            leftOut.push(e);
          }
          e.entries++;
        },
      };
      const rowBatches = async function* (batchOpts: { reuseMemory?: boolean } = {}): AsyncGenerator<ExtractRow[]> {
        if (file.kind !== 'checkpointed') {
          yield* mergeRowBatches(emptyRows(), overlay, counts);
          return;
        }
        const tree = await openTree(iname, dname === undefined ? iname : dec.decode(dname));
        try {
          const base = tree.rowBatches !== undefined ? tree.rowBatches(resolver, batchOpts.reuseMemory === true ? leafMemory : undefined) : oneRowBatches(tree.rows(resolver));
          yield* mergeRowBatches(base, overlay, counts);
        } finally {
          await tree.close();
        }
      };
      return {
        iname: enc.encode(iname),
        dname,
        system: SYSTEM_INAMES.includes(iname),
        file,
        overlay,
        unknownRows,
        notes,
        counts,
        leftOut,
        rowBatches,
        async *rows() {
          for await (const batch of rowBatches()) yield* batch;
        },
      };
    };

    // Step 3: the directory names the dictionaries.
    const directory = await make(DIRECTORY_INAME, undefined);
    const dirRows: ExtractRow[] = [];
    for await (const r of directory.rows()) dirRows.push(r);
    const entries = dirRows.map((r) => ({ dname: stripNul(r.key), iname: dec.decode(stripNul(r.value)) }));
    // Printed from memory (its counts were filled by the read above): it is read only once.
    directory.rows = async function* () {
      yield* dirRows;
    };
    directory.rowBatches = async function* () {
      if (dirRows.length > 0) yield dirRows;
    };

    const all: ExtractedDictionary[] = [directory, await make('tokudb.environment', undefined)];
    for (const e of entries) all.push(await make(e.iname, e.dname));
    all.sort((a, b) => cmpBytes(a.iname, b.iname));
    let chosen = all;
    if (opts.dicts !== undefined && opts.dicts.length > 0) {
      const wanted = new Set(opts.dicts);
      chosen = all.filter((d) => wanted.has(dec.decode(d.iname)) || (d.dname !== undefined && wanted.has(dec.decode(d.dname))));
      for (const w of wanted) {
        if (!chosen.some((d) => dec.decode(d.iname) === w || (d.dname !== undefined && dec.decode(d.dname) === w))) {
          const names = all.map((d) => (d.dname !== undefined ? dec.decode(d.dname) : dec.decode(d.iname))).join(', ');
          throw new TokusimError('bad-argument', `no dictionary named ${JSON.stringify(w)} (dictionaries: ${names})`, { file: dir });
        }
      }
    }
    env = undefined;
    return {
      dir,
      kind,
      log: outcome.log,
      pending: outcome.result.pending,
      notApplied: outcome.result.notApplied,
      anomalies: outcome.result.anomalies,
      dictionaries: chosen,
      close: async () => {
        await tokusimEnv?.close();
      },
    };
  } finally {
    await env?.close();
  }
}

async function* emptyRows(): AsyncGenerator<ExtractRow[]> {
  // A dictionary whose file holds no checkpoint yet: every row comes from the log.
}

/** A tree that gives rows one at a time, as batches of one. */
async function* oneRowBatches(rows: AsyncIterable<ExtractRow>): AsyncGenerator<ExtractRow[]> {
  for await (const r of rows) yield [r];
}

/** The xid text `parent,child` used in reports. */
export function xidText(x: TxnidPair): string {
  return `${x.parent},${x.child}`;
}
