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
import { DISKOFF_UNUSED, SIZE_IS_FREE, type TranslationImage } from '../format/btt-format.js';

/** Which of the three block translations a table is: the current one, the one of the checkpoint in progress, or the last checkpointed one. */
export type TranslationType = 'current' | 'inprogress' | 'checkpointed';

/** Where one block number lives in the file: offset and size in bytes (or a free marker). */
export interface TranslationEntry {
  diskoff: bigint;
  size: bigint;
}

/** One block translation table: for each block number, where its block lives in the file. */
export class Translation {
  /** A translation of the given type over the given entry arrays; usually made by fresh() or fromImage(). */
  constructor(
    public type: TranslationType,
    public smallestNeverUsed: number,
    public freelistHead: number,
    /** diskoff (or next free blocknum); length = lengthOfArray. */
    public diskoffs: bigint[],
    public sizes: bigint[],
  ) {}

  /** How many entries the translation's arrays hold (at least the smallest never-used block number). */
  get lengthOfArray(): number {
    return this.diskoffs.length;
  }

  /** The translation of a new dictionary: only the three reserved block numbers, none of them on disk. */
  static fresh(type: TranslationType): Translation {
    return new Translation(type, 3, -1, [DISKOFF_UNUSED, DISKOFF_UNUSED, DISKOFF_UNUSED], [0n, 0n, 0n]);
  }

  /** A translation of the given type built from a decoded translation table image. */
  static fromImage(img: TranslationImage, type: TranslationType): Translation {
    return new Translation(type, Number(img.smallestNeverUsed), Number(img.freelistHead), [...img.diskoffs], [...img.sizes]);
  }

  /** _copy_translation: an exact copy of [0, N) with entry 1 reset to (-2, 0). */
  copyAs(type: TranslationType): Translation {
    const n = this.smallestNeverUsed;
    const t = new Translation(type, n, this.freelistHead, this.diskoffs.slice(0, n), this.sizes.slice(0, n));
    t.diskoffs[1] = DISKOFF_UNUSED;
    t.sizes[1] = 0n;
    return t;
  }

  /** This translation as an image to serialize (entries up to the smallest never-used block number). */
  toImage(): TranslationImage {
    const n = this.smallestNeverUsed;
    return { smallestNeverUsed: BigInt(n), freelistHead: BigInt(this.freelistHead), diskoffs: this.diskoffs.slice(0, n), sizes: this.sizes.slice(0, n) };
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

  /** True when block number b is on the free list. */
  isFree(b: number): boolean {
    return this.sizes[b] === SIZE_IS_FREE;
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
      if (this.sizes[b]! > 0n) out.push({ b, diskoff: this.diskoffs[b]!, size: this.sizes[b]! });
    }
    return out;
  }

  /** Checks the translation's invariants; throws an invariant error when one fails. */
  checkWellFormed(): void {
    const n = this.smallestNeverUsed;
    invariant(this.lengthOfArray >= n && n >= 3, () => `${this.type}: lengthOfArray ${this.lengthOfArray} >= N ${n} >= 3`);
    invariant(this.diskoffs[0] === DISKOFF_UNUSED && this.sizes[0] === 0n, () => `${this.type}: entry 0 is (-2, 0)`);
    let freeCount = 0;
    for (let b = 3; b < n; b++) {
      const d = this.diskoffs[b]!;
      const s = this.sizes[b]!;
      if (s === SIZE_IS_FREE) freeCount++;
      else if (s === 0n) invariant(d === DISKOFF_UNUSED, () => `${this.type}[${b}]: size 0 has diskoff -2`);
      else invariant(s > 0n && d >= 8192n && d % 4096n === 0n, () => `${this.type}[${b}]: (${d}, ${s}) is a valid on-disk entry`);
    }
    const seen = new Set<number>();
    let cur = this.freelistHead;
    while (cur !== -1) {
      invariant(cur >= 3 && cur < n, () => `${this.type}: free list entry ${cur} lies in [3, ${n})`);
      invariant(!seen.has(cur), () => `${this.type}: free list has a cycle at ${cur}`);
      invariant(this.sizes[cur] === SIZE_IS_FREE, () => `${this.type}: free list entry ${cur} is FREE`);
      seen.add(cur);
      cur = Number(this.diskoffs[cur]!);
    }
    invariant(seen.size === freeCount, () => `${this.type}: free list reaches all ${freeCount} FREE entries (reached ${seen.size})`);
  }
}
