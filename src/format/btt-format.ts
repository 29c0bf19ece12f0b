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
 *    (diskoff >= 8192 and 4096-aligned, size > 0, inside the file when its size is given);
 *    no two ON-DISK blocks overlap; the free list visits exactly the FREE entries of [3, N),
 *    once each, and ends at -1. The error names the entry's own offset.
 */
import { ByteReader, ByteWriter, readU32At } from '../base/bytes.js';
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

/** A translation as it is stored: entries [0, N). */
export interface TranslationImage {
  smallestNeverUsed: bigint;
  freelistHead: bigint;
  /** diskoff, or next_free_blocknum for FREE entries; length N. */
  diskoffs: bigint[];
  /** size: -1 FREE, 0 allocated-empty, > 0 on disk; length N. */
  sizes: bigint[];
}

/** Size in bytes of a serialized block translation table with n entries, checksum included. */
export function translationSizeOnDisk(n: bigint | number): bigint {
  return 8n + 8n + 16n * BigInt(n) + 4n;
}

/** @internal Rounds a byte count up to a multiple of 512. */
export function roundUp512(n: bigint): bigint {
  return ((n + 511n) / 512n) * 512n;
}

/** The unpadded S bytes of a translation. */
export function encodeTranslationImage(t: TranslationImage): Uint8Array {
  const n = Number(t.smallestNeverUsed);
  invariant(t.diskoffs.length === n && t.sizes.length === n, 'translation image arrays have length N');
  const w = new ByteWriter(Number(translationSizeOnDisk(n)));
  w.u64(t.smallestNeverUsed);
  w.u64(t.freelistHead);
  for (let i = 0; i < n; i++) {
    w.u64(t.diskoffs[i]!);
    w.u64(t.sizes[i]!);
  }
  const body = w.bytesView();
  w.u32(x1764(body, 0, body.length));
  return w.toBytes();
}

/** The S bytes zero-padded to a multiple of 512, as written with one pwrite. */
export function encodeTranslationPadded(t: TranslationImage): Uint8Array {
  const raw = encodeTranslationImage(t);
  const out = new Uint8Array(Number(roundUp512(BigInt(raw.length))));
  out.set(raw);
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
  const diskoffs: bigint[] = [];
  const sizes: bigint[] = [];
  for (let i = 0n; i < n; i++) {
    diskoffs.push(r.i64('entry diskoff'));
    sizes.push(r.i64('entry size'));
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

/** The entry checks listed in the module invariants (everything but the framing). */
function checkTranslationEntries(t: TranslationImage, where: { file: string; location: bigint; fileSize?: number }): void {
  const { file, location } = where;
  const n = Number(t.smallestNeverUsed);
  const entryAt = (b: number) => location + 16n + 16n * BigInt(b);
  if (t.diskoffs[0] !== DISKOFF_UNUSED || t.sizes[0] !== 0n) {
    throw bad('translation table entry 0 is not (-2, 0)', file, entryAt(0), { expected: '(-2, 0)', actual: `(${t.diskoffs[0]}, ${t.sizes[0]})` });
  }
  const onDisk: Array<{ b: number; diskoff: bigint; size: bigint }> = [];
  let freeCount = 0;
  for (let b = 1; b < n; b++) {
    const d = t.diskoffs[b]!;
    const s = t.sizes[b]!;
    if (s === SIZE_IS_FREE && b >= 3) {
      freeCount++;
    } else if (s === 0n && b >= 2) {
      if (d !== DISKOFF_UNUSED) throw bad(`translation table entry ${b} has size 0 but a disk offset`, file, entryAt(b), { expected: 'diskoff -2', actual: `diskoff ${d}` });
    } else if (s > 0n) {
      if (d < FIRST_BLOCK_OFFSET || d % BLOCK_ALIGNMENT !== 0n) {
        throw bad(`translation table entry ${b} has an invalid disk offset`, file, entryAt(b), { expected: `a multiple of ${BLOCK_ALIGNMENT} >= ${FIRST_BLOCK_OFFSET}`, actual: String(d) });
      }
      if (where.fileSize !== undefined && d + s > BigInt(where.fileSize)) {
        throw bad(`translation table entry ${b} points past the end of the file`, file, entryAt(b), { expected: `diskoff + size <= ${where.fileSize} (file size)`, actual: `${d} + ${s} = ${d + s}` });
      }
      onDisk.push({ b, diskoff: d, size: s });
    } else {
      throw bad(`translation table entry ${b} has an invalid size`, file, entryAt(b) + 8n, { expected: b >= 3 ? '-1 (free), 0 or > 0' : '0 or > 0', actual: String(s) });
    }
  }
  onDisk.sort((x, y) => (x.diskoff < y.diskoff ? -1 : x.diskoff > y.diskoff ? 1 : 0));
  for (let i = 1; i < onDisk.length; i++) {
    const prev = onDisk[i - 1]!;
    const cur = onDisk[i]!;
    if (cur.diskoff < prev.diskoff + prev.size) {
      throw bad(`translation table entries ${prev.b} and ${cur.b} overlap`, file, entryAt(cur.b), { expected: `diskoff >= ${prev.diskoff + prev.size}`, actual: String(cur.diskoff) });
    }
  }
  // The free list: bounded by the number of entries, so a cycle ends the walk.
  const seen = new Set<number>();
  let cur = t.freelistHead;
  let at = location + 8n;
  while (cur !== FREELIST_NULL) {
    if (cur < RESERVED_BLOCKNUMS || cur >= t.smallestNeverUsed || t.sizes[Number(cur)] !== SIZE_IS_FREE || seen.has(Number(cur))) {
      const why = cur < RESERVED_BLOCKNUMS || cur >= t.smallestNeverUsed ? `lies outside [3, ${n})` : seen.has(Number(cur)) ? 'is visited twice (a cycle)' : 'is not a free entry';
      throw bad(`translation table free list entry ${cur} ${why}`, file, at, { expected: `a free blocknum in [3, ${n}) or -1`, actual: String(cur) });
    }
    seen.add(Number(cur));
    at = entryAt(Number(cur));
    cur = t.diskoffs[Number(cur)]!;
  }
  if (seen.size !== freeCount) {
    throw bad('translation table free list does not reach every free entry', file, location + 8n, { expected: `${freeCount} free entries`, actual: `${seen.size} on the list` });
  }
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}
