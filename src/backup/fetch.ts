/**
 * Restore a backup into DEST (docs/backup.md "fetch"): compose the full base and its deltas,
 * write the log (the backup's, and past its end the archive's), cut it at a PITR target, and
 * run recovery.
 *
 * Invariants:
 *  - DEST is absent, empty, or an unfinished fetch of ours (its marker file); nothing else
 *    is ever written into.
 *  - Every byte read from the repository is checked against its sha256 before it is used.
 *  - tokudb.environment reaches its name (by rename) only after every other file is durable,
 *    and the identity file after it: until then every Env.open refuses DEST, so a crash never
 *    leaves something that opens as an environment with missing parts.
 *  - With a target, the log ends after the last record with LSN <= target: recovery then keeps
 *    exactly the transactions committed at or before it (prepared ones stay prepared).
 *  - With `concurrency` N, up to N repository objects of one file are read at once, but they
 *    are checked and written in the order of one-at-a-time (each at its own offset): DEST's
 *    bytes, the progress file and what a resumed fetch keeps do not depend on N.
 */
import { TokusimError } from '../base/errors.js';
import { encodeRecord } from '../format/codec.js';
import { LOG_FILE_HEADER_SIZE } from '../format/log-header.js';
import { Env, type EnvOptions } from '../engine/env.js';
import { ENV_IDENTITY_FILE } from '../engine/env-identity.js';
import { parseLogFileName } from '../log/names.js';
import { joinPath, type Storage, type StorageFile } from '../storage/storage.js';
import { archivedLogs } from './archive.js';
import { blockCuts, newSha256, segmentedSha256, sha256Hex, sha256OfDigests } from './hash.js';
import { defaultLeaseId, Lease } from './lease.js';
import { LocalStore } from './store.js';
import { recordTimeMicros, scanLogBytes } from './log-bytes.js';
import { encodeJson, WAL_DIR, type BackupManifest, type ManifestFile } from './manifest.js';
import { PacedStore, Pacer } from './pacer.js';
import type { BackupSource } from './source.js';

export const RESTORE_MARKER = '__tokusim_restore_incomplete';
/** The fetch's lease and progress file in DEST (gone when the fetch finishes). */
export const RESTORE_LEASE = '__tokusim_restore_lease.json';
export const RESTORE_PROGRESS = '__tokusim_restore_progress.json';

/** What an unfinished fetch into DEST had written: files whose bytes are final, with their sha256. */
interface RestoreProgress {
  backup: string;
  /** sha256 of the manifest (a different backup of the same name is another source). */
  manifest: string;
  files: Record<string, string>;
}
const ENV_FILE = 'tokudb.environment';
const ENV_FILE_TMP = 'tokudb.environment.restoring';

export interface FetchOptions {
  /** Keep only transactions committed at or before this LSN. */
  untilLsn?: bigint;
  /** Keep only transactions known committed at or before this time (ms since the epoch). */
  untilTimeMs?: number;
  /**
   * Replay the archive's copy of every log file it holds from the backup's first record on,
   * instead of the backup's own copy (restore-check: the archive must give the same state).
   */
  preferArchive?: boolean;
  /** Run recovery (open and close the restored environment). Default true. */
  recover?: boolean;
  /** Options for that open (clock, update functions...). */
  envOptions?: Omit<EnvOptions, 'storage'>;
  onProgress?: (p: { done: number; total: number; file: string }) => void;
  /** Lease id (default host:pid), time to live (default 60 s) and clock (default Date.now) of DEST's lease. */
  leaseId?: string;
  /** Told of what went wrong without failing the command (a lease found taken over at release). */
  onWarning?: (message: string) => void;
  leaseTtlMs?: number;
  now?: () => number;
  /** Download at most this many bytes per second from the repository (default: no limit). */
  rateLimit?: number;
  /** Repository objects read at once (default 1): parts of a file, a delta's packed parts. */
  concurrency?: number;
  /** Clock (ms) and sleep of the rate limit (default performance.now and setTimeout). */
  paceNow?: () => number;
  paceSleep?: (ms: number) => Promise<void>;
}

export interface FetchResult {
  name: string;
  chain: string[];
  /** The LSN the log ends at (the target, or the end of the log available). */
  lastLsn: string;
  files: number;
  bytes: number;
  /** Dictionary files an unfinished fetch had written already (checked by sha256, not rewritten). */
  kept: string[];
}

