/**
 * One block translation (spec block-translation-table.md §3): blocknum -> (diskoff, size),
 * with PerconaFT's LIFO free list threaded through the diskoff field of FREE entries.
 *
 * Invariants (checkWellFormed, spec B4):
 *  - lengthOfArray >= smallestNeverUsed >= 3; entry 0 is (-2, 0).
 *  - Every entry in [3, N) is FREE (size -1), ALLOCATED-EMPTY (-2, 0) or ON-DISK
 *    (diskoff >= 8192, multiple of 4096, size > 0).
 *  - The free list from the head visits only FREE entries in [3, N), has no cycle, ends at
 *    -1, and reaches exactly the FREE entries of [3, N).
 */
import { invariant } from '../base/errors.js';
import { DISKOFF_UNUSED, SIZE_IS_FREE, WORD_HI, WORD_LO, int64Number, int64Words, type TranslationImage } from '../format/btt-format.js';

/** Which of the three block translations a table is: the current one, the one of the checkpoint in progress, or the last checkpointed one. */
export type TranslationType = 'current' | 'inprogress' | 'checkpointed';

/** Where one block number lives in the file: offset and size in bytes (or a free marker). */
export interface TranslationEntry {
  diskoff: bigint;
  size: bigint;
}

/**
 * One block translation table: for each block number, where its block lives in the file.
 * The entries are two BigInt64Arrays (16 bytes per blocknum, the on-disk fields exactly);
 * loops over all entries read them through Int32Array views of their words, which allocates
 * nothing, and the API hands out bigints only for the entries asked for.
 */
export class Translation {
  /** diskoff (or next free blocknum); length = lengthOfArray. */
  private diskoffs: BigInt64Array;
  private sizes: BigInt64Array;
  /** The words of diskoffs and sizes (int64Words), replaced with the arrays. */
  private dw: Int32Array;
  private sw: Int32Array;

  /** A translation of the given type over the given entry arrays (it keeps them); usually made by fresh() or fromImage(). */
  constructor(
    public type: TranslationType,
    public smallestNeverUsed: number,
    public freelistHead: number,
    diskoffs: BigInt64Array,
    sizes: BigInt64Array,
  ) {
    invariant(diskoffs.length === sizes.length, 'translation arrays have one length');
    this.diskoffs = diskoffs;
    this.sizes = sizes;
    this.dw = int64Words(diskoffs);
    this.sw = int64Words(sizes);
  }

  /** How many entries the translation's arrays hold (at least the smallest never-used block number). */
  get lengthOfArray(): number {
    return this.diskoffs.length;
  }

  /** The translation of a new dictionary: only the three reserved block numbers, none of them on disk. */
  static fresh(type: TranslationType): Translation {
    return new Translation(type, 3, -1, BigInt64Array.of(DISKOFF_UNUSED, DISKOFF_UNUSED, DISKOFF_UNUSED), new BigInt64Array(3));
  }

  /** A translation of the given type built from a decoded translation table image (copied). */
  static fromImage(img: TranslationImage, type: TranslationType): Translation {
    return new Translation(type, Number(img.smallestNeverUsed), Number(img.freelistHead), img.diskoffs.slice(), img.sizes.slice());
  }

  /** _copy_translation: an exact copy of [0, N) with entry 1 reset to (-2, 0). */
  copyAs(type: TranslationType): Translation {
    const n = this.smallestNeverUsed;
    const t = new Translation(type, n, this.freelistHead, this.diskoffs.slice(0, n), this.sizes.slice(0, n));
    t.set(1, DISKOFF_UNUSED, 0n);
    return t;
  }

  /** This translation as an image to serialize (entries up to the smallest never-used block number, copied). */
  toImage(): TranslationImage {
    const n = this.smallestNeverUsed;
    return { smallestNeverUsed: BigInt(n), freelistHead: BigInt(this.freelistHead), diskoffs: this.diskoffs.slice(0, n), sizes: this.sizes.slice(0, n) };
  }

  /**
   * Make the arrays hold `length` entries: growing keeps every entry and fills the new ones
   * with (-1, -1) (FREE, off the list until used), shrinking drops the tail.
   */
  resize(length: number): void {
    invariant(length >= this.smallestNeverUsed, () => `${this.type}: resize to ${length} keeps the ${this.smallestNeverUsed} entries in use`);
    const d = new BigInt64Array(length).fill(-1n);
    const s = new BigInt64Array(length).fill(SIZE_IS_FREE);
    const keep = Math.min(length, this.diskoffs.length);
    d.set(this.diskoffs.subarray(0, keep));
    s.set(this.sizes.subarray(0, keep));
    this.diskoffs = d;
    this.sizes = s;
    this.dw = int64Words(d);
    this.sw = int64Words(s);
  }

  /** Where block number b lives: its offset and size. */
  entry(b: number): TranslationEntry {
    return { diskoff: this.diskoffs[b]!, size: this.sizes[b]! };
  }

