/**
 * The embeddable transactional key-value engine (docs/engine.md): an environment directory
 * with the redo log, tokudb.rollback, tokudb.environment, tokudb.directory (dname -> iname)
 * and one `<name>_<n>.tokudb` file per user dictionary; each dictionary is a B+tree whose
 * nodes are cachetable PAIRs of a checkpointable dictionary file; the Checkpointer (H8)
 * makes them durable; recovery.ts replays the log after a crash.
 *
 * Env is the facade: the public API and the environment's lifecycle (open, create, recover,
 * close, the failed state), the dictionary files it has open and the end of a transaction.
 * The parts live in their own modules (docs/engine.md, "Modules"): names.ts, core.ts (what
 * Txn needs), dictionary.ts, catalog.ts (dictionaries by name), commit-path.ts (the log side
 * of a commit), rollback.ts, recovery.ts (behind RecoveryHost) and host.ts (what the machine
 * supplies when the caller names no storage, clock or owner: the Node entry installs real
 * files and processes, a browser build keeps the portable host).
 *
 * Invariants:
 *  - Filenums: rollback 0, environment 1, directory 2, user dictionaries from 3; a filenum is
 *    never reused while the environment is open.
 *  - Every dictionary in `dicts` is attached to the checkpointer exactly once, and detached
 *    before its file is closed.
 *  - A root commit logs xcommit and applies its write set under the MO client lock (the
 *    checkpoint-safe client lock when it creates or deletes files), so a checkpoint's begin
 *    sees all of it or none; replay applies it only past each dictionary's checkpoint LSN.
 *  - Commit visibility: applying a root commit's write set holds `visibility` in write mode
 *    and every read of committed data (get, range) holds it in read mode, so a reader sees
 *    all of a commit or none of it. Lock order: MO client lock < visibility < tree latch <
 *    PAIR locks; nothing that holds `visibility` takes the MO lock.
 *  - A clean close ends the log with `shutdown` (only when no prepared txn is left).
 *  - Read-only environments never write a byte (no log writer, no checkpoint, no lock file,
 *    no repair of a crashed one): their storage is a ReadOnlyStorage, which throws on any
 *    call that could change the disk.
 *  - Env.open writes nothing before it decided (env-identity.ts) that the directory is new,
 *    an unfinished creation of ours, or a tokusim environment; creation writes its marker
 *    first and publishes the identity file last.
 *  - close() aborts a live transaction that wrote only when asked to (`abortLive`); otherwise
 *    it rejects before writing anything.
 *  - A failed checkpoint (an I/O error, or any error the checkpointer met, scheduled or not)
 *    puts the environment in the failed state, like PerconaFT's panic: from then on every
 *    operation rejects with the one error "environment failed at checkpoint: <cause>; reopen
 *    to recover" (kind 'io' for an I/O cause, else 'recovery'), and close() writes nothing.
 *    The in-memory state (PAIRs still pending, a stopped job manager) is never touched again.
 *    A MachineHalted is not a failure of this process but the machine stopping: it is
 *    rethrown as it is.
 *  - A failed log write or fsync (on a commit's path or in the background: a buffer-full
 *    write, the 'periodic' timer, a preallocation) puts the environment in the same failed
 *    state ("environment failed at log write: <cause>; ..."), noticed by the next operation.
 *  - A root commit is applied to the trees (made visible) only after the log is durable up
 *    to its xcommit when its mode asks for that ('sync' always; 'periodic' when the last sync
 *    started periodMs or more ago): the wait happens inside the same client-lock section, so a
 *    commit whose log write or fsync failed is never seen by any reader. It rejects with the
 *    failed-state error and its transaction is 'failed'. Whether a reopen finds it depends on
 *    whether its xcommit reached the disk before the error (the disk does not say).
 *  - 'periodic' bound: a commit acknowledged without waiting was logged less than periodMs
 *    after the start of the last durable write or fsync, so a crash loses only commits
 *    acknowledged within periodMs of the start of the last sync that completed.
 *  - Losing the environment lock (env-lock.ts, Fencing) puts the environment in the failed
 *    state too, with the lock's own 'locked' error; every write goes through a FencedStorage,
 *    so from that moment nothing more is written.
 */
import { TokusimError, invariant } from '../base/errors.js';
import { newFtHeader } from '../format/ft-header.js';
import type { TxnidPair, Xid } from '../format/record-types.js';
import { Cachetable } from '../cachetable/cachetable.js';
import { RwLock } from '../cachetable/rwlock.js';
import { CheckpointableDictionary, type NodeCodec } from '../checkpoint/checkpointable-dictionary.js';
import { Checkpointer, type CheckpointResult, type CrashHook } from '../checkpoint/checkpointer.js';
import type { CrashHookName } from '../checkpoint/events.js';
import { CheckpointLocks, type Release } from '../checkpoint/locks.js';
import type { CheckpointStatus } from '../checkpoint/status.js';
import type { LiveTxn, TxnProvider } from '../checkpoint/txn-provider.js';
import { cutZeroTailAt, LogCursor, repairLogTail, type LogEntry, type RepairResult } from '../log/cursor.js';
import { findLogFiles, type LogFileEntry } from '../log/names.js';
import type { LogListener } from '../log/events.js';
import { LogWriter, type LogRecordInput, type LogWriterOptions, type LogWriterStats } from '../log/writer.js';
import type { Clock } from '../storage/clock.js';
import { defaultEnvHost, type EnvHost } from './host.js';
import { joinPath, MachineHalted, type Storage } from '../storage/storage.js';
import { ReadOnlyStorage } from '../storage/read-only-storage.js';
import { Btree } from './btree/btree.js';
import type { BtreeNode } from './btree/node.js';
import { BTREE_NODE_CODEC, BTREE_NODE_CODEC_NO_CLONE, CachetableNodeStore, NO_ROOT } from './ct-node-store.js';
import { EnvLock, type EnvLockInfo } from './env-lock.js';
import { classifyDirectory, notAnEnvironment, publishIdentity, removeCreationMarker, removeUnfinishedCreation, writeCreationMarker, type DirectoryKind } from './env-identity.js';
import { FencedStorage } from './fenced-storage.js';
import { LockManager } from './locktree.js';
import { recoverEnvironment, type FileMap, type RecoveryEvent, type RecoveryReport } from './recovery.js';
import { ISOLATION_LEVELS, Txn, type Isolation } from './txn.js';
import type { Durability, EnvCore } from './core.js';
import { Dictionary } from './dictionary.js';
import { DEFAULT_LOG_PREALLOCATE, DIRECTORY_INAME, ENVIRONMENT_INAME, FILENUM_DIRECTORY, FILENUM_ENVIRONMENT, FILENUM_NONE, FIRST_USER_FILENUM, NO_ROLLBACK_NODE, ROLLBACK_INAME } from './names.js';
import { Catalog } from './catalog.js';
import { CommitPath } from './commit-path.js';
import { Mvcc, type MvccStatus, type Snapshot } from './mvcc.js';
import { createRollbackFile, dropRollbackNode, openRollbackFile, updateRollbackNode, type RollbackFileContext, type RollbackValue } from './rollback.js';
import { WriteSet, type RowOp } from './write-set.js';
import type { BackupTarget, LogArchiveHook } from './backup-hooks.js';
import { UpdateRegistry, encodeUpdateExtra, type UpdateFunction } from './update-functions.js';

export { DEFAULT_LOG_PREALLOCATE, DIRECTORY_INAME, ENVIRONMENT_INAME, FILENUM_DIRECTORY, FILENUM_ENVIRONMENT, FILENUM_NONE, FILENUM_ROLLBACK, NO_ROLLBACK_NODE, ROLLBACK_INAME, inameFromNul, inameWithNul } from './names.js';
export type { Durability, EnvCore } from './core.js';
export { Dictionary } from './dictionary.js';
export { ROLLBACK_CODEC, type RollbackValue } from './rollback.js';