/** A stored object, checked against its sha256 (block-segmented at `seg.offset` of its file when seg is given). */
async function getChecked(repo: BackupSource, key: string, sha: string, where: string, seg?: { offset: number; cuts: readonly number[] }): Promise<Uint8Array> {
  const bytes = await repo.store.get(key);
  if (bytes === undefined) throw new TokusimError('truncated', `repository object ${key} is missing`, { file: `${repo.store.where}/${key}`, expected: where });
  const actual = seg === undefined ? sha256Hex(bytes) : segmentedSha256(bytes, seg.offset, seg.cuts);
  if (actual !== sha) throw new TokusimError('bad-checksum', `repository object ${key} (${where}) does not match its sha256`, { file: `${repo.store.where}/${key}`, expected: sha, actual });
  return bytes;
}

/** The cut points of a file whose parts are block-segmented (hashing 'blocks'), else undefined. */
function cutsOf(f: ManifestFile): number[] | undefined {
  if (f.hashing !== 'blocks') return undefined;
  return blockCuts((f.blocks ?? []).map((b) => ({ diskoff: b[1], size: b[2] })));
}

/**
 * fetch(0), fetch(1), ... fetch(count - 1), up to `limit` of them started ahead of the one
 * awaited, yielded in index order. A failure surfaces when its turn comes; those started
 * after it are left to settle unobserved (their failures are caught here).
 */
async function* inOrder<T>(count: number, limit: number, fetch: (i: number) => Promise<T>): AsyncGenerator<T> {
  const inFlight: Array<Promise<T>> = [];
  let next = 0;
  for (let i = 0; i < count; i++) {
    while (next < count && inFlight.length < limit) {
      const p = fetch(next++);
      p.catch(() => undefined);
      inFlight.push(p);
    }
    yield await inFlight.shift()!;
  }
}

/** Objects in flight at once for a `concurrency` option. */
function concurrencyOf(n: number | undefined): number {
  return Math.max(1, Math.floor(n ?? 1));
}

/** The parts of a stored whole file, each checked, in file order (up to `limit` read at once). */
async function* checkedParts(repo: BackupSource, f: ManifestFile, limit = 1): AsyncGenerator<{ offset: number; bytes: Uint8Array }> {
  const cuts = cutsOf(f);
  yield* inOrder(f.parts.length, limit, async (i) => {
    const p = f.parts[i]!;
    return { offset: p.offset, bytes: await getChecked(repo, p.key, p.sha256, `${f.name} @${p.offset}`, cuts === undefined ? undefined : { offset: p.offset, cuts }) };
  });
}

/** The bytes of a stored whole file (all parts, checked; up to `limit` parts read at once). */
export async function wholeFile(repo: BackupSource, f: ManifestFile, limit = 1): Promise<Uint8Array> {
  const out = new Uint8Array(f.size);
  for await (const p of checkedParts(repo, f, limit)) out.set(p.bytes, p.offset);
  if (f.sha256 !== undefined) {
    // Every part matched its digest just now, so the parts' digests stand for their bytes.
    const actual = f.hashing === 'blocks' ? sha256OfDigests(f.parts.map((p) => p.sha256)) : sha256Hex(out);
    if (actual !== f.sha256) throw new TokusimError('bad-checksum', `file ${f.name} of the backup does not match its sha256`, { file: f.name, expected: f.sha256, actual });
  }
  return out;
}

/** Parsed `key@offset+length`. */
function pieceRef(s: string): { key: string; offset: number; length: number } {
  const m = /^(.*)@(\d+)\+(\d+)$/.exec(s);
  if (m === null) throw new TokusimError('bad-header', 'backup manifest: a bad piece reference', { actual: s });
  return { key: m[1]!, offset: Number(m[2]), length: Number(m[3]) };
}

/** A piece of a packed part (a delta's header region or changed block) and where it goes in the file. */
interface Piece {
  key: string;
  offset: number;
  length: number;
  sha: string;
  what: string;
  at: number;
}

/** The piece's bytes out of its part, checked. */
function checkedPiece(repo: BackupSource, part: Uint8Array, p: Piece): Uint8Array {
  const bytes = part.subarray(p.offset, p.offset + p.length);
  const actual = sha256Hex(bytes);
  if (bytes.length !== p.length || actual !== p.sha) throw new TokusimError('bad-checksum', `${p.what} does not match its sha256`, { file: `${repo.store.where}/${p.key}`, offset: p.offset, expected: p.sha, actual });
  return bytes;
}