  /** Records that block number b now lives at diskoff with size bytes. */
  set(b: number, diskoff: bigint, size: bigint): void {
    this.diskoffs[b] = diskoff;
    this.sizes[b] = size;
  }

  /** True when block number b is on the free list (size -1). */
  isFree(b: number): boolean {
    return this.sw[2 * b + WORD_HI] === -1 && this.sw[2 * b + WORD_LO] === -1;
  }

  /** True when block number b is ALLOCATED-EMPTY: size 0 (its diskoff is then -2). */
  isAllocatedEmpty(b: number): boolean {
    return this.sw[2 * b + WORD_HI] === 0 && this.sw[2 * b + WORD_LO] === 0;
  }

  /** True when block number b has a block on disk (size > 0). */
  hasBlock(b: number): boolean {
    const hi = this.sw[2 * b + WORD_HI]!;
    return hi > 0 || (hi === 0 && this.sw[2 * b + WORD_LO] !== 0);
  }

  /** True when b < N and blocknum b's diskoff here equals its diskoff in `other`. */
  sameDiskoff(b: number, other: Translation): boolean {
    return (
      b < this.smallestNeverUsed &&
      this.dw[2 * b + WORD_LO] === other.dw[2 * b + WORD_LO] &&
      this.dw[2 * b + WORD_HI] === other.dw[2 * b + WORD_HI]
    );
  }

  /** True when b < N and blocknum b's diskoff field here is `diskoff`. */
  holdsDiskoff(b: number, diskoff: bigint): boolean {
    return b < this.smallestNeverUsed && this.diskoffs[b] === diskoff;
  }

  /** The next blocknum on the free list after FREE entry b (-1 at its end). */
  nextFree(b: number): number {
    return int64Number(this.dw, b);
  }

  /** Mark b FREE and push it on the free list. */
  freeBlocknum(b: number): void {
    this.diskoffs[b] = BigInt(this.freelistHead);
    this.sizes[b] = SIZE_IS_FREE;
    this.freelistHead = b;
  }

  /** The ON-DISK entries of [0, N). */
  onDiskEntries(): Array<{ b: number; diskoff: bigint; size: bigint }> {
    const out: Array<{ b: number; diskoff: bigint; size: bigint }> = [];
    for (let b = 0; b < this.smallestNeverUsed; b++) {
      if (this.hasBlock(b)) out.push({ b, diskoff: this.diskoffs[b]!, size: this.sizes[b]! });
    }
    return out;
  }

  /**
   * The ON-DISK entries of [0, N) as numbers, in blocknum order: offsets[k] and sizes[k] for
   * k < count (for rebuilding the allocator without an object per block). Values beyond 2^53
   * are inexact; the allocator refuses them.
   */
  onDiskArrays(): { offsets: Float64Array; sizes: Float64Array; count: number } {
    let count = 0;
    for (let b = 0; b < this.smallestNeverUsed; b++) if (this.hasBlock(b)) count++;
    const offsets = new Float64Array(count);
    const sizes = new Float64Array(count);
    let k = 0;
    for (let b = 0; b < this.smallestNeverUsed; b++) {
      if (!this.hasBlock(b)) continue;
      offsets[k] = int64Number(this.dw, b);
      sizes[k] = int64Number(this.sw, b);
      k++;
    }
    return { offsets, sizes, count };
  }

  /** Checks the translation's invariants; throws an invariant error when one fails. */
  checkWellFormed(): void {
    const n = this.smallestNeverUsed;
    invariant(this.lengthOfArray >= n && n >= 3, () => `${this.type}: lengthOfArray ${this.lengthOfArray} >= N ${n} >= 3`);
    invariant(this.diskoffs[0] === DISKOFF_UNUSED && this.sizes[0] === 0n, () => `${this.type}: entry 0 is (-2, 0)`);
    let freeCount = 0;
    for (let b = 3; b < n; b++) {
      if (this.isFree(b)) {
        freeCount++;
        continue;
      }
      const d = int64Number(this.dw, b);
      if (this.isAllocatedEmpty(b)) invariant(d === -2, () => `${this.type}[${b}]: size 0 has diskoff -2`);
      else invariant(this.hasBlock(b) && d >= 8192 && (this.dw[2 * b + WORD_LO]! & 4095) === 0, () => `${this.type}[${b}]: (${this.diskoffs[b]}, ${this.sizes[b]}) is a valid on-disk entry`);
    }
    const seen = new Uint8Array(n);
    let seenCount = 0;
    let cur = this.freelistHead;
    while (cur !== -1) {
      invariant(cur >= 3 && cur < n, () => `${this.type}: free list entry ${cur} lies in [3, ${n})`);
      invariant(seen[cur] !== 1, () => `${this.type}: free list has a cycle at ${cur}`);
      invariant(this.isFree(cur), () => `${this.type}: free list entry ${cur} is FREE`);
      seen[cur] = 1;
      seenCount++;
      cur = this.nextFree(cur);
    }
    invariant(seenCount === freeCount, () => `${this.type}: free list reaches all ${freeCount} FREE entries (reached ${seenCount})`);
  }
}
