import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Env } from '../../src/engine/env.js';
import { CURSOR_CHUNK, TxnCursor } from '../../src/engine/txn.js';
import { inRange, type Entry, type RangeOptions } from '../../src/engine/range.js';
import { compareKeys } from '../../src/engine/btree/node.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { VirtualClock } from '../../src/storage/clock.js';

const KEYS = 40;
const key = (k: number) => Uint8Array.of(k);
const val = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

async function openEnv(): Promise<Env> {
  return Env.open('/env', { storage: new SimStorage({ seed: 1 }), clock: new VirtualClock(), checkpointPeriodMs: 0, durability: 'none', owner: 'cursor' });
}

const writeArb = fc.record({ k: fc.integer({ min: 0, max: KEYS - 1 }), del: fc.boolean(), v: fc.string({ maxLength: 3 }) });
const rangeArb = fc.record(
  {
    lo: fc.integer({ min: 0, max: KEYS - 1 }),
    hi: fc.integer({ min: 0, max: KEYS - 1 }),
    loStrict: fc.boolean(),
    hiStrict: fc.boolean(),
    reverse: fc.boolean(),
    limit: fc.integer({ min: 0, max: KEYS + 2 }),
  },
  { requiredKeys: ['reverse', 'loStrict', 'hiStrict'] },
);

function toRange(g: { lo?: number; hi?: number; loStrict: boolean; hiStrict: boolean; reverse: boolean; limit?: number }): RangeOptions {
  const r: RangeOptions = {};
  if (g.lo !== undefined) r[g.loStrict ? 'gt' : 'gte'] = key(g.lo);
  if (g.hi !== undefined) r[g.hiStrict ? 'lt' : 'lte'] = key(g.hi);
  if (g.reverse) r.reverse = true;
  if (g.limit !== undefined) r.limit = g.limit;
  return r;
}

