/**
 * Continuous archiving of closed log files into a repository's wal/ (docs/backup.md):
 * `archiveLogFile` for one file, `LogArchiver` as EnvOptions.logArchive (archives each file
 * as the logger closes it, and keeps trimming from deleting what it has not stored yet), and
 * `archivedLogs` to read the archive back.
 *
 * Invariants:
 *  - A file is archived as data then sidecar, each with putAtomic: a sidecar exists only for a
 *    complete, durable copy, and readers look only at files with a sidecar.
 *  - Only whole files are archived (every record whole and valid; a closed file has no torn
 *    tail), and an archived file is never replaced by different bytes.
 *  - archiveClosedLogs (`log archive`) runs under the archive's lease, apart from the
 *    repository's (a long push does not hold up archiving); the archiver of an open
 *    environment (EnvOptions.logArchive) runs inside the environment's own lock instead.
 *  - keepFromIndex() is at most the index of every closed file not yet archived, so the
 *    logger's trim (LogWriter.addTrimFloor) never deletes one.
 */
import { TokusimError } from '../base/errors.js';
import type { LogArchiveHook } from '../engine/checkpoint-hold.js';
import { findLogFiles, parseLogFileName } from '../log/names.js';
import { baseName, type Storage } from '../storage/storage.js';
import { sha256Hex } from './hash.js';
import { scanLogBytes } from './log-bytes.js';
import { defaultLeaseId, Lease } from './lease.js';
import { encodeJson, WAL_DIR, WAL_LOCK_KEY } from './manifest.js';
import { readOpenFile, type RepoStore } from './store.js';

export interface ArchivedLog {
  name: string;
  index: number;
  size: number;
  sha256: string;
  firstLsn: string;
  lastLsn: string;
}

const dec = new TextDecoder();

async function readWhole(storage: Storage, path: string): Promise<Uint8Array> {
  const f = await storage.open(path, 'read');
  try {
    return await readOpenFile(f);
  } finally {
    await f.close();
  }
}

/** The archived log files (those with a sidecar), in LSN order. */
export async function archivedLogs(store: RepoStore): Promise<ArchivedLog[]> {
  const out: ArchivedLog[] = [];
  for (const n of await store.list(WAL_DIR)) {
    if (!n.endsWith('.json')) continue;
    const bytes = await store.get(`${WAL_DIR}/${n}`);
    if (bytes === undefined) continue;
    let s: ArchivedLog;
    try {
      s = JSON.parse(dec.decode(bytes)) as ArchivedLog;
    } catch (err) {
      throw new TokusimError('bad-header', 'archived log sidecar is not JSON', { file: `${store.where}/${WAL_DIR}/${n}`, actual: (err as Error).message });
    }
    out.push(s);
  }
  return out.sort((a, b) => (BigInt(a.firstLsn) < BigInt(b.firstLsn) ? -1 : 1));
}

/** Archive one closed log file (no-op when the archive already has it). Returns its sidecar. */
export async function archiveLogFile(store: RepoStore, storage: Storage, path: string): Promise<ArchivedLog | undefined> {
  const name = baseName(path);
  const parsed = parseLogFileName(name);
  if (parsed === undefined) throw new TokusimError('bad-argument', `${name} is not a log file name`, { file: path });
  const sidecarKey = `${WAL_DIR}/${name}.json`;
  const have = await store.get(sidecarKey);
  const bytes = await readWhole(storage, path);
  const scan = scanLogBytes(bytes, path);
  if (scan.problem !== undefined || scan.goodEnd !== bytes.length) {
    const what = typeof scan.problem === 'string' ? scan.problem : scan.problem?.message ?? `zero tail after offset ${scan.goodEnd}`;
    throw new TokusimError('truncated', `log file is not whole, not archived: ${what}`, { file: path, offset: scan.goodEnd });
  }
  if (scan.firstLsn === undefined) return undefined;
  const sidecar: ArchivedLog = { name, index: parsed.index, size: bytes.length, sha256: sha256Hex(bytes), firstLsn: String(scan.firstLsn), lastLsn: String(scan.lastLsn) };
  if (have !== undefined) {
    const old = JSON.parse(dec.decode(have)) as ArchivedLog;
    if (old.sha256 !== sidecar.sha256) throw new TokusimError('bad-checksum', `the archive already holds a different ${name}`, { file: `${store.where}/${sidecarKey}`, expected: old.sha256, actual: sidecar.sha256 });
    return old;
  }
  await store.putAtomic(`${WAL_DIR}/${name}`, bytes);
  await store.putAtomic(sidecarKey, encodeJson(sidecar));
  return sidecar;
}

