/**
 * x1764: PerconaFT's 32-bit checksum for log entries and on-disk blocks.
 *
 * Definition (spec tokulog-format.md §6): a 64-bit accumulator s starts at 0; each 8-byte
 * group of the input, read as a little-endian u64 w, updates s = s*17 + w (mod 2^64); a final
 * 1..7 byte tail is zero-padded at the high end and folded in the same way once. The result is
 * NOT(low32(s) XOR high32(s)).
 *
 * Invariants:
 *  - x1764(empty) === 0xffffffff.
 *  - The incremental form (X1764 class) gives the same value as x1764() for any chunking.
 *
 * Speed: the accumulator is two int32 words, hi and lo. The low word is multiplied by 17 in
 * two 16-bit halves so every intermediate stays a small integer (no floating point division);
 * the carry out of the low word (at most 5 bits) goes into the high word, which Math.imul
 * multiplies modulo 2^32. This runs several times faster in V8 than a double-based version.
 */

/**
 * A DataView of the buffer last checksummed: callers usually checksum many entries of one
 * buffer, and two unaligned 32-bit loads per group beat eight byte loads. (It keeps that one
 * buffer reachable until another is checksummed.)
 */
let viewOf: Uint8Array | undefined;
let view: DataView | undefined;

/** Checksum of bytes [start, end) of buf. */
export function x1764(buf: Uint8Array, start = 0, end = buf.length): number {
  let hi = 0;
  let lo = 0;
  let i = start;
  const fullEnd = start + ((end - start) & ~7);
  if (i < fullEnd) {
    if (buf !== viewOf) {
      viewOf = buf;
      view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    const dv = view!;
    while (i < fullEnd) {
      // The low word of w as two 16-bit halves, the high word as an int32.
      const wl = dv.getUint32(i, true);
      const w2 = dv.getInt32(i + 4, true);
      const t0 = (lo & 0xffff) * 17 + (wl & 0xffff);
      const t1 = (lo >>> 16) * 17 + (wl >>> 16) + (t0 >>> 16);
      lo = (t1 << 16) | (t0 & 0xffff);
      hi = (Math.imul(hi, 17) + w2 + (t1 >>> 16)) | 0;
      i += 8;
    }
  }
  if (i < end) {
    // The 1..7 byte tail, zero-padded at the high end.
    let wlo = 0;
    let whi = 0;
    const n = end - i;
    for (let k = 0; k < n; k++) {
      const b = buf[i + k]!;
      if (k < 4) wlo |= b << (8 * k);
      else whi |= b << (8 * k - 32);
    }
    const t0 = (lo & 0xffff) * 17 + (wlo & 0xffff);
    const t1 = (lo >>> 16) * 17 + (wlo >>> 16) + (t0 >>> 16);
    lo = (t1 << 16) | (t0 & 0xffff);
    hi = (Math.imul(hi, 17) + whi + (t1 >>> 16)) | 0;
  }
  return ~(lo ^ hi) >>> 0;
}

/**
 * Incremental x1764 over a byte stream fed in arbitrary pieces (PerconaFT's
 * init/add/finish form). Bytes are buffered until a full 8-byte group is available.
 */
export class X1764 {
  private hi = 0;
  private lo = 0;
  private readonly pending = new Uint8Array(8);
  private npending = 0;

  add(buf: Uint8Array, start = 0, end = buf.length): void {
    let i = start;
    while (i < end && this.npending > 0) {
      this.pending[this.npending++] = buf[i++]!;
      if (this.npending === 8) {
        this.fold(this.pending, 0);
        this.npending = 0;
      }
    }
    if (i + 8 <= end) {
      // Whole groups: fold them with local state, as x1764() does.
      let hi = this.hi;
      let lo = this.lo;
      while (i + 8 <= end) {
        const w0 = buf[i]! | (buf[i + 1]! << 8);
        const w1 = buf[i + 2]! | (buf[i + 3]! << 8);
        const w2 = buf[i + 4]! | (buf[i + 5]! << 8) | (buf[i + 6]! << 16) | (buf[i + 7]! << 24);
        const t0 = (lo & 0xffff) * 17 + w0;
        const t1 = (lo >>> 16) * 17 + w1 + (t0 >>> 16);
        lo = (t1 << 16) | (t0 & 0xffff);
        hi = (Math.imul(hi, 17) + w2 + (t1 >>> 16)) | 0;
        i += 8;
      }
      this.hi = hi;
      this.lo = lo;
    }
    while (i < end) this.pending[this.npending++] = buf[i++]!;
  }

  addByte(b: number): void {
    this.pending[this.npending++] = b & 0xff;
    if (this.npending === 8) {
      this.fold(this.pending, 0);
      this.npending = 0;
    }
  }

  /** The checksum of everything added so far (does not reset the state). */
  finish(): number {
    let hi = this.hi;
    let lo = this.lo;
    if (this.npending > 0) {
      let wlo = 0;
      let whi = 0;
      for (let k = 0; k < this.npending; k++) {
        const b = this.pending[k]!;
        if (k < 4) wlo |= b << (8 * k);
        else whi |= b << (8 * k - 32);
      }
      const t0 = (lo & 0xffff) * 17 + (wlo & 0xffff);
      const t1 = (lo >>> 16) * 17 + (wlo >>> 16) + (t0 >>> 16);
      lo = (t1 << 16) | (t0 & 0xffff);
      hi = (Math.imul(hi, 17) + whi + (t1 >>> 16)) | 0;
    }
    return ~(lo ^ hi) >>> 0;
  }

  private fold(buf: Uint8Array, i: number): void {
    const w0 = buf[i]! | (buf[i + 1]! << 8);
    const w1 = buf[i + 2]! | (buf[i + 3]! << 8);
    const w2 = buf[i + 4]! | (buf[i + 5]! << 8) | (buf[i + 6]! << 16) | (buf[i + 7]! << 24);
    const lo = this.lo;
    const t0 = (lo & 0xffff) * 17 + w0;
    const t1 = (lo >>> 16) * 17 + w1 + (t0 >>> 16);
    this.lo = (t1 << 16) | (t0 & 0xffff);
    this.hi = (Math.imul(this.hi, 17) + w2 + (t1 >>> 16)) | 0;
  }
}
