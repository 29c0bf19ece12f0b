/**
 * A dictionary made checkpointable: the binding between one cachefile and its dictionary file
 * (PerconaFT's FT as cachefile userdata, spec checkpoint-algorithm.md §2.2, §5 step 7, §6.3,
 * §6.5; ft-file-header.md §4.1). It owns the DictionaryFile with its BlockTable, the current
 * header (ft->h) and the checkpoint header clone (ft->checkpoint_header), and supplies the
 * cachetable callbacks that write a node through the BTT and read it back. Node payloads are
 * opaque: a NodeCodec turns values into bytes and back.
 *
 * Invariants:
 *  - checkpointHeader is non-null exactly between beginCheckpoint and endCheckpoint, and its
 *    checkpointLsn is the begin LSN.
 *  - beginCheckpoint is the only place the current header's dirty bit is cleared.
 *  - A write with forCheckpoint=true dirties the checkpoint header; any other BTT change
 *    dirties the current header (ft_set_dirty).
 *  - checkpoint() writes the header only if the checkpoint header is dirty; before the BTT and
 *    header writes it makes the log durable up to the begin LSN (write-ahead rule). Otherwise
 *    it calls noteSkippedCheckpoint and writes nothing.
 *  - pinnedByCheckpoint toggles strictly false → true → false around one checkpoint.
 *  - A block on disk is framed as [LE32 payload length][payload][LE32 x1764(payload)], so a
 *    torn or stale block is an error naming the file and offset, never a wrong value.
 *  - On a storage with a yield hook (NodeStorage), framing a node and cloning it (when the
 *    codec offers cloneSteps) run in slices of at most NODE_SLICE_BYTES with a yield between
 *    them; the bytes are identical to the unsliced form. The value being framed or cloned is
 *    the PAIR's under its write lock, or a private clone, so nothing changes it meanwhile.
 *    Without a yield hook (SimStorage) the unsliced code runs, unchanged.
 *  - When the file accepts framed payloads (NodeStorage with frame workers), a payload larger
 *    than NODE_SLICE_BYTES is checksummed and written off the main thread. The payload handed
 *    over is the serialized clone itself only when the codec promises privateCloneBytes and
 *    the bytes start at offset 0 of their buffer; otherwise a private copy (made in slices,
 *    in a buffer from blockBuffers), since the handed-over buffer is detached. The bytes on
 *    disk are those of frameBlock either way.
 *  - A codec with serializeParts (e.g. cowBytesCodec) is written from its parts gathered into
 *    a pooled buffer (in slices where the storage yields); the bytes on disk are those of
 *    frameBlock(serialize(value)).
 */

import { invariant, TokusimError } from '../base/errors.js';
import { x1764, X1764 } from '../format/x1764.js';
import type { FtHeader } from '../format/ft-header.js';
import { DictionaryFile } from '../blocks/dictionary-file.js';
import type { BlockTableHooks } from '../blocks/block-table.js';
import { dirName, type Storage } from '../storage/storage.js';
import { cooperativeYield } from '../storage/node-storage.js';
import { acceptsFramedPayload, allShared, FramedPayload } from '../storage/frame-workers.js';
import { blockBuffers } from '../storage/buffer-pool.js';
import { totalLength } from '../base/bytes.js';
import type { Cachetable, SlicedCloneCallbacks } from '../cachetable/cachetable.js';
import type { Cachefile, CachefileCallbacks, FlushArgs } from '../cachetable/pair.js';

