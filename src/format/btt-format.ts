/**
 * The on-disk form of a block translation table (spec block-translation-table.md §7).
 *
 * Layout: N = smallest_never_used_blocknum (u64 hi/lo), freelist head (u64, -1 = empty),
 * N entries of (diskoff, size) as u64 hi/lo each, then LE32 x1764 of everything before it.
 * Unpadded length S = 8 + 8 + 16N + 4; the write is zero-padded to a multiple of 512.
 *
 * Invariants:
 *  - encode produces exactly S bytes; decode(encode(t)) === t and encode(decode(b)) === b.
 *  - decode accepts only N >= 3, a matching checksum, S === 8+8+16N+4, and entry 1 equal to
 *    (location, S). Anything else is a TokusimError of kind 'bad-btt' naming file and offset.
 *  - decode also checks every entry without trusting the checksum (a damaged entry whose
 *    checksum was re-computed must not reach the block table's invariants): entry 0 is
 *    (-2, 0); entry 2 and each entry of [3, N) is FREE, ALLOCATED-EMPTY (-2, 0) or ON-DISK
 *    (diskoff >= 8192 and 4096-aligned, size > 0, inside the file when its size is given and
 *    below 2^53 when it is not);
 *    no two ON-DISK blocks overlap; the free list visits exactly the FREE entries of [3, N),
 *    once each, and ends at -1. The error names the entry's own offset.
 */
import { ByteReader, readU32At } from '../base/bytes.js';
import { TokusimError, invariant } from '../base/errors.js';
import { x1764 } from './x1764.js';

/** Block number 0, reserved: no block. */
export const RESERVED_BLOCKNUM_NULL = 0n;
/** Block number 1, reserved for the block translation table itself. */
export const RESERVED_BLOCKNUM_TRANSLATION = 1n;
/** Block number 2, reserved for the dictionary's descriptor. */
export const RESERVED_BLOCKNUM_DESCRIPTOR = 2n;
/** How many block numbers are reserved; the first node gets this number. */
export const RESERVED_BLOCKNUMS = 3n;
/** size of a FREE entry. */
export const SIZE_IS_FREE = -1n;
/** diskoff of an entry that has no disk block. */
export const DISKOFF_UNUSED = -2n;
/** end of the blocknum free list. */
export const FREELIST_NULL = -1n;

/**
 * A translation as it is stored: entries [0, N), each field an 8-byte signed integer exactly
 * as on disk, held in typed arrays (16 bytes per entry, no per-entry objects or bigints).
 */
export interface TranslationImage {
  smallestNeverUsed: bigint;
  freelistHead: bigint;
  /** diskoff, or next_free_blocknum for FREE entries; length N. */
  diskoffs: BigInt64Array;
  /** size: -1 FREE, 0 allocated-empty, > 0 on disk; length N. */
  sizes: BigInt64Array;
}

/**
 * @internal Index of the low and high 32-bit word of element i of a BigInt64Array in an
 * Int32Array over the same bytes: 2i + WORD_LO and 2i + WORD_HI (typed arrays use the host's
 * byte order).
 */
export const WORD_LO = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;
/** @internal See WORD_LO. */
export const WORD_HI = 1 - WORD_LO;

/** @internal The 32-bit words of a BigInt64Array's elements, as an Int32Array over the same bytes. */
export function int64Words(a: BigInt64Array): Int32Array {
  return new Int32Array(a.buffer, a.byteOffset, 2 * a.length);
}

/**
 * @internal Element i of the array whose words are w, as a number: exact when its magnitude is
 * below 2^53; beyond that it is off by less than its own magnitude, so comparisons with small
 * bounds still come out right.
 */
export function int64Number(w: Int32Array, i: number): number {
  return w[2 * i + WORD_HI]! * 4294967296 + (w[2 * i + WORD_LO]! >>> 0);
}

/** Size in bytes of a serialized block translation table with n entries, checksum included. */
export function translationSizeOnDisk(n: bigint | number): bigint {
  return 8n + 8n + 16n * BigInt(n) + 4n;
}

/** @internal Rounds a byte count up to a multiple of 512. */
export function roundUp512(n: bigint): bigint {
  return ((n + 511n) / 512n) * 512n;
}