/** Options for {@link Env.open}. */
export interface EnvOptions {
  /**
   * Where the environment's files live (default: the host's; under the Node entry a
   * {@link NodeStorage} on the real file system; a build without Node must pass one).
   */
  storage?: Storage;
  /** The source of time for checkpoints, lock leases and commit timestamps (default: the host's, a {@link RealClock}). */
  clock?: Clock;
  /**
   * What the machine supplies for what is left out here: storage, clock, lock owner, and the
   * processes the env lock judges holders by (default: defaultEnvHost(), which the Node entry
   * sets to the Node host).
   */
  host?: EnvHost;
  /** Default 'sync'. */
  durability?: Durability;
  /** fsync period for 'periodic' (default 100 ms). */
  periodMs?: number;
  /** Period of scheduled checkpoints in ms (rounded up to whole seconds; 0 = none). Default 60 s. */
  checkpointPeriodMs?: number;
  /** Cachetable memory limit in bytes (default unlimited). */
  cacheSize?: number;
  /** Log file size before rollover (default 100 MiB). */
  lgMax?: number;
  /**
   * Bytes of zeros the logger keeps written ahead of its write position in the current log
   * file (LogWriterOptions.preallocate), so durable commits overwrite space instead of growing
   * the file. Default 4 MiB in 'sync' mode on a real device (capabilities.realDevice, i.e.
   * NodeStorage), 0 (off) otherwise, so simulated schedules do not gain the extra writes;
   * cut at close and at rollover.
   */
  logPreallocate?: number;
  /**
   * How 'sync' commits share and issue their durable log writes on a real device
   * (LogWriterOptions.soloWrites and .gather; both 'adaptive' by default). For measurements.
   */
  logGroupCommit?: Pick<LogWriterOptions, 'soloWrites' | 'gather'>;
  /** Open without recovery, log or lock, for reading what is intact (like force-recovery). */
  readOnly?: boolean;
  /** Owner id written in the env lock file (default: random). */
  owner?: string;
  /** Lock lease in ms (default 60 s; see DEFAULT_LEASE_MS in env-lock.ts). */
  leaseMs?: number;
  /** B+tree max entries per node (default 64). */
  maxEntries?: number;
  /**
   * Archive every log file as it closes (src/backup: `logArchiver(repo)`); trimming then never
   * deletes a file the archiver has not stored yet.
   */
  logArchive?: LogArchiveHook;
  /** Checkpoint crash hooks (tests). */
  checkpointHooks?: Partial<Record<CrashHookName, CrashHook>>;
  /** Events: lock takeover, torn tail repaired, recovery narration. */
  onEvent?: (e: EnvEvent) => void;
  /**
   * Update functions by name, added to the built-ins `add` and `append` (update-functions.ts);
   * recovery replays a logged update with the function its enq_update names, so reopen with
   * the same functions.
   */
  updateFunctions?: Readonly<Record<string, UpdateFunction>>;
  /**
   * Clone-on-write for user dictionaries' nodes (default true). With false a client that
   * write-pins a dirty pending node writes it out for the checkpoint first (spec §10.1 T4).
   */
  cloneOnWrite?: boolean;
}

/** What the open read of the log while checking its tail (the fields are set only when nothing was cut). */
interface LogTail {
  repair: RepairResult;
  files?: LogFileEntry[];
  /** Holds the newest log file open; whoever receives it closes it. */
  cursor?: LogCursor;
  last?: LogEntry;
}

/** Events an environment reports through `EnvOptions.onEvent` (lock takeover, log repair, recovery narration and progress). */
export type EnvEvent =
  | { type: 'lock-takeover'; stale: EnvLockInfo; reason: string }
  | { type: 'log-repaired'; repair: RepairResult }
  | RecoveryEvent;

/** A prepared (XA) transaction: its id and its XA xid. */
export interface PreparedTxnInfo {
  id: bigint;
  xid: Xid;
}

const enc = new TextEncoder();

/** The logger's rollover events, passed on to a log archiver. */
function archiveListener(hook: LogArchiveHook): LogListener {
  return (e) => {
    if (e.type === 'rollover') hook.fileClosed(e.from);
  };
}

/** A snapshot of an environment's state: checkpoint counters, log, dictionaries, transaction counters. */
export interface EnvStatus {
  /** The environment directory. */
  dir: string;
  /** The commit durability policy in force. */
  durability: Durability;
  /** The failed state (see Env.failedWith): its error's kind and message, or null while healthy. */
  failed: { kind: string; message: string } | null;
  /** The checkpoint status counters (null before the checkpointer started). */
  checkpoint: CheckpointStatus | null;
  /** The last checkpoint that completed in this process, or null. */
  lastCheckpoint: CheckpointResult | null;
  /** The logger: last LSN written and synced, the log files with their highest LSN, and its counters (null when there is no logger). */
  log: { lastLsn: bigint; syncedLsn: bigint; files: Array<{ path: string; maxLsn: bigint }>; stats: LogWriterStats } | null;
  /** The open dictionaries with their file name, file number and checkpoint count and LSN. */
  dictionaries: Array<{ name: string; iname: string; filenum: number; checkpointCount: bigint; checkpointLsn: bigint }>;
  /** Transactions begun and not yet committed, aborted or prepared. */
  liveTxns: number;
  /** Transactions prepared and not yet resolved. */
  preparedTxns: number;
  /** Transactions committed since the environment was opened. */
  commits: number;
  /** Transactions aborted since the environment was opened. */
  aborts: number;
  /** Row writes (puts, deletes, updates) since the environment was opened. */
  writes: number;
  /** What crash recovery did at open, or null when none ran. */
  recovery: RecoveryReport | null;
  /** Snapshot reads: commit sequence, live snapshots, replaced values kept and collected. */
  mvcc: MvccStatus;
}

/** Options of {@link Env.close}. */
export interface CloseOptions {
  /**
   * Abort the transactions still live (not prepared) instead of rejecting. Default false:
   * close() rejects with code `TOKUSIM_LIVE_TRANSACTIONS` when any is live.
   */
  abortLive?: boolean;
}

/**
 * A transactional key-value environment in a directory: dictionaries, transactions, a
 * tokulog v29 redo log, checkpoints and crash recovery. Open with {@link Env.open}; close with
 * {@link Env.close} or `await using`.
 *
 * @example
 * ```ts
 * await using env = await Env.open('dir', { durability: 'sync' });
 * const users = await env.createDictionary('users');
 * const txn = env.begin();
 * await txn.put(users, key, value);
 * await txn.commit();
 * ```
 */
export class Env implements EnvCore<Txn> {
  // Env is also the DictionaryHost, CatalogHost and RecoveryHost of its dictionaries, catalog
  // and recovery. The compiler checks that where Env passes itself; an `implements` clause
  // would not hold in the published declarations, which leave out internal members.