/** How node values become bytes on disk and back. */
export interface NodeCodec<V> {
  /** The bytes of a node value as written to its block. */
  serialize(value: V, blocknum: bigint): Uint8Array;
  /**
   * The serialized bytes as consecutive parts (their concatenation is serialize's result),
   * for values kept in pieces (e.g. CowBytes pages): the write path gathers them into the
   * buffer it writes (in slices on a storage that yields) instead of asking serialize for
   * one array. The parts are only read, and only while the value cannot change (a clone, or
   * a PAIR under its lock).
   */
  serializeParts?(value: V, blocknum: bigint): readonly Uint8Array[];
  /** The node value read back from its block's bytes; throws a TokusimError when they are damaged. */
  deserialize(bytes: Uint8Array, blocknum: bigint): V;
  /** A private copy for clone-on-write. Omit it and the dictionary takes the no-clone paths. */
  clone?(value: V, blocknum: bigint): V;
  /**
   * The same copy as `clone`, as bounded steps: each `yield` ends a slice of at most about
   * NODE_SLICE_BYTES of work; the generator's return value is the clone. Used (with `clone`
   * present) on storages that yield, so a large clone does not hold up other tasks.
   */
  cloneSteps?(value: V, blocknum: bigint): Generator<void, V, void>;
  /** Memory charged for a value (default: its serialized length at fetch, 1 KiB for a clone). */
  sizeOf?(value: V): number;
  /**
   * True when serialize(clone) returns bytes that nothing else uses (the clone's own bytes
   * included, since a clone is dropped once written), so a write may take their buffer
   * without a copy. Leave it unset when a clone can share bytes with the PAIR's value.
   * Such a codec may take its clone buffers from blockBuffers (storage/buffer-pool.ts): a
   * written clone's buffer returns there.
   */
  privateCloneBytes?: boolean;
}

/** What the checkpointer calls on each participating cachefile (the cachefile callbacks). */
export interface CheckpointUserdata {
  readonly name: string;
  /** The fields of the fassociate record, or null if the file is not logged. */
  fassociate(): { filenum: number; treeflags: number; iname: Uint8Array; unlink_on_close: number } | null;
  /** Called at the begin of a checkpoint for each open file, which that checkpoint then writes. */
  notePinByCheckpoint(): void;
  /** Runs under the four begin locks; must not call back into the cachetable. */
  beginCheckpoint(lsn: bigint): void;
  /** Writes this file's translation table and header for the checkpoint; says whether it wrote and to which slot. */
  checkpoint(ctx: CheckpointContext): Promise<{ written: boolean; slot?: 0 | 1; checkpointCount?: bigint }>;
  /** Called after the checkpoint's end record is logged: the new translation becomes the checkpointed one and blocks only the older checkpoint used are freed. */
  endCheckpoint(): Promise<void>;
  /** Called when the checkpoint is done with this file. */
  noteUnpinByCheckpoint(): void | Promise<void>;
}

/** What a dictionary needs from the checkpointer while it is checkpointed (for example, making the log durable up to an LSN). */
export interface CheckpointContext {
  /** toku_logger_fsync_if_lsn_not_fsynced (a no-op without a logger). */
  fsyncLogUpTo(lsn: bigint): Promise<void>;
  /** time(NULL) of the checkpointer's clock. */
  nowSeconds: bigint;
}

/** Options for a {@link CheckpointableDictionary}. */
export interface DictionaryOptions<V> {
  cachetable: Cachetable;
  storage: Storage;
  path: string;
  filenum: number;
  codec: NodeCodec<V>;
  /** The iname logged in fassociate (default: the path). */
  iname?: string;
  unlinkOnClose?: boolean;
  /**
   * Bytes of block writes after which the file is fsynced in the background during a
   * checkpoint (DictionaryFile.syncEveryBytes). Default DEFAULT_SYNC_EVERY_BYTES on storage
   * with real I/O (NodeStorage), 0 (off) on SimStorage, where it would only add I/O calls.
   */
  syncEveryBytes?: number;
}

/** The default background-sync interval on real storage: 32 MiB. Measured on 256 KiB nodes: without it the final flush takes ~3x longer (checkpoint ~50% of raw speed, 60-85% with it); smaller intervals (16 MiB) raised client p99 during checkpoints ~2x, 64 MiB did not. */
export const DEFAULT_SYNC_EVERY_BYTES = 32 * 1024 * 1024;

const encoder = new TextEncoder();

/** Frame a node payload for its disk block (see the invariants above). */
export function frameBlock(payload: Uint8Array, opts: { padTo512?: boolean } = {}): Uint8Array {
  // Padding here (the bytes writeBlock would add anyway) saves writeBlock a second copy.
  const framed = payload.length + 8;
  const out = new Uint8Array(opts.padTo512 === true ? Math.ceil(framed / 512) * 512 : framed);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, payload.length, true);
  out.set(payload, 4);
  dv.setUint32(4 + payload.length, x1764(payload), true);
  return out;
}

/** The most bytes copied or checksummed between two yields (about 8-15 us of CPU). */
export const NODE_SLICE_BYTES = 16 * 1024;