/**
 * Write the pieces into f in their order; the packed parts they come from are read once per
 * run of consecutive pieces in one part, up to `limit` runs' parts at once.
 */
async function writePieces(repo: BackupSource, pieces: Piece[], f: StorageFile, limit: number): Promise<void> {
  const runs: Piece[][] = [];
  for (const p of pieces) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last[0]!.key === p.key) last.push(p);
    else runs.push([p]);
  }
  const parts = inOrder(runs.length, limit, async (i) => {
    const first = runs[i]![0]!;
    const got = await repo.store.get(first.key);
    if (got === undefined) throw new TokusimError('truncated', `repository object ${first.key} is missing`, { file: `${repo.store.where}/${first.key}`, expected: first.what });
    return got;
  });
  let i = 0;
  for await (const part of parts) {
    for (const p of runs[i++]!) await f.pwrite(checkedPiece(repo, part, p), p.at);
  }
}

/** Write the dictionary file `name` as of the last backup of chain into f (up to `limit` objects read at once). */
async function composeDictionary(repo: BackupSource, chain: BackupManifest[], name: string, f: StorageFile, limit: number): Promise<number> {
  const entries: ManifestFile[] = [];
  for (let i = chain.length - 1; i >= 0; i--) {
    const e = chain[i]!.files.find((x) => x.name === name && x.role === 'dictionary');
    if (e === undefined) throw new TokusimError('bad-header', `backup ${chain[i]!.name} lacks ${name}, which a later delta changes`, { file: name });
    entries.unshift(e);
    if (e.delta === undefined) break;
  }
  const base = entries[0]!;
  for await (const p of checkedParts(repo, base, limit)) await f.pwrite(p.bytes, p.offset);
  let written = base.size;
  for (const e of entries.slice(1)) {
    const d = e.delta!;
    const h = pieceRef(d.headerPart);
    await writePieces(repo, [
      { key: h.key, offset: h.offset, length: h.length, sha: d.headerSha256, what: `${name} header region`, at: 0 },
      ...d.changed.map((c) => ({ key: c.part, offset: c.partOffset, length: c.size, sha: c.sha256, what: `${name} block ${c.blocknum}`, at: c.diskoff })),
    ], f, limit);
    await f.truncate(e.size);
    written += d.changed.reduce((a, c) => a + c.size, 0);
  }
  await f.truncate(entries[entries.length - 1]!.size);
  return written;
}

/** sha256 of a file's bytes, or undefined when it does not exist. */
async function fileSha256(storage: Storage, path: string): Promise<string | undefined> {
  if (!(await storage.exists(path))) return undefined;
  const f = await storage.open(path, 'read');
  try {
    const size = await f.size();
    const h = newSha256();
    const buf = new Uint8Array(Math.min(size, 8 << 20));
    for (let at = 0; at < size; ) {
      const n = await f.pread(buf.subarray(0, Math.min(buf.length, size - at)), at);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      at += n;
    }
    return h.hex();
  } finally {
    await f.close();
  }
}

async function readRestoreProgress(storage: Storage, dest: string): Promise<RestoreProgress | undefined> {
  const bytes = await new LocalStore(storage, dest, { repository: false }).get(RESTORE_PROGRESS);
  if (bytes === undefined) return undefined;
  try {
    const p = JSON.parse(new TextDecoder().decode(bytes)) as RestoreProgress;
    return typeof p.backup === 'string' && typeof p.files === 'object' && p.files !== null ? p : undefined;
  } catch {
    // A damaged progress file is no evidence of anything: start over.
    return undefined;
  }
}

async function checkDest(storage: Storage, dest: string): Promise<void> {
  if (!(await storage.exists(dest))) {
    await storage.mkdir(dest);
    return;
  }
  const names = (await storage.list(dest)).filter((n) => !n.startsWith(RESTORE_LEASE));
  if (names.length === 0 || names.includes(RESTORE_MARKER)) return;
  throw new TokusimError('dest-not-empty', `fetch: ${dest} is not empty (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''}); DEST must be empty or absent`, { file: dest, expected: 'an empty or absent directory', actual: `${names.length} entries` });
}

