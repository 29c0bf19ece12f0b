/**
 * A hot backup of an open environment into a repository (docs/backup.md): take and hold a
 * checkpoint (engine/checkpoint-hold.ts), copy every dictionary file in large sequential
 * parts (each byte hashed once: a part's digest is block-segmented, so the blocks of the chosen
 * translation get their sha256 from the same pass), then the log from the file holding the
 * checkpoint's begin_checkpoint, release the hold, optionally record the recovered contents
 * (a restore rehearsal, PushOptions.contents), and publish: parts synced, manifest, sentinel last.
 *
 * Invariants:
 *  - The hold is released on every path (success, error, crash of the machine).
 *  - The sentinel is written after the manifest, and the manifest after every part is
 *    durable: a backup with a sentinel is complete.
 *  - A delta stores a block only when its (diskoff, size, sha256) differs from the parent's
 *    entry for the same blocknum; every other block of its translation is byte-identical in
 *    the parent's composed file (copy-on-write: a block is never rewritten in place while a
 *    translation names it, and the sha256 catches a block reused at the same place).
 *  - Every part's sha256 is of the bytes stored in it, on either path: the chunk path hashes
 *    the buffer it puts; the part copier (copyDictionaryDirect) hashes the buffer it writes.
 *    Neither hashes the source separately from the copy: regions the held translation does
 *    not name (free space, the other header slot) may change during the hold, so only a
 *    digest of the copied bytes is sure to match the part.
 *  - A block's sha256 is of the bytes stored for it: taken from the part's segments, or, for a
 *    block straddling two parts on the copier's path, from a separate read of the block while
 *    the hold lasts; the held translation names it, so it is not rewritten until release and
 *    that read sees the bytes the copier stored.
 *  - A progress file lists a part only once the part is durable (savePushProgress syncs the
 *    store first); a save beside the copy lists only parts whose put came before it.
 */
import { TokusimError } from '../base/errors.js';
import { holdCheckpoint, type CheckpointHold } from '../engine/checkpoint-hold.js';
import type { Env } from '../engine/env.js';
import { ENV_IDENTITY_FILE } from '../engine/env-identity.js';
import { parseLogFileName, compareLogFiles } from '../log/names.js';
import { joinPath, type Storage, type StorageFile } from '../storage/storage.js';
import { BlockStream, blockBeyondEnd, type StreamBlock } from './block-stream.js';
import type { PartCopier } from '../storage/part-copy.js';
import { readDictionaryLayout, roleOf } from './dictionary-blocks.js';
import { blockCuts, segmentedSha256, sha256Hex, sha256OfDigests } from './hash.js';
import { HashWorkers } from './hash-workers.js';
import { walkLogBytes } from './log-bytes.js';
import { specOf } from '../format/codec.js';

const NO_DECODE: ReadonlySet<number> = new Set();
const END_CHECKPOINT: ReadonlySet<number> = new Set([specOf('end_checkpoint').cmd.charCodeAt(0)]);
import { LOG_FILE_HEADER_SIZE } from '../format/log-header.js';
import {
  backupName, encodeJson, manifestKey, MANIFEST_FORMAT, partKey, PART_BYTES, sentinelKey,
  type BackupManifest, type BlockEntry, type ChangedBlock, type ManifestFile, type PartRef,
} from './manifest.js';
import { savePushProgress, sameEnvironment, sameSource, type DonePart, type PushProgress, type SourceIdentity } from './progress.js';
import { Pacer } from './pacer.js';
import { LocalStore, type RepoStore } from './store.js';

