/**
 * A snapshot of everything the teaching views show, taken from the library's own state at one
 * instant: the PAIRs and their locks (cachetable/inspect.ts), the global locks and each
 * dictionary's translations (checkpoint/inspect.ts), both header slots of every dictionary
 * file as bytes on the simulated disk (validated by validateHeaderSlot), the log as records
 * decoded from the disk and from the logger's buffer (printed by the real printer), the live
 * transactions, and the spec's invariants checked on all of it.
 *
 * Invariants:
 *  - capture() is synchronous and only reads: it may run inside an event listener.
 *  - Everything in a snapshot is JSON-safe (64-bit numbers as decimal strings).
 *  - A failed invariant is reported in the snapshot (ok: false), never thrown.
 */
import { inspectCachetable, type CachetableView } from '../cachetable/inspect.js';
import { inspectDictionary, inspectGlobalLocks, type DictionaryCheckpointView, type GlobalLockView } from '../checkpoint/inspect.js';
import type { CheckpointableDictionary } from '../checkpoint/checkpointable-dictionary.js';
import type { CheckpointStage } from '../checkpoint/events.js';
import type { GlobalLockName } from '../checkpoint/locks.js';
import { decodeRecord, LOG_FILE_HEADER_SIZE } from '../format/codec.js';
import { FT_HEADER_SIZE_V29, HEADER_SLOT_RESERVE, validateHeaderSlot, type HeaderSlotStatus } from '../format/ft-header.js';
import { formatRecord } from '../format/printer.js';
import type { Env } from '../engine/env.js';
import type { SimStorage } from '../storage/sim-storage.js';

/** Where the machine is. */
export type Phase = 'running' | 'crashed' | 'recovering';

/** One header slot of a dictionary file as it is on the simulated disk now. */
export interface SlotView {
  slot: 0 | 1;
  offset: number;
  status: HeaderSlotStatus;
  checkpointCount: string | null;
  checkpointLsn: string | null;
  /** The first 197 bytes of the slot (fewer if the file is shorter), hex. */
  hex: string;
  /** The bytes shown are durable (a crash now keeps them). */
  durable: boolean;
  /** This valid slot has the larger checkpoint_count of the two. */
  newest: boolean;
}

/** Both header slots of one dictionary file. */
export interface HeaderFileView {
  path: string;
  slots: [SlotView, SlotView];
}

/** One log record: where it is, its printed form (the tokuft_logprint text) and its bytes. */
export interface LogRecordView {
  lsn: string;
  type: string;
  file: string;
  offset: number;
  length: number;
  /** durable: a crash keeps it; written: in the file, not yet durable; buffered: only in the logger's memory. */
  where: 'durable' | 'written' | 'buffered';
  text: string;
  hex: string;
}

/** The log: the logger's LSNs and every record still in a log file or in the buffer. */
export interface LogView {
  lastLsn: string | null;
  writtenLsn: string | null;
  syncedLsn: string | null;
  files: string[];
  records: LogRecordView[];
  /** A file whose tail does not decode (a torn write after a crash): where decoding stopped. */
  damaged: Array<{ file: string; offset: number; problem: string }>;
}

/** One invariant of the spec, checked on the snapshot. */
export interface InvariantResult {
  id: string;
  text: string;
  ok: boolean;
  detail?: string;
}

/** A global lock with the names of its holders (from the lock events). */
export type GlobalLockState = GlobalLockView & { holders: string[] };

/** Everything the views show at one step. */
export interface TeachState {
  /** Crashes so far. */
  epoch: number;
  phase: Phase;
  checkpoint: { stage: CheckpointStage; beginLsn: string; lastCompleteBeginLsn: string; pairsPending: number; pairsWritten: number; pairsCloned: number } | null;
  cachetable: CachetableView | null;
  globalLocks: GlobalLockState[] | null;
  dictionaries: DictionaryCheckpointView[];
  headerFiles: HeaderFileView[];
  log: LogView;
  txns: Array<{ name: string; id: string; state: string }>;
  invariants: InvariantResult[];
}

