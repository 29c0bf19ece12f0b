/**
 * Copy-on-write paged bytes: a node value whose clone costs O(pages) instead of O(bytes).
 *
 * PerconaFT's clone callback copies the whole node while the PAIR's write lock is held, so a
 * client that write-pins a pending PAIR, and the checkpoint thread cloning one, pay a copy of
 * the node (spec checkpoint-algorithm.md §7.1-7.2). CowBytes keeps the bytes in fixed-size
 * pages; clone() shares every page with the clone and the first write to a shared page after
 * it copies that page alone. The clone is a frozen image of the bytes at the moment it was
 * made, which is exactly what the checkpoint must write (the value at the moment its pending
 * bit was resolved), and the live value goes on changing without touching it.
 * `cowBytesCodec` is the NodeCodec for it: `serializeParts` hands the pages to the write
 * path, which gathers them (in slices) into the buffer it writes, so no whole-node copy is
 * made while the PAIR is locked.
 *
 * Invariants (checked):
 *  - pages.length === ceil(length / pageBytes) (at least one page, possibly empty); every page
 *    is pageBytes long except the last, which holds the remainder.
 *  - A page is written in place only when this value owns it: it was made by this value (from
 *    a copy) and has not been shared by clone() since. Every other write first replaces the
 *    page with a private copy. So nothing a clone shares ever changes.
 *  - clone() gives up ownership of every page on both sides; it never copies bytes.
 *  - Every page is a view on a SharedArrayBuffer (a value's initial pages share one buffer;
 *    pages copied on write come from shared slabs), so a frame worker can checksum and write
 *    a clone's pages where they are: the thread serving clients copies nothing to write it.
 */

import { invariant, TokusimError } from '../format/errors.js';
import type { NodeCodec } from './checkpointable-dictionary.js';

/** The default page: 4 KiB, so a write after a clone copies 4 KiB, not the node. */
export const COW_PAGE_BYTES = 4096;

/** Pages copied on write are carved from slabs of this size. */
const SLAB_BYTES = 64 * 1024;
let slab: SharedArrayBuffer | null = null;
let slabUsed = 0;

