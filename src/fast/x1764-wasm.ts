/**
 * A WebAssembly kernel for x1764's inner loop, hand-assembled here opcode by opcode (no
 * toolchain, no generated file): JavaScript has no 64-bit integer multiply, so
 * format/x1764.ts emulates one with 16- and 32-bit pieces, while WebAssembly's i64.mul does
 * the real thing. Nothing is instantiated when this module loads: installFastPaths plugs the
 * kernel into x1764 (setX1764Kernel), and a frame worker makes its own.
 *
 * The kernel folds whole 8-byte groups of its own memory into the 64-bit accumulator s:
 * s = s*17 + w for each little-endian group w. Four groups at a time it uses the unrolled
 * form s = s*17^4 + w0*17^3 + w1*17^2 + w2*17 + w3 (the same value mod 2^64, with the four
 * products independent of each other, so the CPU overlaps them).
 *
 * Exports: `mem` (its memory: CHUNK bytes of scratch at offset 0), `fold(len, lo, hi)`
 * (folds bytes [0, len) of mem, len a multiple of 8, into s = hi:lo; returns the new low
 * word) and `hi()` (the new high word of the last fold).
 *
 * A second module (x1764SharedWasmBytes) has the same loop over a memory it imports: a shared
 * WebAssembly.Memory (shared-pages.ts) whose pages hold node bytes, so a frame worker
 * folds them where they lie, with no copy into scratch. It exports `foldAt(start, end, lo, hi)`
 * (bytes [start, end) of the imported memory, end - start a multiple of 8, end < 2^32; the
 * comparisons are unsigned) and `hi()`.
 *
 * Invariants:
 *  - The kernel computes exactly what the JavaScript loop of x1764.ts computes (tested against
 *    it on random inputs, lengths and chunkings).
 *  - When WebAssembly is unavailable, x1764Kernel() returns undefined and callers use the
 *    JavaScript loop; nothing else changes.
 */

import { x1764, x1764Parts, type X1764Kernel } from '../format/x1764.js';

/** Bytes the kernel folds per call (its scratch memory). */
export const X1764_WASM_CHUNK = 64 * 1024;

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a small non-negative or negative integer (|n| < 2^31). */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

const str = (s: string): number[] => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

// Opcodes and types used below (WebAssembly core spec, binary format).
const I32 = 0x7f;
const I64 = 0x7e;
const OP = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  globalGet: 0x23,
  globalSet: 0x24,
  i64Load: 0x29,
  i32Const: 0x41,
  i64Const: 0x42,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32And: 0x71,
  i64Add: 0x7c,
  i64Mul: 0x7e,
  i64Or: 0x84,
  i64Shl: 0x86,
  i64ShrU: 0x88,
  i32WrapI64: 0xa7,
  i64ExtendI32U: 0xad,
} as const;
const EMPTY_BLOCK = 0x40;

/**
 * The body of the fold loop. Locals: `start` (the first address; a constant 0 when the
 * function has no such parameter) and `end` (one past the last), lo, hi, then s (i64), p and
 * end4 (i32).
 */
function foldCode(locals: { start: number | null; end: number; lo: number; hi: number; s: number; p: number; end4: number }): number[] {
  const { start, end: END, lo: LO, hi: HI, s: S, p: P, end4: END4 } = locals;
  const get = (i: number): number[] => [OP.localGet, i];
  const set = (i: number): number[] => [OP.localSet, i];
  const load = (offset: number): number[] => [...get(P), OP.i64Load, 3, ...uleb(offset)];
  const mulConst = (k: number): number[] => [OP.i64Const, ...sleb(k), OP.i64Mul];
  const startCode = start === null ? [OP.i32Const, 0] : get(start);
  return [
    // s = (u64(hi) << 32) | u64(lo); p = start
    ...get(HI), OP.i64ExtendI32U, OP.i64Const, ...sleb(32), OP.i64Shl,
    ...get(LO), OP.i64ExtendI32U, OP.i64Or, ...set(S),
    ...startCode, ...set(P),
    // end4 = start + ((end - start) & ~31)
    ...startCode, ...get(END), ...startCode, OP.i32Sub, OP.i32Const, ...sleb(-32), OP.i32And, OP.i32Add, ...set(END4),
    // while (p < end4) { s = s*17^4 + w0*17^3 + w1*17^2 + w2*17 + w3; p += 32 }
    OP.block, EMPTY_BLOCK, OP.loop, EMPTY_BLOCK,
    ...get(P), ...get(END4), OP.i32GeU, OP.brIf, 1,
    ...get(S), ...mulConst(83521),
    ...load(0), ...mulConst(4913), OP.i64Add,
    ...load(8), ...mulConst(289), OP.i64Add,
    ...load(16), ...mulConst(17), OP.i64Add,
    ...load(24), OP.i64Add,
    ...set(S),
    ...get(P), OP.i32Const, ...sleb(32), OP.i32Add, ...set(P),
    OP.br, 0, OP.end, OP.end,
    // while (p < end) { s = s*17 + w; p += 8 }
    OP.block, EMPTY_BLOCK, OP.loop, EMPTY_BLOCK,
    ...get(P), ...get(END), OP.i32GeU, OP.brIf, 1,
    ...get(S), ...mulConst(17), ...load(0), OP.i64Add, ...set(S),
    ...get(P), OP.i32Const, ...sleb(8), OP.i32Add, ...set(P),
    OP.br, 0, OP.end, OP.end,
    // the high word to the global, the low word returned
    ...get(S), OP.i64Const, ...sleb(32), OP.i64ShrU, OP.i32WrapI64, OP.globalSet, 0,
    ...get(S), OP.i32WrapI64,
    OP.end,
  ];
}