/** How a push chooses between a full backup and a delta (WAL-G's WALG_DELTA_MAX_STEPS / ORIGIN). */
export interface PushOptions {
  /** Deltas allowed after a full backup before the next full one (0, the default: always full). */
  deltaMaxSteps?: number;
  /** What a delta is relative to: the latest backup (default) or the latest full backup. */
  deltaOrigin?: 'LATEST' | 'LATEST_FULL';
  /** Progress: bytes read of the environment so far, and the total to read. */
  onProgress?: (p: { done: number; total: number; file: string }) => void;
  /** Lease id of this push (default host:pid) and its time to live (default 60 s). */
  leaseId?: string;
  /** Told of what went wrong without failing the command (a lease found taken over at release). */
  onWarning?: (message: string) => void;
  leaseTtlMs?: number;
  /** Bytes per part of a whole-file copy (default PART_BYTES, 8 MiB): the unit of upload and of resuming. */
  partBytes?: number;
  /** Uploads in flight at once (default 1). */
  concurrency?: number;
  /** Upload at most this many bytes per second (default: no limit). */
  rateLimit?: number;
  /** Clock (ms) and sleep of the rate limit (default performance.now and setTimeout). */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /**
   * Worker threads that hash parts (default 1: on the shared 2-core machine one beat two and
   * none, docs/backup.md "Benchmark"; used on a real device only, and only when the
   * dictionary files hold at least 64 MiB: on SimStorage hashing stays on the main thread so
   * the order of I/O does not depend on threads' timing); 0: none.
   */
  hashThreads?: number;
  /** Bytes of dictionary files from which hash threads are used (default 64 MiB). */
  hashThreadsFrom?: number;
  /**
   * Worker threads that copy and hash a full dictionary's parts when the source storage and a
   * local repository's storage can do it themselves (StorageCapabilities.partCopy; from the
   * same size as hashThreadsFrom). Default 2 (both cores of the machine this was measured on,
   * docs/backup.md "Benchmark"); 0: parts go through the main thread (read, hash, put).
   */
  copyThreads?: number;
  /** Write the progress file after this many parts (default 8). */
  progressEveryParts?: number;
  /** Told when a push finds a progress file (resumed: the same held checkpoint; else the source changed). */
  onResume?: (r: { from: string; exact: boolean; reason: string }) => void;
  /**
   * Record the manifest's `contents`: after the copy, the backup is restored into this
   * scratch directory (absent or empty; its files are removed afterwards), recovered to the
   * end of its log, and its committed rows counted and hashed. Costs a restore and a
   * recovery, so it is off by default; `backup verify --restore-check` compares with it.
   */
  contents?: { storage: Storage; dir: string };
}

const HEADER_REGION = 8192;
/** Bytes of dictionary files from which a push hashes on worker threads (PushOptions.hashThreads). */
const HASH_THREADS_FROM = 64 << 20;

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Part-sized buffers for reading: reused once a chunk is hashed and its upload finished.
 * A fresh 8 MiB buffer per chunk costs more (page faults, zeroing) than copying it.
 */
class BufferPool {
  private readonly free: Uint8Array[] = [];
  constructor(private readonly size: number) {}
  take(n: number): Uint8Array {
    if (n > this.size) return new Uint8Array(n);
    return (this.free.pop() ?? new Uint8Array(this.size)).subarray(0, n);
  }
  give(b: Uint8Array): void {
    if (b.buffer.byteLength === this.size && b.byteOffset === 0) this.free.push(new Uint8Array(b.buffer as ArrayBuffer));
  }
}

/**
 * Reads a file in PART_BYTES chunks; prepare(chunk, at) runs on each as soon as it is read
 * (up to `depth` chunks ahead: hashing overlaps the reads, and with hash workers several
 * chunks hash at once), then fn(prepared, at, release) on each in file order, with a
 * release() for its buffer (called once nothing uses the chunk any more).
 */
async function readChunks<T extends { bytes: Uint8Array }>(
  f: StorageFile,
  size: number,
  prepare: (chunk: Uint8Array, at: number) => Promise<T>,
  fn: (prepared: T, at: number, release: () => void) => Promise<void>,
  partBytes = PART_BYTES,
  depth = 1,
  pool = new BufferPool(partBytes),
): Promise<void> {
  const readAt = async (at: number): Promise<Uint8Array> => {
    const buf = pool.take(Math.min(partBytes, size - at));
    let got = 0;
    while (got < buf.length) {
      const n = await f.pread(buf.subarray(got), at + got);
      if (n === 0) break;
      got += n;
    }
    return got === buf.length ? buf : buf.subarray(0, got);
  };
  const ahead: Array<{ at: number; p: Promise<T> }> = [];
  let nextAt = 0;
  const fill = (): void => {
    while (ahead.length < depth && nextAt < size) {
      const at = nextAt;
      const p = readAt(at).then((c) => prepare(c, at));
      // One that fails after an earlier one failed must not go unhandled.
      p.catch(() => undefined);
      ahead.push({ at, p });
      nextAt = Math.min(size, at + partBytes);
    }
  };
  fill();
  while (ahead.length > 0) {
    const { at, p } = ahead.shift()!;
    const prepared = await p;
    if (prepared.bytes.length === 0) break;
    if (prepared.bytes.length < Math.min(partBytes, size - at)) {
      // The file ended early (it shrank): what was read ahead beyond is not used.
      ahead.length = 0;
      nextAt = size;
    }
    fill();
    let released = false;
    await fn(prepared, at, () => {
      if (!released) pool.give(prepared.bytes);
      released = true;
    });
  }
}