  /** The storage the environment's files live on. */
  readonly storage: Storage;
  /** The clock driving checkpoints, fsync periods and lock leases. */
  readonly clock: Clock;
  /** The durability of commits (see {@link Durability}). */
  readonly durability: Durability;
  /** True when opened with `readOnly`: nothing is ever written. */
  readonly readOnly: boolean;
  /** Update functions: the built-ins plus options.updateFunctions. */
  readonly updates: UpdateRegistry;
  /** @internal */ logWriter: LogWriter | undefined;
  /** The log side of commits (append, durability waits, periodic fsync); undefined when read-only. */
  private commitPath: CommitPath | undefined;
  /** @internal */ ct!: Cachetable;
  /** @internal */ checkpointer: Checkpointer | undefined;
  /** @internal */ readonly locks = new CheckpointLocks();
  /** @internal */ readonly lockMgr = new LockManager();
  /** @internal */ readonly dicts = new Map<number, Dictionary>();
  /** @internal */ rollback: CheckpointableDictionary<RollbackValue> | undefined;
  /** @internal */ readonly txns = new Map<bigint, Txn>();
  /** writeBatch calls between their start and their end (each is a transaction of its own). */
  private batchesInFlight = 0;
  /** @internal The commit sequence, live snapshots and version stores (snapshot reads, mvcc.ts). */
  readonly mvcc = new Mvcc();
  /** @internal Commit visibility (see the invariants): write = applying a commit, read = reading committed data. */
  readonly visibility = new RwLock('commit_visibility_lock');
  /** @internal */ lastXid = 0n;
  /** @internal */ nextFilenum = FIRST_USER_FILENUM;
  /** Dictionaries by name (tokudb.directory and the file operations that go with it). */
  private readonly catalog = new Catalog(this);
  private envLock: EnvLock | undefined;
  /** Supplies what the options leave out (see EnvOptions.host). */
  private readonly host: EnvHost;
  /** The storage under the fence: the lock file itself is written through it. */
  private readonly rawStorage: Storage;
  private closed = false;
  private failure: TokusimError | MachineHalted | undefined;
  private lastCheckpointResult: CheckpointResult | null = null;
  /** What crash recovery did at open, or null when none ran. */
  recoveryReport: RecoveryReport | null = null;
  private counters = { commits: 0, aborts: 0, writes: 0 };

  private constructor(
    readonly dir: string,
    readonly options: EnvOptions,
  ) {
    this.readOnly = options.readOnly ?? false;
    this.host = options.host ?? defaultEnvHost();
    this.rawStorage = options.storage ?? this.host.storage();
    // Read-only by construction: every call that could change the disk throws (a bug). A
    // writable environment writes through the lock's fence (fenced-storage.ts): once the lock
    // is lost, nothing more reaches the disk.
    this.storage = this.readOnly ? new ReadOnlyStorage(this.rawStorage) : new FencedStorage(this.rawStorage, () => this.envLock?.assertHeld());
    this.clock = options.clock ?? this.host.clock();
    this.durability = options.durability ?? 'sync';
    this.updates = new UpdateRegistry(options.updateFunctions ?? {});
  }

  /** Open (creating, or recovering after a crash) the environment in dir. */
  static async open(dir: string, options: EnvOptions = {}): Promise<Env> {
    const env = new Env(dir, options);
    // Decide what the directory is before writing anything (env-identity.ts): only a missing
    // or empty directory, an unfinished creation of ours or a tokusim environment is opened.
    const found = await classifyDirectory(env.storage, dir);
    if (env.readOnly) {
      if (found.kind !== 'tokusim') throw notAnEnvironment(dir, found, 'open it read-only');
    } else if (!Env.openable(found)) {
      throw notAnEnvironment(dir, found, 'open it as a tokusim environment');
    }
    if (found.kind === 'missing') await env.storage.mkdir(dir);
    env.found = found;
    if (!env.readOnly) {
      env.envLock = await EnvLock.acquire({
        storage: env.rawStorage,
        dir,
        clock: env.clock,
        owner: options.owner ?? env.host.lockOwner(),
        lockSeen: found.kind === 'tokusim' && found.lockFile,
        ...(env.host.processes !== undefined ? { processes: env.host.processes } : {}),
        ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
        onTakeover: (stale, reason) => env.emit({ type: 'lock-takeover', stale, reason }),
        onLost: (err) => env.enterFailed(err),
      });
    }
    try {
      if (!env.readOnly) {
        // Again under the lock: another process may have created or changed it meanwhile.
        env.found = await classifyDirectory(env.storage, dir);
        if (!Env.openable(env.found)) throw notAnEnvironment(dir, env.found, 'open it as a tokusim environment');
      }
      await env.start();
    } catch (err) {
      if (err instanceof MachineHalted) {
        // The machine stopped: no more I/O (a crash closes nothing). Release the lock file
        // first: abandon() only stops renewing it.
        const lock = env.envLock;
        env.envLock = undefined;
        env.abandon();
        await lock?.release().catch(() => undefined);
      } else {
        // This process failed to open it: close what it opened without writing anything more
        // (no file handle is left for the garbage collector) and release the lock.
        await env.closeFailed().catch(() => undefined);
      }
      throw err;
    }
    return env;
  }

  /** What a writable open accepts: a new (missing or empty) directory, an unfinished creation of ours holding nothing else, or ours. */
  private static openable(k: DirectoryKind): boolean {
    return k.kind === 'missing' || k.kind === 'empty' || k.kind === 'tokusim' || (k.kind === 'unfinished' && k.others.length === 0);
  }

  /** @internal Run a read of committed data so that no commit is half visible to it. */
  async readVisible<T>(read: () => Promise<T>): Promise<T> {
    this.checkNotFailed();
    await this.visibility.readLock();
    try {
      return await read();
    } finally {
      this.visibility.readUnlock();
    }
  }

  /** @internal */
  emit(e: EnvEvent): void {
    this.options.onEvent?.(e);
  }

  /** @internal */
  path(iname: string): string {
    return joinPath(this.dir, iname);
  }

  private nodeCodec(): NodeCodec<BtreeNode> {
    return this.options.cloneOnWrite === false ? BTREE_NODE_CODEC_NO_CLONE : BTREE_NODE_CODEC;
  }

  /** @internal Cachetable, logger and checkpointer (the logger opens a new file). */
  async initCore(withLogger: boolean): Promise<void> {
    this.ct = new Cachetable(this.options.cacheSize !== undefined ? { memoryLimit: this.options.cacheSize } : {});
    if (!withLogger) return;
    const existing = this.knownLog;
    this.knownLog = undefined;
    this.logWriter = await LogWriter.open({
      storage: this.storage,
      dir: this.dir,
      ...(existing !== undefined ? { existing } : {}),
      clock: this.clock,
      // In 'sync' mode nearly every log write is followed by an fsync: write with O_DSYNC
      // instead, so a group commit costs one I/O (the writer falls back to fsync if the
      // storage cannot do it).
      dsync: this.durability === 'sync',
      preallocate: this.options.logPreallocate ?? (this.durability === 'sync' && this.storage.capabilities.realDevice ? DEFAULT_LOG_PREALLOCATE : 0),
      ...this.options.logGroupCommit,
      ...(this.options.lgMax !== undefined ? { lgMax: this.options.lgMax } : {}),
      ...(this.options.logArchive !== undefined ? { listener: archiveListener(this.options.logArchive) } : {}),
    });
    this.commitPath = new CommitPath(this.logWriter, { durability: this.durability, periodMs: this.options.periodMs ?? 100, clock: this.clock }, (err) => this.enterFailed(err, 'log write'));
    const archive = this.options.logArchive;
    if (archive !== undefined) {
      this.logWriter.addTrimFloor(() => archive.keepFromIndex());
      const files = this.logWriter.logFiles();
      await archive.start(this.rawStorage, this.dir, files[files.length - 1]!.path);
    }
    const periodMs = this.options.checkpointPeriodMs ?? 60_000;
    this.checkpointer = new Checkpointer({
      cachetable: this.ct,
      clock: this.clock,
      logger: this.logWriter,
      locks: this.locks,
      txns: this.txnProvider(),
      hooks: this.options.checkpointHooks ?? {},
      periodSeconds: 0,
    });
    this.checkpointPeriodSeconds = periodMs <= 0 ? 0 : Math.max(1, Math.ceil(periodMs / 1000));
  }
  private checkpointPeriodSeconds = 0;
  /** What Env.open found in the directory (decides create / open / recover in start()). */
  private found: DirectoryKind = { kind: 'missing' };

