import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvariantError } from '../../src/base/errors.js';
import {
  ArrayRows,
  Btree,
  type BtreeNode,
  cloneNode,
  decodeNode,
  encodeNode,
  lowerBound,
  newLeaf,
  type NodeStore,
  nodeContents,
  packRows,
  PackedRows,
  type Pinned,
  type PinMode,
  rowsLowerBound,
  rowsUpperBound,
  upperBound,
} from '../../src/engine/btree/index.js';

const keyArb = fc.uint8Array({ maxLength: 6 });
const sortedKeys = fc
  .uniqueArray(fc.array(fc.constantFrom(0x00, 0x01, 0x61, 0xff), { maxLength: 4 }).map((a) => Uint8Array.from(a)), {
    maxLength: 20,
    selector: (k) => Buffer.from(k).toString('hex'),
  })
  .map((ks) => ks.sort((a, b) => Buffer.compare(a, b)));
const rowsArb = sortedKeys.chain((keys) =>
  fc.array(fc.uint8Array({ maxLength: 30 }), { minLength: keys.length, maxLength: keys.length }).map((values) => ({ keys, values })),
);

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('packed leaf rows', () => {
  it('Property: packed rows read back every key and value, compare and search as the arrays they came from', () => {
    fc.assert(
      fc.property(rowsArb, fc.array(keyArb, { maxLength: 5 }), ({ keys, values }, probes) => {
        const packed = packRows(keys, values);
        const arrays = new ArrayRows(keys, values);
        expect(packed.count).toBe(keys.length);
        for (let i = 0; i < keys.length; i++) {
          expect(packed.key(i)).toEqual(keys[i]);
          expect(packed.value(i)).toEqual(values[i]);
          const copy = packed.copyValue(i);
          expect(copy).toEqual(values[i]);
          expect(copy.buffer).not.toBe(packed.bytes.buffer);
          for (const p of [...probes, ...keys]) {
            expect(Math.sign(packed.compareKey(i, p))).toBe(Math.sign(Buffer.compare(keys[i]!, p)));
            expect(packed.compareKey(i, p)).toBe(arrays.compareKey(i, p));
          }
        }
        for (const p of [...probes, ...keys]) {
          expect(rowsLowerBound(packed, p)).toBe(lowerBound(keys, p));
          expect(rowsUpperBound(packed, p)).toBe(upperBound(keys, p));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('Scenario: offsets that do not describe the buffer are refused', () => {
    const good = packRows([enc('a'), enc('bc')], [enc('1'), enc('')]);
    const bytes = good.bytes;
    // key a: length at 0, key at 4; value 1: length at 5, value at 9; key bc: at 10/14; value '': at 16/20.
    // The table ends 4 past the buffer (where a next row's first field would start).
    const again = new PackedRows(bytes, Uint32Array.of(4, 9, 14, 20, 24));
    expect([dec(again.key(1)), dec(again.value(0)), again.value(1).length]).toEqual(['bc', '1', 0]);
    expect(() => new PackedRows(bytes, Uint32Array.of(4, 9, 14, 20))).toThrow(InvariantError);
    expect(() => new PackedRows(bytes, Uint32Array.of(4, 9, 14, 20, 28))).toThrow(InvariantError);
    expect(() => new PackedRows(bytes, Uint32Array.of(4, 10, 14, 20, 24))).toThrow(InvariantError);
    expect(() => new PackedRows(bytes, Uint32Array.of(0, 9, 14, 20, 24))).toThrow(InvariantError);
    expect(() => new PackedRows(new Uint8Array(0), Uint32Array.of(4))).not.toThrow();
  });

  it('Scenario: a decoded leaf stays packed for readers; a writer unpacks it, and snapshots and clones are unaffected', () => {
    const leaf = decodeNode(encodeNode(newLeaf([enc('a'), enc('b'), enc('c')], [enc('1'), enc('2'), enc('3')])));
    if (leaf.kind !== 'leaf') throw new Error('expected a leaf');
    const packed = leaf.packedRows;
    expect(packed).not.toBeNull();
    expect(leaf.count).toBe(3);
    expect(dec(leaf.copyValue(rowsLowerBound(leaf, enc('b'))))).toBe('2');
    // A snapshot of packed rows is the rows themselves (they are never written), as is a clone's.
    const snap = leaf.snapshot();
    expect(snap).toBe(packed);
    const clone = cloneNode(leaf);
    expect(clone.kind === 'leaf' && clone.packedRows).toBe(packed);
    expect(leaf.packedRows).toBe(packed);

    // The first writer use unpacks: the arrays hold the same rows, and the leaf now encodes from them.
    leaf.keys.splice(1, 1);
    leaf.values.splice(1, 1);
    expect(leaf.packedRows).toBeNull();
    expect(nodeContents(leaf)).toEqual({ kind: 'leaf', keys: [enc('a'), enc('c')], values: [enc('1'), enc('3')] });
    expect(nodeContents(decodeNode(encodeNode(leaf)))).toEqual(nodeContents(leaf));
    // The snapshot and the clone still see the three rows.
    expect(snap.count).toBe(3);
    expect(dec(snap.value(1))).toBe('2');
    expect(nodeContents(clone)).toEqual({ kind: 'leaf', keys: [enc('a'), enc('b'), enc('c')], values: [enc('1'), enc('2'), enc('3')] });

    // A snapshot of an unpacked leaf is a copy: later writes do not show in it.
    const snap2 = leaf.snapshot();
    leaf.keys.push(enc('d'));
    leaf.values.push(enc('4'));
    expect(snap2.count).toBe(2);
    expect(leaf.count).toBe(3);
  });
});

/**
 * A node store that keeps node objects between pins, as the cachetable does, so a test can
 * see what readers and writers leave in a cached node. `reload` replaces every node by its
 * encoded-then-decoded form, as if evicted and read back.
 */
class CachingStore implements NodeStore {
  rootBlocknum: bigint | null = null;
  readonly nodes = new Map<bigint, BtreeNode>();
  private next = 1n;
  pin(blocknum: bigint, mode: PinMode): Promise<Pinned> {
    const node = this.nodes.get(blocknum);
    if (node === undefined) throw new Error(`no node ${blocknum}`);
    return Promise.resolve({ blocknum, mode, node });
  }
  unpin(): void {}
  create(node: BtreeNode): Promise<Pinned> {
    const blocknum = this.next++;
    this.nodes.set(blocknum, node);
    return Promise.resolve({ blocknum, mode: 'write', node });
  }
  remove(p: Pinned): void {
    this.nodes.delete(p.blocknum);
  }
  reload(): void {
    for (const [b, n] of this.nodes) this.nodes.set(b, decodeNode(encodeNode(n), { blocknum: b }));
  }
  leaves(): Array<{ blocknum: bigint; packed: boolean }> {
    return [...this.nodes].filter(([, n]) => n.kind === 'leaf').map(([b, n]) => ({ blocknum: b, packed: n.kind === 'leaf' && n.packedRows !== null }));
  }
}

describe('packed leaves in a tree', () => {
  it('Scenario: gets and cursor scans leave cached leaves packed; a put unpacks only the leaf it changes', async () => {
    const store = new CachingStore();
    const tree = new Btree(store, { maxEntries: 8 });
    const key = (i: number): Uint8Array => enc(`k${String(i).padStart(4, '0')}`);
    for (let i = 0; i < 200; i += 2) await tree.put(key(i), enc(`v${i}`));
    store.reload();
    const leaves = store.leaves();
    expect(leaves.length).toBeGreaterThan(10);
    expect(leaves.every((l) => l.packed)).toBe(true);

    for (let i = 0; i < 200; i++) expect((await tree.get(key(i))) === undefined).toBe(i % 2 === 1);
    const c = tree.cursor();
    const seen: string[] = [];
    for (let e = await c.first(); e !== undefined; e = await c.next()) seen.push(dec(e.key));
    expect(seen).toEqual(Array.from({ length: 100 }, (_, j) => dec(key(2 * j))));
    const back: string[] = [];
    for (let e = await c.last(); e !== undefined; e = await c.prev()) back.push(dec(e.key));
    expect(back).toEqual([...seen].reverse());
    expect((await tree.check()).entries).toBe(100);
    expect(store.leaves().every((l) => l.packed)).toBe(true);

    // Overwrite one row (no split): exactly one leaf is unpacked, and reads see the new value.
    await tree.put(key(100), enc('new'));
    expect(store.leaves().filter((l) => !l.packed).length).toBe(1);
    expect(dec((await tree.get(key(100)))!)).toBe('new');
    const rows: string[] = [];
    for await (const e of tree.entries({ gte: key(98), lte: key(102) })) rows.push(`${dec(e.key)}=${dec(e.value)}`);
    expect(rows).toEqual(['k0098=v98', 'k0100=new', 'k0102=v102']);
    await tree.check();
  });

  it('Scenario: a cursor holding a packed leaf keeps returning its rows after a write replaced that leaf', async () => {
    const store = new CachingStore();
    const tree = new Btree(store, { maxEntries: 64 });
    for (let i = 0; i < 10; i++) await tree.put(enc(`k${i}`), enc(`v${i}`));
    store.reload();
    const c = tree.cursor();
    expect(dec((await c.first())!.key)).toBe('k0');
    await tree.delete(enc('k1'));
    await tree.put(enc('k2'), enc('changed'));
    // The tree changed since the cursor read its leaf, so it re-seeks after k0 and sees the writes.
    const e = await c.next();
    expect(`${dec(e!.key)}=${dec(e!.value)}`).toBe('k2=changed');
    expect(dec(c.current()!.key)).toBe('k2');
  });
});
