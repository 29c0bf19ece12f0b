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
 * Inputs of WASM_MIN bytes or more go through a WebAssembly kernel (x1764-wasm.ts) that has a
 * real 64-bit multiply: the bytes are copied into its memory a chunk at a time and folded
 * there, a few times faster again. Without WebAssembly the JavaScript loop does everything.
 */
import { instantiate, x1764SharedWasmBytes, x1764WasmBytes, X1764_WASM_CHUNK, type X1764Kernel } from './x1764-wasm.js';

/**
 * A DataView of the buffer last checksummed: callers usually checksum many entries of one
 * buffer, and two unaligned 32-bit loads per group beat eight byte loads. (It keeps that one
 * buffer reachable until another is checksummed.)
 */
let viewOf: Uint8Array | undefined;
let view: DataView | undefined;

/** The WebAssembly kernel (null without WebAssembly), and the input size from which it pays. */
let wasm: X1764Kernel | null = instantiate(x1764WasmBytes());
const WASM_CHUNK = X1764_WASM_CHUNK;
const WASM_MIN = 512;

/** @internal For tests: run x1764 with or without its WebAssembly kernel. */
export function useX1764Wasm(on: boolean): void {
  wasm = on ? instantiate(x1764WasmBytes()) : null;
}

/** True when x1764 uses the WebAssembly kernel for large inputs. */
export function x1764UsesWasm(): boolean {
  return wasm !== null;
}

/**
 * Checksum of bytes [start, end) of buf. `lo` and `hi` are the accumulator to start from
 * (0, 0 for a fresh checksum; x1764Parts passes the state of the bytes before these).
 */
export function x1764(buf: Uint8Array, start = 0, end = buf.length, lo = 0, hi = 0): number {
  let i = start;
  const fullEnd = start + ((end - start) & ~7);
  if (wasm !== null && fullEnd - i >= WASM_MIN) {
    // Whole groups through the kernel, a chunk at a time; it hands back the accumulator.
    const k = wasm;
    while (i < fullEnd) {
      const n = Math.min(WASM_CHUNK, fullEnd - i);
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
 * x1764 of the concatenation of parts, without concatenating them: with the WebAssembly
 * kernel the parts are streamed into its memory a chunk at a time (the copy x1764 makes
 * anyway) and folded with the state carried across; without it they are joined and summed.
 * Uses nothing but x1764's globals, so it also runs in the frame workers' script.
 */
export function x1764Parts(parts: readonly Uint8Array[]): number {
  if (parts.length === 1) return x1764(parts[0]!);
  const k = wasm;
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
  let lo = 0;
  let hi = 0;
  let fill = 0;
  for (const p of parts) {
    let off = 0;
    while (off < p.length) {
      const n = Math.min(WASM_CHUNK - fill, p.length - off);
      k.mem.set(off === 0 && n === p.length ? p : p.subarray(off, off + n), fill);
      fill += n;
      off += n;
      if (fill === WASM_CHUNK) {
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
 * x1764 of the concatenation of byte ranges [offs[i], offs[i] + lens[i]) of `mem`, a view of a
 * shared WebAssembly.Memory from offset 0, folded in place by `k` (instantiateShared over that
 * memory): nothing is copied. Every range but the last must hold whole 8-byte groups (as
 * pages do); otherwise, or without a kernel, the ranges go through x1764Parts. Uses nothing
 * but x1764's globals, so it also runs in the frame workers' script.
 */
export function x1764Ranges(
  k: { foldAt(start: number, end: number, lo: number, hi: number): number; hi(): number } | null,
  mem: Uint8Array,
  offs: ArrayLike<number>,
  lens: ArrayLike<number>,
): number {
  const n = offs.length;
  let whole = k !== null && n > 0;
  for (let i = 0; whole && i < n - 1; i++) if (lens[i]! % 8 !== 0) whole = false;
  if (!whole) {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < n; i++) parts.push(mem.subarray(offs[i]!, offs[i]! + lens[i]!));
    return x1764Parts(parts);
  }
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < n - 1; i++) {
    if (lens[i]! === 0) continue;
    lo = k!.foldAt(offs[i]!, offs[i]! + lens[i]!, lo, hi);
    hi = k!.hi();
  }
  // The last range: its whole groups in place, then its 1..7 byte tail from the state so far.
  const start = offs[n - 1]!;
  const end = start + lens[n - 1]!;
  const full = start + (lens[n - 1]! & ~7);
  if (full > start) {
    lo = k!.foldAt(start, full, lo, hi);
    hi = k!.hi();
  }
  return x1764(mem, full, end, lo, hi);
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

  /** Feeds bytes start..end of buf into the checksum. */
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

  /** Feeds one byte (its low 8 bits) into the checksum. */
  addByte(b: number): void {
    this.pending[this.npending++] = b & 0xff;
    if (this.npending === 8) {
      this.fold(this.pending, 0);
      this.npending = 0;
    }
  }

  /** The checksum of everything added so far (does not reset the state). */
  finish(): number {
    const { hi, lo } = this;
    if (this.npending > 0) {
      // The tail is folded as one group zero-padded at the high end; the state is put back.
      this.pending.fill(0, this.npending);
      this.fold(this.pending, 0);
    }
    const sum = ~(this.lo ^ this.hi) >>> 0;
    this.hi = hi;
    this.lo = lo;
    return sum;
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

/**
 * Source text of a script that defines `x1764`, `x1764Parts`, `x1764Ranges` (with the
 * WebAssembly kernel when the runtime has one) and `x1764SharedKernel(memory)` (the in-place
 * kernel over a shared memory, or null) using nothing but globals: for worker threads started
 * from source text.
 */
export function x1764ScriptSource(): string {
  return [
    `'use strict';`,
    `let viewOf, view;`,
    `const WASM_CHUNK = ${WASM_CHUNK}, WASM_MIN = ${WASM_MIN};`,
    `let wasm = null;`,
    `try {`,
    `  const ex = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array([${x1764WasmBytes().join(',')}]))).exports;`,
    `  wasm = { mem: new Uint8Array(ex.mem.buffer, 0, WASM_CHUNK), fold: ex.fold, hi: ex.hi };`,
    `} catch { wasm = null; }`,
    `const x1764 = ${x1764.toString()};`,
    `const x1764Parts = ${x1764Parts.toString()};`,
    `const x1764Ranges = ${x1764Ranges.toString()};`,
    `const x1764SharedKernel = (memory) => {`,
    `  try {`,
    `    const ex = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array([${x1764SharedWasmBytes().join(',')}])), { env: { mem: memory } }).exports;`,
    `    return { foldAt: ex.foldAt, hi: ex.hi };`,
    `  } catch { return null; }`,
    `};`,
  ].join('\n');
}