describe('engine: streaming transaction cursor', () => {
  // Property: against a Map model, a cursor (any chunk size, bounds, direction, limit) returns keys strictly in order inside the range, shows the
  // transaction's own writes exactly, and under concurrent commits returns each other key with a value it held during the scan: always if it
  // was present throughout, never if it was absent throughout (read committed, no key twice, none skipped).
  it('Scenario: cursor against a Map model with concurrent commits between steps', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: KEYS - 1 }), fc.string({ maxLength: 3 })), { maxLength: KEYS }),
        fc.array(writeArb, { maxLength: 12 }),
        rangeArb,
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.record({ afterStep: fc.integer({ min: 0, max: KEYS }), writes: fc.array(writeArb, { minLength: 1, maxLength: 6 }) }), { maxLength: 8 }),
        async (initial, own, g, chunk, commits) => {
          const env = await openEnv();
          try {
            const d = await env.createDictionary('t');
            const committed = new Map<number, string>();
            const setup = env.begin();
            for (const [k, v] of initial) {
              await setup.put(d, key(k), val(v));
              committed.set(k, v);
            }
            await setup.commit();

            // The transaction's own writes: the first half by the root, the rest by a child
            // (whose writes win over its parent's for the same key).
            const t = env.begin();
            const view = new Map<number, string | null>();
            const half = Math.floor(own.length / 2);
            let child: ReturnType<Env['begin']> | undefined;
            for (let i = 0; i < own.length; i++) {
              if (i === half && own.length > 1) child = env.begin({ parent: t });
              const who = child ?? t;
              const w = own[i]!;
              if (w.del) await who.del(d, key(w.k));
              else await who.put(d, key(w.k), val(w.v));
              view.set(w.k, w.del ? null : w.v);
            }
            const reader = child ?? t;

            const r = toRange(g);
            const history = new Map<number, Array<string | undefined>>();
            for (let k = 0; k < KEYS; k++) history.set(k, [committed.get(k)]);
            const cursor = new TxnCursor(reader, d, r, chunk);
            const out: Entry[] = [];
            for (let step = 0; ; step++) {
              const e = await cursor.next();
              if (e === undefined) break;
              out.push(e);
              for (const c of commits.filter((x) => x.afterStep === step)) {
                // Another transaction commits rows the reader has not locked.
                const ops = c.writes.filter((w) => !view.has(w.k));
                if (ops.length === 0) continue;
                await env.writeBatch(ops.map((w) => ({ dict: d, op: w.del ? ('delete' as const) : ('insert' as const), key: key(w.k), value: val(w.v) })));
                for (const w of ops) {
                  if (w.del) committed.delete(w.k);
                  else committed.set(w.k, w.v);
                  history.get(w.k)!.push(w.del ? undefined : w.v);
                }
              }
            }

            const dir = r.reverse === true ? -1 : 1;
            for (let i = 1; i < out.length; i++) expect(compareKeys(out[i - 1]!.key, out[i]!.key) * dir).toBeLessThan(0);
            for (const e of out) expect(inRange(e.key, r)).toBe(true);
            if (r.limit !== undefined) expect(out.length).toBeLessThanOrEqual(r.limit);
            // With the limit reached, the scan covered the range up to the last key returned.
            const limited = r.limit !== undefined && out.length === r.limit;
            const last = out[out.length - 1]?.key[0];
            const covered = (k: number) => inRange(key(k), r) && (!limited || (last !== undefined && (k - last) * dir <= 0));
            const got = new Map(out.map((e) => [e.key[0]!, str(e.value)]));
            for (let k = 0; k < KEYS; k++) {
              if (!covered(k)) {
                expect(got.has(k)).toBe(false);
                continue;
              }
              if (view.has(k)) {
                const mine = view.get(k)!;
                expect(got.get(k), `own write to ${k}`).toBe(mine === null ? undefined : mine);
                continue;
              }
              const h = history.get(k)!;
              if (got.has(k)) expect(h, `key ${k} value ${got.get(k)} held during the scan`).toContain(got.get(k));
              if (h.every((v) => v !== undefined)) expect(got.has(k), `key ${k} present throughout`).toBe(true);
              if (h.every((v) => v === undefined)) expect(got.has(k), `key ${k} absent throughout`).toBe(false);
            }
            if (child !== undefined) await child.abort();
            await t.abort();
          } finally {
            await env.close({ abortLive: true });
          }
        },
      ),
      { numRuns: 150, seed: 20261206 },
    );
  });

  // Property: range() returns exactly the Map model's view (committed rows with the transaction's and its parent's writes on top) inside
  // the bounds, in key order or reversed, cut at the limit.
  it('Scenario: range against a Map model of committed rows and own writes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: KEYS - 1 }), fc.string({ maxLength: 3 })), { maxLength: KEYS }),
        fc.array(writeArb, { maxLength: 12 }),
        rangeArb,
        async (initial, own, g) => {
          const env = await openEnv();
          try {
            const d = await env.createDictionary('t');
            const model = new Map<number, string>();
            const setup = env.begin();
            for (const [k, v] of initial) {
              await setup.put(d, key(k), val(v));
              model.set(k, v);
            }
            await setup.commit();
            const t = env.begin();
            const child = env.begin({ parent: t });
            for (let i = 0; i < own.length; i++) {
              const who = i < own.length / 2 ? child : t;
              if (who === t && i === Math.ceil(own.length / 2) && child.state === 'live') await child.commit();
              const w = own[i]!;
              if (w.del) await who.del(d, key(w.k));
              else await who.put(d, key(w.k), val(w.v));
              if (w.del) model.delete(w.k);
              else model.set(w.k, w.v);
            }
            const reader = child.state === 'live' ? child : t;
            const r = toRange(g);
            let want = [...model.keys()].filter((k) => inRange(key(k), r)).sort((a, b) => a - b);
            if (r.reverse === true) want.reverse();
            if (r.limit !== undefined) want = want.slice(0, r.limit);
            const got = await reader.range(d, r);
            expect(got.map((e) => [e.key[0], str(e.value)])).toEqual(want.map((k) => [k, model.get(k)]));
          } finally {
            await env.close({ abortLive: true });
          }
        },
      ),
      { numRuns: 150, seed: 20261207 },
    );
  });

  // Scenario: a cursor that reads a few entries of a large dictionary loads at most one chunk of committed entries, never the whole range.
  it('Scenario: the cursor holds one chunk, not the range', async () => {
    const env = await openEnv();
    const d = await env.createDictionary('t');
    const be = (n: number) => Uint8Array.of(n >> 8, n & 0xff);
    for (let base = 0; base < 4000; base += 500) {
      await env.writeBatch(Array.from({ length: 500 }, (_, i) => ({ dict: d, op: 'insert' as const, key: be(base + i), value: val(String(base + i)) })));
    }
    let loaded = 0;
    let largest = 0;
    // Every read a cursor makes of the tree goes through scanChunk.
    const chunk = d.scanChunk.bind(d);
    const range = d.committedRange.bind(d);
    d.scanChunk = async (r, max, cursor, snap) => {
      const got = await chunk(r, max, cursor, snap);
      loaded += got.entries.length;
      largest = Math.max(largest, got.entries.length);
      return got;
    };
    d.committedRange = async (r) => {
      const got = await range(r);
      loaded += got.length;
      largest = Math.max(largest, got.length);
      return got;
    };
    const t = env.begin();
    const c = t.cursor(d, { gte: be(100) });
    for (let i = 0; i < 3; i++) expect(str((await c.next())!.value)).toBe(String(100 + i));
    expect(loaded).toBeLessThanOrEqual(CURSOR_CHUNK);
    // A full scan reads every row once, one chunk at a time.
    loaded = 0;
    let n = 0;
    for await (const _ of t.cursor(d)) n++;
    expect(n).toBe(4000);
    expect(loaded).toBe(4000);
    expect(largest).toBeLessThanOrEqual(CURSOR_CHUNK);
    await t.commit();
    await env.close();
  });

  // Scenario: with no concurrent commits, the cursor (default chunk) returns exactly what range() returns over a few thousand rows, forward and reversed, with bounds and limits.
  it('Scenario: cursor equals range over several chunks', async () => {
    const env = await openEnv();
    const d = await env.createDictionary('t');
    const be = (n: number) => Uint8Array.of(n >> 8, n & 0xff);
    for (let base = 0; base < 3000; base += 500) {
      await env.writeBatch(Array.from({ length: 500 }, (_, i) => ({ dict: d, op: 'insert' as const, key: be(base + i), value: val(String(base + i)) })));
    }
    const t = env.begin();
    await t.del(d, be(700));
    await t.put(d, be(3500), val('own'));
    for (const r of [{}, { reverse: true }, { gte: be(256), lt: be(2049) }, { gt: be(10), limit: 600, reverse: true }, { gte: be(2999), limit: 5 }] as RangeOptions[]) {
      const streamed: string[] = [];
      for await (const e of t.cursor(d, r)) streamed.push(str(e.value));
      expect(streamed).toEqual((await t.range(d, r)).map((e) => str(e.value)));
    }
    const all: string[] = [];
    for await (const e of t.cursor(d)) all.push(str(e.value));
    expect(all.length).toBe(3000); // 3000 committed, one deleted, one own insert
    expect(all).not.toContain('700');
    expect(all[all.length - 1]).toBe('own');
    await t.abort();
    await env.close();
  });
});