  private async start(): Promise<void> {
    const found = this.found;
    if (this.readOnly) {
      await this.startReadOnly();
      return;
    }
    if (found.kind !== 'tokusim') {
      // New, or an unfinished creation (it never held data: start it again). The marker is
      // durable before the first file of the environment, the identity file is written last.
      if (found.kind === 'unfinished') await removeUnfinishedCreation(this.storage, this.dir);
      await writeCreationMarker(this.storage, this.dir);
      await this.initCore(true);
      this.rollback = await createRollbackFile(this.rollbackFileContext());
      const t = this.begin();
      t.ensureBegun();
      await this.createDictionaryFile(t, ENVIRONMENT_INAME, ENVIRONMENT_INAME, FILENUM_ENVIRONMENT);
      await this.createDictionaryFile(t, DIRECTORY_INAME, DIRECTORY_INAME, FILENUM_DIRECTORY);
      await t.put(this.dictByFilenum(FILENUM_ENVIRONMENT), enc.encode('tokusim_engine_version'), enc.encode('1'));
      await t.commit();
      await this.checkpoint('startup');
      await publishIdentity(this.storage, this.dir);
    } else {
      const tail = await this.repairTornTail();
      const repair = tail.repair;
      if (repair.repaired) this.emit({ type: 'log-repaired', repair });
      const files = tail.files ?? (await findLogFiles(this.storage, this.dir));
      const paths = files.map((f) => f.path);
      const c = tail.cursor ?? new LogCursor(this.storage, paths);
      let handedOver = false;
      try {
        const last = tail.last ?? (await c.last());
        if (last === undefined) {
          throw new TokusimError('truncated', 'the environment has dictionary files but no log entries: recovery cannot run (open read-only to read what is intact)', { file: this.dir });
        }
        // The logger's open needs what was just read: nothing changes the log before it.
        this.knownLog = { files, newestLastLsn: last.file === paths[paths.length - 1] ? last.record.lsn : undefined };
        if (last.record.type === 'shutdown') {
          await c.close();
          this.lastXid = last.record.last_xid;
          await this.initCore(true);
          this.rollback = await openRollbackFile(this.rollbackFileContext());
          await this.openDictionaryFile(ENVIRONMENT_INAME, ENVIRONMENT_INAME, FILENUM_ENVIRONMENT, true);
          await this.openDictionaryFile(DIRECTORY_INAME, DIRECTORY_INAME, FILENUM_DIRECTORY, true);
          await this.checkpoint('startup');
        } else {
          handedOver = true;
          this.recoveryReport = await recoverEnvironment(this, paths, repair, c);
        }
      } finally {
        this.knownLog = undefined;
        if (!handedOver) await c.close();
      }
      // An environment of an earlier version gets its identity file once it opened cleanly;
      // a marker left by a crash just after publishing is dropped.
      if (found.how === 'legacy') await publishIdentity(this.storage, this.dir);
      else if (found.staleMarker) await removeCreationMarker(this.storage, this.dir);
    }
    this.startTimers();
  }

  /** What the opener read of the log before recovery (see Env.repairTornTail); consumed by initCore. */
  private knownLog: LogWriterOptions['existing'];

  /**
   * Cut a torn log tail. Fast path: read backward from the last entry to the newest complete
   * checkpoint (end_checkpoint, then its begin B) and forward again from B to the end; when
   * every one of those entries is whole and the last one ends the file, there is nothing to
   * cut. Entries before B need no check: the log was fsynced up to B before end_checkpoint
   * was appended (every checkpoint writes the tokudb.rollback header, see
   * forceRollbackHeaderWrite), so no write before B can be missing. Any damage, or no complete
   * checkpoint, falls back to repairLogTail's forward scan of the newest file. This keeps the
   * cost of opening independent of the log before the last checkpoint. When the fast path
   * changed nothing, it hands on what it read (the files, the last entry and its cursor, still
   * holding the newest file open), so the rest of the open does not read them again.
   */
  private async repairTornTail(): Promise<LogTail> {
    const files = await findLogFiles(this.storage, this.dir);
    const paths = files.map((f) => f.path);
    if (paths.length > 0) {
      const c = new LogCursor(this.storage, paths);
      let keep = false;
      try {
        const last = await c.last();
        let wantBegin: bigint | undefined;
        let found = false;
        for (let e = last; e !== undefined && !found; e = found ? e : await c.prev()) {
          if (e.record.type === 'end_checkpoint' && wantBegin === undefined) wantBegin = e.record.lsn_begin_checkpoint;
          else if (e.record.type === 'begin_checkpoint' && e.record.lsn === wantBegin) found = true;
        }
        if (found && last !== undefined) {
          let end = last;
          for (let e = await c.next(); e !== undefined; e = await c.next()) end = e;
          if (end.record.lsn === last.record.lsn && end.file === paths[paths.length - 1]) {
            const at = end.offset + end.length;
            const r: RepairResult = { repaired: false, lastGoodLsn: last.record.lsn };
            // The file ends with its last entry (the cursor read its size at the end of the
            // walk): nothing to cut, and the cursor, the files and the last entry stay valid
            // for the rest of the open.
            const open = c.openFile();
            if (open !== undefined && open.path === end.file && open.size === at) {
              keep = true;
              return { repair: r, files, cursor: c, last };
            }
            // Nothing to cut but a preallocated zero tail, if any (read once, so the cost
            // stays that of the tail, not of the file).
            await c.close();
            const cut = await cutZeroTailAt(this.storage, end.file, at);
            if (cut !== undefined) {
              if (cut > 0) r.zeroTailCut = cut;
              return { repair: r };
            }
          }
        }
      } catch {
        // Damage on the way: the forward scan below finds where to cut.
      } finally {
        if (!keep) await c.close();
      }
    }
    return { repair: await repairLogTail(this.storage, this.dir) };
  }

  private async startReadOnly(): Promise<void> {
    await this.initCore(false);
    await this.openDictionaryFile(ENVIRONMENT_INAME, ENVIRONMENT_INAME, FILENUM_ENVIRONMENT, false);
    await this.openDictionaryFile(DIRECTORY_INAME, DIRECTORY_INAME, FILENUM_DIRECTORY, false);
  }

  private startTimers(): void {
    if (this.checkpointPeriodSeconds > 0) this.checkpointer?.setPeriod(this.checkpointPeriodSeconds);
    this.commitPath?.startPeriodicFsync(() => this.closed);
  }

  // ------------------------------------------------------------------ dictionary files

  private rollbackFileContext(): RollbackFileContext {
    return { cachetable: this.ct, storage: this.storage, clock: this.clock, path: this.path(ROLLBACK_INAME), attach: (cd) => this.checkpointer?.attach(cd.cachefile, cd) };
  }

  /** @internal Open tokudb.rollback as of maxAcceptableLsn (see rollback.ts openRollbackFile). */
  async openRollbackFile(maxAcceptableLsn?: bigint): Promise<void> {
    this.rollback = await openRollbackFile(this.rollbackFileContext(), maxAcceptableLsn);
  }

