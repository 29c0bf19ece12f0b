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
 */
import { ByteReader, ByteWriter, readU32At } from './bytes.js';
import { TokusimError, invariant } from './errors.js';
import { x1764 } from './x1764.js';

export const RESERVED_BLOCKNUM_NULL = 0n;
export const RESERVED_BLOCKNUM_TRANSLATION = 1n;
export const RESERVED_BLOCKNUM_DESCRIPTOR = 2n;
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

export function translationSizeOnDisk(n: bigint | number): bigint {
  return 8n + 8n + 16n * BigInt(n) + 4n;
}

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
export function decodeTranslationImage(buf: Uint8Array, where: { file: string; location: bigint; size: bigint }): TranslationImage {
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
    throw bad('translation table entry 1 does not describe its own block', file, location, { expected: `(${location}, ${size})`, actual: `(${diskoffs[1]}, ${sizes[1]})` });
  }
  return { smallestNeverUsed: n, freelistHead: head, diskoffs, sizes };
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}