/**
 * frameBlock(payload, { padTo512: true }) as bounded steps: the payload is copied into the
 * padded frame and checksummed (incremental x1764) NODE_SLICE_BYTES at a time, each `yield`
 * ending a slice. Returns the same bytes frameBlock returns.
 */
export function* frameBlockSteps(payload: Uint8Array, sliceBytes = NODE_SLICE_BYTES): Generator<void, Uint8Array, void> {
  invariant(Number.isInteger(sliceBytes) && sliceBytes >= 8, () => `slice of ${sliceBytes} bytes is too small`);
  const out = new Uint8Array(Math.ceil((payload.length + 8) / 512) * 512);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, payload.length, true);
  const sum = new X1764();
  for (let off = 0; off < payload.length; off += sliceBytes) {
    if (off > 0) yield;
    const end = Math.min(payload.length, off + sliceBytes);
    out.set(payload.subarray(off, end), 4 + off);
    sum.add(payload, off, end);
  }
  dv.setUint32(4 + payload.length, sum.finish(), true);
  return out;
}

/** Bytes copied per step when gathering a payload for a write (about 1.5 us: one turn's budget of cooperative work). */
const COPY_SLICE_BYTES = NODE_SLICE_BYTES;

/** The parts' bytes gathered into one buffer from blockBuffers, about COPY_SLICE_BYTES per step. */
function* copySteps(parts: readonly Uint8Array[], total: number): Generator<void, Uint8Array, void> {
  const out = blockBuffers.take(total);
  let at = 0;
  let sinceYield = 0;
  for (const part of parts) {
    for (let off = 0; off < part.length; ) {
      if (sinceYield >= COPY_SLICE_BYTES) {
        yield;
        sinceYield = 0;
      }
      const n = Math.min(part.length - off, COPY_SLICE_BYTES - sinceYield);
      out.set(n === part.length ? part : part.subarray(off, off + n), at);
      at += n;
      off += n;
      sinceYield += n;
    }
  }
  invariant(at === total, () => `gathered ${at} bytes of ${total}`);
  return out;
}

/** True when bytes start at offset 0 of a non-shared ArrayBuffer (the codec promises nobody else uses it). */
function ownsBufferFromStart(bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && !(bytes.buffer instanceof SharedArrayBuffer);
}

/** Run steps to their end with no yield between them. */
function runAll<T>(steps: Generator<void, T, void>): T {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/** Run steps to their end, awaiting yieldNow between them. */
async function runSteps<T>(steps: Generator<void, T, void>, yieldNow: () => Promise<void>): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    await yieldNow();
  }
}

/** Check and strip the frame of a block read from `file` at `offset`. */
export function unframeBlock(block: Uint8Array, where: { file: string; offset: number }): Uint8Array {
  const dv = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const len = block.length >= 4 ? dv.getUint32(0, true) : -1;
  if (len < 0 || len + 8 > block.length) {
    throw new TokusimError('bad-length', `node block of ${block.length} bytes cannot hold its payload`, {
      ...where,
      expected: `<= ${block.length - 8}`,
      actual: String(len),
    });
  }
  const payload = block.subarray(4, 4 + len);
  const stored = dv.getUint32(4 + len, true);
  const actual = x1764(payload);
  if (stored !== actual) {
    throw new TokusimError('bad-checksum', 'node block checksum mismatch', {
      ...where,
      expected: `0x${stored.toString(16).padStart(8, '0')}`,
      actual: `0x${actual.toString(16).padStart(8, '0')}`,
    });
  }
  return payload;
}

async function readNode(file: DictionaryFile, b: bigint): Promise<Uint8Array> {
  // Blocknums fetched come from the file (a root, a child pointer), so an unknown one is damage.
  const block = await file.readBlockNamedByDisk(b);
  return unframeBlock(block, { file: file.path, offset: Number(file.blockTable.translate(b).diskoff) });
}

