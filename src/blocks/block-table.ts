/**
 * PerconaFT's block_table (spec block-translation-table.md §3-§4): three translations
 * (current, inprogress, checkpointed) over one block allocator. Pure and synchronous; the
 * file I/O it implies (growing before a write, truncating after a checkpoint) is returned as
 * plans that DictionaryFile carries out through Storage.
 *
 * Invariants (checkInvariants(), spec §10):
 *  - B1: the allocator's blocks are exactly the ON-DISK entries of the three translations,
 *    deduplicated by diskoff.
 *  - B2: no two blocks overlap, none lies in [0, 8192), every offset is 4096-aligned.
 *  - B3: a diskoff referenced by two translations is referenced at the same blocknum with the
 *    same size; a diskoff is never referenced under two blocknums.
 *  - B4: every translation is well formed (see translation.ts).
 *  - B5: inprogress exists iff between noteStartCheckpoint and noteEndCheckpoint.
 *  - A disk block returns to the allocator only when no translation refers to it.
 */
import { invariant } from '../base/errors.js';
import { isBugPlanted } from '../base/bug-switches.js';
import {
  DISKOFF_UNUSED,
  encodeTranslationPadded,
  translationSizeOnDisk,
  type TranslationImage,
} from '../format/btt-format.js';
import { BlockAllocator, planPreallocate, planTruncate } from './block-allocator.js';
import { Translation } from './translation.js';

/** A zero-fill write that makes the file large enough before a block write. */
export interface FileGrowth {
  writeAt: bigint;
  length: bigint;
  newSize: bigint;
}

/** Callbacks the block table makes when its state changes (for example, a header becoming dirty). */
export interface BlockTableHooks {
  /** ft_set_dirty: the current header (false) or the checkpoint header (true) became dirty. */
  setDirty?(forCheckpoint: boolean): void;
}

/** A block translation table serialized for a checkpoint: where it goes in the file and its bytes. */
export interface SerializedTranslation {
  /** Where the BTT goes (4096-aligned, >= 8192). */
  address: bigint;
  /** Unpadded size S = 8+8+16N+4 (what the header records). */
  size: bigint;
  /** The padded bytes to pwrite at address. */
  bytes: Uint8Array;
}

/** True when translation t still refers, at blocknum b, to the block `from` has there. */
function prevents(t: Translation | null, b: number, from: Translation): boolean {
  return t !== null && t.sameDiskoff(b, from);
}

/** The block translation table of a dictionary with its three translations (current, in progress, checkpointed) and the block allocator they share. */
export class BlockTable {
  private current: Translation;
  private inprogress: Translation | null = null;
  private checkpointed: Translation;
  /** The block allocator shared by the translations. */
  readonly allocator: BlockAllocator;
  private checkpointSkipped = false;
  /** The file size known to be allocated (grown or truncated through the plans). */
  safeFileSize: bigint;

  private constructor(
    checkpointed: Translation,
    allocator: BlockAllocator,
    safeFileSize: bigint,
    private readonly hooks: BlockTableHooks,
  ) {
    this.checkpointed = checkpointed;
    this.current = checkpointed.copyAs('current');
    this.allocator = allocator;
    this.safeFileSize = safeFileSize;
  }

  /** create(): a new dictionary with blocknums 0..2 reserved and nothing on disk. */
  static create(hooks: BlockTableHooks = {}, safeFileSize = 0n): BlockTable {
    return new BlockTable(Translation.fresh('checkpointed'), BlockAllocator.create(), safeFileSize, hooks);
  }

  /** create_from_buffer(): open from the checkpointed translation read from disk. */
  static fromCheckpointed(image: TranslationImage, fileSize: bigint, hooks: BlockTableHooks = {}): BlockTable {
    const cp = Translation.fromImage(image, 'checkpointed');
    cp.checkWellFormed();
    const { offsets, sizes, count } = cp.onDiskArrays();
    const allocator = BlockAllocator.fromBlockArrays(offsets, sizes, count);
    return new BlockTable(cp, allocator, fileSize, hooks);
  }

