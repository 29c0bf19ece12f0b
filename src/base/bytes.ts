/**
 * Byte readers and writers with PerconaFT's integer encodings (spec tokulog-format.md §4):
 *  - 32-bit integers little-endian ("disk order");
 *  - 64-bit integers as two little-endian 32-bit words, HIGH word first, then low word;
 *  - network-order (big-endian) 32-bit only where a format says so (the log header version).
 *
 * Invariants:
 *  - ByteWriter.length equals the number of bytes written; bytes() returns exactly them.
 *  - ByteReader never reads past its end: a short read throws a TokusimError('truncated')
 *    naming the offset, the number of bytes needed and the number available (or, for a
 *    reader over a complete structure, 'bad-length': a field that runs past the end of
 *    something whole is damage, not a torn tail).
 *  - checkClaimedSize / checkClaimedExtent accept a length, size or offset read from a file
 *    only when it lies within the file and a sane limit, and otherwise throw a corrupt-input
 *    TokusimError ('bad-length') naming file, offset, field, expected and actual. They never
 *    look at checksums: a damaged field whose checksum was re-computed must be caught too.
 */
import { TokusimError } from './errors.js';

const U64_MASK = 0xffffffffffffffffn;

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private n = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity));
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.n;
  }

  private ensure(extra: number): void {
    if (this.n + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.n + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.n++] = v & 0xff;
    return this;
  }

  /** Little-endian u32 (accepts negative 32-bit values, stored as two's complement). */
  u32(v: number): this {
    this.ensure(4);
    this.view.setUint32(this.n, v >>> 0, true);
    this.n += 4;
    return this;
  }

  /** Big-endian (network order) u32. */
  u32be(v: number): this {
    this.ensure(4);
    this.view.setUint32(this.n, v >>> 0, false);
    this.n += 4;
    return this;
  }

  /** 64-bit value as hi u32 LE then lo u32 LE. Negative values are stored two's complement. */
  u64(v: bigint): this {
    const x = v & U64_MASK;
    this.ensure(8);
    this.view.setUint32(this.n, Number(x >> 32n), true);
    this.view.setUint32(this.n + 4, Number(x & 0xffffffffn), true);
    this.n += 8;
    return this;
  }

  /** Plain little-endian u64 (used by formats that store it that way). */
  u64le(v: bigint): this {
    this.ensure(8);
    this.view.setBigUint64(this.n, v & U64_MASK, true);
    this.n += 8;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
    return this;
  }

  /** Overwrite a little-endian u32 at an earlier position. */
  patchU32(at: number, v: number): this {
    this.view.setUint32(at, v >>> 0, true);
    return this;
  }

  /** Forget the bytes written so far and keep the capacity (views taken earlier see the next writes). */
  clear(): void {
    this.n = 0;
  }

  /** The bytes written so far (a view; copy it if the writer is reused). */
  bytesView(): Uint8Array {
    return this.buf.subarray(0, this.n);
  }

  /** A fresh copy of the bytes written so far. */
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

export class ByteReader {
  private readonly view: DataView;
  pos: number;

  /**
   * @param buf    the bytes
   * @param start  first readable offset
   * @param end    one past the last readable offset
   * @param what   a label for errors (e.g. a file name)
   * @param base   added to positions in error messages (the buffer's offset in its file)
   */
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
    readonly what = 'buffer',
    readonly base = 0,
    /** 'bad-length' when the bytes are a complete structure (a short read is then damage). */
    readonly shortKind: 'truncated' | 'bad-length' = 'truncated',
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number, field: string): void {
    if (this.pos + n > this.end) {
      throw new TokusimError(this.shortKind, `${field} needs ${n} bytes, ${this.end - this.pos} remain`, {
        file: this.what,
        offset: this.base + this.pos,
      });
    }
  }

  u8(field = 'u8'): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }

  u32(field = 'u32'): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u32be(field = 'u32'): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos, false);
    this.pos += 4;
    return v;
  }

  /** hi u32 LE then lo u32 LE, unsigned. */
  u64(field = 'u64'): bigint {
    this.need(8, field);
    const hi = this.view.getUint32(this.pos, true);
    const lo = this.view.getUint32(this.pos + 4, true);
    this.pos += 8;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** hi/lo word order, interpreted as signed 64-bit. */
  i64(field = 'i64'): bigint {
    return BigInt.asIntN(64, this.u64(field));
  }

  u64le(field = 'u64'): bigint {
    this.need(8, field);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** A view of the next n bytes (no copy). */
  bytes(n: number, field = 'bytes'): Uint8Array {
    this.need(n, field);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** Like bytes, but a copy that owns its memory (one allocation, no intermediate view). */
  copy(n: number, field = 'bytes'): Uint8Array {
    this.need(n, field);
    const b = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

/** Where a claimed value was read, for checkClaimedSize and checkClaimedExtent. */
export interface ClaimSite {
  /** The file it was read from. */
  file: string;
  /** Byte offset of the field in that file. */
  offset: number;
  /** The field's name as the format calls it (e.g. "translation_size"). */
  field: string;
}

/**
 * Check a length or size read from a file before anything is allocated or read with it:
 * it must be an integer in [min, max]. `max` is the caller's bound, normally what the file
 * (or the enclosing structure) can still hold, capped by a sane limit. Returns the value as
 * a safe number.
 */
export function checkClaimedSize(value: bigint | number, min: number, max: number, site: ClaimSite): number {
  const v = typeof value === 'bigint' ? value : BigInt(Math.trunc(value));
  if ((typeof value === 'number' && !Number.isInteger(value)) || v < BigInt(min) || v > BigInt(Math.max(min, Math.floor(max))) || max < min) {
    throw new TokusimError('bad-length', `${site.field} out of range`, {
      file: site.file,
      offset: site.offset,
      expected: max < min ? `a ${site.field} (the file has no room for one)` : `${min}..${Math.floor(max)}`,
      actual: String(v),
    });
  }
  return Number(v);
}

/**
 * Check that [start, start + length) claimed by a file lies within [lowest, fileSize) before it
 * is read. Returns start and length as safe numbers.
 */
export function checkClaimedExtent(
  start: bigint | number,
  length: bigint | number,
  fileSize: number,
  site: ClaimSite & { lowest?: number },
): { start: number; length: number } {
  const lowest = site.lowest ?? 0;
  const s = typeof start === 'bigint' ? start : BigInt(Math.trunc(start));
  const n = typeof length === 'bigint' ? length : BigInt(Math.trunc(length));
  if (s < BigInt(lowest) || n < 0n || s + n > BigInt(fileSize)) {
    throw new TokusimError('bad-length', `${site.field} lies outside the file`, {
      file: site.file,
      offset: site.offset,
      expected: `within [${lowest}, ${fileSize}) (file size ${fileSize})`,
      actual: `[${s}, ${s + n})`,
    });
  }
  return { start: Number(s), length: Number(n) };
}

/** Read a hi/lo-word u64 from buf at off without a reader (hot paths). */
export function readU64At(buf: Uint8Array, off: number): bigint {
  const hi = (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
  const lo = (buf[off + 4]! | (buf[off + 5]! << 8) | (buf[off + 6]! << 16) | (buf[off + 7]! << 24)) >>> 0;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** Read a little-endian u32 from buf at off. */
export function readU32At(buf: Uint8Array, off: number): number {
  return (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
}

/** The total length of a list of byte arrays. */
export function totalLength(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}
