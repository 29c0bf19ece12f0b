/**
 * The fast paths' x1764 kernels: the WebAssembly fold plugged into x1764 (setX1764Kernel) and
 * the in-place fold over a shared memory (x1764Ranges) give exactly what the JavaScript loop
 * of format/x1764.ts gives.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { setX1764Kernel, x1764, x1764Parts, x1764UsesWasm } from '../../src/format/x1764.js';
import { instantiateShared, wasmX1764Kernel, x1764Ranges, X1764_WASM_CHUNK } from '../../src/fast/x1764-wasm.js';

const ascii = (s: string) => new TextEncoder().encode(s);

/** Plug the WebAssembly kernel in, or take it out. */
function useX1764Wasm(on: boolean): void {
  setX1764Kernel(on ? wasmX1764Kernel() : null);
}

describe('x1764 kernels', () => {
  beforeAll(() => useX1764Wasm(true));
  afterAll(() => useX1764Wasm(false));

  it('the WebAssembly kernel checksums the spec vector', () => {
    expect(x1764UsesWasm()).toBe(true); // Node has WebAssembly: the kernel is in use
    const buf = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 31) & 0xff);
    useX1764Wasm(false);
    const plain = x1764(buf);
    useX1764Wasm(true);
    expect(x1764(buf)).toBe(plain);
    expect(x1764(ascii('hello world'))).toBe(0xaa81f0c3);
  });

  // Property: with and without the WebAssembly kernel, x1764 of any range of any buffer is the
  // same, including ranges longer than the kernel's chunk and ranges not starting on 8 bytes.
  it('gives the same value with and without its WebAssembly kernel', () => {
    expect(x1764UsesWasm()).toBe(true);
    const big = Uint8Array.from({ length: 3 * X1764_WASM_CHUNK + 77 }, (_, i) => (i * 2654435761) >>> 23);
    try {
      fc.assert(
        fc.property(fc.nat(big.length), fc.nat(big.length), fc.integer({ min: 0, max: 255 }), (a, b, flip) => {
          const [start, end] = a <= b ? [a, b] : [b, a];
          const buf = big.slice();
          buf[start] = flip;
          useX1764Wasm(true);
          const withKernel = x1764(buf, start, end);
          useX1764Wasm(false);
          const without = x1764(buf, start, end);
          return withKernel === without;
        }),
        { numRuns: 200 },
      );
    } finally {
      useX1764Wasm(true);
    }
  });

  // Property: x1764Parts of any split (parts of any length, longer than the kernel's chunk or
  // empty, not on 8-byte boundaries) is x1764 of the concatenation, with and without the kernel,
  // (the frame workers run this same function).
  it('x1764Parts of any split equals x1764 of the whole', () => {
    const big = Uint8Array.from({ length: 2 * X1764_WASM_CHUNK + 301 }, (_, i) => (i * 2654435761) >>> 21);
    try {
      fc.assert(
        fc.property(fc.array(fc.nat(big.length), { maxLength: 12 }), fc.nat(big.length), fc.boolean(), (cuts, end, kernel) => {
          const points = [...new Set([0, ...cuts.filter((c) => c <= end), end])].sort((a, b) => a - b);
          const parts = points.slice(1).map((p, i) => big.subarray(points[i]!, p));
          if (parts.length === 0) parts.push(big.subarray(0, 0));
          parts.splice(Math.min(1, parts.length), 0, big.subarray(5, 5)); // an empty part in the middle
          useX1764Wasm(kernel);
          const whole = x1764(big, 0, end);
          expect(x1764Parts(parts)).toBe(whole);
        }),
        { numRuns: 200 },
      );
    } finally {
      useX1764Wasm(true);
    }
  });

  // Property: x1764Ranges folds byte ranges of a shared WebAssembly.Memory in place, and
  // equals x1764 of their concatenation: ranges anywhere (overlapping or out of order), of
  // whole groups or (the last, or any when the copy path is taken) of any length; with the
  // in-place kernel and without one (the frame workers run this same function).
  it('x1764Ranges of ranges of a shared memory equals x1764 of their concatenation', () => {
    const W = (globalThis as unknown as { WebAssembly: { Memory: new (d: object) => { buffer: SharedArrayBuffer } } }).WebAssembly;
    const memory = new W.Memory({ initial: 4, maximum: 8, shared: true });
    const mem = new Uint8Array(memory.buffer);
    for (let i = 0; i < mem.length; i++) mem[i] = (i * 2654435761) >>> 23;
    const k = instantiateShared(memory);
    expect(k).not.toBeNull();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(mem.length - 1), fc.nat(3 * X1764_WASM_CHUNK)), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        (ranges, groups) => {
          const offs: number[] = [];
          const lens: number[] = [];
          ranges.forEach(([off, len], i) => {
            let n = Math.min(len, mem.length - off);
            if (groups && i < ranges.length - 1) n &= ~7;
            offs.push(off);
            lens.push(n);
          });
          const whole = new Uint8Array(lens.reduce((a, b) => a + b, 0));
          let at = 0;
          offs.forEach((o, i) => {
            whole.set(mem.subarray(o, o + lens[i]!), at);
            at += lens[i]!;
          });
          const want = x1764(whole);
          expect(x1764Ranges(k, mem, offs, lens)).toBe(want);
          expect(x1764Ranges(null, mem, offs, lens)).toBe(want);
        },
      ),
      { numRuns: 200 },
    );
    expect(x1764Ranges(k, mem, [], [])).toBe(0xffffffff);
  });
});
