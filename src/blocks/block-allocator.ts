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
import { invariant } from '../format/errors.js';

export const BLOCK_ALLOCATOR_ALIGNMENT = 4096n;
export const BLOCK_ALLOCATOR_HEADER_RESERVE = 4096n;
export const BLOCK_ALLOCATOR_TOTAL_HEADER_RESERVE = 8192n;
/** File growth step cap (FILE_CHANGE_INCREMENT). */
export const FILE_CHANGE_INCREMENT = 16n * 1024n * 1024n;

export interface BlockRange {
  offset: bigint;
  size: bigint;
}

/** A hole; size === null means it extends to infinity. */
interface Hole {
  offset: bigint;
  size: bigint | null;
}

export function alignUp(v: bigint, a: bigint): bigint {
  return ((v + a - 1n) / a) * a;
}

export class BlockAllocator {
  private holes: Hole[];
  private readonly blocks = new Map<bigint, bigint>();
  private bytesInUse = 0n;

  private constructor(
    readonly reserve: bigint,
    readonly alignment: bigint,
  ) {
    invariant(alignment >= 512n && alignment % 512n === 0n, 'alignment is a multiple of 512');
    this.holes = [{ offset: reserve, size: null }];
  }

  /** Create(8192, 4096): one infinite hole at the reserve. */
  static create(reserve = BLOCK_ALLOCATOR_TOTAL_HEADER_RESERVE, alignment = BLOCK_ALLOCATOR_ALIGNMENT): BlockAllocator {
    return new BlockAllocator(reserve, alignment);
  }

  /** CreateFromBlockPairs: rebuild from the blocks a checkpointed translation references. */
  static fromBlocks(pairs: readonly BlockRange[], reserve = BLOCK_ALLOCATOR_TOTAL_HEADER_RESERVE, alignment = BLOCK_ALLOCATOR_ALIGNMENT): BlockAllocator {
    const a = new BlockAllocator(reserve, alignment);
    const sorted = [...pairs].sort((x, y) => (x.offset < y.offset ? -1 : x.offset > y.offset ? 1 : 0));
    const holes: Hole[] = [];
    let cursor = reserve;
    for (const p of sorted) {
      invariant(p.size > 0n && p.offset >= reserve && p.offset % alignment === 0n, () => `block pair (${p.offset}, ${p.size}) is a valid block`);
      invariant(p.offset >= cursor, () => `block pairs overlap at ${p.offset}`);
      if (p.offset > cursor) holes.push({ offset: cursor, size: p.offset - cursor });
      a.blocks.set(p.offset, p.size);
      a.bytesInUse += p.size;
      cursor = p.offset + p.size;
    }
    holes.push({ offset: cursor, size: null });
    a.holes = holes;
    return a;
  }

  get nBlocks(): number {
    return this.blocks.size;
  }

  get nBytesInUse(): bigint {
    return this.bytesInUse;
  }

  /** AllocBlock: the lowest hole whose aligned part fits `size`. Returns the offset. */
  allocBlock(size: bigint): bigint {
    invariant(size > 0n, () => `allocBlock size must be > 0, got ${size}`);
    for (let i = 0; i < this.holes.length; i++) {
      const h = this.holes[i]!;
      const a = alignUp(h.offset, this.alignment);
      const fits = h.size === null || h.offset + h.size - a >= size;
      if (!fits) continue;
      const pieces: Hole[] = [];
      if (a > h.offset) pieces.push({ offset: h.offset, size: a - h.offset });
      const restStart = a + size;
      if (h.size === null) pieces.push({ offset: restStart, size: null });
      else if (h.offset + h.size > restStart) pieces.push({ offset: restStart, size: h.offset + h.size - restStart });
      this.holes.splice(i, 1, ...pieces);
      this.blocks.set(a, size);
      this.bytesInUse += size;
      return a;
    }
    throw new Error('unreachable: the last hole is infinite');
  }