  private makeDictionary(name: string, iname: string, filenum: number, cd: CheckpointableDictionary<BtreeNode>): Dictionary {
    this.checkpointer?.attach(cd.cachefile, cd);
    const tree = new Btree(new CachetableNodeStore(this.ct, cd), { maxEntries: this.options.maxEntries ?? 64 });
    const d = new Dictionary(this, name, iname, filenum, cd, tree, cd.header.checkpointLsn, this.mvcc.storeFor(iname));
    this.dicts.set(filenum, d);
    if (filenum >= this.nextFilenum) this.nextFilenum = filenum + 1;
    return d;
  }

  /** @internal Create a dictionary file; logs fcreate in txn unless txn is null (replay). */
  async createDictionaryFile(txn: Txn | null, name: string, iname: string, filenum: number): Promise<Dictionary> {
    const path = this.path(iname);
    let fcreateLsn = 0n;
    if (txn !== null) {
      txn.ensureBegun();
      // Write-ahead for the file itself: a crash after the file exists must find the fcreate
      // in the log, so that recovery deletes the file when the txn did not commit.
      fcreateLsn = this.log({ type: 'fcreate', xid: txn.xid, filenum, iname: enc.encode(iname), mode: 0o755, treeflags: 0, nodesize: 4 << 20, basementnodesize: 128 << 10, compression_method: 1 });
      await this.syncLog(fcreateLsn);
    }
    if (await this.storage.exists(path)) await this.storage.unlink(path);
    const header = { ...newFtHeader({ now: this.clock.nowMicros() / 1_000_000n, rootXidThatCreated: txn?.root.id ?? 0n }), rootBlocknum: NO_ROOT };
    const cd = await CheckpointableDictionary.create<BtreeNode>({ cachetable: this.ct, storage: this.storage, path, filenum, codec: this.nodeCodec(), iname, header });
    await this.storage.fsyncDir(this.dir);
    const d = this.makeDictionary(name, iname, filenum, cd);
    if (txn !== null) await this.updateRollbackNode(txn, () => txn.ws.fileOps.push({ kind: 'fcreate', filenum, iname }));
    return d;
  }

  /** @internal Open an existing dictionary file (newest valid header); logs fopen when asked. */
  async openDictionaryFile(name: string, iname: string, filenum: number, logIt: boolean): Promise<Dictionary> {
    const cd = await CheckpointableDictionary.open<BtreeNode>({ cachetable: this.ct, storage: this.storage, path: this.path(iname), filenum, codec: this.nodeCodec(), iname });
    if (logIt) this.log({ type: 'fopen', iname: enc.encode(iname), filenum, treeflags: cd.header.flags });
    return this.makeDictionary(name, iname, filenum, cd);
  }

  /** @internal Close a dictionary's file (no log record); unlink it too when asked. */
  async closeDictionaryFile(d: Dictionary, unlink: boolean): Promise<void> {
    d.closed = true;
    this.dicts.delete(d.filenum);
    this.checkpointer?.detach(d.file.cachefile);
    await d.file.close();
    if (unlink) {
      this.mvcc.dropStore(d.iname);
      await this.storage.unlink(this.path(d.iname));
      await this.storage.fsyncDir(this.dir);
    }
  }

  /** @internal */
  dictByFilenum(filenum: number): Dictionary {
    const d = this.dicts.get(filenum);
    invariant(d !== undefined, () => `filenum ${filenum} is open`);
    return d;
  }

  // ------------------------------------------------------------------ public dictionary API

  /** @internal Run body in txn, or in a transaction of its own committed at the end. */
  async withTxn<T>(txn: Txn | undefined, body: (t: Txn) => Promise<T>): Promise<T> {
    if (txn !== undefined) return body(txn);
    const t = this.begin();
    try {
      const r = await body(t);
      await t.commit();
      return r;
    } catch (err) {
      if (t.state === 'live') await t.abort().catch(() => undefined);
      throw err;
    }
  }

  /** Create a dictionary named `name` (in txn, or in its own transaction). */
  async createDictionary(name: string, txn?: Txn): Promise<Dictionary> {
    return this.catalog.createDictionary(name, txn);
  }

  /** Open the dictionary named `name` (as txn sees the directory). */
  async openDictionary(name: string, txn?: Txn): Promise<Dictionary> {
    return this.catalog.openDictionary(name, txn);
  }

  /**
   * Dictionaries the committed directory names whose file is missing (a damaged
   * environment: their rows are lost). Reads only.
   */
  async missingDictionaryFiles(): Promise<Array<{ name: string; iname: string }>> {
    return this.catalog.missingDictionaryFiles();
  }

  /** Names of all dictionaries (committed directory). */
  async listDictionaries(): Promise<string[]> {
    return this.catalog.listDictionaries();
  }

  /**
   * Release a dictionary handle. When the last handle closes the file is closed like
   * PerconaFT's ft_close (see ftClose); if live transactions still hold writes to it, that
   * happens when the last of them ends.
   */
  async closeDictionary(d: Dictionary): Promise<void> {
    return this.catalog.closeDictionary(d);
  }

  /** Remove a dictionary: directory row deleted, fdelete logged; the file goes at commit. */
  async removeDictionary(name: string, txn?: Txn): Promise<void> {
    return this.catalog.removeDictionary(name, txn);
  }

  /**
   * Rename a dictionary: the directory row moves to newName and the file is renamed to a new
   * iname (toku_ft_rename_iname): frename is logged (inames with their trailing NUL,
   * old_filenum FILENUM_NONE when the file is not open) and fsynced before the rename, which
   * is made durable with fsyncDir; abort renames the file back.
   */
  async renameDictionary(oldName: string, newName: string, txn?: Txn): Promise<void> {
    return this.catalog.renameDictionary(oldName, newName, txn);
  }

  /** @internal The file of d now has this iname (rename, its undo, or replay). */
  setIname(d: Dictionary, iname: string): void {
    this.mvcc.renameStore(d.iname, iname);
    d.iname = iname;
    // The cachefile keeps its handle (a rename does not change the inode); fassociate must
    // name the new iname from now on.
    (d.file as { iname: string }).iname = iname;
  }

  /** @internal Undo an frename: rename the file back (new -> old) and fix the open handle. */
  async undoRename(op: { filenum: number; iname: string; newIname?: string }, dicts: Map<number, Dictionary>): Promise<void> {
    invariant(op.newIname !== undefined, 'an frename undo names the new iname');
    const from = this.path(op.newIname);
    const to = this.path(op.iname);
    if ((await this.storage.exists(from)) && !(await this.storage.exists(to))) {
      await this.storage.rename(from, to);
      await this.storage.fsyncDir(this.dir);
    }
    const d = (op.filenum === FILENUM_NONE ? undefined : dicts.get(op.filenum)) ?? [...dicts.values()].find((x) => x.iname === op.newIname);
    if (d !== undefined && !d.closed) {
      this.setIname(d, op.iname);
      d.name = op.iname.replace(/_\d+\.tokudb$/, '');
    }
  }

  // ------------------------------------------------------------------ transactions

  /**
   * Begin a transaction (a child of parent when given). `isolation` says what its reads see
   * (see {@link Isolation}; default 'read-committed'); a child has its parent's, and a
   * snapshot transaction's snapshot is taken here.
   */
  begin(opts: { parent?: Txn; isolation?: Isolation } = {}): Txn {
    if (this.closed) throw new TokusimError('bad-argument', 'the environment is closed');
    this.checkNotFailed();
    const parent = opts.parent;
    if (opts.isolation !== undefined && !ISOLATION_LEVELS.includes(opts.isolation)) {
      throw new TokusimError('bad-argument', `unknown isolation level ${JSON.stringify(opts.isolation)}`, { expected: ISOLATION_LEVELS.join(', '), actual: String(opts.isolation) });
    }
    let t: Txn;
    if (parent !== undefined) {
      parent.checkWritable('begin a child');
      if (opts.isolation !== undefined && opts.isolation !== parent.isolation) {
        throw new TokusimError('bad-argument', 'a child transaction has its parent\'s isolation level', { expected: parent.isolation, actual: opts.isolation });
      }
      const xid = parent.nextChildXid();
      t = new Txn(this, xid.child, parent, xid, parent.isolation);
      parent.child = t;
    } else {
      const id = ++this.lastXid;
      t = new Txn(this, id, undefined, { parent: id, child: 0n }, opts.isolation ?? 'read-committed');
    }
    this.txns.set(t.id, t);
    return t;
  }