/** What capture() reads besides the library objects. */
export interface CaptureContext {
  env: Env | null;
  disk: SimStorage;
  epoch: number;
  phase: Phase;
  /** Dictionary file paths to show header slots for. */
  dictPaths: readonly string[];
  /** Log file paths to read when no logger is running (after a crash). */
  logPaths: readonly string[];
  holders: ReadonlyMap<GlobalLockName, readonly string[]>;
  txnName: (id: bigint) => string;
  /** Decoded records by "epoch:file:offset", so each record is printed once. */
  recordCache: Map<string, LogRecordView>;
  /**
   * What was last read from the disk, reused while nothing could have changed it: the disk
   * changes only through an I/O call (counted by ioOps) or a crash or bit flip (after which
   * the recorder clears this).
   */
  diskCache: DiskCache;
}

/** The disk-derived parts of a snapshot and the state of the disk they were read at. */
export interface DiskCache {
  key: string;
  headerFiles: HeaderFileView[];
  records: LogRecordView[];
  damaged: LogView['damaged'];
  diskCheck: InvariantResult | null;
}

/** An empty disk cache. */
export function newDiskCache(): DiskCache {
  return { key: '', headerFiles: [], records: [], damaged: [], diskCheck: null };
}

export const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

function slotView(disk: SimStorage, path: string, slot: 0 | 1): SlotView {
  const all = disk.fileBytes(path) ?? new Uint8Array(0);
  const durable = disk.durableBytes(path) ?? new Uint8Array(0);
  const offset = slot === 0 ? 0 : HEADER_SLOT_RESERVE;
  const bytes = all.subarray(offset, Math.min(all.length, offset + HEADER_SLOT_RESERVE));
  const report = validateHeaderSlot(bytes, slot, path);
  const shown = bytes.subarray(0, FT_HEADER_SIZE_V29);
  const durableShown = durable.subarray(offset, offset + shown.length);
  const sameAsDurable = durableShown.length === shown.length && durableShown.every((b, i) => b === shown[i]);
  return {
    slot,
    offset,
    status: report.status,
    checkpointCount: report.header?.checkpointCount.toString() ?? null,
    checkpointLsn: report.header?.checkpointLsn.toString() ?? null,
    hex: hex(shown),
    durable: sameAsDurable,
    newest: false,
  };
}

/** Both header slots of path as they are on disk now. */
export function headerFileView(disk: SimStorage, path: string): HeaderFileView {
  const slots: [SlotView, SlotView] = [slotView(disk, path, 0), slotView(disk, path, 1)];
  const ok = slots.filter((s) => s.status === 'ok');
  if (ok.length > 0) {
    const best = ok.reduce((a, b) => (BigInt(b.checkpointCount!) > BigInt(a.checkpointCount!) ? b : a));
    best.newest = true;
  }
  return { path, slots };
}

function decodeFile(ctx: CaptureContext, path: string, bytes: Uint8Array, durableLen: number, into: LogRecordView[], damaged: LogView['damaged']): void {
  let off = LOG_FILE_HEADER_SIZE;
  while (off < bytes.length) {
    const key = `${ctx.epoch}:${path}:${off}`;
    let v = ctx.recordCache.get(key);
    if (v === undefined) {
      const r = decodeRecord(bytes, off, { file: path });
      if (r.kind !== 'ok') {
        damaged.push({ file: path, offset: off, problem: r.kind === 'truncated' ? `truncated entry (needs ${r.need} more bytes)` : r.error.message });
        return;
      }
      v = { lsn: r.record.lsn.toString(), type: r.record.type, file: path, offset: off, length: r.length, where: 'written', text: formatRecord(r.record).trimEnd(), hex: hex(bytes.subarray(off, off + r.length)) };
      ctx.recordCache.set(key, v);
    }
    const where = off + v.length <= durableLen ? 'durable' : 'written';
    into.push(v.where === where ? v : { ...v, where });
    off += v.length;
  }
}

function logFiles(ctx: CaptureContext): string[] {
  const w = ctx.env?.logWriter;
  return w !== undefined ? w.logFiles().map((f) => f.path) : [...ctx.logPaths];
}