/** A dictionary file whose nodes live as PAIRs in the cachetable and which takes part in checkpoints (header slots, translation table). */
export class CheckpointableDictionary<V> implements CheckpointUserdata {
  /** The dictionary's name, for messages. */
  readonly name: string;
  /** The file number the log uses for this dictionary. */
  readonly filenum: number;
  /** The dictionary's file name relative to the environment directory. */
  readonly iname: string;
  /** True when the file is to be deleted when it is closed. */
  readonly unlinkOnClose: boolean;
  /** How node values are serialized, read back and cloned. */
  readonly codec: NodeCodec<V>;
  /** The cachetable holding the dictionary's nodes. */
  readonly cachetable: Cachetable;
  /** Set right after construction (the cachefile's callbacks close over this object). */
  cachefile!: Cachefile<V>;
  /** The dictionary file on storage. */
  file!: DictionaryFile;
  /** The current header's dirty bit (ft->h->dirty()). */
  headerDirty = false;
  /** The checkpoint header clone and its dirty bit; null outside a checkpoint. */
  checkpointHeader: FtHeader | null = null;
  /** True when the header the checkpoint in progress writes has changed. */
  checkpointHeaderDirty = false;
  /** True while a checkpoint includes this file. */
  pinnedByCheckpoint = false;
  /** The storage's yield hook; when present, framing and cloning run in slices. */
  private readonly yieldNow: (() => Promise<void>) | undefined;

  private readonly syncEveryBytes: number;
  /** The end of the queue of sliced pre-write work (see inLane). */
  private laneTail: Promise<unknown> = Promise.resolve();

  private constructor(opts: DictionaryOptions<V>) {
    this.yieldNow = cooperativeYield(opts.storage);
    this.syncEveryBytes = opts.syncEveryBytes ?? (this.yieldNow !== undefined ? DEFAULT_SYNC_EVERY_BYTES : 0);
    this.name = opts.path;
    this.filenum = opts.filenum;
    this.iname = opts.iname ?? opts.path;
    this.unlinkOnClose = opts.unlinkOnClose ?? false;
    this.codec = opts.codec;
    this.cachetable = opts.cachetable;
  }

  /** A new dictionary file; its header is dirty, so the first checkpoint writes it. */
  static async create<V>(opts: DictionaryOptions<V> & { header: FtHeader }): Promise<CheckpointableDictionary<V>> {
    const d = new CheckpointableDictionary<V>(opts);
    d.file = await DictionaryFile.create(opts.storage, opts.path, { ...opts.header }, d.blockTableHooks());
    d.file.syncEveryBytes = d.syncEveryBytes;
    // The new directory entry must survive a crash once a checkpoint has written the file.
    await opts.storage.fsyncDir(dirName(opts.path));
    d.headerDirty = true;
    await d.openCachefile();
    return d;
  }

  /** Open an existing dictionary at its newest valid header (whose LSN is at most maxAcceptableLsn, when given). */
  static async open<V>(opts: DictionaryOptions<V> & { maxAcceptableLsn?: bigint }): Promise<CheckpointableDictionary<V>> {
    const d = new CheckpointableDictionary<V>(opts);
    const bound = opts.maxAcceptableLsn !== undefined ? { maxAcceptableLsn: opts.maxAcceptableLsn } : {};
    d.file = (await DictionaryFile.open(opts.storage, opts.path, { hooks: d.blockTableHooks(), ...bound })).file;
    d.file.syncEveryBytes = d.syncEveryBytes;
    await d.openCachefile();
    return d;
  }

  /** The current header (ft->h). */
  get header(): FtHeader {
    return this.file.header;
  }

  private blockTableHooks(): BlockTableHooks {
    return {
      setDirty: (forCheckpoint) => {
        if (forCheckpoint) {
          invariant(this.checkpointHeader !== null, () => `${this.name}: a for-checkpoint BTT change outside a checkpoint`);
          this.checkpointHeaderDirty = true;
        } else {
          this.headerDirty = true;
        }
      },
    };
  }

  private async openCachefile(): Promise<void> {
    this.cachefile = await this.cachetable.openCachefile<V>(this.name, this.callbacks());
  }