  private dirty(forCheckpoint: boolean): void {
    this.hooks.setDirty?.(forCheckpoint);
  }

  private blocknumIndex(b: bigint, what: string): number {
    invariant(b >= 3n && b < BigInt(this.current.smallestNeverUsed), () => `${what}: blocknum ${b} is in [3, ${this.current.smallestNeverUsed})`);
    return Number(b);
  }

  /** True between the begin and the end of a checkpoint of this table. */
  get isCheckpointInProgress(): boolean {
    return this.inprogress !== null;
  }

  /** allocate_blocknum: pop the free list or take smallest_never_used. Dirties the header. */
  allocateBlocknum(): bigint {
    const t = this.current;
    let res: number;
    if (t.freelistHead === -1) {
      if (t.lengthOfArray <= t.smallestNeverUsed) t.resize(2 * t.smallestNeverUsed);
      res = t.smallestNeverUsed++;
    } else {
      res = t.freelistHead;
      t.freelistHead = t.nextFree(res);
    }
    t.set(res, DISKOFF_UNUSED, 0n);
    this.dirty(false);
    return BigInt(res);
  }

  /**
   * realloc_on_disk: give blocknum b a fresh disk block of `size` bytes (the padded size that
   * will be written; 0 means no block). forCheckpoint=true for checkpoint writes (the block
   * moves in current and inprogress), false for eviction and other writes (current only).
   * Returns the new offset (-2 when size is 0) and the file growth needed before the pwrite.
   */
  reallocOnDisk(b: bigint, size: bigint, forCheckpoint: boolean): { offset: bigint; growth: FileGrowth | null } {
    const i = this.blocknumIndex(b, 'reallocOnDisk');
    return this.reallocInternal(i, size, forCheckpoint);
  }

  private reallocInternal(i: number, size: bigint, forCheckpoint: boolean): { offset: bigint; growth: FileGrowth | null } {
    invariant(size >= 0n, () => `realloc size ${size} >= 0`);
    if (forCheckpoint) invariant(this.inprogress !== null, 'a for-checkpoint write happens during a checkpoint');
    this.dirty(forCheckpoint);
    const cannotFree = (!forCheckpoint && prevents(this.inprogress, i, this.current)) || prevents(this.checkpointed, i, this.current);
    if (!cannotFree && this.current.hasBlock(i)) {
      const old = this.current.entry(i);
      this.allocator.freeBlock(old.diskoff, old.size);
    }
    const offset = size > 0n ? this.allocator.allocBlock(size) : DISKOFF_UNUSED;
    this.current.set(i, offset, size);
    if (forCheckpoint) {
      const ip = this.inprogress!;
      invariant(i < ip.lengthOfArray, () => `blocknum ${i} exists in the inprogress translation`);
      ip.set(i, offset, size);
    }
    return { offset, growth: size > 0n ? this.ensureSafeWrite(offset, size) : null };
  }

  /** _ensure_safe_write_unlocked as a plan; the caller performs it, then it is recorded here. */
  private ensureSafeWrite(offset: bigint, size: bigint): FileGrowth | null {
    const needed = offset + size;
    if (needed <= this.safeFileSize) return null;
    const plan = planPreallocate(this.safeFileSize, needed);
    if (plan) this.safeFileSize = plan.newSize;
    return plan;
  }

  /** free_blocknum: b becomes FREE in current (and inprogress when forCheckpoint). */
  freeBlocknum(b: bigint, forCheckpoint: boolean): void {
    const i = this.blocknumIndex(b, 'freeBlocknum');
    invariant(!this.current.isFree(i), () => `freeBlocknum: blocknum ${b} is not already free`);
    const old = this.current.entry(i);
    this.current.freeBlocknum(i);
    if (forCheckpoint) {
      invariant(this.inprogress !== null, 'a for-checkpoint free happens during a checkpoint');
      this.inprogress.freeBlocknum(i);
    }
    if (old.size > 0n) {
      const held = (t: Translation | null) => t !== null && t.holdsDiskoff(i, old.diskoff);
      if (!held(this.inprogress) && !held(this.checkpointed)) this.allocator.freeBlock(old.diskoff, old.size);
    } else {
      invariant(old.diskoff === DISKOFF_UNUSED && old.size === 0n, 'a freed blocknum without a block is (-2, 0)');
    }
    this.dirty(forCheckpoint);
  }

