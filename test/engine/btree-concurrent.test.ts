import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AsyncRwLatch, Btree, MemoryNodeStore } from '../../src/engine/btree/index.js';

const keyArb = fc.array(fc.constantFrom(0x00, 0x01, 0x61, 0xff), { minLength: 1, maxLength: 3 }).map((a) => Uint8Array.from(a));
const valueArb = fc.uint8Array({ minLength: 1, maxLength: 8 });

type Op =
  | { op: 'put' | 'insertIfAbsent'; key: Uint8Array; value: Uint8Array }
  | { op: 'delete' | 'get'; key: Uint8Array }
  | { op: 'scan'; reverse: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constantFrom('put' as const, 'insertIfAbsent' as const), key: keyArb, value: valueArb }),
  fc.record({ op: fc.constantFrom('delete' as const, 'get' as const), key: keyArb }),
  fc.record({ op: fc.constant('scan' as const), reverse: fc.boolean() }),
);

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const pair = (k: Uint8Array, v: Uint8Array): string => `${hex(k)}=${hex(v)}`;

describe('btree under concurrent async callers', () => {
  // Property: however the scheduler interleaves node I/O, every point operation returns what the
  // sorted-map model returns when the operations are applied in the order they reached the tree's
  // latch, every call finishes (no deadlock), no pin is leaked, and the structure stays valid.
  // Cursor scans running among the writers return strictly increasing keys, only rows that existed
  // at some moment, and every row no writer touched.
  it('Scenario: interleaved puts, deletes, gets and cursor scans agree with the model', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.tuple(keyArb, valueArb), { maxLength: 30 }),
        fc.array(opArb, { minLength: 1, maxLength: 25 }),
        async (s, initial, ops) => {
          let scheduling = false;
          const store = new MemoryNodeStore({ onIo: () => (scheduling ? s.schedule(Promise.resolve()) : Promise.resolve()) });
          const tree = new Btree(store, { maxEntries: 4 });
          const model = new Map<string, { key: Uint8Array; value: Uint8Array }>();
          const everSeen = new Set<string>();
          for (const [k, v] of initial) {
            await tree.put(k, v);
            model.set(hex(k), { key: k, value: v });
            everSeen.add(pair(k, v));
          }
          const touched = new Set(ops.filter((o) => o.op !== 'scan' && o.op !== 'get').map((o) => hex((o as { key: Uint8Array }).key)));
          const untouched = [...model.values()].filter((r) => !touched.has(hex(r.key)));
          for (const o of ops) if (o.op === 'put' || o.op === 'insertIfAbsent') everSeen.add(pair(o.key, o.value));

          scheduling = true;
          const order: number[] = [];
          const results: unknown[] = new Array(ops.length);
          const done: boolean[] = new Array(ops.length).fill(false);
          const started = ops.map((o, i) =>
            s.schedule(Promise.resolve(i)).then(async () => {
              order.push(i);
              switch (o.op) {
                case 'put':
                  results[i] = await tree.put(o.key, o.value);
                  break;
                case 'insertIfAbsent':
                  results[i] = await tree.insertIfAbsent(o.key, o.value);
                  break;
                case 'delete':
                  results[i] = await tree.delete(o.key);
                  break;
                case 'get':
                  results[i] = await tree.get(o.key);
                  break;
                case 'scan': {
                  const c = tree.cursor();
                  const rows = [];
                  for (let e = o.reverse ? await c.last() : await c.next(); e; e = o.reverse ? await c.prev() : await c.next()) rows.push(e);
                  results[i] = rows;
                  break;
                }
              }
              done[i] = true;
            }),
          );
          // waitIdle releases every scheduled and reachable task; a caller still unfinished then
          // would be waiting for something no one will ever release (a deadlock).
          await s.waitIdle();
          scheduling = false;
          expect(done.every(Boolean)).toBe(true);
          await Promise.all(started);
          store.assertNoPins();

          // Replay in latch order against the model.
          for (const i of order) {
            const o = ops[i]!;
            switch (o.op) {
              case 'put':
                model.set(hex(o.key), { key: o.key, value: o.value });
                break;
              case 'insertIfAbsent': {
                const absent = !model.has(hex(o.key));
                expect(results[i]).toBe(absent);
                if (absent) model.set(hex(o.key), { key: o.key, value: o.value });
                break;
              }
              case 'delete':
                expect(results[i]).toBe(model.delete(hex(o.key)));
                break;
              case 'get':
                expect(results[i]).toEqual(model.get(hex(o.key))?.value);
                break;
              case 'scan': {
                const rows = results[i] as Array<{ key: Uint8Array; value: Uint8Array }>;
                const keys = rows.map((r) => r.key);
                if (o.reverse) keys.reverse();
                for (let j = 1; j < keys.length; j++) expect(Buffer.compare(keys[j - 1]!, keys[j]!)).toBe(-1);
                for (const r of rows) expect(everSeen.has(pair(r.key, r.value))).toBe(true);
                const got = new Set(rows.map((r) => pair(r.key, r.value)));
                for (const r of untouched) expect(got.has(pair(r.key, r.value))).toBe(true);
                break;
              }
            }
          }
          const final = [];
          for await (const e of tree.entries()) final.push(e);
          expect(final).toEqual([...model.values()].sort((a, b) => Buffer.compare(a.key, b.key)));
          await tree.check();
        },
      ),
      { numRuns: 150 },
    );
  });

  it('Scenario: a cursor walking while another caller deletes and re-inserts rows never repeats or skips a stable row', async () => {
    const store = new MemoryNodeStore();
    const tree = new Btree(store, { maxEntries: 4 });
    const k = (i: number) => Uint8Array.of(i);
    for (let i = 0; i < 100; i += 2) await tree.put(k(i), k(i));
    const c = tree.cursor();
    const seen: number[] = [];
    for (let e = await c.first(); e; e = await c.next()) {
      seen.push(e.key[0]!);
      const at = e.key[0]!;
      // Churn around the cursor: delete the row just returned and the next even row, insert an odd row behind and ahead.
      await tree.delete(k(at));
      if (at + 1 < 100) await tree.put(k(at + 1), k(0));
      if (at >= 1) await tree.put(k(at - 1), k(0));
    }
    for (let j = 1; j < seen.length; j++) expect(seen[j]!).toBeGreaterThan(seen[j - 1]!);
    // Every odd row inserted ahead of the cursor is visited; all rows behind it are not revisited.
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i));
    await tree.check();
  });

  it('Scenario: the tree latch admits readers together, a writer alone, in arrival order', async () => {
    const latch = new AsyncRwLatch();
    const log: string[] = [];
    const gate = (name: string) => {
      let open!: () => void;
      const opened = new Promise<void>((r) => (open = r));
      return { name, open, opened };
    };
    const r1 = gate('r1');
    const w1 = gate('w1');
    const r2 = gate('r2');
    const run = (g: ReturnType<typeof gate>, write: boolean) =>
      (write ? latch.write.bind(latch) : latch.read.bind(latch))(async () => {
        log.push(`+${g.name}`);
        await g.opened;
        log.push(`-${g.name}`);
      });
    const p1 = run(r1, false);
    const p2 = run(w1, true);
    const p3 = run(r2, false); // arrives after the writer, so it must wait for it
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['+r1']);
    r1.open();
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['+r1', '-r1', '+w1']);
    w1.open();
    r2.open();
    await Promise.all([p1, p2, p3]);
    expect(log).toEqual(['+r1', '-r1', '+w1', '-w1', '+r2', '-r2']);
    expect(latch.idle).toBe(true);
    // A throwing holder still releases the latch.
    await expect(latch.write(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(latch.idle).toBe(true);
  });
});