  /** FreeBlock: give back a block exactly as it was allocated; coalesces neighbours. */
  freeBlock(offset: bigint, size: bigint): void {
    const have = this.blocks.get(offset);
    invariant(have === size, () => `freeBlock(${offset}, ${size}) does not match an allocated block (have ${have ?? 'none'})`);
    this.blocks.delete(offset);
    this.bytesInUse -= size;
    // Find the first hole after the block.
    let i = 0;
    while (i < this.holes.length && this.holes[i]!.offset < offset) i++;
    const end = offset + size;
    const prev = i > 0 ? this.holes[i - 1]! : undefined;
    const next = this.holes[i];
    invariant(!prev || (prev.size !== null && prev.offset + prev.size <= offset), 'freed block does not overlap the previous hole');
    invariant(!next || next.offset >= end, 'freed block does not overlap the next hole');
    const joinPrev = prev !== undefined && prev.offset + prev.size! === offset;
    const joinNext = next !== undefined && next.offset === end;
    if (joinPrev && joinNext) {
      prev.size = next.size === null ? null : prev.size! + size + next.size;
      this.holes.splice(i, 1);
    } else if (joinPrev) {
      prev.size = prev.size! + size;
    } else if (joinNext) {
      next.offset = offset;
      if (next.size !== null) next.size += size;
    } else {
      this.holes.splice(i, 0, { offset, size });
    }
  }

  /** The start of the infinite hole: the end of the highest block, or the reserve. */
  allocatedLimit(): bigint {
    return this.holes[this.holes.length - 1]!.offset;
  }

  /** The allocated blocks, sorted by offset. */
  blockList(): BlockRange[] {
    return [...this.blocks].map(([offset, size]) => ({ offset, size })).sort((x, y) => (x.offset < y.offset ? -1 : 1));
  }

  /** The finite free holes, sorted by offset (the infinite tail hole is left out). */
  holeList(): BlockRange[] {
    return this.holes.filter((h) => h.size !== null).map((h) => ({ offset: h.offset, size: h.size! }));
  }

  hasBlock(offset: bigint, size: bigint): boolean {
    return this.blocks.get(offset) === size;
  }

  checkInvariants(): void {
    invariant(this.holes.length > 0 && this.holes[this.holes.length - 1]!.size === null, 'the last hole is infinite');
    let prevEnd = -1n;
    for (const h of this.holes) {
      invariant(h.offset >= this.reserve, 'holes lie after the header reserve');
      invariant(h.offset > prevEnd, () => `holes are sorted and coalesced (hole at ${h.offset})`);
      invariant(h.size === null || h.size > 0n, 'holes are non-empty');
      prevEnd = h.size === null ? h.offset : h.offset + h.size;
    }
    // Blocks and holes tile [reserve, limit) without overlap; the gaps between holes are
    // exactly the blocks plus their unaligned slack, so check every block sits in a gap.
    let total = 0n;
    const blocks = this.blockList();
    let hi = 0;
    let prevBlockEnd = this.reserve;
    for (const b of blocks) {
      invariant(b.offset % this.alignment === 0n && b.offset >= this.reserve && b.size > 0n, () => `block (${b.offset}, ${b.size}) is aligned and after the reserve`);
      invariant(b.offset >= prevBlockEnd, () => `blocks overlap at ${b.offset}`);
      while (hi < this.holes.length && (this.holes[hi]!.size !== null && this.holes[hi]!.offset + this.holes[hi]!.size! <= b.offset)) hi++;
      const h = this.holes[hi];
      invariant(h !== undefined && h.offset >= b.offset + b.size, () => `block (${b.offset}, ${b.size}) overlaps a hole`);
      prevBlockEnd = b.offset + b.size;
      total += b.size;
    }
    invariant(total === this.bytesInUse, 'nBytesInUse equals the sum of block sizes');
    const limit = blocks.length === 0 ? this.reserve : blocks[blocks.length - 1]!.offset + blocks[blocks.length - 1]!.size;
    invariant(limit === this.allocatedLimit() || (blocks.length === 0 && this.allocatedLimit() >= this.reserve), () => `allocatedLimit ${this.allocatedLimit()} is the end of the highest block ${limit}`);
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
