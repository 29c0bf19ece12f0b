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
 * The accumulator is kept as two 32-bit halves in doubles: lo*17 + w < 2^37 stays exact.
 */

const TWO32 = 4294967296;

/** Checksum of bytes [start, end) of buf. */
export function x1764(buf: Uint8Array, start = 0, end = buf.length): number {
  let hi = 0;
  let lo = 0;
  let i = start;
  const fullEnd = start + ((end - start) & ~7);
  while (i < fullEnd) {
    const wlo = (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)) >>> 0;
    const whi = (buf[i + 4]! | (buf[i + 5]! << 8) | (buf[i + 6]! << 16) | (buf[i + 7]! << 24)) >>> 0;
    const l = lo * 17 + wlo;
    const carry = Math.floor(l / TWO32);
    lo = l - carry * TWO32;
    hi = (Math.imul(hi, 17) + whi + carry) >>> 0;
    i += 8;
  }
  if (i < end) {
    let wlo = 0;
    let whi = 0;
    for (let k = 0; i + k < end; k++) {
      const b = buf[i + k]!;
      if (k < 4) wlo += b * 2 ** (8 * k);
      else whi += b * 2 ** (8 * (k - 4));
    }
    const l = lo * 17 + wlo;
    const carry = Math.floor(l / TWO32);
    lo = l - carry * TWO32;
    hi = (Math.imul(hi, 17) + whi + carry) >>> 0;
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
    while (i + 8 <= end) {
      this.fold(buf, i);
      i += 8;
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
        if (k < 4) wlo += b * 2 ** (8 * k);
        else whi += b * 2 ** (8 * (k - 4));
      }
      const l = lo * 17 + wlo;
      const carry = Math.floor(l / TWO32);
      lo = l - carry * TWO32;
      hi = (Math.imul(hi, 17) + whi + carry) >>> 0;
    }
    return ~(lo ^ hi) >>> 0;
  }

  private fold(buf: Uint8Array, i: number): void {
    const wlo = (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)) >>> 0;
    const whi = (buf[i + 4]! | (buf[i + 5]! << 8) | (buf[i + 6]! << 16) | (buf[i + 7]! << 24)) >>> 0;
    const l = this.lo * 17 + wlo;
    const carry = Math.floor(l / TWO32);
    this.lo = l - carry * TWO32;
    this.hi = (Math.imul(this.hi, 17) + whi + carry) >>> 0;
  }
}
