import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokusimError } from '../../src/base/errors.js';
import {
  type BtreeNode,
  compareKeys,
  decodeNode,
  encodedNodeSize,
  encodeNode,
  NODE_HEADER_SIZE,
  newInternal,
  newLeaf,
  nodeContents,
  cloneNode,
  lowerBound,
  upperBound,
} from '../../src/engine/btree/index.js';

const key = fc.uint8Array({ maxLength: 12 });
const sortedKeys = (n: number) =>
  fc.uniqueArray(key, { maxLength: n, selector: (k) => Buffer.from(k).toString('hex') }).map((ks) =>
    ks.sort((a, b) => Buffer.compare(a, b)),
  );

const leafArb: fc.Arbitrary<BtreeNode> = sortedKeys(12).chain((keys) =>
  fc.array(fc.uint8Array({ maxLength: 20 }), { minLength: keys.length, maxLength: keys.length }).map((values) => newLeaf(keys, values)),
);
const internalArb: fc.Arbitrary<BtreeNode> = fc
  .tuple(sortedKeys(10), fc.integer({ min: 1, max: 40 }))
  .chain(([pivots, height]) =>
    fc
      .array(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), { minLength: pivots.length + 1, maxLength: pivots.length + 1 })
      .map((children) => newInternal(height, pivots, children)),
  );
const nodeArb = fc.oneof(leafArb, internalArb);

