import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { useX1764Wasm, x1764, X1764, x1764Parts, x1764Ranges, x1764ScriptSource, x1764UsesWasm } from '../../src/format/x1764.js';
import { instantiateShared, X1764_WASM_CHUNK } from '../../src/format/x1764-wasm.js';

const ascii = (s: string) => new TextEncoder().encode(s);
const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((h) => parseInt(h, 16)));

// Test vectors from spec tokulog-format.md §6 (cross-checked there against util/x1764.cc).
const VECTORS: Array<[string, Uint8Array, number]> = [
  ['empty', new Uint8Array(0), 0xffffffff],
  ['"a"', ascii('a'), 0xffffff9e],
  ['byte 01', hex('01'), 0xfffffffe],
  ['"1234567"', ascii('1234567'), 0xcbfbfbfb],
  ['"abcdefgh"', ascii('abcdefgh'), 0xf3fbfbfb],
  ['8 x 00', new Uint8Array(8), 0xffffffff],
  ['8 x ff', new Uint8Array(8).fill(0xff), 0xffffffff],
  ['"abcdefghi"', ascii('abcdefghi'), 0xbbbbbb9e],
  ['01 00.. 02', hex('010000000000000002'), 0xffffffec],
  ['"hello world"', ascii('hello world'), 0xaa81f0c3],
  ['alphabet', ascii('abcdefghijklmnopqrstuvwxyz'), 0xd1a064c4],
  ['00..ff', Uint8Array.from({ length: 256 }, (_, i) => i), 0x31702173],
  ['begin_checkpoint §5.1', hex('25000000780000000058000000e12b050061c351d30000000099000000'), 0x470dd9ea],
];

describe('x1764', () => {
  for (const [name, input, want] of VECTORS) {
    it(`matches the spec vector ${name}`, () => {
      expect(x1764(input).toString(16).padStart(8, '0')).toBe(want.toString(16).padStart(8, '0'));
    });
  }

  it('checksums a sub-range as if it were its own buffer', () => {
    const buf = ascii('xxhello worldyy');
    expect(x1764(buf, 2, 13)).toBe(0xaa81f0c3);
  });

  // Property: feeding the same bytes in any chunking gives the one-shot checksum.
  it('incremental form equals the one-shot form for any chunking', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(20), { maxLength: 30 }), (bytes, cuts) => {
        const inc = new X1764();
        let pos = 0;
        for (const c of cuts) {
          const end = Math.min(bytes.length, pos + c);
          if (c % 3 === 0 && end > pos) {
            for (let i = pos; i < end; i++) inc.addByte(bytes[i]!);
          } else inc.add(bytes, pos, end);
          pos = end;
        }
        inc.add(bytes, pos);
        expect(inc.finish()).toBe(x1764(bytes));
      }),
    );
  });

  // Property: the two-halves arithmetic equals a BigInt reference implementation.
  it('equals a BigInt reference implementation', () => {
    const ref = (b: Uint8Array): number => {
      let s = 0n;
      const M = (1n << 64n) - 1n;
      for (let i = 0; i < b.length; i += 8) {
        let w = 0n;
        for (let k = 0; k < 8 && i + k < b.length; k++) w |= BigInt(b[i + k]!) << BigInt(8 * k);
        s = (s * 17n + w) & M;
      }
      return Number(~((s & 0xffffffffn) ^ (s >> 32n)) & 0xffffffffn);
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => x1764(b) === ref(b)));
    // Long enough for the WebAssembly kernel (512 bytes and up) too.
    fc.assert(fc.property(fc.uint8Array({ minLength: 500, maxLength: 3000 }), (b) => x1764(b) === ref(b)), { numRuns: 50 });
  });

  // Property: with and without the WebAssembly kernel, x1764 of any range of any buffer is the
  // same, including ranges longer than the kernel's chunk and ranges not starting on 8 bytes.
  it('gives the same value with and without its WebAssembly kernel', () => {
    expect(x1764UsesWasm()).toBe(true); // Node has WebAssembly: the kernel is in use
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
  // and the same function from the worker script agrees.
  it('x1764Parts of any split equals x1764 of the whole', () => {
    const big = Uint8Array.from({ length: 2 * X1764_WASM_CHUNK + 301 }, (_, i) => (i * 2654435761) >>> 21);
    const f = new Function(`${x1764ScriptSource()}\nreturn x1764Parts;`) as () => (parts: Uint8Array[]) => number;
    const scriptParts = f();
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
          expect(scriptParts(parts)).toBe(whole);
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
  // in-place kernel, without one, and from the worker script.
  it('x1764Ranges of ranges of a shared memory equals x1764 of their concatenation', () => {
    const W = (globalThis as unknown as { WebAssembly: { Memory: new (d: object) => { buffer: SharedArrayBuffer } } }).WebAssembly;
    const memory = new W.Memory({ initial: 4, maximum: 8, shared: true });
    const mem = new Uint8Array(memory.buffer);
    for (let i = 0; i < mem.length; i++) mem[i] = (i * 2654435761) >>> 23;
    const k = instantiateShared(memory);
    expect(k).not.toBeNull();
    const f = new Function(`${x1764ScriptSource()}\nreturn [x1764Ranges, x1764SharedKernel];`) as () => [typeof x1764Ranges, (m: object) => ReturnType<typeof instantiateShared>];
    const [scriptRanges, scriptKernel] = f();
    const sk = scriptKernel(memory);
    expect(sk).not.toBeNull();
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
          expect(scriptRanges(sk, mem, offs, lens)).toBe(want);
        },
      ),
      { numRuns: 200 },
    );
    expect(x1764Ranges(k, mem, [], [])).toBe(0xffffffff);
  });

  it('worker script source defines a working x1764 with the kernel', () => {
    const src = x1764ScriptSource();
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const f = new Function(`${src}\nreturn [x1764, wasm !== null];`) as () => [(b: Uint8Array) => number, boolean];
    const [fn, hasKernel] = f();
    expect(hasKernel).toBe(true);
    const buf = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 31) & 0xff);
    expect(fn(buf)).toBe(x1764(buf));
    expect(fn(ascii('hello world'))).toBe(0xaa81f0c3);
  });
});
