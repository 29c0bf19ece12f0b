/**
 * PerconaFT's block allocator (spec block-translation-table.md §6): address-ordered first fit
 * over coalesced free holes, 4096-byte aligned starts, the first 8192 bytes reserved for the
 * two header slots, the last hole extending to infinity. Also the file growth and shrink
 * rules (§6.3) as pure planning functions.
 *
 * Invariants (checked by checkInvariants(), and on every alloc/free):
 *  - Holes are sorted by offset, non-empty, non-overlapping and never touch (they coalesce);
 *    the last hole is infinite and starts at allocatedLimit().
 *  - Every allocated block starts at a multiple of 4096, at or after 8192, has size > 0, and
 *    lies entirely outside every hole and every other block.
 *  - nBlocks / nBytesInUse equal the count and total size of the allocated blocks.
 *  - freeBlock must name exactly a block that alloc handed out (else an invariant error).
 */
import { invariant } from '../base/errors.js';

/** Every block starts at a multiple of this many bytes. */
export const BLOCK_ALLOCATOR_ALIGNMENT = 4096n;
/** Bytes reserved at the start of a dictionary file for each header slot. */
export const BLOCK_ALLOCATOR_HEADER_RESERVE = 4096n;
/** Bytes reserved at the start of a dictionary file for both header slots; no block is placed below this offset. */
export const BLOCK_ALLOCATOR_TOTAL_HEADER_RESERVE = 8192n;
/** File growth step cap (FILE_CHANGE_INCREMENT). */
export const FILE_CHANGE_INCREMENT = 16n * 1024n * 1024n;

/** A range of a dictionary file holding one block: its offset and size in bytes. */
export interface BlockRange {
  offset: bigint;
  size: bigint;
}

/**
 * A hole; size === Infinity means it extends to infinity. Offsets and sizes are kept as plain
 * numbers inside the allocator (exact below 2^53, checked at the API) because it runs on every
 * node write; the API speaks bigint like the rest of the block layer.
 */
interface Hole {
  offset: number;
  size: number;
}

/** @internal Rounds v up to a multiple of a. */
export function alignUp(v: bigint, a: bigint): bigint {
  return ((v + a - 1n) / a) * a;
}

function alignUpN(v: number, a: number): number {
  return Math.ceil(v / a) * a;
}

/** A bigint offset or size as an exact number (they are far below 2^53 in any real file). */
function exact(v: bigint, what: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) invariant(false, () => `${what} ${v} is beyond 2^53`);
  return n;
}

/** Decides where blocks go in a dictionary file: address-ordered first fit among the holes, aligned, above the header reserve. */
export class BlockAllocator {
  private holes: Hole[];
  private readonly blocks = new Map<number, number>();
  private bytesInUse = 0;
  private readonly reserveN: number;
  private readonly alignmentN: number;
  /**
   * A first-fit shortcut: no hole before index noFitBefore fits a block of noFitSize bytes
   * or more. Blocks of one size leave behind a run of slack holes too small for any of them
   * (the unaligned tail of each), which first fit would otherwise scan on every write.
   * Every change to the holes below the index pulls it back; the result is always the one a
   * scan from the first hole gives.
   */
  private noFitBefore = 0;
  private noFitSize = Infinity;

  private constructor(
    readonly reserve: bigint,
    readonly alignment: bigint,
  ) {
    invariant(alignment >= 512n && alignment % 512n === 0n, 'alignment is a multiple of 512');
    this.reserveN = exact(reserve, 'reserve');
    this.alignmentN = exact(alignment, 'alignment');
    this.holes = [{ offset: this.reserveN, size: Infinity }];
  }

  /** Create(8192, 4096): one infinite hole at the reserve. */
  static create(reserve = BLOCK_ALLOCATOR_TOTAL_HEADER_RESERVE, alignment = BLOCK_ALLOCATOR_ALIGNMENT): BlockAllocator {
    return new BlockAllocator(reserve, alignment);
  }

  /** CreateFromBlockPairs: rebuild from the blocks a checkpointed translation references. */
  static fromBlocks(pairs: readonly BlockRange[], reserve = BLOCK_ALLOCATOR_TOTAL_HEADER_RESERVE, alignment = BLOCK_ALLOCATOR_ALIGNMENT): BlockAllocator {
    const offsets = new Float64Array(pairs.length);
    const sizes = new Float64Array(pairs.length);
    pairs.forEach((p, k) => {
      offsets[k] = exact(p.offset, 'block offset');
      sizes[k] = exact(p.size, 'block size');
    });
    return BlockAllocator.fromBlockArrays(offsets, sizes, pairs.length, reserve, alignment);
  }