export interface ArchiveOptions {
  /** Lease id (default host:pid), time to live (default 60 s) and clock (default Date.now) of the archive lease. */
  leaseId?: string;
  /** Told of what went wrong without failing the command (a lease found taken over at release). */
  onWarning?: (message: string) => void;
  leaseTtlMs?: number;
  now?: () => number;
}

/**
 * Archive every log file of dir except the newest (it may still be written), under the
 * archive's lease (WAL_LOCK_KEY: another `log archive` holding it is refused, naming owner
 * and expiry). Returns the names archived now.
 */
export async function archiveClosedLogs(store: RepoStore, storage: Storage, dir: string, opts: ArchiveOptions = {}): Promise<string[]> {
  const lease = await Lease.acquire(store, WAL_LOCK_KEY, { id: opts.leaseId ?? defaultLeaseId(), op: 'log archive', now: opts.now ?? Date.now, ...(opts.onWarning !== undefined ? { onWarning: opts.onWarning } : {}), ...(opts.leaseTtlMs !== undefined ? { ttlMs: opts.leaseTtlMs } : {}) });
  const done: string[] = [];
  try {
    const files = await findLogFiles(storage, dir);
    const have = new Set((await archivedLogs(store)).map((a) => a.name));
    for (const f of files.slice(0, -1)) {
      if (have.has(f.name)) continue;
      if ((await archiveLogFile(store, storage, f.path)) !== undefined) done.push(f.name);
      await lease.refresh();
    }
  } catch (err) {
    // One that failed lets the next run in at once (one that was killed leaves its lease to expire).
    await lease.release().catch(() => undefined);
    throw err;
  }
  await lease.release();
  return done;
}

/** EnvOptions.logArchive: archive each log file as it closes. */
export class LogArchiver implements LogArchiveHook {
  private readonly pending = new Map<number, string>();
  private queue: Promise<void> = Promise.resolve();
  private storage: Storage | undefined;
  /** The first failure (the file stays pending, so trimming keeps it); later files still go. */
  failure: unknown = undefined;
  /** Names archived by this archiver. */
  readonly archived: string[] = [];

  constructor(readonly store: RepoStore) {}

  keepFromIndex(): number {
    let min = Infinity;
    for (const i of this.pending.keys()) min = Math.min(min, i);
    return min;
  }

  fileClosed(path: string): void {
    const p = parseLogFileName(baseName(path));
    if (p === undefined) return;
    this.pending.set(p.index, path);
    this.queue = this.queue.then(() => this.archive(p.index, path));
  }

  private async archive(index: number, path: string): Promise<void> {
    if (this.storage === undefined) return;
    try {
      await archiveLogFile(this.store, this.storage, path);
      this.pending.delete(index);
      this.archived.push(baseName(path));
    } catch (err) {
      this.failure ??= err;
    }
  }

  async start(storage: Storage, dir: string, currentPath: string): Promise<void> {
    this.storage = storage;
    const have = new Set((await archivedLogs(this.store)).map((a) => a.name));
    for (const f of await findLogFiles(storage, dir)) {
      if (f.path === currentPath || have.has(f.name)) continue;
      this.fileClosed(f.path);
    }
  }

  async finish(lastPath: string | undefined): Promise<void> {
    if (lastPath !== undefined) this.fileClosed(lastPath);
    await this.queue;
  }

  /** Wait until every file closed so far was tried. */
  async drain(): Promise<void> {
    await this.queue;
  }
}