  /** Convenience: one put in its own transaction. */
  async put(d: Dictionary, key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.writeBatch([{ dict: d, op: 'insert', key, value }]);
  }
  /** Convenience: one delete in its own transaction. */
  async del(d: Dictionary, key: Uint8Array): Promise<void> {
    await this.writeBatch([{ dict: d, op: 'delete', key }]);
  }
  /** Convenience: one update (enq_update with function fnName, default 'add') in its own transaction. */
  async update(d: Dictionary, key: Uint8Array, extra: Uint8Array, fnName = 'add'): Promise<void> {
    await this.withTxn(undefined, (t) => t.update(d, key, extra, fnName));
  }

  /**
   * Apply ops as one root transaction in a single MO-client-lock section: row locks first
   * (a conflict is a LockConflictError and nothing is logged), then xbegin, the enq_*
   * records, xcommit and the tree updates, then (durability 'sync') the group-commit fsync.
   * Because no checkpoint can begin inside the section, the transaction is never live at a
   * checkpoint and needs no rollback node (the autocommit fast path; a Txn is the general way).
   */
  async writeBatch(ops: ReadonlyArray<{ dict: Dictionary; op: RowOp; key: Uint8Array; value?: Uint8Array }>): Promise<void> {
    this.checkWritableEnv();
    if (ops.length === 0) return;
    const id = ++this.lastXid;
    const t = new Txn(this, id, undefined, { parent: id, child: 0n });
    let lsn: bigint;
    this.batchesInFlight++;
    try {
      for (const o of ops) {
        o.dict.checkOpen();
        this.lockRow(t, o.dict, o.key);
      }
      const release = await this.locks.multiOperationClientLock();
      try {
        t.ensureBegun();
        for (const o of ops) {
          if (o.op === 'delete') this.log({ type: 'enq_delete_any', filenum: o.dict.filenum, xid: t.xid, key: o.key });
          else this.log({ type: o.op === 'insert' ? 'enq_insert' : 'enq_insert_no_overwrite', filenum: o.dict.filenum, xid: t.xid, key: o.key, value: o.value ?? new Uint8Array(0) });
          t.ws.record(o.dict.filenum, { op: o.op, key: o.key, value: o.value ?? new Uint8Array(0) });
        }
        lsn = this.log({ type: 'xcommit', xid: t.xid });
        const durable = this.commitPath!.commitDurable(lsn, this.txns.size === 0 && this.batchesInFlight === 1);
        // No await when nothing must be synced: a commit that waits for nothing keeps its timing.
        if (durable !== undefined) await CommitPath.failTxnUnless(t, durable);
        await this.applyCommitted(t.ws, null);
      } finally {
        release();
      }
    } finally {
      this.batchesInFlight--;
      this.lockMgr.releaseAll(t.id);
    }
    t.state = 'committed';
    this.counters.commits++;
    this.counters.writes += ops.length;
    if (this.hasCloseWhenIdle) await this.catalog.closeIdleDictionaries();
  }

  private get hasCloseWhenIdle(): boolean {
    for (const d of this.dicts.values()) if (d.closeWhenIdle) return true;
    return false;
  }
  /** The committed value of key (no transaction): the newest, or as of opts.snapshot. */
  async get(d: Dictionary, key: Uint8Array, opts: { snapshot?: Snapshot } = {}): Promise<Uint8Array | undefined> {
    return opts.snapshot !== undefined ? d.getAsOf(key, opts.snapshot) : d.getCommitted(key);
  }

  /**
   * A snapshot of the committed state now: reads given it ({@link Env.get},
   * {@link Dictionary.getAsOf}, {@link Dictionary.chunkAsOf}) see exactly the commits applied
   * before it, across checkpoints, evictions and later commits. Release it when done: the
   * values commits replace are kept while an older snapshot is live.
   */
  snapshot(): Snapshot {
    this.checkNotFailed();
    if (this.closed) throw new TokusimError('bad-argument', 'the environment is closed');
    return this.mvcc.snapshot();
  }

  /** The prepared transactions waiting for commit or abort (see {@link Env.preparedTransaction}). */
  listPreparedTransactions(): PreparedTxnInfo[] {
    return [...this.txns.values()].filter((t) => t.state === 'preparing' && t.xaXid !== undefined).map((t) => ({ id: t.id, xid: t.xaXid! }));
  }

  /** A prepared transaction by id (after recovery), to commit or abort it. */
  preparedTransaction(id: bigint): Txn {
    this.checkNotFailed();
    const t = this.txns.get(id);
    if (t === undefined || t.state !== 'preparing') throw new TokusimError('bad-argument', `no prepared transaction ${id}`, { actual: String(id) });
    return t;
  }

  // ------------------------------------------------------------------ EnvCore

  /** Throws unless writes are allowed (open, not read-only, not failed). Used by {@link Txn}. */
  checkWritableEnv(): void {
    if (this.closed) throw new TokusimError('bad-argument', 'the environment is closed');
    if (this.readOnly) throw new TokusimError('bad-argument', 'the environment was opened read-only');
    this.checkNotFailed();
  }

  /**
   * The failed state (see the invariants): the error every operation rejects with after a
   * checkpoint or a log write failed, or undefined. A scheduled checkpoint's failure and a
   * background log write's are noticed here too.
   */
  get failedWith(): TokusimError | MachineHalted | undefined {
    if (this.failure === undefined && this.checkpointer?.failure !== undefined) this.enterFailed(this.checkpointer.failure);
    if (this.failure === undefined && this.logWriter?.failedWith !== undefined) this.enterFailed(this.logWriter.failedWith, 'log write');
    if (this.failure === undefined && !this.closed) void this.envLock?.lostWith; // a lapsed lease enters the failed state (onLost)
    return this.failure;
  }

  /** Throws the error that put the environment in its failed state, if any (for example a checkpoint that failed). */
  checkNotFailed(): void {
    const f = this.failedWith;
    if (f !== undefined) throw f;
  }

  /** Record the failed state for cause (the first cause wins) and return the error to throw. */
  private enterFailed(cause: unknown, at: 'checkpoint' | 'log write' = 'checkpoint'): TokusimError | MachineHalted {
    if (this.failure !== undefined) return this.failure;
    if (cause instanceof MachineHalted) {
      this.failure = cause;
      return cause;
    }
    if (cause instanceof TokusimError && cause.kind === 'locked') {
      // The lock was lost (env-lock.ts, Fencing): that error says what happened as it is.
      this.failure = cause;
      return cause;
    }
    const io = cause instanceof TokusimError && cause.kind === 'io';
    const text = cause instanceof Error ? cause.message : String(cause);
    const err = new TokusimError(io ? 'io' : 'recovery', `environment failed at ${at}: ${text}; reopen to recover`, {
      ...(cause instanceof TokusimError ? cause.where : {}),
    });
    (err as { cause?: unknown }).cause = cause;
    this.failure = err;
    return err;
  }

  /** The extra bytes an update record carries for update function name and its argument; throws when no function of that name is registered. */
  updateExtra(name: string, arg: Uint8Array): Uint8Array {
    if (!this.updates.has(name)) this.updates.apply(name, undefined, arg); // throws: unknown function
    return encodeUpdateExtra(name, arg);
  }