  /** free_unused_blocknums: every ALLOCATED-EMPTY blocknum except root goes on the free list. */
  freeUnusedBlocknums(root: bigint): void {
    const t = this.current;
    for (let b = 3; b < t.smallestNeverUsed; b++) {
      if (BigInt(b) === root) continue;
      if (t.isAllocatedEmpty(b)) {
        invariant(t.entry(b).diskoff === DISKOFF_UNUSED, 'an unused blocknum is (-2, 0)');
        t.freeBlocknum(b);
      }
    }
  }

  /** The current translation's smallest never-used blocknum (its blocknums are [0, this)). */
  get smallestNeverUsed(): bigint {
    return BigInt(this.current.smallestNeverUsed);
  }

  /** translate_blocknum_to_offset_size on the current translation. */
  translate(b: bigint): { diskoff: bigint; size: bigint } {
    invariant(b >= 0n && b < BigInt(this.current.smallestNeverUsed), () => `translate: blocknum ${b} is in [0, ${this.current.smallestNeverUsed})`);
    return this.current.entry(Number(b));
  }

  /** realloc_descriptor_on_disk: blocknum 2, never for checkpoint. */
  reallocDescriptorOnDisk(size: bigint): { offset: bigint; growth: FileGrowth | null } {
    return this.reallocInternal(2, size, false);
  }

  /** Where the descriptor block lives in the current translation. */
  getDescriptorOffsetSize(): { diskoff: bigint; size: bigint } {
    return this.current.entry(2);
  }

  /** note_start_checkpoint_unlocked: trim the free suffix of current, copy it to inprogress. */
  noteStartCheckpoint(): void {
    invariant(this.inprogress === null, 'at most one checkpoint is in progress per dictionary');
    this.maybeOptimizeCurrent();
    this.inprogress = this.current.copyAs('inprogress');
    this.checkpointSkipped = false;
    if (isBugPlanted('free-blocks-at-begin')) this.freeCheckpointedEarly();
  }

  /**
   * The planted bug 'free-blocks-at-begin': rotate at begin instead of at end, so the blocks
   * only the last complete checkpoint uses are reusable while its header is still the newest.
   */
  private freeCheckpointedEarly(): void {
    const cp = this.checkpointed;
    for (let i = 0; i < cp.smallestNeverUsed; i++) {
      if (!cp.hasBlock(i) || prevents(this.current, i, cp)) continue;
      const old = cp.entry(i);
      this.allocator.freeBlock(old.diskoff, old.size);
    }
    this.checkpointed = this.current.copyAs('checkpointed');
  }

  private maybeOptimizeCurrent(): void {
    const t = this.current;
    let n = t.smallestNeverUsed;
    while (n > 3 && t.isFree(n - 1)) n--;
    if (n === t.smallestNeverUsed) return;
    t.smallestNeverUsed = n;
    if (Math.floor(t.lengthOfArray / 4) > n) {
      t.resize(2 * n);
    }
    t.freelistHead = -1;
    for (let b = 3; b < n; b++) if (t.isFree(b)) t.freeBlocknum(b);
  }

  /**
   * serialize_translation_to_wbuf: allocate the BTT block for inprogress, fill entry 1, and
   * return the padded bytes plus the growth needed before writing them.
   */
  serializeTranslation(): SerializedTranslation & { growth: FileGrowth | null } {
    const ip = this.inprogress;
    invariant(ip !== null, 'serializeTranslation runs during a checkpoint');
    invariant(ip.entry(1).diskoff === DISKOFF_UNUSED && ip.entry(1).size === 0n, 'the translation is serialized once per checkpoint');
    const size = translationSizeOnDisk(ip.smallestNeverUsed);
    const address = this.allocator.allocBlock(size);
    ip.set(1, address, size);
    const bytes = encodeTranslationPadded(ip.toImage());
    return { address, size, bytes, growth: this.ensureSafeWrite(address, BigInt(bytes.length)) };
  }

