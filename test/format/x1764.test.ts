import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { x1764, X1764, x1764Parts, x1764UsesWasm } from '../../src/format/x1764.js';

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
  it('is plain JavaScript until the fast paths plug a kernel in', () => {
    expect(x1764UsesWasm()).toBe(false);
  });

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

  // Property: x1764Parts of any split is x1764 of the concatenation (no kernel: joined).
  it('x1764Parts of any split equals x1764 of the whole', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat(3000), { maxLength: 8 }), (bytes, cuts) => {
        const points = [...new Set([0, ...cuts.filter((c) => c <= bytes.length), bytes.length])].sort((a, b) => a - b);
        const parts = points.slice(1).map((p, i) => bytes.subarray(points[i]!, p));
        if (parts.length === 0) parts.push(bytes.subarray(0, 0));
        expect(x1764Parts(parts)).toBe(x1764(bytes));
      }),
    );
  });
});