const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const HI_BODY = [0, OP.globalGet, 0, OP.end];
// one mutable i32 global, initially 0 (the high word of the last fold)
const GLOBAL_SECTION = section(6, vec([[I32, 1, OP.i32Const, 0, OP.end]]));

/** The module's bytes. */
export function x1764WasmBytes(): Uint8Array {
  // Locals of fold: 0 len, 1 lo, 2 hi (params); 3 s (i64); 4 p, 5 end4 (i32).
  const fold = foldCode({ start: null, end: 0, lo: 1, hi: 2, s: 3, p: 4, end4: 5 });
  const foldBody = [...vec([[1, I64], [2, I32]]), ...fold];
  const pages = X1764_WASM_CHUNK / 65536;
  const bytes = [
    ...HEADER,
    // types: 0 = () -> i32, 1 = (i32, i32, i32) -> i32
    ...section(1, vec([[0x60, 0, 1, I32], [0x60, 3, I32, I32, I32, 1, I32]])),
    // functions: hi has type 0, fold type 1
    ...section(3, vec([[0], [1]])),
    // one memory, `pages` pages, no maximum
    ...section(5, vec([[0x00, ...uleb(pages)]])),
    ...GLOBAL_SECTION,
    ...section(7, vec([[...str('mem'), 2, 0], [...str('hi'), 0, 0], [...str('fold'), 0, 1]])),
    ...section(10, vec([[...uleb(HI_BODY.length), ...HI_BODY], [...uleb(foldBody.length), ...foldBody]])),
  ];
  return new Uint8Array(bytes);
}

/** The largest shared memory the in-place kernel accepts: 65536 pages of 64 KiB (4 GiB, all of wasm32). */
export const X1764_SHARED_MAX_PAGES = 65536;

/** The in-place module's bytes: it imports `env.mem`, a shared memory of at most X1764_SHARED_MAX_PAGES pages. */
export function x1764SharedWasmBytes(): Uint8Array {
  // (A memory of the full 4 GiB would put end = 2^32 out of i32 range: users keep below it.)
  // Locals of foldAt: 0 start, 1 end, 2 lo, 3 hi (params); 4 s (i64); 5 p, 6 end4 (i32).
  const fold = foldCode({ start: 0, end: 1, lo: 2, hi: 3, s: 4, p: 5, end4: 6 });
  const foldBody = [...vec([[1, I64], [2, I32]]), ...fold];
  const bytes = [
    ...HEADER,
    // types: 0 = () -> i32, 1 = (i32, i32, i32, i32) -> i32
    ...section(1, vec([[0x60, 0, 1, I32], [0x60, 4, I32, I32, I32, I32, 1, I32]])),
    // import env.mem: a memory, limits flag 3 (shared, with a maximum), min 0
    ...section(2, vec([[...str('env'), ...str('mem'), 2, 0x03, 0, ...uleb(X1764_SHARED_MAX_PAGES)]])),
    ...section(3, vec([[0], [1]])),
    ...GLOBAL_SECTION,
    ...section(7, vec([[...str('hi'), 0, 0], [...str('foldAt'), 0, 1]])),
    ...section(10, vec([[...uleb(HI_BODY.length), ...HI_BODY], [...uleb(foldBody.length), ...foldBody]])),
  ];
  return new Uint8Array(bytes);
}

/** The little of the WebAssembly JS API used here (the project's type libraries omit it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: object };
}
interface WasmImportApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
/** The in-place kernel, bound to one shared memory. */
export interface SharedX1764Kernel {
  foldAt(start: number, end: number, lo: number, hi: number): number;
  hi(): number;
}

/** The in-place kernel over `memory` (a shared WebAssembly.Memory), or null if WebAssembly refuses it. */
export function instantiateShared(memory: object): SharedX1764Kernel | null {
  const wa = (globalThis as { WebAssembly?: WasmImportApi }).WebAssembly;
  if (wa === undefined) return null;
  try {
    const ex = new wa.Instance(new wa.Module(x1764SharedWasmBytes()), { env: { mem: memory } }).exports as SharedX1764Kernel;
    return { foldAt: ex.foldAt, hi: ex.hi };
  } catch {
    return null;
  }
}

interface KernelExports {
  mem: { buffer: ArrayBuffer };
  fold(len: number, lo: number, hi: number): number;
  hi(): number;
}

/** A new kernel (its own memory), or null where WebAssembly is missing or refuses it. */
export function wasmX1764Kernel(): X1764Kernel | null {
  return instantiate(x1764WasmBytes());
}

/** Instantiate the module from its bytes (null if WebAssembly is missing or refuses it). */
export function instantiate(bytes: Uint8Array): X1764Kernel | null {
  const wa = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (wa === undefined) return null;
  try {
    const ex = new wa.Instance(new wa.Module(bytes)).exports as KernelExports;
    return { mem: new Uint8Array(ex.mem.buffer, 0, X1764_WASM_CHUNK), fold: ex.fold, hi: ex.hi };
  } catch {
    return null;
  }
}

/**
 * x1764 of the concatenation of byte ranges [offs[i], offs[i] + lens[i]) of `mem`, a view of a
 * shared WebAssembly.Memory from offset 0, folded in place by `k` (instantiateShared over that
 * memory): nothing is copied. Every range but the last must hold whole 8-byte groups (as
 * pages do); otherwise, or without a kernel, the ranges go through x1764Parts.
 */
export function x1764Ranges(k: SharedX1764Kernel | null, mem: Uint8Array, offs: ArrayLike<number>, lens: ArrayLike<number>): number {
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