/** Packs small pieces (a delta's header regions and changed blocks) into parts. */
class Packer {
  private buf = new Uint8Array(PART_BYTES);
  private fill = 0;
  private key: string;
  constructor(private readonly next: () => string, private readonly put: (key: string, data: Uint8Array) => Promise<void>) {
    this.key = next();
  }
  async add(bytes: Uint8Array): Promise<{ part: string; partOffset: number }> {
    if (this.fill > 0 && this.fill + bytes.length > PART_BYTES) await this.flush();
    if (bytes.length > this.buf.length) this.buf = new Uint8Array(bytes.length);
    this.buf.set(bytes, this.fill);
    const at = { part: this.key, partOffset: this.fill };
    this.fill += bytes.length;
    return at;
  }
  async flush(): Promise<void> {
    if (this.fill === 0) return;
    await this.put(this.key, this.buf.slice(0, this.fill));
    this.fill = 0;
    this.key = this.next();
  }
}

export class Pusher {
  private partNo = 0;
  private sent = 0;
  private done = 0;
  private total = 0;
  private name = '';
  private source: SourceIdentity | undefined;
  /** Parts of an interrupted push that may be reused: `file@offset+length` -> part. */
  private reusable = new Map<string, DonePart>();
  private readonly doneParts: DonePart[] = [];
  private partsSinceSave = 0;
  /** Bytes not sent again because an interrupted push had stored them. */
  reusedBytes = 0;
  /** Hashing threads of this push (see PushOptions.hashThreads). */
  private workers: HashWorkers | undefined;
  /** Copying threads of this push (see PushOptions.copyThreads), when the fast path applies. */
  private copier: { copier: PartCopier; threads: number; store: LocalStore } | undefined;
  /** Called after each part (the repository's lease refresh). */
  afterPart: () => Promise<void> = async () => undefined;

  constructor(
    private readonly store: RepoStore,
    private readonly opts: PushOptions,
    private readonly parent: BackupManifest | undefined,
    private readonly interrupted: PushProgress | undefined = undefined,
  ) {}

  private nextKey = (): string => partKey(this.name, ++this.partNo);

  /** Store one part of a whole-file copy, or reuse the interrupted push's part with the same bytes. */
  private async storePart(file: string, offset: number, chunk: Uint8Array, sha256 = sha256Hex(chunk), release: () => void = () => undefined): Promise<PartRef> {
    const old = this.reusable.get(`${file}@${offset}+${chunk.length}`);
    let key: string;
    if (old !== undefined && old.sha256 === sha256) {
      key = old.key;
      this.reusedBytes += chunk.length;
      this.sent += chunk.length;
      release();
    } else {
      key = this.nextKey();
      await this.put(key, chunk, release);
    }
    this.doneParts.push({ file, offset, length: chunk.length, sha256, key });
    if (++this.partsSinceSave >= (this.opts.progressEveryParts ?? 8)) await this.saveProgress();
    await this.afterPart();
    return { key, offset, length: chunk.length, sha256 };
  }

  private async saveProgress(afterFailure = false): Promise<void> {
    this.partsSinceSave = 0;
    if (afterFailure) await Promise.allSettled([...this.inFlight]);
    else await this.drain();
    // Parts of the interrupted push not met again yet stay listed: a later resume may still use them.
    const mine = new Set(this.doneParts.map((p) => `${p.file}@${p.offset}+${p.length}`));
    const carried = [...this.reusable.entries()].filter(([k]) => !mine.has(k)).map(([, p]) => p);
    const stored = this.doneParts.filter((p) => !this.failedKeys.has(p.key));
    await savePushProgress(this.store, { format: MANIFEST_FORMAT, name: this.name, source: this.source!, parts: [...carried, ...stored] });
  }

  /** Keys of stored parts the manifest does not use (an interrupted push's leftovers). */
  leftoverKeys(m: BackupManifest): string[] {
    const used = new Set(m.files.flatMap((f) => f.parts.map((p) => p.key)));
    return [...this.reusable.values()].map((p) => p.key).filter((k) => !used.has(k));
  }

