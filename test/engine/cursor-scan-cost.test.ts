import { describe, expect, it } from 'vitest';
import { Btree } from '../../src/engine/btree/btree.js';
import { MemoryNodeStore } from '../../src/engine/btree/node-store.js';
import { Env } from '../../src/engine/env.js';
import { CURSOR_CHUNK } from '../../src/engine/txn.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { VirtualClock } from '../../src/storage/clock.js';

const be = (n: number) => Uint8Array.of(n >> 16, (n >> 8) & 0xff, n & 0xff);

/** Counts every node pin of the store (each level of a descent is one pin). */
function countPins(store: { pin: (...a: never[]) => unknown }): () => number {
  let pins = 0;
  const pin = store.pin.bind(store) as (...a: never[]) => unknown;
  store.pin = (...a: never[]) => {
    pins++;
    return pin(...a);
  };
  return () => pins;
}

describe('engine: the cost of a scan in node reads', () => {
  // Scenario: a tree cursor walking a whole unchanged tree of 4-entry leaves, forward and then backward, descends once per leaf: its pins
  // are at most height x leaves (stepping past a leaf's end descends straight to the next leaf instead of re-reading the used-up one).
  it('Scenario: a full tree-cursor scan descends once per leaf in either direction', async () => {
    const store = new MemoryNodeStore();
    const tree = new Btree(store, { maxEntries: 4 });
    const n = 500;
    for (let i = 0; i < n; i++) await tree.put(be(i), be(i));
    const { height, leaves } = await tree.stats();
    expect(leaves).toBeGreaterThan(100);
    const pins = countPins(store);

    const c = tree.cursor();
    const forward: number[] = [];
    for (let e = await c.first(); e !== undefined; e = await c.next()) forward.push((e.key[1]! << 8) | e.key[2]!);
    expect(forward).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(pins()).toBeLessThanOrEqual(height * leaves);

    const before = pins();
    const r = tree.cursor();
    const backward: number[] = [];
    for (let e = await r.last(); e !== undefined; e = await r.prev()) backward.push((e.key[1]! << 8) | e.key[2]!);
    expect(backward).toEqual(forward.slice().reverse());
    expect(pins() - before).toBeLessThanOrEqual(height * leaves);
  });

  // Scenario: a transaction cursor's full scan of a dictionary reads each leaf once, plus at most two descents per chunk it reads (a chunk
  // starts strictly after the last key returned, which may be the last key of its leaf).
  it('Scenario: a full transaction-cursor scan pins at most height x (leaves + 2 x chunks) nodes', async () => {
    const env = await Env.open('/env', { storage: new SimStorage({ seed: 7 }), clock: new VirtualClock(), checkpointPeriodMs: 0, durability: 'none', owner: 'scan-cost', maxEntries: 8 });
    try {
      const d = await env.createDictionary('t');
      const n = 3000;
      for (let base = 0; base < n; base += 500) {
        await env.writeBatch(Array.from({ length: 500 }, (_, i) => ({ dict: d, op: 'insert' as const, key: be(base + i), value: be(base + i) })));
      }
      const { height, leaves } = await d.tree.stats();
      const pins = countPins(d.tree.store as never);
      const t = env.begin();
      for (const reverse of [false, true]) {
        const before = pins();
        let rows = 0;
        for await (const _ of t.cursor(d, { reverse })) rows++;
        expect(rows).toBe(n);
        const chunks = Math.floor(n / CURSOR_CHUNK) + 1;
        expect(pins() - before).toBeLessThanOrEqual(height * (leaves + 2 * chunks));
      }
      await t.commit();
    } finally {
      await env.close();
    }
  });

  // Scenario: with no cacheSize (no memory limit), a full transaction-cursor scan of a dictionary read back from disk leaves none of the
  // leaves it fetched in the cachetable, while the leaf a point read fetched before it stays cached; rows read back unchanged, and a
  // second scan reads the dropped leaves from disk again.
  it('Scenario: a scan with no memory limit keeps only what other reads cached', async () => {
    const storage = new SimStorage({ seed: 11 });
    const clock = new VirtualClock();
    const opts = { storage, clock, checkpointPeriodMs: 0, durability: 'none' as const, owner: 'scan-drop', maxEntries: 8 };
    const n = 2000;
    let env = await Env.open('/env', opts);
    const d0 = await env.createDictionary('t');
    await env.writeBatch(Array.from({ length: n }, (_, i) => ({ dict: d0, op: 'insert' as const, key: be(i), value: be(i * 7) })));
    await env.close();
    env = await Env.open('/env', opts);
    try {
      const d = await env.openDictionary('t');
      const { leaves } = await d.tree.stats();
      expect(leaves).toBeGreaterThan(100);
      // stats() pinned every node the ordinary way; start from an empty cache.
      await env.close();
      env = await Env.open('/env', opts);
      const d2 = await env.openDictionary('t');
      const leafCount = (): number =>
        env.ct.pairs().filter((p) => p.cachefile === d2.file.cachefile && (p.value as { kind?: string } | undefined)?.kind === 'leaf').length;
      expect(await d2.getCommitted(be(1000))).toEqual(be(7000));
      expect(leafCount()).toBe(1);
      for (let round = 0; round < 2; round++) {
        const fetched = env.ct.stats.pairsFetched;
        const t = env.begin();
        let rows = 0;
        for await (const e of t.cursor(d2)) {
          expect(e.value).toEqual(be(rows * 7));
          rows++;
        }
        await t.commit();
        expect(rows).toBe(n);
        expect(leafCount()).toBe(1);
        // Every leaf but the cached one is fetched in each round.
        expect(env.ct.stats.pairsFetched - fetched).toBeGreaterThanOrEqual(leaves - 1);
      }
      expect(env.ct.stats.pairsDroppedAfterScan).toBeGreaterThanOrEqual(2 * (leaves - 1));
    } finally {
      await env.close();
    }
  });
});