/** The unpadded S bytes of a translation, written into `out` (which must hold them) or a new array. */
function encodeInto(t: TranslationImage, out: Uint8Array): Uint8Array {
  const n = Number(t.smallestNeverUsed);
  invariant(t.diskoffs.length === n && t.sizes.length === n, 'translation image arrays have length N');
  const s = Number(translationSizeOnDisk(n));
  const view = new DataView(out.buffer, out.byteOffset, s);
  const head = BigInt.asUintN(64, t.freelistHead);
  view.setUint32(0, Number(t.smallestNeverUsed >> 32n), true);
  view.setUint32(4, Number(t.smallestNeverUsed & 0xffffffffn), true);
  view.setUint32(8, Number(head >> 32n), true);
  view.setUint32(12, Number(head & 0xffffffffn), true);
  // Each field straight from the typed arrays' words: high word first, each little-endian.
  const dw = int64Words(t.diskoffs);
  const sw = int64Words(t.sizes);
  for (let i = 0, p = 16; i < n; i++, p += 16) {
    view.setInt32(p, dw[2 * i + WORD_HI]!, true);
    view.setInt32(p + 4, dw[2 * i + WORD_LO]!, true);
    view.setInt32(p + 8, sw[2 * i + WORD_HI]!, true);
    view.setInt32(p + 12, sw[2 * i + WORD_LO]!, true);
  }
  view.setUint32(s - 4, x1764(out, 0, s - 4), true);
  return out.subarray(0, s);
}

/** The unpadded S bytes of a translation. */
export function encodeTranslationImage(t: TranslationImage): Uint8Array {
  return encodeInto(t, new Uint8Array(Number(translationSizeOnDisk(t.smallestNeverUsed))));
}

/** The S bytes zero-padded to a multiple of 512, as written with one pwrite. */
export function encodeTranslationPadded(t: TranslationImage): Uint8Array {
  const out = new Uint8Array(Number(roundUp512(translationSizeOnDisk(t.smallestNeverUsed))));
  encodeInto(t, out);
  return out;
}

function bad(message: string, file: string, offset: bigint, ev: { expected?: string; actual?: string } = {}): TokusimError {
  return new TokusimError('bad-btt', message, { file, offset: Number(offset), ...ev });
}

/**
 * Parse a BTT read at `location` whose header-recorded unpadded size is `size`. `buf` holds
 * the bytes read there (at least `size` of them for success).
 */
export function decodeTranslationImage(buf: Uint8Array, where: { file: string; location: bigint; size: bigint; fileSize?: number }): TranslationImage {
  const { file, location, size } = where;
  if (location <= 0n || size <= 0n) {
    throw bad('header points to no translation table', file, location, { expected: 'location > 0 and size > 0', actual: `location ${location}, size ${size}` });
  }
  if (size < 20n + 48n) {
    throw bad('translation table too small', file, location, { expected: '>= 68 bytes (N >= 3)', actual: `${size} bytes` });
  }
  if (BigInt(buf.length) < size) {
    throw bad('translation table extends past end of file', file, location, { expected: `${size} bytes`, actual: `${buf.length} bytes` });
  }
  const s = Number(size);
  const stored = readU32At(buf, s - 4);
  const computed = x1764(buf, 0, s - 4);
  if (stored !== computed) {
    throw bad('translation table checksum mismatch', file, location, { expected: hex(stored), actual: hex(computed) });
  }
  const r = new ByteReader(buf, 0, s, file, Number(location));
  const n = r.i64('smallest_never_used_blocknum');
  const head = r.i64('blocknum_freelist_head');
  if (n < RESERVED_BLOCKNUMS) throw bad('translation table has fewer than 3 blocknums', file, location, { expected: 'N >= 3', actual: `N = ${n}` });
  if (translationSizeOnDisk(n) !== size) {
    throw bad('translation table size does not match its blocknum count', file, location, { expected: `${translationSizeOnDisk(n)} bytes for N = ${n}`, actual: `${size} bytes` });
  }
  // Straight into the typed arrays, word by word: no bigint per field.
  const count = Number(n);
  const diskoffs = new BigInt64Array(count);
  const sizes = new BigInt64Array(count);
  const dw = int64Words(diskoffs);
  const sw = int64Words(sizes);
  const view = new DataView(buf.buffer, buf.byteOffset, s);
  for (let i = 0, p = 16; i < count; i++, p += 16) {
    dw[2 * i + WORD_HI] = view.getInt32(p, true);
    dw[2 * i + WORD_LO] = view.getInt32(p + 4, true);
    sw[2 * i + WORD_HI] = view.getInt32(p + 8, true);
    sw[2 * i + WORD_LO] = view.getInt32(p + 12, true);
  }
  if (diskoffs[1] !== location || sizes[1] !== size) {
    throw bad('translation table entry 1 does not describe its own block', file, location + 32n, { expected: `(${location}, ${size})`, actual: `(${diskoffs[1]}, ${sizes[1]})` });
  }
  const image = { smallestNeverUsed: n, freelistHead: head, diskoffs, sizes };
  checkTranslationEntries(image, where);
  return image;
}

/** The smallest offset a block may have: the two header slots come first. */
export const FIRST_BLOCK_OFFSET = 8192n;
/** Blocks start on 4096-byte boundaries. */
export const BLOCK_ALIGNMENT = 4096n;