  private readonly inFlight = new Set<Promise<void>>();
  private uploadFailure: { err: unknown } | undefined;
  private readonly failedKeys = new Set<string>();
  private pacer: Pacer | undefined;

  /** Upload a part: up to `concurrency` in flight, paced to `rateLimit` bytes per second. */
  private put = async (key: string, data: Uint8Array, release: () => void = () => undefined): Promise<void> => {
    const limit = Math.max(1, Math.floor(this.opts.concurrency ?? 1));
    try {
      await this.throttle(data.length);
      while (this.inFlight.size >= limit) await Promise.race(this.inFlight);
      if (this.uploadFailure !== undefined) throw this.uploadFailure.err;
    } catch (err) {
      release();
      throw err;
    }
    const p: Promise<void> = this.store.put(key, data).then(
      () => {
        this.sent += data.length;
      },
      (err: unknown) => {
        this.uploadFailure ??= { err };
        this.failedKeys.add(key);
      },
    ).finally(() => {
      this.inFlight.delete(p);
      release();
    });
    this.inFlight.add(p);
    if (limit === 1) await this.drain();
  };

  /** Wait for every upload in flight; throw the first that failed. */
  private async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
    if (this.uploadFailure !== undefined) throw this.uploadFailure.err;
  }

  /** Sleep until the bytes sent before this part took at least their time at the rate limit. */
  private throttle(n: number): Promise<void> {
    this.pacer ??= new Pacer({ rate: this.opts.rateLimit, ...(this.opts.now !== undefined ? { now: this.opts.now } : {}), ...(this.opts.sleep !== undefined ? { sleep: this.opts.sleep } : {}) });
    return this.pacer.before(n);
  }

  private progress(file: string, n: number): void {
    this.done += n;
    this.opts.onProgress?.({ done: this.done, total: this.total, file });
  }

  /** A progress save running beside the copy (saveProgressSoon), and the first such save that failed. */
  private saving: Promise<void> | undefined;
  private savingFailure: { err: unknown } | undefined;

  /**
   * Save the progress without stopping the copy: the parts listed are those done now, and the
   * save makes them durable first (savePushProgress syncs the store, whose pending fsyncs
   * include every part listed: a part is listed only after its put registered its fsync).
   * One at a time: parts done while one runs are listed by the next.
   */
  private saveProgressSoon(): void {
    if (this.saving !== undefined) return;
    this.saving = this.saveProgress()
      .catch((err: unknown) => {
        this.savingFailure ??= { err };
      })
      .finally(() => {
        this.saving = undefined;
      });
  }

  /** Wait for a progress save running beside the copy; throw if one failed. */
  private async settleSaving(): Promise<void> {
    await this.saving;
    if (this.savingFailure !== undefined) throw this.savingFailure.err;
  }

  /** After a failure: record what is stored so far, so a rerun resumes from there. */
  async saveProgressAfterFailure(): Promise<void> {
    await this.saving;
    if (this.source !== undefined && this.doneParts.length > 0) await this.saveProgress(true);
  }

  /** Copy, then (hold released, parts synced) beforePublish may complete the manifest, then publish. */
  async run(env: Env, beforePublish?: (m: BackupManifest) => Promise<void>): Promise<BackupManifest> {
    const reuseAt = this.interrupted === undefined ? undefined : BigInt(this.interrupted.source.checkpointLsn);
    const hold = await holdCheckpoint(env, reuseAt === undefined ? {} : { reuseAt });
    let m: BackupManifest;
    try {
      m = await this.copy(env, hold);
    } finally {
      hold.release();
      await this.workers?.close();
      this.workers = undefined;
      await this.copier?.copier.close();
      this.copier = undefined;
    }
    await this.store.sync();
    await beforePublish?.(m);
    const manifestBytes = encodeJson(m);
    await this.store.putAtomic(manifestKey(m.name), manifestBytes);
    await this.store.putAtomic(sentinelKey(m.name), encodeJson({ format: MANIFEST_FORMAT, name: m.name, manifestSha256: sha256Hex(manifestBytes) }));
    return m;
  }

  private async copy(env: Env, hold: CheckpointHold): Promise<BackupManifest> {
    const parent = this.parent;
    const parentLsn = parent === undefined ? undefined : BigInt(parent.checkpoint.beginLsn);
    this.name = backupName(hold.checkpointLsn, parentLsn);
    const names = await hold.storage.list(hold.dir);
    const dicts: string[] = [];
    let identity: string | undefined;
    const logs: Array<{ name: string; index: number; version: number }> = [];
    for (const n of names) {
      const parsed = parseLogFileName(n);
      const role = roleOf(n, ENV_IDENTITY_FILE, parsed !== undefined);
      if (role === 'dictionary') dicts.push(n);
      else if (role === 'identity') identity = n;
      else if (role === 'log') logs.push({ name: n, ...parsed! });
    }
    logs.sort(compareLogFiles);
    const sizes = new Map<string, number>();
    for (const n of [...dicts, ...(identity !== undefined ? [identity] : [])]) {
      const f = await hold.storage.open(joinPath(hold.dir, n), 'read');
      sizes.set(n, await f.size());
      await f.close();
    }
    this.total = [...sizes.values()].reduce((a, b) => a + b, 0);
    // Threads cost a start (a few hundred ms on a busy machine): only for a large copy.
    const large = this.total >= (this.opts.hashThreadsFrom ?? HASH_THREADS_FROM);
    const copyThreads = this.opts.copyThreads ?? 2;
    const partCopy = hold.storage.capabilities.partCopy;
    // The fast path copies whole parts: not under a rate limit (paced per part by put) nor for a delta's blocks.
    if (large && partCopy !== null && copyThreads > 0 && this.store instanceof LocalStore && this.store.takesCopies && this.opts.rateLimit === undefined) {
      this.copier = { copier: partCopy(copyThreads), threads: copyThreads, store: this.store };
    }
    const threads = this.opts.hashThreads ?? 1;
    // A delta's dictionaries (and, without the copier, every one) are read and hashed here.
    const chunked = this.copier === undefined || parent !== undefined;
    if (hold.storage.capabilities.realDevice && threads > 0 && large && chunked) this.workers = new HashWorkers(threads);
    this.source = {
      dir: hold.dir,
      envId: identity === undefined ? '' : sha256Hex(await this.readAll(hold, identity)),
      checkpointLsn: String(hold.checkpointLsn),
      checkpointCount: String(hold.checkpointCount),
      files: [...sizes.entries()].map(([name, size]) => ({ name, size })).sort((a, b) => (a.name < b.name ? -1 : 1)),
    };
    this.takeProgress();
    const files: ManifestFile[] = [];
    const packer = new Packer(this.nextKey, this.put);
    for (const n of dicts) {
      const parentFile = parent?.files.find((f) => f.name === n && f.role === 'dictionary');
      files.push(await this.copyDictionary(hold, n, parentFile, packer));
    }
    await packer.flush();
    if (identity !== undefined) files.push(await this.copyWhole(hold, identity, 'identity'));
    const log = await this.copyLog(hold, logs);
    files.push(...log.files);
    await this.drain();
    const total = files.reduce((a, f) => a + f.size, 0);
    return {
      format: MANIFEST_FORMAT,
      name: this.name,
      kind: parent === undefined ? 'full' : 'delta',
      parent: parent?.name ?? null,
      deltaSteps: parent === undefined ? 0 : parent.deltaSteps + 1,
      createdAt: new Date(Number(env.clock.nowMicros() / 1000n)).toISOString(),
      source: env.dir,
      checkpoint: { beginLsn: String(hold.checkpointLsn), endLsn: String(log.endCheckpointLsn), count: String(hold.checkpointCount) },
      log: { firstLsn: String(log.firstLsn), lastLsn: String(log.lastLsn) },
      files,
      bytes: { total, sent: this.sent, ...(this.reusedBytes > 0 ? { reused: this.reusedBytes } : {}) },
    };
  }

  /**
   * Decide what of an interrupted push's progress to use: nothing when it was another
   * environment; otherwise its parts, each only if the bytes read now hash the same.
   */
  private takeProgress(): void {
    const p = this.interrupted;
    if (p === undefined) return;
    const src = this.source!;
    if (!sameEnvironment(p.source, src)) {
      this.opts.onResume?.({ from: p.name, exact: false, reason: `it was written from another environment (${p.source.dir}); starting over` });
      return;
    }
    const exact = sameSource(p.source, src);
    const reason = exact
      ? `the same checkpoint (LSN ${src.checkpointLsn}) is held again; ${p.parts.length} stored part(s)`
      : `the source changed since (checkpoint LSN ${p.source.checkpointLsn} -> ${src.checkpointLsn}); every range is read again and a stored part is kept only where the bytes read now have its sha256`;
    this.opts.onResume?.({ from: p.name, exact, reason });
    for (const d of p.parts) this.reusable.set(`${d.file}@${d.offset}+${d.length}`, d);
    // New parts of the same backup name must not overwrite ones that may be reused.
    const mine = partKey(this.name, 0).replace(/\d+$/, '');
    for (const d of p.parts) if (d.key.startsWith(mine)) this.partNo = Math.max(this.partNo, Number(d.key.slice(mine.length)));
  }

  /** A whole file, in parts, with its sha256 (the identity file, or a log file's bytes). */
  private async storeWhole(name: string, role: ManifestFile['role'], bytes: Uint8Array): Promise<ManifestFile> {
    const parts: PartRef[] = [];
    const step = this.opts.partBytes ?? PART_BYTES;
    for (let at = 0; at < bytes.length; at += step) {
      const chunk = bytes.subarray(at, Math.min(bytes.length, at + step));
      parts.push(await this.storePart(name, at, chunk));
    }
    return { name, role, size: bytes.length, sha256: sha256Hex(bytes), parts };
  }

  private async readAll(hold: CheckpointHold, name: string): Promise<Uint8Array> {
    const f = await hold.storage.open(joinPath(hold.dir, name), 'read');
    try {
      const size = await f.size();
      const out = new Uint8Array(size);
      let got = 0;
      await readChunks(f, size, async (c) => ({ bytes: c }), async ({ bytes }, at, release) => {
        out.set(bytes, at);
        got = at + bytes.length;
        release();
      });
      return out.subarray(0, got);
    } finally {
      await f.close();
    }
  }

  private async copyWhole(hold: CheckpointHold, name: string, role: ManifestFile['role']): Promise<ManifestFile> {
    const bytes = await this.readAll(hold, name);
    this.progress(name, bytes.length);
    return this.storeWhole(name, role, bytes);
  }

  private async copyDictionary(hold: CheckpointHold, name: string, parentFile: ManifestFile | undefined, packer: Packer): Promise<ManifestFile> {
    const path = joinPath(hold.dir, name);
    const f = await hold.storage.open(path, 'read');
    try {
      const size = await f.size();
      const layout = await readDictionaryLayout(f, path);
      const asDelta = parentFile?.blocks !== undefined;
      const resumed = [...this.reusable.values()].some((p) => p.file === name);
      if (!asDelta && !resumed && this.copier !== undefined) return await this.copyDictionaryDirect(name, path, f, size, layout, this.copier);
      const prev = new Map<number, BlockEntry>();
      for (const e of parentFile?.blocks ?? []) prev.set(e[0], e);
      const blocks: BlockEntry[] = [];
      const changed: ChangedBlock[] = [];
      const toStore: Array<{ b: StreamBlock; bytes: Uint8Array; sha: string }> = [];
      const cuts = blockCuts(layout.blocks);
      const blockEnd = new Map<number, number>();
      for (const b of layout.blocks) blockEnd.set(b.diskoff, b.diskoff + b.size);
      // sha256 of the blocks lying whole in a chunk come from its segments (by diskoff).
      let segmentSha = new Map<number, string>();
      const stream = new BlockStream(path, layout.blocks, (b, bytes) => {
        const seg = segmentSha.get(b.diskoff);
        // A block straddling two chunks is hashed on its own (at most one per chunk boundary).
        const sha = seg ?? sha256Hex(bytes);
        blocks.push([b.blocknum, b.diskoff, b.size, sha]);
        if (asDelta) {
          const p = prev.get(b.blocknum);
          if (p === undefined || p[1] !== b.diskoff || p[2] !== b.size || p[3] !== sha) toStore.push({ b, bytes: bytes.slice(), sha });
        }
      });
      const hashPart = async (chunk: Uint8Array, at: number): Promise<{ bytes: Uint8Array; sha: string; blockSha: Map<number, string> }> => {
        const blockSha = new Map<number, string>();
        if (this.workers !== undefined && chunk.byteOffset === 0) {
          const r = await this.workers.segmented(chunk, at, cuts);
          for (const [s, e, d] of r.segments) if (blockEnd.get(s) === e) blockSha.set(s, d);
          return { bytes: r.bytes, sha: r.sha256, blockSha };
        }
        const sha = segmentedSha256(chunk, at, cuts, (s, e, d) => {
          if (blockEnd.get(s) === e) blockSha.set(s, d.toString('hex'));
        });
        return { bytes: chunk, sha, blockSha };
      };
      const parts: PartRef[] = [];
      let header: Uint8Array | undefined;
      await readChunks(f, size, hashPart, async ({ bytes: chunk, sha: partSha, blockSha }, at, release) => {
        segmentSha = blockSha;
        stream.feed(chunk, at);
        this.progress(name, chunk.length);
        if (asDelta) {
          if (at === 0) header = chunk.slice(0, HEADER_REGION);
          for (const s of toStore) {
            const loc = await packer.add(s.bytes);
            changed.push({ blocknum: s.b.blocknum, diskoff: s.b.diskoff, size: s.b.size, sha256: s.sha, ...loc });
          }
          toStore.length = 0;
          release();
        } else {
          parts.push(await this.storePart(name, at, chunk, partSha, release));
        }
      }, this.opts.partBytes, this.workers === undefined ? 1 : 3);
      stream.finish(size);
      blocks.sort((a, b) => a[0] - b[0]);
      const entry: ManifestFile = {
        name, role: 'dictionary', size, parts,
        header: { slot: layout.slot, checkpointCount: String(layout.checkpointCount), checkpointLsn: String(layout.checkpointLsn) },
        blocks,
      };
      if (asDelta) {
        const h = header ?? new Uint8Array(0);
        const loc = await packer.add(h);
        entry.delta = { headerPart: `${loc.part}@${loc.partOffset}+${h.length}`, headerSha256: sha256Hex(h), changed };
      } else {
        entry.hashing = 'blocks';
        entry.sha256 = sha256OfDigests(parts.map((p) => p.sha256));
      }
      return entry;
    } finally {
      await f.close();
    }
  }

  /**
   * A full copy of a dictionary file by the storage's part copier (StorageCapabilities.partCopy)
   * straight into the repository's part files, several parts at once, handled in file order.
   * Each part's digest is of the bytes the copier wrote (part-copy.ts). The blocks' sha256 come
   * from the parts' segments; a block straddling two parts is read again here on its own: the
   * held translation names it, so it is not rewritten while the hold lasts (checkpoint-hold.ts)
   * and these are the bytes the copier copied.
   */
  private async copyDictionaryDirect(
    name: string,
    path: string,
    f: StorageFile,
    size: number,
    layout: Awaited<ReturnType<typeof readDictionaryLayout>>,
    c: { copier: PartCopier; threads: number; store: LocalStore },
  ): Promise<ManifestFile> {
    const cuts = blockCuts(layout.blocks);
    const blockEnd = new Map<number, number>();
    for (const b of layout.blocks) blockEnd.set(b.diskoff, b.diskoff + b.size);
    const segmentSha = new Map<number, string>();
    const step = this.opts.partBytes ?? PART_BYTES;
    type Copied = { key: string; at: number; asked: number; length: number; sha256: string; segments: Array<[number, number, string]> };
    const ahead: Array<Promise<Copied>> = [];
    let nextAt = 0;
    // Parts queued ahead cost no memory here (each thread has one buffer), and a deep queue keeps
    // the threads busy while the main thread is slow to take a finished part on a busy machine.
    const fill = (): void => {
      while (ahead.length < 8 * c.threads && nextAt < size) {
        const at = nextAt;
        const asked = Math.min(step, size - at);
        const key = this.nextKey();
        const p = c.store.putWith(key, (dest) => c.copier.copy(path, at, asked, dest, cuts)).then((r) => ({ key, at, asked, ...r }));
        // One that fails after an earlier one failed must not go unhandled.
        p.catch(() => undefined);
        ahead.push(p);
        nextAt = at + asked;
      }
    };
    const parts: PartRef[] = [];
    let copied = 0;
    try {
      fill();
      while (ahead.length > 0) {
        const r = await ahead.shift()!;
        if (r.length === 0) break;
        for (const [s, e, d] of r.segments) if (blockEnd.get(s) === e) segmentSha.set(s, d);
        this.sent += r.length;
        copied = r.at + r.length;
        this.doneParts.push({ file: name, offset: r.at, length: r.length, sha256: r.sha256, key: r.key });
        parts.push({ key: r.key, offset: r.at, length: r.length, sha256: r.sha256 });
        this.progress(name, r.length);
        // The file ended early (it shrank): parts copied beyond are not used.
        if (r.length < r.asked) break;
        fill();
        // The copy goes on while the parts so far are synced and listed (a stop here costs a drained pipeline).
        if (++this.partsSinceSave >= (this.opts.progressEveryParts ?? 8)) this.saveProgressSoon();
        await this.afterPart();
      }
      await this.settleSaving();
    } finally {
      await Promise.allSettled(ahead);
      await this.saving;
      c.copier.done(path);
    }
    const blocks: BlockEntry[] = [];
    for (const b of layout.blocks) {
      if (b.diskoff + b.size > copied) throw blockBeyondEnd(path, b, copied);
      let sha = segmentSha.get(b.diskoff);
      if (sha === undefined) {
        const bytes = new Uint8Array(b.size);
        let got = 0;
        while (got < bytes.length) {
          const n = await f.pread(bytes.subarray(got), b.diskoff + got);
          if (n === 0) throw blockBeyondEnd(path, b, b.diskoff + got);
          got += n;
        }
        sha = sha256Hex(bytes);
      }
      blocks.push([b.blocknum, b.diskoff, b.size, sha]);
    }
    blocks.sort((a, b) => a[0] - b[0]);
    return {
      name, role: 'dictionary', size, parts,
      header: { slot: layout.slot, checkpointCount: String(layout.checkpointCount), checkpointLsn: String(layout.checkpointLsn) },
      blocks,
      hashing: 'blocks',
      sha256: sha256OfDigests(parts.map((p) => p.sha256)),
    };
  }

  /**
   * The log from the newest file whose first record is at or before the checkpoint's begin,
   * each file cut after its last whole record; finds the checkpoint's end_checkpoint.
   */
  private async copyLog(hold: CheckpointHold, logs: Array<{ name: string }>): Promise<{ files: ManifestFile[]; firstLsn: bigint; lastLsn: bigint; endCheckpointLsn: bigint }> {
    await hold.flushLog();
    const chosen: Array<{ name: string; bytes: Uint8Array; first: bigint; last: bigint }> = [];
    for (let i = logs.length - 1; i >= 0; i--) {
      const name = logs[i]!.name;
      const raw = await this.readAll(hold, name);
      // Recovery needs nothing before begin_checkpoint: the first file is kept from there on
      // (its header, then the records from that one), so a backup's log stays small.
      let from = LOG_FILE_HEADER_SIZE;
      const scan = walkLogBytes(raw, name, NO_DECODE, (e) => {
        if (e.lsn === hold.checkpointLsn) from = e.start;
      });
      if (scan.firstLsn === undefined) continue;
      const holdsBegin = scan.firstLsn <= hold.checkpointLsn;
      const bytes = holdsBegin && from > LOG_FILE_HEADER_SIZE ? concat(raw.subarray(0, LOG_FILE_HEADER_SIZE), raw.subarray(from, scan.goodEnd)) : raw.subarray(0, scan.goodEnd);
      chosen.unshift({ name, bytes, first: holdsBegin ? hold.checkpointLsn : scan.firstLsn, last: scan.lastLsn! });
      if (holdsBegin) break;
    }
    if (chosen.length === 0 || chosen[0]!.first > hold.checkpointLsn) {
      throw new TokusimError('truncated', `the log no longer holds the begin_checkpoint of the held checkpoint (LSN ${hold.checkpointLsn})`, { file: hold.dir, lsn: hold.checkpointLsn });
    }
    let endCheckpointLsn: bigint | undefined;
    const files: ManifestFile[] = [];
    for (const c of chosen) {
      walkLogBytes(c.bytes, c.name, END_CHECKPOINT, (e) => {
        const r = e.record;
        if (r?.type === 'end_checkpoint' && r.lsn_begin_checkpoint === hold.checkpointLsn) endCheckpointLsn = r.lsn;
      });
      this.total += c.bytes.length;
      this.progress(c.name, c.bytes.length);
      const e = await this.storeWhole(c.name, 'log', c.bytes);
      e.firstLsn = String(c.first);
      e.lastLsn = String(c.last);
      files.push(e);
    }
    if (endCheckpointLsn === undefined) {
      throw new TokusimError('truncated', `the log holds no end_checkpoint for the held checkpoint (LSN ${hold.checkpointLsn})`, { file: hold.dir, lsn: hold.checkpointLsn });
    }
    return { files, firstLsn: chosen[0]!.first, lastLsn: chosen[chosen.length - 1]!.last, endCheckpointLsn };
  }
}
