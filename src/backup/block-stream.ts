/**
 * Cut the blocks of a dictionary file's translation out of the file's bytes as they stream by
 * in chunks (a block may straddle two chunks), so a backup hashes and decodes every block in
 * the same single sequential read that copies the file.
 *
 * Invariants:
 *  - Blocks are given sorted by diskoff and never overlap (block-table.ts B2), so each is
 *    emitted exactly once, whole, in diskoff order.
 *  - finish() throws when a block lies beyond the bytes fed (the file is shorter than its
 *    translation claims).
 */
import { TokusimError } from '../base/errors.js';

export interface StreamBlock {
  blocknum: number;
  diskoff: number;
  size: number;
}

export class BlockStream {
  private i = 0;
  private partial: Uint8Array | null = null;

  constructor(
    private readonly file: string,
    private readonly blocks: readonly StreamBlock[],
    private readonly emit: (b: StreamBlock, bytes: Uint8Array) => void,
  ) {}

  /** The bytes [start, start + chunk.length) of the file. */
  feed(chunk: Uint8Array, start: number): void {
    const end = start + chunk.length;
    while (this.i < this.blocks.length) {
      const b = this.blocks[this.i]!;
      const bs = b.diskoff;
      const be = bs + b.size;
      if (bs >= end) return;
      if (be <= start) {
        this.i++;
        continue;
      }
      if (bs >= start && be <= end && this.partial === null) {
        this.emit(b, chunk.subarray(bs - start, be - start));
        this.i++;
        continue;
      }
      this.partial ??= new Uint8Array(b.size);
      const from = Math.max(bs, start);
      const to = Math.min(be, end);
      this.partial.set(chunk.subarray(from - start, to - start), from - bs);
      if (be > end) return;
      this.emit(b, this.partial);
      this.partial = null;
      this.i++;
    }
  }

  finish(fileSize: number): void {
    if (this.i < this.blocks.length) throw blockBeyondEnd(this.file, this.blocks[this.i]!, fileSize);
  }
}

/** The error for a block of the translation that the file's bytes do not reach. */
export function blockBeyondEnd(file: string, b: StreamBlock, fileSize: number): TokusimError {
  return new TokusimError('truncated', `block ${b.blocknum} of the translation lies beyond the end of the file`, {
    file,
    offset: b.diskoff,
    blocknum: b.blocknum,
    expected: `a file of at least ${b.diskoff + b.size} bytes`,
    actual: `${fileSize} bytes`,
  });
}