  /** Runs update function name on a row's old value and argument, giving the new value (undefined deletes the row); errors name where when given. */
  applyUpdate(name: string, old: Uint8Array | undefined, arg: Uint8Array, where: { lsn?: bigint; file?: string } = {}): Uint8Array | undefined {
    return this.updates.apply(name, old, arg, where);
  }

  /** Take txn's row write lock on key (LockConflictError when another transaction holds it). Used by {@link Txn}. */
  lockRow(txn: Txn, dict: Dictionary, key: Uint8Array): void {
    // Keyed by filenum, which stays the same across a rename (the iname does not).
    this.lockMgr.tryAcquire({ rootTxnId: txn.root.id, txnId: txn.id }, `filenum ${dict.filenum}`, key, 'write');
  }

  /** Take txn's row read lock on key (LockConflictError when another transaction write-locked it). Used by {@link Txn}. */
  lockRead(txn: Txn, dict: Dictionary, key: Uint8Array): void {
    this.lockMgr.tryAcquire({ rootTxnId: txn.root.id, txnId: txn.id }, `filenum ${dict.filenum}`, key, 'read');
  }

  /** The multi-operation client lock: a checkpoint's begin waits for its holders. Used by {@link Txn}. */
  clientLock(): Promise<Release> {
    return this.locks.multiOperationClientLock();
  }

  /** Append a record to the log; returns its LSN. Used by {@link Txn}. */
  log(rec: LogRecordInput): bigint {
    invariant(this.commitPath !== undefined, 'logging needs a writable environment');
    return this.commitPath.log(rec);
  }

  /** @internal Make the log durable up to lsn; a failure puts the environment in its failed state. */
  async syncLog(lsn: bigint): Promise<void> {
    await this.commitPath!.sync(lsn);
  }

  /** Count one row write (status counters). Used by {@link Txn}. */
  noteWrite(): void {
    this.counters.writes++;
  }

  /** Apply mutate to txn's write set and mirror it in its rollback node. Used by {@link Txn}. */
  async updateRollbackNode(txn: Txn, mutate: () => void): Promise<void> {
    invariant(this.rollback !== undefined, 'tokudb.rollback is open');
    await updateRollbackNode(this.ct, this.rollback, txn, mutate);
  }

  private hasFileOps(t: Txn): boolean {
    return t.ws.fileOps.length > 0;
  }

  /** Commit or abort txn: log it, apply or undo its writes, release its locks. Used by {@link Txn}. */
  async finishTxn(txn: Txn, how: 'commit' | 'abort'): Promise<void> {
    this.checkNotFailed();
    const release = this.hasFileOps(txn) ? await this.locks.checkpointSafeClientLock() : await this.locks.multiOperationClientLock();
    let lsn: bigint | undefined;
    try {
      if (txn.loggedBegin) lsn = this.log({ type: how === 'commit' ? 'xcommit' : 'xabort', xid: txn.xid });
      if (lsn !== undefined && txn.parent === undefined && how === 'commit') {
        const durable = this.commitPath!.commitDurable(lsn, this.txns.size === 1 && this.batchesInFlight === 0);
        if (durable !== undefined) await CommitPath.failTxnUnless(txn, durable);
      }
      if (how === 'commit' && txn.parent !== undefined) {
        const parent = txn.parent;
        if (!txn.ws.isEmpty) await this.updateRollbackNode(parent, () => parent.ws.mergeFrom(txn.ws));
      } else if (how === 'commit') {
        await this.applyCommitted(txn.ws, null);
      } else {
        await this.undoFileOps(txn.ws);
      }
      await dropRollbackNode(this.ct, this.rollback, txn);
    } finally {
      release();
    }
    txn.state = how === 'commit' ? 'committed' : 'aborted';
    if (txn.parent !== undefined) txn.parent.child = undefined;
    else {
      this.lockMgr.releaseAll(txn.id);
      if (how === 'commit') this.counters.commits++;
      else this.counters.aborts++;
    }
    this.txns.delete(txn.id);
    if (txn.parent === undefined && this.hasCloseWhenIdle) await this.catalog.closeIdleDictionaries();
  }

  /**
   * @internal Apply a committed root write set: rows (only to dictionaries whose
   * opened checkpoint LSN is below commitLsn, when commitLsn is given — replay's LSN filter),
   * then delete the files it removed.
   */
  async applyCommitted(ws: WriteSet, commitLsn: bigint | null, dicts: Map<number, Dictionary> = this.dicts): Promise<void> {
    await this.visibility.writeLock();
    try {
      const commit = this.mvcc.nextCommit();
      for (const { filenum, rows } of Txn.sortedRows(ws)) {
        const d = dicts.get(filenum);
        if (d === undefined || d.closed) continue;
        if (commitLsn !== null && commitLsn <= d.openedCheckpointLsn) continue;
        await d.applyRows(rows, commit);
      }
    } finally {
      this.visibility.writeUnlock();
    }
    for (const op of ws.fileOps) {
      if (op.kind !== 'fdelete') continue;
      const d = dicts.get(op.filenum);
      if (d !== undefined && !d.closed) {
        await this.closeDictionaryFile(d, true);
        dicts.delete(op.filenum);
      } else if (commitLsn !== null && (await this.storage.exists(this.path(op.iname)))) {
        await this.storage.unlink(this.path(op.iname));
      }
    }
  }

  /** @internal Abort: delete the files the write set created. */
  async undoFileOps(ws: WriteSet, dicts: Map<number, Dictionary> = this.dicts): Promise<void> {
    for (const op of [...ws.fileOps].reverse()) {
      if (op.kind === 'frename') await this.undoRename(op, dicts);
      if (op.kind !== 'fcreate') continue;
      const d = dicts.get(op.filenum);
      if (d !== undefined && !d.closed) {
        await this.closeDictionaryFile(d, true);
        dicts.delete(op.filenum);
      }
    }
  }

  /**
   * @internal Recovery keeps a prepared transaction: it is live again in state 'preparing'
   * with its writes, a rollback node mirroring them and the row locks it held.
   */
  async keepPreparedTxn(xid: TxnidPair, xaXid: Xid, ws: WriteSet, dicts: FileMap): Promise<void> {
    const txn = new Txn(this, xid.parent, undefined, xid);
    txn.loggedBegin = true;
    txn.state = 'preparing';
    txn.xaXid = xaXid;
    this.txns.set(txn.id, txn);
    await this.updateRollbackNode(txn, () => txn.ws.mergeFrom(ws));
    for (const [fn, rows] of ws.rows) {
      const d = dicts.get(fn);
      if (d !== undefined) for (const w of rows.values()) this.lockRow(txn, d, w.key);
    }
  }

  /** @internal Make the log durable up to its last record. */
  async fsyncLog(): Promise<void> {
    await this.logWriter!.fsync();
  }

  /** Log xprepare for txn and keep it prepared across crashes. Used by {@link Txn}. */
  async prepareTxn(txn: Txn, xid: Xid): Promise<void> {
    this.checkNotFailed();
    const release = await this.clientLock();
    let lsn: bigint;
    try {
      txn.ensureBegun();
      lsn = this.log({ type: 'xprepare', xid: txn.xid, xa_xid: xid });
      txn.xaXid = xid;
      txn.state = 'preparing';
    } finally {
      release();
    }
    await this.syncLog(lsn);
  }