/** Refresh the disk-derived views when the disk may have changed since they were read. */
function diskViews(ctx: CaptureContext): DiskCache {
  const files = logFiles(ctx);
  const key = `${ctx.epoch}:${ctx.disk.ioOps()}:${ctx.dictPaths.join(',')}:${files.join(',')}`;
  const c = ctx.diskCache;
  if (c.key === key) return c;
  c.key = key;
  c.headerFiles = ctx.dictPaths.filter((p) => ctx.disk.fileBytes(p) !== undefined).map((p) => headerFileView(ctx.disk, p));
  c.records = [];
  c.damaged = [];
  for (const path of files) {
    const bytes = ctx.disk.fileBytes(path);
    if (bytes === undefined) continue;
    decodeFile(ctx, path, bytes, ctx.disk.durableBytes(path)?.length ?? 0, c.records, c.damaged);
  }
  const out: InvariantResult[] = [];
  check(out, 'DISK', 'simulated disk: durable image plus pending writes equals what readers see', () => {
    ctx.disk.checkInvariants();
    return undefined;
  });
  c.diskCheck = out[0]!;
  return c;
}

function logView(ctx: CaptureContext, disk: DiskCache): LogView {
  const w = ctx.env?.logWriter;
  const records = [...disk.records];
  const damaged = [...disk.damaged];
  if (w !== undefined) {
    const buf = w.unwrittenBytes();
    let off = 0;
    while (off < buf.length) {
      const r = decodeRecord(buf, off, { file: '(log buffer)' });
      if (r.kind !== 'ok') {
        damaged.push({ file: '(log buffer)', offset: off, problem: r.kind });
        break;
      }
      const key = `${ctx.epoch}:buffer:${r.record.lsn}`;
      let v = ctx.recordCache.get(key);
      if (v === undefined) {
        v = { lsn: r.record.lsn.toString(), type: r.record.type, file: '(buffer)', offset: off, length: r.length, where: 'buffered', text: formatRecord(r.record).trimEnd(), hex: hex(buf.subarray(off, off + r.length)) };
        ctx.recordCache.set(key, v);
      }
      records.push(v);
      off += r.length;
    }
  }
  return {
    lastLsn: w?.lastLsn.toString() ?? null,
    writtenLsn: w?.writtenLsn.toString() ?? null,
    syncedLsn: w?.syncedLsn.toString() ?? null,
    files: logFiles(ctx),
    records,
    damaged,
  };
}

/** The checkpointable dictionaries of env in filenum order (tokudb.rollback first). */
export function envDictionaries(env: Env): CheckpointableDictionary<unknown>[] {
  const out: CheckpointableDictionary<unknown>[] = [];
  if (env.rollback !== undefined) out.push(env.rollback as CheckpointableDictionary<unknown>);
  const seen = new Set<unknown>(out);
  for (const d of [...env.dicts.values()].sort((a, b) => a.filenum - b.filenum)) {
    if (d.closed || seen.has(d.file)) continue;
    seen.add(d.file);
    out.push(d.file as CheckpointableDictionary<unknown>);
  }
  return out;
}

function check(out: InvariantResult[], id: string, text: string, body: () => string | undefined): void {
  try {
    const problem = body();
    out.push(problem === undefined ? { id, text, ok: true } : { id, text, ok: false, detail: problem });
  } catch (err) {
    out.push({ id, text, ok: false, detail: err instanceof Error ? err.message : String(err) });
  }
}