/** A fresh zeroed page of len bytes on shared memory (8-byte aligned within its slab). */
function allocPage(len: number): Uint8Array {
  if (len > SLAB_BYTES / 4) return new Uint8Array(new SharedArrayBuffer(len));
  if (slab === null || slabUsed + len > SLAB_BYTES) {
    slab = new SharedArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const page = new Uint8Array(slab, slabUsed, len);
  slabUsed += (len + 7) & ~7;
  return page;
}

/** The pages of a value of `length` bytes, carved from one new SharedArrayBuffer. */
function allocPages(length: number, pageBytes: number): Uint8Array[] {
  const sab = new SharedArrayBuffer(length);
  const n = Math.max(1, Math.ceil(length / pageBytes));
  const pages: Uint8Array[] = new Array<Uint8Array>(n);
  for (let i = 0; i < n; i++) pages[i] = new Uint8Array(sab, i * pageBytes, Math.max(0, Math.min(pageBytes, length - i * pageBytes)));
  return pages;
}

export class CowBytes {
  readonly length: number;
  readonly pageBytes: number;
  private readonly pages: Uint8Array[];
  /** owned[i] === 1: page i is this value's alone and may be written in place. */
  private readonly owned: Uint8Array;

  private constructor(length: number, pageBytes: number, pages: Uint8Array[], owned: Uint8Array) {
    invariant(Number.isInteger(pageBytes) && pageBytes > 0, () => `CowBytes page of ${pageBytes} bytes`);
    invariant(pages.length === Math.max(1, Math.ceil(length / pageBytes)), () => `CowBytes of ${length} bytes has ${pages.length} pages of ${pageBytes}`);
    this.length = length;
    this.pageBytes = pageBytes;
    this.pages = pages;
    this.owned = owned;
  }

  /** A value holding a copy of bytes. */
  static from(bytes: Uint8Array, pageBytes = COW_PAGE_BYTES): CowBytes {
    checkPageBytes(pageBytes);
    const pages = allocPages(bytes.length, pageBytes);
    pages.forEach((p, i) => p.set(bytes.subarray(i * pageBytes, i * pageBytes + p.length)));
    return new CowBytes(bytes.length, pageBytes, pages, new Uint8Array(pages.length).fill(1));
  }

  /** A value of `length` bytes, each `fill`. */
  static alloc(length: number, fill = 0, pageBytes = COW_PAGE_BYTES): CowBytes {
    checkPageBytes(pageBytes);
    if (!Number.isInteger(length) || length < 0) {
      throw new TokusimError('bad-argument', `a CowBytes of ${length} bytes`, { expected: 'a whole number >= 0', actual: String(length) });
    }
    const pages = allocPages(length, pageBytes);
    if (fill !== 0) for (const p of pages) p.fill(fill);
    return new CowBytes(length, pageBytes, pages, new Uint8Array(pages.length).fill(1));
  }

  /** A frozen image of the bytes now, sharing every page (O(pages), no byte is copied). */
  clone(): CowBytes {
    this.owned.fill(0);
    return new CowBytes(this.length, this.pageBytes, this.pages.slice(), new Uint8Array(this.pages.length));
  }

  /** Byte at offset. */
  get(offset: number): number {
    this.checkRange(offset, 1);
    return this.pages[Math.floor(offset / this.pageBytes)]![offset % this.pageBytes]!;
  }

  /** Set the byte at offset (copying its page first if it is shared); byte must be 0..255. */
  set(offset: number, byte: number): void {
    this.checkRange(offset, 1);
    if (!Number.isInteger(byte) || byte < 0 || byte > 255) {
      throw new TokusimError('bad-argument', `CowBytes.set of ${byte} at ${offset}: not a byte`, { offset, expected: '0..255', actual: String(byte) });
    }
    this.writablePage(Math.floor(offset / this.pageBytes))[offset % this.pageBytes] = byte;
  }

  /** Write bytes at offset, page by page. */
  write(offset: number, bytes: Uint8Array): void {
    this.checkRange(offset, bytes.length);
    let done = 0;
    while (done < bytes.length) {
      const at = offset + done;
      const page = this.writablePage(Math.floor(at / this.pageBytes));
      const inPage = at % this.pageBytes;
      const n = Math.min(bytes.length - done, page.length - inPage);
      page.set(bytes.subarray(done, done + n), inPage);
      done += n;
    }
  }

  /** Page i, owned by this value (copied first if it was shared); write into it freely until the next clone(). */
  writablePage(i: number): Uint8Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.pages.length) {
      throw new TokusimError('bad-argument', `page ${i} of a CowBytes with ${this.pages.length} pages`, { expected: `0..${this.pages.length - 1}`, actual: String(i) });
    }
    if (this.owned[i] !== 1) {
      const copy = allocPage(this.pages[i]!.length);
      copy.set(this.pages[i]!);
      this.pages[i] = copy;
      this.owned[i] = 1;
    }
    return this.pages[i]!;
  }

  /** The pages, in order (read-only: write through set/write/writablePage). */
  parts(): readonly Uint8Array[] {
    return this.pages;
  }

  /** All the bytes, in one new array. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let off = 0;
    for (const p of this.pages) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  /** Pages this value owns (may write in place); the rest are shared with a clone or were never written since. */
  get ownedPages(): number {
    let n = 0;
    for (const o of this.owned) n += o;
    return n;
  }

  private checkRange(offset: number, len: number): void {
    if (!Number.isInteger(offset) || offset < 0 || offset + len > this.length) {
      throw new TokusimError('bad-argument', `CowBytes access of ${len} byte(s) at ${offset} is outside its ${this.length} bytes`, {
        offset,
        expected: `0..${this.length}`,
        actual: String(offset + len),
      });
    }
  }
}

function checkPageBytes(pageBytes: number): void {
  if (!Number.isInteger(pageBytes) || pageBytes <= 0) {
    throw new TokusimError('bad-argument', `a CowBytes page of ${pageBytes} bytes`, { expected: 'a whole number > 0', actual: String(pageBytes) });
  }
}

/**
 * The NodeCodec for CowBytes values: serialize gives the bytes, serializeParts the pages (so
 * the write path gathers them without a whole-node copy under the PAIR's lock), clone is
 * CowBytes.clone, and a value is charged its length.
 */
export function cowBytesCodec(pageBytes = COW_PAGE_BYTES): NodeCodec<CowBytes> {
  return {
    serialize: (v) => v.toBytes(),
    serializeParts: (v) => v.parts(),
    deserialize: (b) => CowBytes.from(b, pageBytes),
    clone: (v) => v.clone(),
    sizeOf: (v) => v.length,
  };
}
