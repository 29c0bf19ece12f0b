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
 *  - With or without a kernel plugged in (setX1764Kernel), every function here returns the
 *    same value; this module itself is plain JavaScript and instantiates nothing.
 *
 * The accumulator is two int32 words, hi and lo; foldGroups is the one place the update
 * s = s*17 + w is written. The low word is multiplied by 17 in two 16-bit halves so every
 * intermediate stays a small integer (no floating point); the carry out of the low word (at
 * most 5 bits) goes into the high word, which Math.imul multiplies modulo 2^32.
 */

/**
 * A faster fold of whole 8-byte groups (the fast paths plug in a WebAssembly one with a real
 * 64-bit multiply, fast/x1764-wasm.ts): `mem` is its scratch memory, `fold(len, lo, hi)` folds
 * bytes [0, len) of mem (len a multiple of 8, at most mem.length) into s = hi:lo and returns
 * the new low word, `hi()` the new high word of that fold.
 */
export interface X1764Kernel {
  readonly mem: Uint8Array;
  fold(len: number, lo: number, hi: number): number;
  hi(): number;
}

/** The kernel plugged in (null: the JavaScript loop does everything), and the input size from which it pays. */
let kernel: X1764Kernel | null = null;
const KERNEL_MIN = 512;

/** Plug in (or, with null, take out) the kernel x1764 uses for inputs of 512 bytes and more. */
export function setX1764Kernel(k: X1764Kernel | null): void {
  kernel = k;
}

/** True when x1764 uses a plugged-in kernel (WebAssembly) for large inputs. */
export function x1764UsesWasm(): boolean {
  return kernel !== null;
}

/** The high word of the accumulator after the last foldGroups. */
let foldedHi = 0;

/**
 * Fold the 8-byte groups of dv from byte i to end (end - i a multiple of 8) into s = hi:lo,
 * s = s*17 + w for each little-endian group w: returns the new low word and leaves the new
 * high word in foldedHi. The one place the update is written.
 */
function foldGroups(dv: DataView, i: number, end: number, lo: number, hi: number): number {
  while (i < end) {
    // The low word of w as two 16-bit halves, the high word as an int32.
    const wl = dv.getUint32(i, true);
    const t0 = (lo & 0xffff) * 17 + (wl & 0xffff);
    const t1 = (lo >>> 16) * 17 + (wl >>> 16) + (t0 >>> 16);
    lo = (t1 << 16) | (t0 & 0xffff);
    hi = (Math.imul(hi, 17) + dv.getInt32(i + 4, true) + (t1 >>> 16)) | 0;
    i += 8;
  }
  foldedHi = hi;
  return lo;
}

/** An 8-byte group for a zero-padded tail, and a view of it. */
const tailGroup = new Uint8Array(8);
const tailView = new DataView(tailGroup.buffer);

/**
 * A DataView of the buffer last checksummed: callers usually checksum many entries of one
 * buffer, and two unaligned 32-bit loads per group beat eight byte loads. (It keeps that one
 * buffer reachable until another is checksummed.)
 */
let viewOf: Uint8Array | undefined;
let view: DataView | undefined;

/**
 * Checksum of bytes [start, end) of buf. `lo` and `hi` are the accumulator to start from
 * (0, 0 for a fresh checksum; x1764Parts passes the state of the bytes before these).
 */
export function x1764(buf: Uint8Array, start = 0, end = buf.length, lo = 0, hi = 0): number {
  let i = start;
  const fullEnd = start + ((end - start) & ~7);
  if (kernel !== null && fullEnd - i >= KERNEL_MIN) {
    // Whole groups through the kernel, a chunk at a time; it hands back the accumulator.
    const k = kernel;
    const chunk = k.mem.length & ~7;
    while (i < fullEnd) {
      const n = Math.min(chunk, fullEnd - i);
      k.mem.set(buf.subarray(i, i + n));
      lo = k.fold(n, lo, hi);
      hi = k.hi();
      i += n;
    }
  }
  if (i < fullEnd) {
    if (buf !== viewOf) {
      viewOf = buf;
      view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    lo = foldGroups(view!, i, fullEnd, lo, hi);
    hi = foldedHi;
    i = fullEnd;
  }
  if (i < end) {
    // The 1..7 byte tail, zero-padded at the high end.
    for (let k = 0; k < 8; k++) tailGroup[k] = i + k < end ? buf[i + k]! : 0;
    lo = foldGroups(tailView, 0, 8, lo, hi);
    hi = foldedHi;
  }
  return ~(lo ^ hi) >>> 0;
}

/**
 * x1764 of the concatenation of parts, without concatenating them: with a kernel the parts are
 * streamed into its memory a chunk at a time (the copy x1764 makes anyway) and folded with the
 * state carried across; without one they are joined and summed.
 */
export function x1764Parts(parts: readonly Uint8Array[]): number {
  if (parts.length === 1) return x1764(parts[0]!);
  const k = kernel;
  if (k === null) {
    let total = 0;
    for (const p of parts) total += p.length;
    const joined = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      joined.set(p, at);
      at += p.length;
    }
    return x1764(joined);
  }
  const chunk = k.mem.length & ~7;
  let lo = 0;
  let hi = 0;
  let fill = 0;
  for (const p of parts) {
    let off = 0;
    while (off < p.length) {
      const n = Math.min(chunk - fill, p.length - off);
      k.mem.set(off === 0 && n === p.length ? p : p.subarray(off, off + n), fill);
      fill += n;
      off += n;
      if (fill === chunk) {
        lo = k.fold(fill, lo, hi);
        hi = k.hi();
        fill = 0;
      }
    }
  }
  // The last partial chunk, its 1..7 byte tail included, from the state so far.
  return x1764(k.mem, 0, fill, lo, hi);
}

/**
 * Incremental x1764 over a byte stream fed in arbitrary pieces (PerconaFT's
 * init/add/finish form). Bytes are buffered until a full 8-byte group is available.
 */
export class X1764 {
  private hi = 0;
  private lo = 0;
  private readonly pending = new Uint8Array(8);
  private readonly pendingView = new DataView(this.pending.buffer);
  private npending = 0;

  /** Feeds bytes start..end of buf into the checksum. */
  add(buf: Uint8Array, start = 0, end = buf.length): void {
    let i = start;
    while (i < end && this.npending > 0) this.addByte(buf[i++]!);
    if (i + 8 <= end) {
      // Whole groups, folded where they lie.
      const groupsEnd = i + ((end - i) & ~7);
      this.lo = foldGroups(new DataView(buf.buffer, buf.byteOffset, buf.byteLength), i, groupsEnd, this.lo, this.hi);
      this.hi = foldedHi;
      i = groupsEnd;
    }
    while (i < end) this.pending[this.npending++] = buf[i++]!;
  }

  /** Feeds one byte (its low 8 bits) into the checksum. */
  addByte(b: number): void {
    this.pending[this.npending++] = b & 0xff;
    if (this.npending === 8) {
      this.foldPending();
      this.npending = 0;
    }
  }

  /** The checksum of everything added so far (does not reset the state). */
  finish(): number {
    const { hi, lo } = this;
    if (this.npending > 0) {
      // The tail is folded as one group zero-padded at the high end; the state is put back.
      this.pending.fill(0, this.npending);
      this.foldPending();
    }
    const sum = ~(this.lo ^ this.hi) >>> 0;
    this.hi = hi;
    this.lo = lo;
    return sum;
  }

  private foldPending(): void {
    this.lo = foldGroups(this.pendingView, 0, 8, this.lo, this.hi);
    this.hi = foldedHi;
  }
}