  /**
   * CreateFromBlockPairs over parallel arrays: block k is (offsets[k], sizes[k]) for k < count,
   * in any order. No object per block: the offsets are sorted as a typed array and each
   * block's size is found again through the block map.
   */
  static fromBlockArrays(
    offsets: Float64Array,
    sizes: Float64Array,
    count: number,
    reserve = BLOCK_ALLOCATOR_TOTAL_HEADER_RESERVE,
    alignment = BLOCK_ALLOCATOR_ALIGNMENT,
  ): BlockAllocator {
    const a = new BlockAllocator(reserve, alignment);
    for (let k = 0; k < count; k++) {
      const offset = offsets[k]!;
      const size = sizes[k]!;
      invariant(Number.isSafeInteger(offset) && Number.isSafeInteger(size), () => `block pair (${offset}, ${size}) is below 2^53`);
      invariant(size > 0 && offset >= a.reserveN && offset % a.alignmentN === 0, () => `block pair (${offset}, ${size}) is a valid block`);
      invariant(!a.blocks.has(offset), () => `block pairs overlap at ${offset}`);
      a.blocks.set(offset, size);
      a.bytesInUse += size;
    }
    const sorted = offsets.slice(0, count).sort();
    const holes: Hole[] = [];
    let cursor = a.reserveN;
    for (let k = 0; k < count; k++) {
      const offset = sorted[k]!;
      invariant(offset >= cursor, () => `block pairs overlap at ${offset}`);
      if (offset > cursor) holes.push({ offset: cursor, size: offset - cursor });
      cursor = offset + a.blocks.get(offset)!;
    }
    holes.push({ offset: cursor, size: Infinity });
    a.holes = holes;
    return a;
  }

  /** How many blocks are allocated. */
  get nBlocks(): number {
    return this.blocks.size;
  }

  /** How many bytes the allocator counts as in use. */
  get nBytesInUse(): bigint {
    return BigInt(this.bytesInUse);
  }

  /** AllocBlock: the lowest hole whose aligned part fits `size`. Returns the offset. */
  allocBlock(size: bigint): bigint {
    if (size <= 0n) invariant(false, () => `allocBlock size must be > 0, got ${size}`);
    const n = exact(size, 'allocBlock size');
    const holes = this.holes;
    const start = n >= this.noFitSize ? this.noFitBefore : 0;
    for (let i = start; i < holes.length; i++) {
      const h = holes[i]!;
      const a = alignUpN(h.offset, this.alignmentN);
      if (h.offset + h.size - a < n) continue;
      // Holes [0, start) fit nothing of noFitSize <= n bytes or more (or start is 0), holes
      // [start, i) nothing of n: so no hole before i fits n. The changes below start at i.
      this.noFitSize = n;
      this.noFitBefore = i;
      const restStart = a + n;
      const rest = h.offset + h.size - restStart;
      if (a > h.offset) {
        // Keep the unaligned front as its own hole; the rest (if any) follows it.
        const front = { offset: h.offset, size: a - h.offset };
        if (rest > 0) holes.splice(i, 1, front, { offset: restStart, size: rest });
        else holes[i] = front;
      } else if (rest > 0) {
        holes[i] = { offset: restStart, size: rest };
      } else {
        holes.splice(i, 1);
      }
      this.blocks.set(a, n);
      this.bytesInUse += n;
      return BigInt(a);
    }
    throw new Error('unreachable: the last hole is infinite');
  }