  /** The cachetable callbacks: fetch through the current translation, flush through realloc. */
  private callbacks(): CachefileCallbacks<V> {
    const codec = this.codec;
    const cb: CachefileCallbacks<V> = {
      fetch: async (blocknum) => {
        const bytes = await readNode(this.file, blocknum);
        const value = codec.deserialize(bytes, blocknum);
        return { value, size: codec.sizeOf?.(value) ?? bytes.length };
      },
      flush: async (args: FlushArgs<V>) => {
        const yieldNow = this.yieldNow;
        const gathered = codec.serializeParts?.(args.value, args.blocknum);
        const parts = gathered ?? [codec.serialize(args.value, args.blocknum)];
        const total = totalLength(parts);
        const big = total > NODE_SLICE_BYTES;
        // Measured before the bytes may be handed over (a codec's sizeOf may look at them).
        const size = codec.sizeOf?.(args.value) ?? total;
        // The payload in one private buffer from blockBuffers, copied (in slices where the
        // storage yields) unless it is already one array.
        const contiguous = (): Promise<Uint8Array> | Uint8Array =>
          yieldNow !== undefined && big ? this.inLane(copySteps(parts, total), yieldNow) : runAll(copySteps(parts, total));
        if (big && acceptsFramedPayload(this.file.handle)) {
          if (allShared(parts)) {
            // Parts on shared memory (CowBytes pages): the frame worker checksums and writes
            // them where they are; this thread copies nothing.
            await this.file.writeBlock(args.blocknum, FramedPayload.ofSharedParts(parts, args.value), args.forCheckpoint);
            return size;
          }
          // The frame worker takes the payload's buffer away: a clone's own bytes when the
          // codec promises them, otherwise a private copy.
          const mine = gathered === undefined && args.isClone && codec.privateCloneBytes === true && ownsBufferFromStart(parts[0]!);
          const own = mine ? parts[0]! : await contiguous();
          await this.file.writeBlock(args.blocknum, new FramedPayload(own), args.forCheckpoint);
          return size;
        }
        const copied = parts.length !== 1;
        const bytes = copied ? await contiguous() : parts[0]!;
        // The frame is padded here, so writeBlock writes it without another copy.
        const framed = yieldNow !== undefined && big ? await this.inLane(frameBlockSteps(bytes), yieldNow) : frameBlock(bytes, { padTo512: true });
        if (copied) blockBuffers.give(bytes.buffer as ArrayBuffer);
        // realloc_on_disk happens synchronously here: the checkpoint path moves the block in
        // _current and _inprogress, the eviction path in _current only.
        await this.file.writeBlock(args.blocknum, framed, args.forCheckpoint);
        return size;
      },
      removeKey: (blocknum, forCheckpoint) => {
        this.file.blockTable.freeBlocknum(blocknum, forCheckpoint);
      },
    };
    const clone = codec.clone;
    if (clone !== undefined) {
      cb.clone = (value, blocknum) => {
        const c = clone(value, blocknum);
        return { clone: c, cloneSize: codec.sizeOf?.(c) ?? 1024 };
      };
      const cloneSteps = codec.cloneSteps;
      if (cloneSteps !== undefined && this.yieldNow !== undefined) {
        const sliced: SlicedCloneCallbacks<V> = {
          cloneSteps: function* (value, blocknum) {
            const c = yield* cloneSteps.call(codec, value, blocknum);
            return { clone: c, cloneSize: codec.sizeOf?.(c) ?? 1024 };
          },
          yieldNow: this.yieldNow,
        };
        Object.assign(cb, sliced);
      }
    }
    return cb;
  }

  /**
   * Run the sliced work that prepares a block for its write (gathering, copying or framing
   * the payload) after the work queued before it has finished: one at a time, in order. With
   * several writes in the window, running their slices round robin would finish them all at
   * about the same time and leave the disk idle meanwhile; in order, each write starts as soon
   * as its own bytes are ready.
   */
  private inLane<T>(steps: Generator<void, T, void>, yieldNow: () => Promise<void>): Promise<T> {
    const run = this.laneTail.then(() => runSteps(steps, yieldNow));
    this.laneTail = run.catch(() => undefined);
    return run;
  }

  /** allocate_blocknum for a new node (pass it to Cachetable.put as the blocknum function). */
  allocateBlocknum(): bigint {
    return this.file.blockTable.allocateBlocknum();
  }

  /** Mark the current header dirty (e.g. the root or a header field changed). */
  markHeaderDirty(): void {
    this.headerDirty = true;
  }

  // ------------------------------------------------------------- checkpoint userdata

  fassociate(): { filenum: number; treeflags: number; iname: Uint8Array; unlink_on_close: number } {
    return { filenum: this.filenum, treeflags: this.header.flags, iname: encoder.encode(this.iname), unlink_on_close: this.unlinkOnClose ? 1 : 0 };
  }

