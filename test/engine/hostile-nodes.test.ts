import { describe, expect, it } from 'vitest';
import CRC32 from 'crc-32';
import { WriteSet } from '../../src/engine/write-set.js';
import { decodeNode, encodeNode } from '../../src/engine/btree/node-codec.js';
import { newLeaf } from '../../src/engine/btree/node.js';
import { TokusimError } from '../../src/base/errors.js';
import { exitCodeFor } from '../../tools/cli-support.js';

const enc = (s: string) => new TextEncoder().encode(s);
const setU32 = (b: Uint8Array, o: number, v: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(o, v >>> 0, true);

function thrown(f: () => unknown): TokusimError {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TokusimError);
  return err as TokusimError;
}

// The block frame around these nodes is checksummed, but a damaged node whose checksums were
// re-computed reaches the decoders: their counts and lengths must be bounded by the node.
describe('node decoders on counts and lengths the node cannot hold', () => {
  for (const count of [0xffffffff, 0x7fffffff, 1000]) {
    // Scenario: a rollback node claims more rows than its bytes can hold: corrupt input (exit 3)
    // naming the field and its offset, refused before the rows are read.
    it(`Scenario: a rollback node with row count ${count} is corrupt (bad-length), not truncated`, () => {
      const ws = new WriteSet();
      ws.record(1, { op: 'insert', key: enc('k'), value: enc('v') });
      const bytes = ws.encode();
      setU32(bytes, 8, count);
      const err = thrown(() => WriteSet.decode(bytes, 'tokudb.rollback block 5'));
      expect(err.kind).toBe('bad-length');
      expect(exitCodeFor(err)).toBe(3);
      expect(err.message).toMatch(/^tokudb\.rollback block 5, offset 8: row count out of range/);
    });
  }

  // Scenario: a rollback row's key length points past the node: damage in a whole node.
  it('Scenario: a rollback row key length past the node is corrupt (bad-length), not truncated', () => {
    const ws = new WriteSet();
    ws.record(1, { op: 'insert', key: enc('key'), value: enc('value') });
    const bytes = ws.encode();
    setU32(bytes, 12 + 5, 0x7fffffff); // magic 8, count 4, op 1, filenum 4: the key length
    const err = thrown(() => WriteSet.decode(bytes, 'rb'));
    expect(err.kind).toBe('bad-length');
    expect(exitCodeFor(err)).toBe(3);
  });

  // Scenario: a leaf key length runs past the payload in a node whose crc-32 holds.
  it('Scenario: a B+tree leaf key length past the payload (crc-32 re-computed) is corrupt (bad-length)', () => {
    const bytes = encodeNode(newLeaf([enc('a'), enc('b')], [enc('1'), enc('2')]));
    setU32(bytes, 28, 0xfffffff0); // the first key length
    setU32(bytes, bytes.length - 4, CRC32.buf(bytes.subarray(0, bytes.length - 4)) >>> 0);
    const err = thrown(() => decodeNode(bytes, { blocknum: 7n, file: 'd.tokudb', baseOffset: 8192 }));
    expect(err.kind).toBe('bad-length');
    expect(exitCodeFor(err)).toBe(3);
    expect(err.where.file).toBe('d.tokudb blocknum 7');
  });
});
