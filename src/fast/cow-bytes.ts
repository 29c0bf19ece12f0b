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
 *  - Every page is a view on shared memory, so a frame worker can checksum and write a
 *    clone's pages where they are: the thread serving clients copies nothing to write it.
 *    With the default page size the pages come from the process's shared page arena
 *    (storage/shared-pages.ts), where the worker also folds the checksum in place; each
 *    CowBytes holding an arena page counts as one holder (retained by clone(), released by
 *    a copy-on-write and, through a FinalizationRegistry, when the value is collected), so a
 *    page is reused only when no value holds it. Other page sizes, or a full arena, use
 *    plain SharedArrayBuffers (a value's initial pages share one; copies come from slabs).
 */

import { invariant, TokusimError } from '../base/errors.js';
import { SHARED_PAGE_BYTES, sharedPages, type SharedPageArena } from './shared-pages.js';
import type { NodeCodec } from '../checkpoint/checkpointable-dictionary.js';

/** The default page: 4 KiB, so a write after a clone copies 4 KiB, not the node. */
export const COW_PAGE_BYTES = 4096;

/** Pages copied on write are carved from slabs of this size. */
const SLAB_BYTES = 64 * 1024;
let slab: SharedArrayBuffer | null = null;
let slabUsed = 0;

/** The arena pages a value holds: ids[i] is page i's arena page, or -1 when it is not in the arena. */
interface ArenaHold {
  readonly arena: SharedPageArena;
  readonly ids: Int32Array;
}

/** Releases a collected value's arena pages. */
const collected = new FinalizationRegistry<ArenaHold>((hold) => {
  for (const id of hold.ids) if (id >= 0) hold.arena.release(id);
});

/** A fresh zeroed arena page of len bytes for page i of hold's value (its id in ids[i]), or null when none can be had. */
function arenaPage(len: number, hold: ArenaHold | null, i: number): Uint8Array | null {
  if (hold === null || len === 0) return null;
  const a = hold.arena.alloc();
  if (a === null) return null;
  hold.ids[i] = a.page;
  return len === a.view.length ? a.view : a.view.subarray(0, len);
}

/** A fresh zeroed page of len bytes on shared memory: an arena page (its id in ids[i]) or a slab's (8-byte aligned). */
function allocPage(len: number, hold: ArenaHold | null, i: number): Uint8Array {
  const fromArena = arenaPage(len, hold, i);
  if (fromArena !== null) return fromArena;
  if (len > SLAB_BYTES / 4) return new Uint8Array(new SharedArrayBuffer(len));
  if (slab === null || slabUsed + len > SLAB_BYTES) {
    slab = new SharedArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const page = new Uint8Array(slab, slabUsed, len);
  slabUsed += (len + 7) & ~7;
  return page;
}

/** The arena hold for a new value of n pages of pageBytes (null when its pages cannot live in the arena). */
function newHold(n: number, pageBytes: number): ArenaHold | null {
  if (pageBytes !== SHARED_PAGE_BYTES) return null;
  const arena = sharedPages();
  return arena === null ? null : { arena, ids: new Int32Array(n).fill(-1) };
}

/** The pages of a value of `length` bytes: arena pages where it can, else carved from one new SharedArrayBuffer. */
function allocPages(length: number, pageBytes: number, hold: ArenaHold | null): Uint8Array[] {
  const n = Math.max(1, Math.ceil(length / pageBytes));
  const pages: Uint8Array[] = new Array<Uint8Array>(n);
  const size = (i: number): number => Math.max(0, Math.min(pageBytes, length - i * pageBytes));
  let i = 0;
  for (; i < n; i++) {
    const page = arenaPage(size(i), hold, i);
    if (page === null) break;
    pages[i] = page;
  }
  if (i < n) {
    // The arena is full (or not used): the rest share one plain shared buffer.
    const sab = new SharedArrayBuffer(length - Math.min(length, i * pageBytes));
    const base = i * pageBytes;
    for (let j = i; j < n; j++) pages[j] = new Uint8Array(sab, j * pageBytes - base, size(j));
  }
  return pages;
}

/** Copy-on-write paged bytes: a node value whose clone shares its pages, so cloning costs per page rather than per byte and the first write to a shared page copies that page alone. */
export class CowBytes {
  /** The value's length in bytes. */
  readonly length: number;
  /** The page size in bytes. */
  readonly pageBytes: number;
  private readonly pages: Uint8Array[];
  /** owned[i] === 1: page i is this value's alone and may be written in place. */
  private readonly owned: Uint8Array;
  /** The arena pages this value holds (null: none of its pages can be in the arena). */
  private readonly hold: ArenaHold | null;

  private constructor(length: number, pageBytes: number, pages: Uint8Array[], owned: Uint8Array, hold: ArenaHold | null) {
    invariant(Number.isInteger(pageBytes) && pageBytes > 0, () => `CowBytes page of ${pageBytes} bytes`);
    invariant(pages.length === Math.max(1, Math.ceil(length / pageBytes)), () => `CowBytes of ${length} bytes has ${pages.length} pages of ${pageBytes}`);
    this.length = length;
    this.pageBytes = pageBytes;
    this.pages = pages;
    this.owned = owned;
    this.hold = hold;
    if (hold !== null) collected.register(this, hold);
  }

  /** A value holding a copy of bytes. */
  static from(bytes: Uint8Array, pageBytes = COW_PAGE_BYTES): CowBytes {
    checkPageBytes(pageBytes);
    const hold = newHold(Math.max(1, Math.ceil(bytes.length / pageBytes)), pageBytes);
    const pages = allocPages(bytes.length, pageBytes, hold);
    pages.forEach((p, i) => p.set(bytes.subarray(i * pageBytes, i * pageBytes + p.length)));
    return new CowBytes(bytes.length, pageBytes, pages, new Uint8Array(pages.length).fill(1), hold);
  }

  /** A value of `length` bytes, each `fill`. */
  static alloc(length: number, fill = 0, pageBytes = COW_PAGE_BYTES): CowBytes {
    checkPageBytes(pageBytes);
    if (!Number.isInteger(length) || length < 0) {
      throw new TokusimError('bad-argument', `a CowBytes of ${length} bytes`, { expected: 'a whole number >= 0', actual: String(length) });
    }
    const hold = newHold(Math.max(1, Math.ceil(length / pageBytes)), pageBytes);
    const pages = allocPages(length, pageBytes, hold);
    if (fill !== 0) for (const p of pages) p.fill(fill);
    return new CowBytes(length, pageBytes, pages, new Uint8Array(pages.length).fill(1), hold);
  }

  /** A frozen image of the bytes now, sharing every page (O(pages), no byte is copied). */
  clone(): CowBytes {
    this.owned.fill(0);
    let hold: ArenaHold | null = null;
    if (this.hold !== null) {
      hold = { arena: this.hold.arena, ids: this.hold.ids.slice() };
      for (const id of hold.ids) if (id >= 0) hold.arena.retain(id);
    }
    return new CowBytes(this.length, this.pageBytes, this.pages.slice(), new Uint8Array(this.pages.length), hold);
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
      const hold = this.hold;
      const old = hold !== null ? hold.ids[i]! : -1;
      if (hold !== null) hold.ids[i] = -1;
      const copy = allocPage(this.pages[i]!.length, hold, i);
      copy.set(this.pages[i]!);
      this.pages[i] = copy;
      this.owned[i] = 1;
      // The shared page loses this holder (the clones that share it keep it alive).
      if (old >= 0) hold!.arena.release(old);
    }
    return this.pages[i]!;
  }

  /** The pages, in order (read-only: write through set/write/writablePage). */
  parts(): readonly Uint8Array[] {
    return this.pages;
  }

  /**
   * The bytes as few views as possible: pages that lie back to back in one buffer (as a
   * value's first pages do) joined into one view. Their concatenation is the value; they are
   * read-only, like parts(), and fewer pieces make a write cheaper (fewer iovecs, and fewer
   * parts for the frame worker to name and checksum).
   */
  runs(): readonly Uint8Array[] {
    const out: Uint8Array[] = [];
    let first = this.pages[0]!;
    let len = first.length;
    for (let i = 1; i < this.pages.length; i++) {
      const p = this.pages[i]!;
      if (p.buffer === first.buffer && p.byteOffset === first.byteOffset + len) {
        len += p.length;
        continue;
      }
      out.push(len === first.length ? first : new Uint8Array(first.buffer, first.byteOffset, len));
      first = p;
      len = p.length;
    }
    out.push(len === first.length ? first : new Uint8Array(first.buffer, first.byteOffset, len));
    return out;
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
 * The NodeCodec for CowBytes values: serialize gives the bytes, serializeParts the pages, back-to-back ones joined (so
 * the write path gathers them without a whole-node copy under the PAIR's lock), clone is
 * CowBytes.clone, and a value is charged its length.
 */
export function cowBytesCodec(pageBytes = COW_PAGE_BYTES): NodeCodec<CowBytes> {
  return {
    serialize: (v) => v.toBytes(),
    serializeParts: (v) => v.runs(),
    deserialize: (b) => CowBytes.from(b, pageBytes),
    clone: (v) => v.clone(),
    sizeOf: (v) => v.length,
  };
}