  /** note_skipped_checkpoint: the checkpoint header was clean, nothing is written. */
  noteSkippedCheckpoint(): void {
    this.checkpointSkipped = true;
  }

  /**
   * note_end_checkpoint: rotate inprogress into checkpointed and free what only the old
   * checkpoint used (unless skipped). Returns the truncation size to apply, if any.
   */
  noteEndCheckpoint(): { truncateTo: bigint | null } {
    const ip = this.inprogress;
    invariant(ip !== null, 'noteEndCheckpoint follows noteStartCheckpoint');
    const limitAtStart = this.allocator.allocatedLimit();
    if (this.checkpointSkipped) {
      this.inprogress = null;
      return { truncateTo: null };
    }
    invariant(ip.hasBlock(1) && ip.entry(1).diskoff > 0n, 'the translation was serialized before the end of the checkpoint');
    const cp = this.checkpointed;
    for (let i = 0; i < cp.smallestNeverUsed; i++) {
      if (!cp.hasBlock(i)) continue;
      if (!prevents(ip, i, cp)) {
        const old = cp.entry(i);
        invariant(!prevents(this.current, i, cp), () => `block (${old.diskoff}, ${old.size}) of blocknum ${i} is not still used by current`);
        this.allocator.freeBlock(old.diskoff, old.size);
      }
    }
    ip.type = 'checkpointed';
    this.checkpointed = ip;
    this.inprogress = null;
    const need = this.allocator.allocatedLimit();
    let truncateTo: bigint | null = null;
    if (need < limitAtStart && need < this.safeFileSize) {
      truncateTo = planTruncate(this.safeFileSize, need);
      if (truncateTo !== null) this.safeFileSize = truncateTo;
    }
    return { truncateTo };
  }

  /** maybe_truncate_file_on_open: the truncation to apply right after opening, if any. */
  truncateOnOpen(): bigint | null {
    const need = this.allocator.allocatedLimit();
    if (need >= this.safeFileSize) return null;
    const t = planTruncate(this.safeFileSize, need);
    if (t !== null) this.safeFileSize = t;
    return t;
  }

  /** Read-only snapshots for printing, tests and the teaching mode. */
  snapshot(which: 'current' | 'inprogress' | 'checkpointed'): TranslationImage | null {
    const t = which === 'current' ? this.current : which === 'inprogress' ? this.inprogress : this.checkpointed;
    return t ? t.toImage() : null;
  }

  /** Checks the three translations and the allocator against each other; throws an invariant error when one fails. */
  checkInvariants(): void {
    const ts = [this.current, this.inprogress, this.checkpointed].filter((t): t is Translation => t !== null);
    for (const t of ts) t.checkWellFormed();
    const one = this.current.entry(1);
    invariant(one.diskoff === DISKOFF_UNUSED && one.size === 0n, 'current[1] is (-2, 0)');
    const byOffset = new Map<bigint, { b: number; size: bigint }>();
    for (const t of ts) {
      for (const e of t.onDiskEntries()) {
        const prev = byOffset.get(e.diskoff);
        if (prev) {
          invariant(prev.b === e.b && prev.size === e.size, () => `diskoff ${e.diskoff} is referenced as (${prev.b}, ${prev.size}) and (${e.b}, ${e.size})`);
        } else {
          byOffset.set(e.diskoff, { b: e.b, size: e.size });
        }
      }
    }
    const blocks = this.allocator.blockList();
    invariant(blocks.length === byOffset.size, () => `allocator holds ${blocks.length} blocks, translations reference ${byOffset.size}`);
    for (const blk of blocks) {
      const ref = byOffset.get(blk.offset);
      invariant(ref !== undefined && ref.size === blk.size, () => `allocated block (${blk.offset}, ${blk.size}) is referenced by a translation`);
    }
    this.allocator.checkInvariants();
  }
}