  private txnProvider(): TxnProvider {
    return {
      lastXid: () => this.lastXid,
      liveTxns: () => {
        const out: LiveTxn[] = [];
        for (const t of this.txns.values()) {
          if (t.state !== 'live' && t.state !== 'preparing') continue;
          const common = {
            rollentry_raw_count: 0n,
            open_filenums: [...t.ws.rows.keys()].sort((a, b) => a - b),
            force_fsync_on_commit: 0,
            num_rollback_nodes: t.rollbackBlocknum === null ? 0n : 1n,
            num_rollentries: BigInt(t.ws.rowCount + t.ws.fileOps.length),
            spilled_rollback_head: NO_ROLLBACK_NODE,
            spilled_rollback_tail: NO_ROLLBACK_NODE,
            current_rollback: t.rollbackBlocknum ?? NO_ROLLBACK_NODE,
          };
          if (t.state === 'preparing') {
            out.push({ state: 'preparing', readOnly: !t.loggedBegin, fields: { xid: t.xid, xa_xid: t.xaXid!, ...common } });
          } else {
            const parentxid: TxnidPair = t.parent?.xid ?? { parent: 0n, child: 0n };
            out.push({ state: 'live', readOnly: !t.loggedBegin, fields: { xid: t.xid, parentxid, ...common } });
          }
        }
        return out;
      },
    };
  }

  // ------------------------------------------------------------------ checkpoint, status, close

  /** Take a sharp checkpoint now (the five steps of PerconaFT's checkpoint); resolves when it has ended. */
  async checkpoint(caller: 'client' | 'startup' | 'recovery' | 'shutdown' = 'client'): Promise<CheckpointResult> {
    this.checkWritableEnv();
    invariant(this.checkpointer !== undefined, 'a writable environment has a checkpointer');
    let r: CheckpointResult;
    try {
      r = await this.checkpointer.checkpoint(caller);
    } catch (err) {
      throw this.enterFailed(err);
    }
    this.lastCheckpointResult = r;
    return r;
  }

  /**
   * A hot backup of this environment to target (a repository of src/backup): see
   * docs/backup.md. Clients keep committing; checkpoints and dictionary file operations wait
   * while the files are copied.
   */
  async backup<R, O>(target: BackupTarget<R, O, Env>, opts: O): Promise<R> {
    this.checkWritableEnv();
    return target.pushFrom(this, opts);
  }

  /** Checkpoint counters, log files and LSNs, dictionaries and transaction counts. */
  status(): EnvStatus {
    const w = this.logWriter;
    const failed = this.failedWith;
    return {
      dir: this.dir,
      durability: this.durability,
      failed: failed === undefined ? null : { kind: failed instanceof TokusimError ? failed.kind : 'crash', message: failed.message },
      checkpoint: this.checkpointer?.getStatus() ?? null,
      lastCheckpoint: this.lastCheckpointResult,
      log: w === undefined ? null : { lastLsn: w.lastLsn, syncedLsn: w.syncedLsn, files: w.logFiles().map((f) => ({ path: f.path, maxLsn: f.maxLsn })), stats: w.stats() },
      dictionaries: [...this.dicts.values()].map((d) => ({ name: d.name, iname: d.iname, filenum: d.filenum, checkpointCount: d.file.header.checkpointCount, checkpointLsn: d.file.header.checkpointLsn })),
      liveTxns: [...this.txns.values()].filter((t) => t.state === 'live').length,
      preparedTxns: [...this.txns.values()].filter((t) => t.state === 'preparing').length,
      ...this.counters,
      recovery: this.recoveryReport,
      mvcc: this.mvcc.status(),
    };
  }

  /**
   * Clean close: shutdown checkpoint, fclose every dictionary, a second checkpoint, then the
   * fsynced `shutdown` record. With prepared transactions left, no shutdown record is written
   * (the next open recovers them, still prepared).
   *
   * Live (unprepared) transactions that wrote are never thrown away silently: without
   * `{ abortLive: true }` the promise rejects with code `TOKUSIM_LIVE_TRANSACTIONS` and the
   * environment stays open, so the caller can commit or abort them and close again. With
   * `abortLive` they are aborted (each logged as `xabort`) before the checkpoint. Live
   * transactions that only read hold nothing that could be lost (no writes, no row locks),
   * so close ends them either way.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    if (this.closed) return;
    if (this.failedWith !== undefined) return this.closeFailed();
    const live = [...this.txns.values()].filter((t) => t.state === 'live' && t.parent === undefined && !t.isReadOnly);
    if (live.length > 0 && options.abortLive !== true) {
      throw new TokusimError('live-transactions', `close: ${live.length} live transaction${live.length > 1 ? 's' : ''} with writes (${live.map((t) => `txn ${t.id}`).join(', ')}); commit or abort them, or close({ abortLive: true })`, {
        expected: 'no live transactions',
        actual: `${live.length}`,
      });
    }
    if (this.readOnly) {
      this.closed = true;
      for (const d of [...this.dicts.values()]) await this.closeDictionaryFile(d, false);
      return;
    }
    try {
      await this.checkpointer?.shutdown();
      this.commitPath?.stop();
      for (const t of [...this.txns.values()].reverse()) if (t.state === 'live' && t.parent === undefined) await t.abort();
      const prepared = this.listPreparedTransactions().length > 0;
      await this.checkpoint('shutdown');
      if (!prepared) {
        for (const d of [...this.dicts.values()]) {
          this.log({ type: 'fclose', iname: enc.encode(d.iname), filenum: d.filenum });
          await this.closeDictionaryFile(d, false);
        }
        await this.checkpoint('shutdown');
        this.log({ type: 'shutdown', timestamp: 0n, last_xid: this.lastXid });
      } else {
        for (const d of [...this.dicts.values()]) await this.closeDictionaryFile(d, false);
      }
      this.closed = true;
      if (this.rollback !== undefined) {
        this.checkpointer?.detach(this.rollback.cachefile);
        await this.rollback.close();
      }
      const lastLog = this.logWriter?.logFiles().at(-1)?.path;
      await this.logWriter?.close();
      await this.options.logArchive?.finish(lastLog);
      await this.envLock?.release();
    } catch (err) {
      // The machine stopping is not this process failing: leave everything as a crash would.
      if (err instanceof MachineHalted) throw err;
      // A close that failed part-way (EIO or ENOSPC on the last checkpoint, the log's final
      // fsync, ...) must still let go: close every file without writing more and release the
      // lock, so no timer keeps the process alive and the next open recovers from the log.
      await this.closeFailed().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Close a failed environment without writing: no abort, checkpoint, fclose or shutdown
   * record (the next open recovers from the log); file handles are closed without flushing
   * and the environment lock is released. The log is closed without writing (as a crash
   * would leave it; the next open recovers).
   */
  private async closeFailed(): Promise<void> {
    this.closed = true;
    this.commitPath?.stop();
    await this.checkpointer?.shutdown().catch(() => undefined);
    const files = [...this.dicts.values()].map((d) => d.file.file);
    if (this.rollback !== undefined) files.push(this.rollback.file);
    for (const d of this.dicts.values()) d.closed = true;
    this.dicts.clear();
    for (const f of files) await f.close().catch(() => undefined);
    await this.logWriter?.closeWithoutWriting().catch(() => undefined);
    await this.envLock?.release().catch(() => undefined);
  }

  /**
   * `await using env = await Env.open(...)`: closes the environment when the scope ends. Like
   * {@link Env.close} without options, it rejects if transactions are still live.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Stop timers and forget everything without any I/O (a crashed process; tests). */
  abandon(): void {
    this.closed = true;
    this.commitPath?.stop();
    void this.checkpointer?.shutdown();
    this.envLock?.abandon();
  }

  /** True once the environment is closed (or abandoned). */
  get isClosed(): boolean {
    return this.closed;
  }
}