async function writeFileAt(storage: Storage, path: string, write: (f: StorageFile) => Promise<void>): Promise<void> {
  const f = await storage.open(path, 'create');
  try {
    await f.truncate(0);
    await write(f);
    await f.fsync();
  } finally {
    await f.close();
  }
}

/**
 * The log files to restore: the backup's, extended (or replaced by a longer copy) from the
 * archive ('beyond'); with 'prefer', the archive's copy of every file it holds from the
 * backup's first record on replaces the backup's own (restore-check replays the archive).
 */
async function logBytes(repo: BackupSource, m: BackupManifest, archive: 'none' | 'beyond' | 'prefer', limit: number): Promise<Array<{ name: string; bytes: Uint8Array }>> {
  const own = m.files.filter((f) => f.role === 'log');
  const out = new Map<string, Uint8Array>();
  for (const f of own) out.set(f.name, await wholeFile(repo, f, limit));
  if (archive !== 'none') {
    const from = archive === 'prefer' ? BigInt(m.log.firstLsn) : BigInt(m.log.lastLsn) + 1n;
    const wanted = (await archivedLogs(repo.store)).filter((a) => BigInt(a.lastLsn) >= from);
    let i = 0;
    for await (const bytes of inOrder(wanted.length, limit, (j) => getChecked(repo, `${WAL_DIR}/${wanted[j]!.name}`, wanted[j]!.sha256, `archived ${wanted[j]!.name}`))) out.set(wanted[i++]!.name, bytes);
  }
  return [...out.entries()]
    .map(([name, bytes]) => ({ name, bytes, index: parseLogFileName(name)!.index }))
    .sort((a, b) => a.index - b.index)
    .map(({ name, bytes }) => ({ name, bytes }));
}

/** Cut the log after the last record <= target; check it is contiguous up to there. */
function cutLog(files: Array<{ name: string; bytes: Uint8Array }>, target: bigint | undefined, m: BackupManifest): { files: Array<{ name: string; bytes: Uint8Array }>; lastLsn: bigint } {
  const out: Array<{ name: string; bytes: Uint8Array }> = [];
  let last: bigint | undefined;
  let done = false;
  for (const f of files) {
    if (done) break;
    let end = 0;
    let gap: string | undefined;
    const scan = scanLogBytes(f.bytes, f.name, (r, at) => {
      if (target !== undefined && r.lsn > target) {
        done = true;
        return false;
      }
      if (last !== undefined && r.lsn !== last + 1n) {
        gap = `LSN ${last} is followed by ${r.lsn}`;
        return false;
      }
      last = r.lsn;
      end = at;
      return true;
    });
    if (gap !== undefined) throw new TokusimError('lsn-gap', `the log available for the restore has a hole: ${gap}`, { file: f.name, lsn: last });
    if (scan.problem !== undefined && !done) throw new TokusimError('bad-checksum', `log file ${f.name} of the backup is damaged: ${String(typeof scan.problem === 'string' ? scan.problem : scan.problem.message)}`, { file: f.name, offset: scan.goodEnd });
    if (end > 0) out.push({ name: f.name, bytes: f.bytes.subarray(0, end) });
  }
  if (last === undefined) throw new TokusimError('truncated', 'the backup holds no log records', { file: m.name });
  if (target !== undefined && last < target) {
    throw new TokusimError('bad-argument', `the log available ends at LSN ${last}, before the target ${target} (archive more log, or pick an earlier target)`, { lsn: last, expected: `<= ${last}`, actual: String(target) });
  }
  return { files: out, lastLsn: last };
}

/**
 * The restored dictionary files are as of the backup's checkpoint, but a log that goes past
 * the backup (PITR with the archive) holds later complete checkpoints, and recovery turns
 * around at the last complete one: it would skip the commits between the backup's checkpoint
 * and that one (and a log ending in a shutdown record needs no recovery at all). So every
 * later end_checkpoint and shutdown becomes a comment record of the same LSN and time (a
 * checkpoint then reads as one a crash interrupted), and recovery starts from the backup's
 * checkpoint, as it does for a crash right after the backup.
 */