describe('btree node codec', () => {
  // Property: decoding an encoded node gives back an equal node, and its size is predicted exactly.
  it('Scenario: any leaf or internal node survives an encode/decode round trip', () => {
    fc.assert(
      fc.property(nodeArb, (node) => {
        const bytes = encodeNode(node);
        expect(bytes.length).toBe(encodedNodeSize(node));
        const decoded = decodeNode(bytes, { blocknum: 7n });
        expect(nodeContents(decoded)).toEqual(nodeContents(node));
        // A decoded leaf keeps its rows packed, and encodes from them to the same bytes.
        if (decoded.kind === 'leaf') expect(decoded.packedRows).not.toBeNull();
        else expect(decoded.packedPivots).not.toBeNull();
        expect(encodeNode(decoded)).toEqual(bytes);
      }),
      { numRuns: 300 },
    );
  });

  // Property: an internal node read from disk answers a descent's questions (children, pivots, the child for a key, the pivots below a
  // key) in place exactly as the arrays it was made from, unpacks into equal arrays for a writer, and a clone shares the packed bytes.
  it('Scenario: packed internal nodes read in place as their arrays', () => {
    fc.assert(
      fc.property(internalArb, fc.array(key, { maxLength: 8 }), (node, probes) => {
        if (node.kind !== 'internal') return;
        const pivots = node.pivots.map((p) => p.slice());
        const children = node.children.slice();
        const decoded = decodeNode(encodeNode(node));
        if (decoded.kind !== 'internal') throw new Error('decoded an internal node as a leaf');
        expect(decoded.packedPivots).not.toBeNull();
        expect(decoded.childCount).toBe(children.length);
        for (let i = 0; i < children.length; i++) expect(decoded.child(i)).toBe(children[i]);
        for (let i = 0; i < pivots.length; i++) expect(decoded.pivot(i)).toEqual(pivots[i]);
        for (const k of [...probes, ...pivots]) {
          expect(decoded.childIndexFor(k)).toBe(upperBound(pivots, k));
          expect(decoded.pivotLowerBound(k)).toBe(lowerBound(pivots, k));
        }
        const copy = cloneNode(decoded);
        expect(copy.kind === 'internal' && copy.packedPivots).toBe(decoded.packedPivots);
        // A writer's first use unpacks into arrays it may change; the node then encodes from them.
        decoded.children[0] = 5n;
        expect(decoded.packedPivots).toBeNull();
        expect(decoded.pivots).toEqual(pivots);
        expect(decoded.child(0)).toBe(5n);
        expect(nodeContents(decodeNode(encodeNode(decoded)))).toEqual({ kind: 'internal', height: node.height, pivots, children: [5n, ...children.slice(1)] });
        // The clone still reads the bytes as they were.
        expect(copy.kind === 'internal' && copy.child(0)).toBe(children[0]);
      }),
      { numRuns: 300 },
    );
  });

  // Property: changing any single byte of a serialized node makes decode throw a TokusimError.
  it('Scenario: a flipped byte anywhere in a node is reported, never decoded', () => {
    fc.assert(
      fc.property(nodeArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (node, at, xor) => {
        const bytes = encodeNode(node);
        const bad = bytes.slice();
        const i = at % bad.length;
        bad[i] = bad[i]! ^ xor;
        let err: unknown;
        try {
          decodeNode(bad, { blocknum: 42n });
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(TokusimError);
        expect((err as TokusimError).message).toContain('blocknum 42');
        expect(['bad-checksum', 'truncated', 'bad-length']).toContain((err as TokusimError).kind);
      }),
      { numRuns: 500 },
    );
  });

  it('Scenario: every byte of one node, corrupted in turn, is detected', () => {
    const node = newLeaf(
      [Uint8Array.of(1), Uint8Array.of(1, 2), Uint8Array.of(9)],
      [Uint8Array.of(5, 5), new Uint8Array(0), Uint8Array.of(255)],
    );
    const bytes = encodeNode(node);
    for (let i = 0; i < bytes.length; i++) {
      const bad = bytes.slice();
      bad[i] = bad[i]! ^ 0x10;
      expect(() => decodeNode(bad), `byte ${i}`).toThrow(TokusimError);
    }
  });

  // Property: every proper prefix of a node, and the node with bytes appended, is rejected.
  it('Scenario: a truncated or over-long block is rejected as truncated / bad-length', () => {
    fc.assert(
      fc.property(nodeArb, fc.nat(), (node, cut) => {
        const bytes = encodeNode(node);
        const n = cut % bytes.length;
        expect(() => decodeNode(bytes.subarray(0, n))).toThrow(/truncated|length|shorter/);
        const longer = new Uint8Array(bytes.length + 1 + (cut % 7));
        longer.set(bytes);
        try {
          decodeNode(longer);
          expect.unreachable();
        } catch (e) {
          expect((e as TokusimError).kind).toBe('bad-length');
        }
      }),
      { numRuns: 200 },
    );
  });

  it('Scenario: a checksum mismatch names blocknum, file offset and expected vs actual crc', () => {
    const bytes = encodeNode(newLeaf([Uint8Array.of(0x61)], [Uint8Array.of(0x62)]));
    bytes[NODE_HEADER_SIZE + 4] = 0x7a; // the key byte
    try {
      decodeNode(bytes, { blocknum: 9n, file: 'foo.tokudb', baseOffset: 4096 });
      expect.unreachable();
    } catch (e) {
      const err = e as TokusimError;
      expect(err.kind).toBe('bad-checksum');
      expect(err.where.file).toBe('foo.tokudb');
      expect(err.where.offset).toBe(4096 + bytes.length - 4);
      expect(err.where.expected).toMatch(/^0x[0-9a-f]{8}$/);
      expect(err.where.actual).toMatch(/^0x[0-9a-f]{8}$/);
      expect(err.where.expected).not.toBe(err.where.actual);
      expect(err.message).toContain('blocknum 9');
    }
  });

  // Property: compareKeys orders like memcmp-then-length (Node's Buffer.compare is the oracle).
  it('Scenario: keys compare as PerconaFT default comparator (memcmp, then shorter first)', () => {
    fc.assert(
      fc.property(key, key, (a, b) => {
        expect(compareKeys(a, b)).toBe(Buffer.compare(a, b));
      }),
      { numRuns: 500 },
    );
    expect(compareKeys(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0))).toBe(-1);
    expect(compareKeys(Uint8Array.of(2), Uint8Array.of(1, 255))).toBe(1);
  });
});