  /** Called at the begin of a checkpoint for each open file, which that checkpoint then writes. */
  notePinByCheckpoint(): void {
    invariant(!this.pinnedByCheckpoint, () => `${this.name} is already pinned by a checkpoint`);
    this.pinnedByCheckpoint = true;
  }

  /** ft_begin_checkpoint: clone the header with checkpoint_lsn = lsn, clear h's dirty bit, note_start_checkpoint. */
  beginCheckpoint(lsn: bigint): void {
    invariant(this.checkpointHeader === null, () => `${this.name}: a checkpoint header already exists at begin`);
    this.checkpointHeader = { ...this.header, checkpointLsn: lsn };
    this.checkpointHeaderDirty = this.headerDirty;
    this.headerDirty = false;
    this.file.blockTable.noteStartCheckpoint();
  }

  /** ft_checkpoint: write BTT and header (if dirty) in the durability order of ft-file-header.md §4.1. */
  async checkpoint(ctx: CheckpointContext): Promise<{ written: boolean; slot?: 0 | 1; checkpointCount?: bigint }> {
    const ch = this.checkpointHeader;
    invariant(ch !== null, () => `${this.name}: checkpoint without a checkpoint header`);
    if (!this.checkpointHeaderDirty) {
      this.file.blockTable.noteSkippedCheckpoint();
      return { written: false };
    }
    await ctx.fsyncLogUpTo(ch.checkpointLsn);
    ch.timeOfLastModification = ctx.nowSeconds;
    this.header.timeOfLastModification = ctx.nowSeconds;
    ch.checkpointCount += 1n;
    const slot = await this.file.writeCheckpointHeader(ch);
    this.checkpointHeaderDirty = false;
    this.header.checkpointCount += 1n;
    this.header.checkpointLsn = ch.checkpointLsn;
    invariant(this.header.checkpointCount === ch.checkpointCount, () => `${this.name}: header counts agree after a checkpoint`);
    return { written: true, slot, checkpointCount: ch.checkpointCount };
  }

  /** ft_end_checkpoint: rotate the translations (free old blocks), drop the checkpoint header. */
  async endCheckpoint(): Promise<void> {
    invariant(this.checkpointHeader !== null, () => `${this.name}: end of checkpoint without a checkpoint header`);
    await this.file.endCheckpoint();
    this.checkpointHeader = null;
  }

  /** Called when the checkpoint is done with this file. */
  noteUnpinByCheckpoint(): void {
    invariant(this.pinnedByCheckpoint, () => `${this.name} is not pinned by the checkpoint`);
    this.pinnedByCheckpoint = false;
  }

  /**
   * Close: flush and drop the cached nodes, close the file handle. It does not write a final
   * header (PerconaFT's ft_close runs a private checkpoint when the header is dirty; take a
   * checkpoint before closing to get that effect).
   */
  async close(): Promise<void> {
    invariant(!this.pinnedByCheckpoint, () => `${this.name} is closed while a checkpoint uses it`);
    await this.cachetable.closeCachefile(this.cachefile);
    await this.file.close();
  }
}

/** The newest valid checkpoint of a dictionary file as a reader (recovery) sees it. */
export interface CheckpointedImage<V> {
  header: FtHeader;
  slot: 0 | 1;
  blocks: Map<bigint, V>;
}

/** Open the file read-only, choose the header slot, and read every block its BTT references. */
export async function readCheckpointedImage<V>(
  storage: Storage,
  path: string,
  codec: Pick<NodeCodec<V>, 'deserialize'>,
  opts: { maxAcceptableLsn?: bigint } = {},
): Promise<CheckpointedImage<V>> {
  const { file, chosen } = await DictionaryFile.open(storage, path, { mode: 'read', ...opts });
  try {
    const t = file.blockTable.snapshot('checkpointed');
    invariant(t !== null, 'an opened dictionary has a checkpointed translation');
    const blocks = new Map<bigint, V>();
    for (let b = 3n; b < t.smallestNeverUsed; b++) {
      if (t.sizes[Number(b)]! > 0n) blocks.set(b, codec.deserialize(await readNode(file, b), b));
    }
    return { header: file.header, slot: chosen.slot, blocks };
  } finally {
    await file.close();
  }
}
