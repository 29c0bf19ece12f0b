import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvariantError } from '../../src/base/errors.js';
import { Btree, type BtreeOptions, MemoryNodeStore } from '../../src/engine/btree/index.js';

// Keys from a tiny alphabet so that prefixes, duplicates and 0x00/0xff edges are common.
const keyArb = fc.array(fc.constantFrom(0x00, 0x01, 0x61, 0xff), { maxLength: 4 }).map((a) => Uint8Array.from(a));
// Mostly small values, sometimes one larger than a whole 160-byte node.
const valueArb = fc.oneof(
  { weight: 9, arbitrary: fc.uint8Array({ maxLength: 24 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 100, maxLength: 200 }) },
);

type Op =
  | { op: 'put'; key: Uint8Array; value: Uint8Array }
  | { op: 'insertIfAbsent'; key: Uint8Array; value: Uint8Array }
  | { op: 'delete'; key: Uint8Array }
  | { op: 'get'; key: Uint8Array }
  | { op: 'scan'; from: Uint8Array; reverse: boolean; limit: number }
  | { op: 'cursorNext' }
  | { op: 'cursorPrev' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('put' as const), key: keyArb, value: valueArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('insertIfAbsent' as const), key: keyArb, value: valueArb }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('delete' as const), key: keyArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('get' as const), key: keyArb }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('scan' as const), from: keyArb, reverse: fc.boolean(), limit: fc.integer({ min: 0, max: 8 }) }),
  },
  { weight: 2, arbitrary: fc.constant({ op: 'cursorNext' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'cursorPrev' as const }) },
);

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The oracle: a Map plus Buffer.compare ordering (independent of the tree's compareKeys). */
class Model {
  readonly rows = new Map<string, { key: Uint8Array; value: Uint8Array }>();
  sorted(): Array<{ key: Uint8Array; value: Uint8Array }> {
    return [...this.rows.values()].sort((a, b) => Buffer.compare(a.key, b.key));
  }
}

async function runOps(ops: Op[], options: BtreeOptions): Promise<void> {
  const store = new MemoryNodeStore();
  const tree = new Btree(store, options);
  const model = new Model();
  const cursor = tree.cursor();
  let pos: Uint8Array | null = null;
  for (const o of ops) {
    switch (o.op) {
      case 'put':
        await tree.put(o.key, o.value);
        model.rows.set(hex(o.key), { key: o.key, value: o.value });
        break;
      case 'insertIfAbsent': {
        const inserted = await tree.insertIfAbsent(o.key, o.value);
        expect(inserted).toBe(!model.rows.has(hex(o.key)));
        if (inserted) model.rows.set(hex(o.key), { key: o.key, value: o.value });
        break;
      }
      case 'delete':
        expect(await tree.delete(o.key)).toBe(model.rows.delete(hex(o.key)));
        break;
      case 'get':
        expect(await tree.get(o.key)).toEqual(model.rows.get(hex(o.key))?.value);
        break;
      case 'scan': {
        const want = model
          .sorted()
          .filter((r) => (o.reverse ? Buffer.compare(r.key, o.from) <= 0 : Buffer.compare(r.key, o.from) >= 0));
        if (o.reverse) want.reverse();
        const got = [];
        for await (const e of tree.entries(o.reverse ? { lte: o.from, reverse: true, limit: o.limit } : { gte: o.from, limit: o.limit })) got.push(e);
        expect(got).toEqual(want.slice(0, o.limit));
        break;
      }
      case 'cursorNext':
      case 'cursorPrev': {
        // The cursor keeps its position (last key returned) across writes.
        const rows = model.sorted();
        const fwd = o.op === 'cursorNext';
        const want =
          pos === null
            ? fwd
              ? rows[0]
              : rows[rows.length - 1]
            : fwd
              ? rows.find((r) => Buffer.compare(r.key, pos!) > 0)
              : rows.reverse().find((r) => Buffer.compare(r.key, pos!) < 0);
        const got = fwd ? await cursor.next() : await cursor.prev();
        expect(got).toEqual(want);
        if (got) pos = got.key;
        break;
      }
    }
    await tree.check();
    store.assertNoPins();
  }
  const all = [];
  for await (const e of tree.entries()) all.push(e);
  expect(all).toEqual(model.sorted());
  const stats = await tree.check();
  expect(stats.entries).toBe(model.rows.size);
}

describe('btree against a sorted-map model', () => {
  // Property: with tiny nodes (many splits and merges), every operation agrees with a sorted Map and check() passes after each step.
  it('Scenario: random operations on a tree of 4-entry nodes match the model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 150, size: 'max' }), (ops) => runOps(ops, { maxEntries: 4 })),
      { numRuns: 120 },
    );
  });

  // Property: the same holds when nodes are bounded by encoded bytes (variable-size entries, lazy merges).
  it('Scenario: random operations on a tree of 160-byte nodes match the model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 150, size: 'max' }), (ops) => runOps(ops, { maxEntries: 16, maxNodeBytes: 160 })),
      { numRuns: 120 },
    );
  });

  it('Scenario: filling then emptying a tree grows it several levels and shrinks it back to one empty leaf', async () => {
    const store = new MemoryNodeStore();
    const tree = new Btree(store, { maxEntries: 5 });
    const k = (i: number) => Uint8Array.of(i >> 8, i & 0xff);
    for (let i = 0; i < 600; i++) await tree.put(k((i * 7919) % 600), Uint8Array.of(i & 0xff));
    const full = await tree.check();
    expect(full.entries).toBe(600);
    expect(full.height).toBeGreaterThanOrEqual(4);
    expect(full.minFill).toBeGreaterThanOrEqual(2);
    for (let i = 0; i < 600; i++) expect(await tree.delete(k(i))).toBe(true);
    const empty = await tree.check();
    expect(empty).toMatchObject({ entries: 0, nodes: 1, height: 1 });
    expect([...store.allocatedBlocknums()]).toEqual([store.rootBlocknum]);
  });

  it('Scenario: a value larger than the node budget still fits, alone in its leaf', async () => {
    const store = new MemoryNodeStore();
    const tree = new Btree(store, { maxNodeBytes: 128 });
    for (let i = 0; i < 10; i++) await tree.put(Uint8Array.of(i), new Uint8Array(i === 5 ? 1000 : 10).fill(i));
    await tree.check();
    expect((await tree.get(Uint8Array.of(5)))!.length).toBe(1000);
    expect(await tree.delete(Uint8Array.of(5))).toBe(true);
    expect((await tree.check()).entries).toBe(9);
  });

  it('Scenario: overwriting a row with the same bytes leaves every node clean', async () => {
    const store = new MemoryNodeStore();
    const tree = new Btree(store, { maxEntries: 4 });
    for (let i = 0; i < 20; i++) await tree.put(Uint8Array.of(i), Uint8Array.of(i));
    const writes = store.counters.writes;
    await tree.put(Uint8Array.of(3), Uint8Array.of(3));
    expect(await tree.insertIfAbsent(Uint8Array.of(4), Uint8Array.of(9))).toBe(false);
    expect(await tree.delete(Uint8Array.of(99))).toBe(false);
    expect(store.counters.writes).toBe(writes);
    await tree.put(Uint8Array.of(3), Uint8Array.of(33));
    expect(store.counters.writes).toBe(writes + 1);
  });

  it('Scenario: check() reports a corrupted tree (a leaf key moved outside its pivot range)', async () => {
    const store = new MemoryNodeStore();
    const tree = new Btree(store, { maxEntries: 4 });
    for (let i = 0; i < 30; i++) await tree.put(Uint8Array.of(i * 2), Uint8Array.of(i));
    await tree.check();
    const root = await store.pin(store.rootBlocknum!, 'read');
    const firstChild = root.node.kind === 'internal' ? root.node.children[0]! : -1n;
    store.unpin(root, { dirty: false });
    // Descend to the leftmost leaf and give it a key larger than every pivot.
    let b = firstChild;
    for (;;) {
      const p = await store.pin(b, 'write');
      if (p.node.kind === 'leaf') {
        p.node.keys.push(Uint8Array.of(250));
        p.node.values.push(Uint8Array.of(0));
        store.unpin(p, { dirty: true });
        break;
      }
      const next = p.node.children[0]!;
      store.unpin(p, { dirty: false });
      b = next;
    }
    await expect(tree.check()).rejects.toThrow(/outside its range/);
  });

  it('Scenario: MemoryNodeStore catches a node modified under a read pin, and a forgotten dirty flag', async () => {
    const store = new MemoryNodeStore();
    const tree = new Btree(store);
    await tree.put(Uint8Array.of(1), Uint8Array.of(1));
    const p = await store.pin(store.rootBlocknum!, 'read');
    (p.node as { values: Uint8Array[] }).values[0] = Uint8Array.of(2);
    expect(() => store.unpin(p, { dirty: false })).toThrow(InvariantError);
    const w = await store.pin(store.rootBlocknum!, 'write');
    (w.node as { values: Uint8Array[] }).values[0] = Uint8Array.of(3);
    expect(() => store.unpin(w, { dirty: false })).toThrow(/unpinned clean/);
    const w2 = await store.pin(store.rootBlocknum!, 'write');
    await expect(store.pin(store.rootBlocknum!, 'read')).rejects.toThrow(/conflicts/);
    expect(() => store.unpin(w2, { dirty: true })).toThrow(/not modified/);
    expect(() => store.unpin(w2, { dirty: false })).toThrow(/not pinned/);
  });
});
