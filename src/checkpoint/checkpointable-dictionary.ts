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
 *  - Flushing a node is one path: codec → bytes (serialize, or serializeParts) → the block
 *    sink → DictionaryFile.writeBlock (realloc_on_disk, then the pwrite). The sink is the
 *    plain one (node-sink.ts: frame on this thread, spec §7) unless the storage offers a
 *    faster one (capabilities.blockSinks); every sink leaves on disk exactly
 *    frameBlock(serialize(value)) (format/block-frame.ts), so a torn or stale block is an
 *    error naming the file and offset, never a wrong value.
 *  - The bytes a sink reads are the PAIR's value under its write lock, or a private clone, so
 *    nothing changes them while they are written.
 *  - Cloning runs in bounded steps (cloneSteps) only when the codec offers them and the
 *    storage yields (capabilities.yieldNow); the clone is the same either way.
 */

import { invariant } from '../base/errors.js';
import { unframeBlock } from '../format/block-frame.js';
import type { FtHeader } from '../format/ft-header.js';
import { DictionaryFile } from '../blocks/dictionary-file.js';
import type { BlockTableHooks } from '../blocks/block-table.js';
import { dirName, type BlockSink, type Storage } from '../storage/storage.js';
import { totalLength } from '../base/bytes.js';
import type { Cachetable } from '../cachetable/cachetable.js';
import type { Cachefile, CachefileCallbacks, FlushArgs } from '../cachetable/pair.js';
import { plainBlockSink } from './node-sink.js';

export { frameBlock, unframeBlock } from '../format/block-frame.js';

/** How node values become bytes on disk and back. */
export interface NodeCodec<V> {
  /** The bytes of a node value as written to its block. */
  serialize(value: V, blocknum: bigint): Uint8Array;
  /**
   * The serialized bytes as consecutive parts (their concatenation is serialize's result),
   * for values kept in pieces (e.g. CowBytes pages): the block sink takes them as they are
   * instead of asking serialize for one array. The parts are only read, and only while the
   * value cannot change (a clone, or a PAIR under its lock).
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
   * included, since a clone is dropped once written), so a block sink may take their buffer
   * without a copy. Leave it unset when a clone can share bytes with the PAIR's value.
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

/**
 * The most bytes of work (copied, checksummed) a cloneSteps step, or a fast block sink's
 * step, does between two yields.
 */
export const NODE_SLICE_BYTES = 16 * 1024;

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
  /** The storage's yield hook; when present, cloning runs in steps (codec.cloneSteps). */
  private readonly yieldNow: (() => Promise<void>) | null;
  /** Frames and writes this dictionary's node blocks. */
  private readonly sink: BlockSink;

  private readonly syncEveryBytes: number;

  private constructor(opts: DictionaryOptions<V>) {
    const caps = opts.storage.capabilities;
    this.yieldNow = caps.yieldNow;
    this.sink = caps.blockSinks?.() ?? plainBlockSink;
    this.syncEveryBytes = opts.syncEveryBytes ?? (caps.realDevice ? DEFAULT_SYNC_EVERY_BYTES : 0);
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
        const parts = codec.serializeParts?.(args.value, args.blocknum) ?? [codec.serialize(args.value, args.blocknum)];
        // Measured before the bytes may be handed over (a codec's sizeOf may look at them).
        const size = codec.sizeOf?.(args.value) ?? totalLength(parts);
        const disposable = codec.serializeParts === undefined && args.isClone && codec.privateCloneBytes === true;
        // realloc_on_disk happens in writeBlock: the checkpoint path moves the block in
        // _current and _inprogress, the eviction path in _current only.
        await this.sink.writeBlock({ parts, disposable, owner: args.value }, async (block: Uint8Array) => {
          await this.file.writeBlock(args.blocknum, block, args.forCheckpoint);
        });
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
      const yieldNow = this.yieldNow;
      if (cloneSteps !== undefined && yieldNow !== null) {
        cb.slicedClone = {
          cloneSteps: function* (value, blocknum) {
            const c = yield* cloneSteps.call(codec, value, blocknum);
            return { clone: c, cloneSize: codec.sizeOf?.(c) ?? 1024 };
          },
          yieldNow,
        };
      }
    }
    return cb;
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
