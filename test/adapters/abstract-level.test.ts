import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { TokusimLevel } from '../../src/adapters/abstract-level.js';
import { Env } from '../../src/engine/env.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { VirtualClock } from '../../src/storage/clock.js';

const require = createRequire(import.meta.url);

interface TapeResult {
  type: string;
  ok?: boolean;
  name?: string;
  operator?: string;
  actual?: unknown;
  expected?: unknown;
  id?: number;
  test?: number;
}

describe('adapters: abstract-level', () => {
  // Scenario: abstract-level's own test suite (all of it, including the sublevel re-run) passes against TokusimLevel on SimStorage.
  it('Scenario: the abstract-level package test suite runs with zero failures', async () => {
    const tape = require('tape') as { createHarness: () => any };
    const suite = require('abstract-level/test') as (o: { test: unknown; factory: (opts?: object) => TokusimLevel }) => void;
    const harness = tape.createHarness();
    const failures: string[] = [];
    const names = new Map<number, string>();
    let asserts = 0;
    const stream = harness.createStream({ objectMode: true });
    stream.on('data', (row: TapeResult) => {
      if (row.type === 'test' && row.id !== undefined) names.set(row.id, row.name ?? '');
      if (row.type === 'assert') {
        asserts++;
        if (row.ok !== true) failures.push(`${names.get(row.test ?? -1) ?? '?'}: ${row.name} (${row.operator}: actual ${String(row.actual)}, expected ${String(row.expected)})`);
      }
    });
    const finished = new Promise<void>((resolve) => stream.on('end', () => resolve()));
    const storage = new SimStorage({ seed: 11 });
    const clock = new VirtualClock();
    let n = 0;
    suite({
      test: harness,
      factory: (opts?: object) => new TokusimLevel(`/db${++n}`, { storage, clock, durability: 'none', env: { checkpointPeriodMs: 0, owner: `lvl${n}` }, ...opts }),
    });
    await finished;
    expect(failures).toEqual([]);
    // The snapshot tests ran: implicit (an iterator reads at its creation) and explicit (db.snapshot()).
    const ran = new Set(names.values());
    for (const name of ['delete key after snapshotting', 'overwrite key after snapshotting', 'get() changed entry from snapshot', 'get() entries from multiple snapshots', 'iterator(), keys(), values() with snapshot', 'clear() entries from snapshot', 'snapshot is closed along with iterator']) {
      expect(ran.has(name), name).toBe(true);
    }
    // The suite really ran (it has well over a thousand assertions).
    expect(asserts).toBeGreaterThan(1000);
  }, 120_000);

  // Scenario: iterators read at a snapshot taken when they are made and release it at close; an explicit snapshot serves gets and iterators
  // until closed; afterwards the environment keeps no version and no snapshot (nothing leaks through the adapter).
  it('Scenario: adapter snapshots read the state when taken and are released', async () => {
    const db = new TokusimLevel('/snaps', { storage: new SimStorage({ seed: 3 }), clock: new VirtualClock(), durability: 'none', env: { checkpointPeriodMs: 0, owner: 's' } });
    await db.open();
    await db.batch(Array.from({ length: 600 }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(3, '0')}`, value: 'a' })));
    const it = db.iterator();
    const first = await it.next();
    expect(first).toEqual(['k000', 'a']);
    const snapshot = db.snapshot();
    await db.put('k599', 'b');
    await db.del('k300');
    await db.put('k999', 'new');
    const rest = await it.all();
    expect(rest.length).toBe(599);
    expect(rest.at(-1)).toEqual(['k599', 'a']);
    expect(await db.get('k599', { snapshot })).toBe('a');
    expect(await db.get('k599')).toBe('b');
    expect(await db.keys({ snapshot, gte: 'k598' }).all()).toEqual(['k598', 'k599']);
    expect(db.env!.status().mvcc.versionsKept).toBe(3);
    await snapshot.close();
    const m = db.env!.status().mvcc;
    expect(m).toMatchObject({ liveSnapshots: 0, versionsKept: 0 });
    expect(m.versionsCollected).toBe(m.versionsCreated);
    await db.close();
  });

  // Scenario: data written through the adapter is an ordinary dictionary of the environment, durable across a crash with 'sync' durability.
  it('Scenario: adapter writes survive a crash and are readable through Env', async () => {
    const storage = new SimStorage({ seed: 2 });
    const clock = new VirtualClock();
    const db = new TokusimLevel('/lvl', { storage, clock, env: { checkpointPeriodMs: 0, owner: 'x' } });
    await db.open();
    await db.batch([
      { type: 'put', key: 'a', value: '1' },
      { type: 'put', key: 'b', value: '2' },
      { type: 'del', key: 'a' },
    ]);
    await db.put('c', '3');
    expect(await db.get('b')).toBe('2');
    expect(await db.keys({ reverse: true }).all()).toEqual(['c', 'b']);
    db.env!.abandon();
    storage.crash({ mode: 'drop-all' });
    const env = await Env.open('/lvl', { storage, clock, checkpointPeriodMs: 0, owner: 'x' });
    const d = await env.openDictionary('level');
    const rows = await env.begin().range(d);
    expect(rows.map((e) => new TextDecoder().decode(e.key))).toEqual(['b', 'c']);
    await env.close();
  });
});