function withoutLaterCheckpoints(files: Array<{ name: string; bytes: Uint8Array }>, backupBegin: bigint): Array<{ name: string; bytes: Uint8Array }> {
  const te = new TextEncoder();
  return files.map((f) => {
    const pieces: Uint8Array[] = [f.bytes.subarray(0, LOG_FILE_HEADER_SIZE)];
    let start = LOG_FILE_HEADER_SIZE;
    let changed = false;
    scanLogBytes(f.bytes, f.name, (r, end) => {
      if (r.type === 'end_checkpoint' && r.lsn_begin_checkpoint > backupBegin) {
        pieces.push(encodeRecord({ type: 'comment', lsn: r.lsn, timestamp: r.timestamp, comment: te.encode(`tokusim PITR: end_checkpoint of the checkpoint begun at LSN ${r.lsn_begin_checkpoint} (after the restored backup)`) }));
        changed = true;
      } else if (r.type === 'shutdown' && r.lsn > backupBegin) {
        // A log ending in shutdown needs no recovery; these files do.
        pieces.push(encodeRecord({ type: 'comment', lsn: r.lsn, timestamp: r.timestamp, comment: te.encode('tokusim PITR: shutdown (after the restored backup)') }));
        changed = true;
      } else {
        pieces.push(f.bytes.subarray(start, end));
      }
      start = end;
    });
    if (!changed) return f;
    const out = new Uint8Array(pieces.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of pieces) {
      out.set(p, at);
      at += p.length;
    }
    return { name: f.name, bytes: out };
  });
}

/** The LSN of the last timestamped record at or before timeMs. */
function lsnForTime(files: Array<{ name: string; bytes: Uint8Array }>, timeMs: number): bigint | undefined {
  const limit = BigInt(Math.floor(timeMs)) * 1000n;
  let best: bigint | undefined;
  for (const f of files) {
    scanLogBytes(f.bytes, f.name, (r) => {
      const t = recordTimeMicros(r);
      if (t !== undefined && t <= limit) best = r.lsn;
    });
  }
  return best;
}

export async function fetchBackup(repo: BackupSource, nameOrLatest: string, storage: Storage, dest: string, opts: FetchOptions = {}): Promise<FetchResult> {
  if (opts.untilLsn !== undefined && opts.untilTimeMs !== undefined) throw new TokusimError('bad-argument', 'fetch: give --until-lsn or --until-time, not both');
  const name = await repo.resolve(nameOrLatest);
  const chain = await repo.chain(name);
  if (opts.rateLimit !== undefined) {
    // Manifests are read unpaced (small); parts and log files from here on are paced.
    const store = new PacedStore(repo.store, new Pacer({ rate: opts.rateLimit, ...(opts.paceNow !== undefined ? { now: opts.paceNow } : {}), ...(opts.paceSleep !== undefined ? { sleep: opts.paceSleep } : {}) }));
    const inner = repo;
    repo = { store, resolve: (n) => inner.resolve(n), chain: (n) => inner.chain(n) };
  }
  return restoreChain(repo, chain, storage, dest, opts);
}

/**
 * fetchBackup of a chain of manifests (full base first): also for a backup whose sentinel is
 * not written yet (a push recording its contents restores its own copy this way).
 */