/**
 * The entry checks listed in the module invariants (everything but the framing). The fields are
 * compared as numbers read from the arrays' words (see int64Number) and become bigints only
 * for an error message, so the check allocates nothing per entry.
 */
function checkTranslationEntries(t: TranslationImage, where: { file: string; location: bigint; fileSize?: number }): void {
  const { file, location } = where;
  const n = Number(t.smallestNeverUsed);
  const entryAt = (b: number) => location + 16n + 16n * BigInt(b);
  const dw = int64Words(t.diskoffs);
  const sw = int64Words(t.sizes);
  if (int64Number(dw, 0) !== -2 || int64Number(sw, 0) !== 0) {
    throw bad('translation table entry 0 is not (-2, 0)', file, entryAt(0), { expected: '(-2, 0)', actual: `(${t.diskoffs[0]}, ${t.sizes[0]})` });
  }
  // Blocks end within the file (or, with no file size given, below 2^53), so every ON-DISK
  // diskoff and size is an exact number for the overlap check below.
  const limit = where.fileSize ?? Number.MAX_SAFE_INTEGER;
  const onDisk = new Uint32Array(n);
  let onDiskCount = 0;
  let freeCount = 0;
  for (let b = 1; b < n; b++) {
    const d = int64Number(dw, b);
    const s = int64Number(sw, b);
    if (s === -1 && b >= 3) {
      freeCount++;
    } else if (s === 0 && b >= 2) {
      if (d !== -2) throw bad(`translation table entry ${b} has size 0 but a disk offset`, file, entryAt(b), { expected: 'diskoff -2', actual: `diskoff ${t.diskoffs[b]}` });
    } else if (s > 0) {
      // 2^32 is a multiple of the alignment, so the low word alone decides it.
      if (d < Number(FIRST_BLOCK_OFFSET) || (dw[2 * b + WORD_LO]! & (Number(BLOCK_ALIGNMENT) - 1)) !== 0) {
        throw bad(`translation table entry ${b} has an invalid disk offset`, file, entryAt(b), { expected: `a multiple of ${BLOCK_ALIGNMENT} >= ${FIRST_BLOCK_OFFSET}`, actual: String(t.diskoffs[b]) });
      }
      if (d + s > limit) {
        const dd = t.diskoffs[b]!;
        const ss = t.sizes[b]!;
        const expected = where.fileSize !== undefined ? `diskoff + size <= ${where.fileSize} (file size)` : `diskoff + size <= ${Number.MAX_SAFE_INTEGER} (2^53 - 1)`;
        throw bad(`translation table entry ${b} points past the end of the file`, file, entryAt(b), { expected, actual: `${dd} + ${ss} = ${dd + ss}` });
      }
      onDisk[onDiskCount++] = b;
    } else {
      throw bad(`translation table entry ${b} has an invalid size`, file, entryAt(b) + 8n, { expected: b >= 3 ? '-1 (free), 0 or > 0' : '0 or > 0', actual: String(t.sizes[b]) });
    }
  }
  const byOffset = onDisk.subarray(0, onDiskCount).sort((x, y) => int64Number(dw, x) - int64Number(dw, y));
  for (let i = 1; i < byOffset.length; i++) {
    const prev = byOffset[i - 1]!;
    const cur = byOffset[i]!;
    const prevEnd = int64Number(dw, prev) + int64Number(sw, prev);
    if (int64Number(dw, cur) < prevEnd) {
      throw bad(`translation table entries ${prev} and ${cur} overlap`, file, entryAt(cur), { expected: `diskoff >= ${prevEnd}`, actual: String(t.diskoffs[cur]) });
    }
  }
  // The free list: bounded by the number of entries, so a cycle ends the walk.
  const seen = new Uint8Array(n);
  let seenCount = 0;
  let cur = t.freelistHead;
  let at = location + 8n;
  while (cur !== FREELIST_NULL) {
    const c = Number(cur);
    if (cur < RESERVED_BLOCKNUMS || cur >= t.smallestNeverUsed || int64Number(sw, c) !== -1 || seen[c] === 1) {
      const why = cur < RESERVED_BLOCKNUMS || cur >= t.smallestNeverUsed ? `lies outside [3, ${n})` : seen[c] === 1 ? 'is visited twice (a cycle)' : 'is not a free entry';
      throw bad(`translation table free list entry ${cur} ${why}`, file, at, { expected: `a free blocknum in [3, ${n}) or -1`, actual: String(cur) });
    }
    seen[c] = 1;
    seenCount++;
    at = entryAt(c);
    cur = t.diskoffs[c]!;
  }
  if (seenCount !== freeCount) {
    throw bad('translation table free list does not reach every free entry', file, location + 8n, { expected: `${freeCount} free entries`, actual: `${seenCount} on the list` });
  }
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}