function invariants(ctx: CaptureContext, s: Omit<TeachState, 'invariants'>, diskCheck: InvariantResult): InvariantResult[] {
  const out: InvariantResult[] = [];
  const ct = s.cachetable;
  if (ct !== null) {
    check(out, 'I1', 'a pending PAIR is on the pending list, except the one the checkpoint thread has just popped and is about to capture', () => {
      // The checkpoint thread unlinks the head of the list before it waits for the PAIR's
      // write lock and clears the bit (as PerconaFT's checkpoint_pending_pairs does), so for
      // that moment exactly one pending PAIR is off the list; spec I1 leaves this gap out.
      const off = ct.pairs.filter((p) => p.checkpointPending && !p.onPendingList);
      return off.length <= 1 ? undefined : `${off.length} pending PAIRs off the list: ${off.map((p) => `${p.cachefile}:${p.blocknum}`).join(', ')}`;
    });
    const idle = s.checkpoint === null || s.checkpoint.stage === 'idle' || s.checkpoint.stage === 'waiting-for-locks';
    check(out, 'I2', 'outside a checkpoint no PAIR is pending or cloned and the pending list is empty', () => {
      if (!idle) return undefined;
      const bad = ct.pairs.filter((p) => p.checkpointPending || p.cloned);
      if (bad.length > 0) return `pending or cloned: ${bad.map((p) => `${p.cachefile}:${p.blocknum}`).join(', ')}`;
      return ct.pendingList.length === 0 ? undefined : `pending list holds ${ct.pendingList.join(', ')}`;
    });
    check(out, 'I8', 'a clone in flight is written under its PAIR\'s disk_nb_mutex', () => {
      const bad = ct.pairs.filter((p) => p.cloned && !p.diskMutex.writer);
      return bad.length === 0 ? undefined : bad.map((p) => `${p.cachefile}:${p.blocknum}`).join(', ');
    });
  }
  if (ctx.env !== null) {
    for (const d of envDictionaries(ctx.env)) {
      check(out, 'BTT', `${d.iname}: the three translations and the allocator agree`, () => {
        d.file.blockTable.checkInvariants();
        return undefined;
      });
    }
    const synced = ctx.env.logWriter?.syncedLsn;
    if (synced !== undefined) {
      check(out, 'WAL', 'write-ahead rule: no header on disk carries a checkpoint_lsn beyond the durable log', () => {
        const bad = s.headerFiles.flatMap((f) => f.slots.filter((sl) => sl.checkpointLsn !== null && BigInt(sl.checkpointLsn) > synced).map((sl) => `${f.path} slot ${sl.slot} lsn ${sl.checkpointLsn}`));
        return bad.length === 0 ? undefined : `${bad.join(', ')} > durable LSN ${synced}`;
      });
    }
  }
  check(out, 'SLOTS', 'two valid header slots hold consecutive checkpoint counts', () => {
    const bad = s.headerFiles.filter((f) => {
      const [a, b] = f.slots;
      if (a.status !== 'ok' || b.status !== 'ok') return false;
      const d = BigInt(a.checkpointCount!) - BigInt(b.checkpointCount!);
      return d !== 1n && d !== -1n;
    });
    return bad.length === 0 ? undefined : bad.map((f) => f.path).join(', ');
  });
  out.push(diskCheck);
  return out;
}

/** Take a snapshot now. */
export function capture(ctx: CaptureContext): TeachState {
  const env = ctx.env;
  const cp = env?.checkpointer;
  const report = cp?.stageReport();
  const disk = diskViews(ctx);
  const s: Omit<TeachState, 'invariants'> = {
    epoch: ctx.epoch,
    phase: ctx.phase,
    checkpoint:
      cp === undefined || report === undefined
        ? null
        : { stage: report.stage, beginLsn: report.beginLsn.toString(), lastCompleteBeginLsn: cp.lastCompletedCheckpointLsn.toString(), pairsPending: report.pairsPending, pairsWritten: report.pairsWritten, pairsCloned: report.pairsCloned },
    cachetable: env !== null ? inspectCachetable(env.ct) : null,
    globalLocks: env !== null ? inspectGlobalLocks(env.locks).map((l) => ({ ...l, holders: [...(ctx.holders.get(l.lock) ?? [])] })) : null,
    dictionaries: env !== null ? envDictionaries(env).map(inspectDictionary) : [],
    headerFiles: disk.headerFiles,
    log: logView(ctx, disk),
    txns: env !== null ? [...env.txns.values()].map((t) => ({ name: ctx.txnName(t.id), id: t.id.toString(), state: t.state })) : [],
  };
  return { ...s, invariants: invariants(ctx, s, disk.diskCheck!) };
}