export async function restoreChain(repo: BackupSource, chain: BackupManifest[], storage: Storage, dest: string, opts: FetchOptions = {}): Promise<FetchResult> {
  const m = chain[chain.length - 1]!;
  const name = m.name;
  const pitr = opts.untilLsn !== undefined || opts.untilTimeMs !== undefined;
  // Read (and check) the log first: a bad target is refused before DEST is touched.
  const limit = concurrencyOf(opts.concurrency);
  const logs = await logBytes(repo, m, opts.preferArchive === true ? 'prefer' : pitr ? 'beyond' : 'none', limit);
  let target = opts.untilLsn;
  if (opts.untilTimeMs !== undefined) {
    target = lsnForTime(logs, opts.untilTimeMs);
    if (target === undefined) throw new TokusimError('bad-argument', `fetch: no log record of backup ${name} is stamped at or before ${new Date(opts.untilTimeMs).toISOString()}`, { actual: String(opts.untilTimeMs) });
  }
  const endCp = BigInt(m.checkpoint.endLsn);
  if (target !== undefined && target < endCp) {
    throw new TokusimError('bad-argument', `fetch: target LSN ${target} is before backup ${name} is consistent (its end_checkpoint, LSN ${endCp}); restore an earlier backup`, { lsn: target, expected: `>= ${endCp}`, actual: String(target) });
  }
  const cut = cutLog(logs, target, m);
  if (target !== undefined) cut.files = withoutLaterCheckpoints(cut.files, BigInt(m.checkpoint.beginLsn));

  await checkDest(storage, dest);
  const destStore = new LocalStore(storage, dest, { repository: false });
  // The marker first: from here on DEST is recognisably ours (Env.open refuses it, a rerun accepts it).
  if (!(await storage.exists(joinPath(dest, RESTORE_MARKER)))) {
    await writeFileAt(storage, joinPath(dest, RESTORE_MARKER), (f) => f.pwrite(new TextEncoder().encode(`${name}\n`), 0));
    await storage.fsyncDir(dest);
  }
  const lease = await Lease.acquire(destStore, RESTORE_LEASE, { id: opts.leaseId ?? defaultLeaseId(), op: 'fetch', now: opts.now ?? Date.now, ...(opts.onWarning !== undefined ? { onWarning: opts.onWarning } : {}), ...(opts.leaseTtlMs !== undefined ? { ttlMs: opts.leaseTtlMs } : {}) });
  let done = 0;
  const kept: string[] = [];
  try {
    const resumed = await readRestoreProgress(storage, dest);
    const progress: RestoreProgress = { backup: name, manifest: sha256Hex(new TextEncoder().encode(JSON.stringify(m))), files: {} };
    // An unfinished fetch of another backup (or of a different backup of this name) proves nothing here.
    const trusted = resumed !== undefined && resumed.backup === progress.backup && resumed.manifest === progress.manifest ? resumed.files : {};
    const total = m.files.reduce((a, f) => a + f.size, 0);
    let identity: Uint8Array | undefined;
    for (const f of m.files) {
      if (f.role === 'identity') {
        identity = await wholeFile(repo, f, limit);
        continue;
      }
      if (f.role !== 'dictionary') continue;
      const path = joinPath(dest, f.name === ENV_FILE ? ENV_FILE_TMP : f.name);
      const want = trusted[f.name];
      if (want !== undefined && (await fileSha256(storage, path)) === want) {
        kept.push(f.name);
      } else {
        await writeFileAt(storage, path, (h) => composeDictionary(repo, chain, f.name, h, limit).then(() => undefined));
      }
      progress.files[f.name] = want !== undefined && kept.includes(f.name) ? want : ((await fileSha256(storage, path)) ?? '');
      await destStore.putAtomic(RESTORE_PROGRESS, encodeJson(progress));
      await lease.refresh();
      done += f.size;
      opts.onProgress?.({ done, total, file: f.name });
    }
    // Stale files of an earlier try (a longer log, say) must not survive.
    const wanted = new Set(cut.files.map((f) => f.name));
    for (const n of await storage.list(dest)) if (parseLogFileName(n) !== undefined && !wanted.has(n)) await storage.unlink(joinPath(dest, n));
    for (const f of cut.files) {
      await writeFileAt(storage, joinPath(dest, f.name), (h) => h.pwrite(f.bytes, 0));
      done += f.bytes.length;
      opts.onProgress?.({ done, total, file: f.name });
    }
    await storage.fsyncDir(dest);
    if (m.files.some((f) => f.name === ENV_FILE)) {
      await storage.rename(joinPath(dest, ENV_FILE_TMP), joinPath(dest, ENV_FILE));
      await storage.fsyncDir(dest);
    }
    if (identity !== undefined) {
      const tmp = joinPath(dest, `${ENV_IDENTITY_FILE}.restoring`);
      const id = identity;
      await writeFileAt(storage, tmp, (h) => h.pwrite(id, 0));
      await storage.rename(tmp, joinPath(dest, ENV_IDENTITY_FILE));
      await storage.fsyncDir(dest);
    }
    await destStore.delete(RESTORE_PROGRESS);
    await storage.unlink(joinPath(dest, RESTORE_MARKER));
    await storage.fsyncDir(dest);
    await lease.release();
  } catch (err) {
    // Best effort: a fetch that failed lets a rerun in at once (a killed one's lease expires).
    await lease.release().catch(() => undefined);
    throw err;
  }
  if (opts.recover !== false) {
    const env = await Env.open(dest, { checkpointPeriodMs: 0, ...opts.envOptions, storage });
    await env.close();
  }
  return { name, chain: chain.map((c) => c.name), lastLsn: String(cut.lastLsn), files: m.files.length, bytes: done, kept };
}