  /** FreeBlock: give back a block exactly as it was allocated; coalesces neighbours. */
  freeBlock(offset: bigint, size: bigint): void {
    const off = exact(offset, 'freeBlock offset');
    const n = exact(size, 'freeBlock size');
    const have = this.blocks.get(off);
    invariant(have === n, () => `freeBlock(${offset}, ${size}) does not match an allocated block (have ${have ?? 'none'})`);
    this.blocks.delete(off);
    this.bytesInUse -= n;
    // The first hole after the block (binary search: holes are sorted by offset).
    const holes = this.holes;
    let lo = 0;
    let hi = holes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (holes[mid]!.offset < off) lo = mid + 1;
      else hi = mid;
    }
    const i = lo;
    // The holes from i - 1 on may grow, merge or shift: first fit must look at them again.
    this.noFitBefore = Math.min(this.noFitBefore, Math.max(0, i - 1));
    const end = off + n;
    const prev = i > 0 ? holes[i - 1]! : undefined;
    const next = holes[i];
    invariant(!prev || prev.offset + prev.size <= off, 'freed block does not overlap the previous hole');
    invariant(!next || next.offset >= end, 'freed block does not overlap the next hole');
    const joinPrev = prev !== undefined && prev.offset + prev.size === off;
    const joinNext = next !== undefined && next.offset === end;
    if (joinPrev && joinNext) {
      prev.size = prev.size + n + next.size;
      holes.splice(i, 1);
    } else if (joinPrev) {
      prev.size += n;
    } else if (joinNext) {
      next.offset = off;
      next.size += n;
    } else {
      holes.splice(i, 0, { offset: off, size: n });
    }
  }

  /** The start of the infinite hole: the end of the highest block, or the reserve. */
  allocatedLimit(): bigint {
    return BigInt(this.holes[this.holes.length - 1]!.offset);
  }

  /** The allocated blocks, sorted by offset. */
  blockList(): BlockRange[] {
    return [...this.blocks]
      .sort((x, y) => x[0] - y[0])
      .map(([offset, size]) => ({ offset: BigInt(offset), size: BigInt(size) }));
  }

  /** The finite free holes, sorted by offset (the infinite tail hole is left out). */
  holeList(): BlockRange[] {
    return this.holes.filter((h) => h.size !== Infinity).map((h) => ({ offset: BigInt(h.offset), size: BigInt(h.size) }));
  }

  /** True when a block of size bytes is allocated at offset. */
  hasBlock(offset: bigint, size: bigint): boolean {
    return this.blocks.get(Number(offset)) === Number(size);
  }

  /** Checks the allocator's holes and blocks; throws an invariant error when one fails. */
  checkInvariants(): void {
    const holes = this.holes;
    invariant(holes.length > 0 && holes[holes.length - 1]!.size === Infinity, 'the last hole is infinite');
    let prevEnd = -1;
    for (let k = 0; k < holes.length; k++) {
      const h = holes[k]!;
      invariant(h.offset >= this.reserveN, 'holes lie after the header reserve');
      invariant(h.offset > prevEnd, () => `holes are sorted and coalesced (hole at ${h.offset})`);
      invariant(h.size > 0, 'holes are non-empty');
      invariant(h.size !== Infinity || k === holes.length - 1, 'only the last hole is infinite');
      prevEnd = h.size === Infinity ? h.offset : h.offset + h.size;
    }
    // Blocks and holes tile [reserve, limit) without overlap; the gaps between holes are
    // exactly the blocks plus their unaligned slack, so check every block sits in a gap.
    let total = 0;
    const blocks = [...this.blocks].sort((x, y) => x[0] - y[0]);
    let hi = 0;
    let prevBlockEnd = this.reserveN;
    for (const [offset, size] of blocks) {
      invariant(offset % this.alignmentN === 0 && offset >= this.reserveN && size > 0, () => `block (${offset}, ${size}) is aligned and after the reserve`);
      invariant(offset >= prevBlockEnd, () => `blocks overlap at ${offset}`);
      while (hi < holes.length && holes[hi]!.offset + holes[hi]!.size <= offset) hi++;
      const h = holes[hi];
      invariant(h !== undefined && h.offset >= offset + size, () => `block (${offset}, ${size}) overlaps a hole`);
      prevBlockEnd = offset + size;
      total += size;
    }
    invariant(total === this.bytesInUse, 'nBytesInUse equals the sum of block sizes');
    const last = blocks[blocks.length - 1];
    const limit = last === undefined ? this.reserveN : last[0] + last[1];
    const allocated = holes[holes.length - 1]!.offset;
    invariant(limit === allocated || (blocks.length === 0 && allocated >= this.reserveN), () => `allocatedLimit ${allocated} is the end of the highest block ${limit}`);
  }
}

/**
 * toku_maybe_preallocate_in_file as a plan: given the current file size and the size needed,
 * where to write how many zero bytes (or null when the file is already big enough).
 */
export function planPreallocate(fileSize: bigint, needed: bigint): { writeAt: bigint; length: bigint; newSize: bigint } | null {
  let toWrite = fileSize === 0n ? 4096n : 0n;
  while (fileSize + toWrite < needed) {
    const step = fileSize + toWrite < FILE_CHANGE_INCREMENT ? fileSize + toWrite : FILE_CHANGE_INCREMENT;
    toWrite += alignUp(step, 4096n);
  }
  if (toWrite === 0n) return null;
  const writeAt = alignUp(fileSize, 4096n);
  return { writeAt, length: toWrite, newSize: writeAt + toWrite };
}

/** toku_maybe_truncate_file as a plan: the new size when the file is overallocated by 32 MiB. */
export function planTruncate(fileSize: bigint, sizeUsed: bigint): bigint | null {
  if (fileSize >= sizeUsed + 2n * FILE_CHANGE_INCREMENT) {
    const newSize = alignUp(sizeUsed, 2n * FILE_CHANGE_INCREMENT);
    invariant(newSize < fileSize, 'truncation shrinks the file');
    return newSize;
  }
  return null;
}
