import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Env } from '../../src/engine/env.js';
import { LockConflictError } from '../../src/engine/locktree.js';
import { SnapshotConflictError, type Txn } from '../../src/engine/txn.js';
import type { Snapshot } from '../../src/engine/mvcc.js';
import type { Dictionary } from '../../src/engine/dictionary.js';
import type { RangeOptions } from '../../src/engine/range.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { clearPlantedBugs, plantBug } from '../../src/base/bug-switches.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const k = (i: number) => enc.encode(`k${String(i).padStart(4, '0')}`);
const v = (s: string) => enc.encode(s);

async function openEnv(extra: Record<string, unknown> = {}): Promise<Env> {
  return Env.open('/env', { storage: new SimStorage({ seed: 7 }), clock: new VirtualClock(), checkpointPeriodMs: 0, durability: 'none', owner: 'mvcc', ...extra });
}

async function rows(t: Txn, d: Dictionary, opts: { reverse?: boolean } = {}): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for await (const e of t.cursor(d, opts.reverse === true ? { reverse: true } : {})) out.push([dec.decode(e.key), dec.decode(e.value)]);
  return out;
}

function model(m: Map<number, string>, reverse = false): Array<[string, string]> {
  const out = [...m].sort((a, b) => a[0] - b[0]).map(([i, s]): [string, string] => [dec.decode(k(i)), s]);
  return reverse ? out.reverse() : out;
}

describe('engine: isolation levels and snapshot reads', () => {
  // Scenario: a snapshot transaction reads exactly the state committed when it began, while other transactions overwrite, delete and insert
  // keys, a checkpoint runs and a small cache evicts the tree's nodes; its cursor (both directions, chunked) and its point reads agree.
  it('Scenario: snapshot sees its start state across concurrent commits, a checkpoint and evictions', async () => {
    const env = await openEnv({ cacheSize: 16 * 1024, maxEntries: 8 });
    const d = await env.createDictionary('t');
    const start = new Map<number, string>();
    const setup = env.begin();
    for (let i = 0; i < 600; i++) {
      await setup.put(d, k(i), v(`v${i}`));
      start.set(i, `v${i}`);
    }
    await setup.commit();
    await env.checkpoint();

    const snap = env.begin({ isolation: 'snapshot' });
    expect(dec.decode((await snap.get(d, k(5)))!)).toBe('v5');

    // Concurrent commits: overwrite every third key, delete every fifth, insert new keys between.
    const evictedBefore = env.ct.stats.pairsEvicted;
    for (let i = 0; i < 600; i += 3) await env.put(d, k(i), v(`new${i}`));
    for (let i = 0; i < 600; i += 5) await env.del(d, k(i));
    for (let i = 600; i < 700; i++) await env.put(d, k(i), v(`added${i}`));
    await env.checkpoint();
    for (let i = 1; i < 600; i += 7) await env.put(d, k(i), v(`after-checkpoint${i}`));
    expect(env.ct.stats.pairsEvicted).toBeGreaterThan(evictedBefore);

    // Point reads: every key as it was at the snapshot.
    for (let i = 0; i < 700; i += 1) {
      const got = await snap.get(d, k(i));
      expect(got === undefined ? undefined : dec.decode(got)).toBe(start.get(i));
    }
    // Scans: the start state exactly, forward and reverse (several chunks of the cursor).
    expect(await rows(snap, d)).toEqual(model(start));
    expect(await rows(snap, d, { reverse: true })).toEqual(model(start, true));
    expect((await snap.range(d, { gte: k(100), lt: k(130) })).map((e) => dec.decode(e.value))).toEqual(model(start).filter(([key]) => key >= 'k0100' && key < 'k0130').map(([, s]) => s));

    // A read-committed transaction sees the newest commits at each point read.
    const rc = env.begin({ isolation: 'read-committed' });
    expect(await rc.get(d, k(0))).toBeUndefined();
    expect(dec.decode((await rc.get(d, k(3)))!)).toBe('new3');
    expect(dec.decode((await rc.get(d, k(650)))!)).toBe('added650');

    expect(env.status().mvcc.versionsKept).toBeGreaterThan(0);
    await snap.commit();
    await rc.commit();
    await env.close();
  });

  // Scenario: read-committed point reads see commits made after the transaction began; a read-committed cursor reads on a snapshot taken
  // when it is made (commits after that are not in it), and with { snapshot: false } later chunks see later commits.
  it('Scenario: read-committed sees new commits; its cursors read on an implicit snapshot', async () => {
    const env = await openEnv();
    const d = await env.createDictionary('t');
    for (let i = 0; i < 10; i++) await env.put(d, k(i), v('a'));
    for (const isolation of ['read-committed', 'read-uncommitted'] as const) {
      const t = env.begin({ isolation });
      expect(dec.decode((await t.get(d, k(1)))!)).toBe('a');
      await env.put(d, k(1), v(`b-${isolation}`));
      expect(dec.decode((await t.get(d, k(1)))!)).toBe(`b-${isolation}`);
      await env.put(d, k(1), v('a'));
      await t.commit();
    }
    const t = env.begin();
    const c = t.cursor(d);
    const first = await c.next();
    expect(dec.decode(first!.key)).toBe('k0000');
    await env.put(d, k(5), v('changed'));
    await env.del(d, k(6));
    const rest: string[] = [];
    for (let e = await c.next(); e !== undefined; e = await c.next()) rest.push(`${dec.decode(e.key)}=${dec.decode(e.value)}`);
    expect(rest).toContain('k0005=a');
    expect(rest).toContain('k0006=a');
    // The cursor released its snapshot at its end: nothing is kept for it any more.
    expect(env.status().mvcc.liveSnapshots).toBe(0);
    expect(env.status().mvcc.versionsKept).toBe(0);
    // Past the first chunk (256 entries): with its snapshot the cursor does not see a later commit, without one a later chunk does.
    const big = await env.createDictionary('big');
    await env.writeBatch(Array.from({ length: 300 }, (_, i) => ({ dict: big, op: 'insert' as const, key: k(i), value: v('a') })));
    const lastValue = async (opts: { snapshot?: boolean }, value: string): Promise<string> => {
      const c2 = t.cursor(big, {}, opts);
      expect(dec.decode((await c2.next())!.key)).toBe('k0000');
      await env.put(big, k(299), v(value));
      let last = '';
      for (let e = await c2.next(); e !== undefined; e = await c2.next()) last = dec.decode(e.value);
      return last;
    };
    expect(await lastValue({}, 'unseen')).toBe('a');
    expect(await lastValue({ snapshot: false }, 'seen')).toBe('seen');
    await t.commit();
    await env.close();
  });

  // Scenario: the GC counters: versions are kept only while a snapshot older than the commit is live, and collected when it is released.
  it('Scenario: versions kept while a snapshot needs them, collected when it ends', async () => {
    const env = await openEnv();
    const d = await env.createDictionary('t');
    await env.put(d, k(1), v('x0'));
    // No snapshot live: commits keep nothing.
    await env.put(d, k(1), v('x1'));
    expect(env.status().mvcc).toMatchObject({ liveSnapshots: 0, versionsKept: 0, versionsCreated: 0, versionsCollected: 0 });
    const s1 = env.snapshot();
    await env.put(d, k(1), v('x2'));
    const s2 = env.snapshot();
    await env.put(d, k(1), v('x3'));
    await env.put(d, k(2), v('y'));
    expect(env.status().mvcc).toMatchObject({ liveSnapshots: 2, oldestSnapshot: s1.seq, versionsKept: 3, versionsCreated: 3, versionsCollected: 0 });
    expect(dec.decode((await env.get(d, k(1), { snapshot: s1 }))!)).toBe('x1');
    expect(dec.decode((await env.get(d, k(1), { snapshot: s2 }))!)).toBe('x2');
    expect(await env.get(d, k(2), { snapshot: s2 })).toBeUndefined();
    // Releasing the older snapshot drops what only it needed (x1); s2 still needs x2 and "k2 absent".
    s1.release();
    expect(env.status().mvcc).toMatchObject({ liveSnapshots: 1, oldestSnapshot: s2.seq, versionsKept: 2, versionsCollected: 1 });
    expect(dec.decode((await env.get(d, k(1), { snapshot: s2 }))!)).toBe('x2');
    s2.release();
    s2.release();
    expect(env.status().mvcc).toMatchObject({ liveSnapshots: 0, oldestSnapshot: null, versionsKept: 0, versionsCreated: 3, versionsCollected: 3 });
    await expect(env.get(d, k(1), { snapshot: s2 })).rejects.toThrow(/released snapshot/);
    // A snapshot transaction's snapshot is released when it ends.
    const t = env.begin({ isolation: 'snapshot' });
    await env.put(d, k(1), v('x4'));
    expect(env.status().mvcc.versionsKept).toBe(1);
    await t.abort();
    expect(env.status().mvcc).toMatchObject({ liveSnapshots: 0, versionsKept: 0, versionsCollected: 4 });
    await env.close();
  });

  // Scenario: no lost update under snapshot isolation: a write to a key that a commit changed after the snapshot is refused (first committer
  // wins) and nothing is logged or locked; under read-committed the same read-modify-write goes through.
  it('Scenario: snapshot refuses a write to a key changed after its snapshot; read-committed does not', async () => {
    const env = await openEnv();
    const d = await env.createDictionary('t');
    await env.put(d, k(1), v('0'));
    const t = env.begin({ isolation: 'snapshot' });
    const seen = Number(dec.decode((await t.get(d, k(1)))!));
    await env.put(d, k(1), v('5'));
    const err = await t.put(d, k(1), v(String(seen + 1))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SnapshotConflictError);
    expect((err as SnapshotConflictError).code).toBe('TOKUSIM_LOCK_CONFLICT');
    expect((err as Error).message).toMatch(/write conflict: dictionary t key "k0001"/);
    // Refused before the lock: another writer can still write the key.
    await env.put(d, k(1), v('6'));
    // Keys not changed since the snapshot can be written, and the update function sees the snapshot's value.
    await t.put(d, k(2), v('two'));
    await t.commit();
    expect(dec.decode((await env.get(d, k(1)))!)).toBe('6');
    expect(dec.decode((await env.get(d, k(2)))!)).toBe('two');

    const rc = env.begin({ isolation: 'read-committed' });
    const before = Number(dec.decode((await rc.get(d, k(1)))!));
    await env.put(d, k(1), v('100'));
    await rc.put(d, k(1), v(String(before + 1)));
    await rc.commit();
    // The concurrent 100 is overwritten: read-committed allows the lost update.
    expect(before).toBe(6);
    expect(dec.decode((await env.get(d, k(1)))!)).toBe('7');
    await env.close();
  });

  // Scenario: serializable reads take row read locks held to the end: a writer of a key read is refused until the reader ends, so a second
  // read returns the same value; a key another transaction write-locked cannot be read.
  it('Scenario: serializable read locks make point reads repeatable', async () => {
    const env = await openEnv();
    const d = await env.createDictionary('t');
    await env.put(d, k(1), v('a'));
    const s = env.begin({ isolation: 'serializable' });
    expect(dec.decode((await s.get(d, k(1)))!)).toBe('a');
    await expect(env.put(d, k(1), v('b'))).rejects.toBeInstanceOf(LockConflictError);
    expect(dec.decode((await s.get(d, k(1)))!)).toBe('a');
    // Its cursor read-locks the keys it returns.
    await env.put(d, k(2), v('c'));
    expect((await s.range(d)).map((e) => dec.decode(e.key))).toEqual(['k0001', 'k0002']);
    await expect(env.put(d, k(2), v('d'))).rejects.toBeInstanceOf(LockConflictError);
    const w = env.begin();
    await w.put(d, k(3), v('w'));
    await expect(s.get(d, k(3))).rejects.toBeInstanceOf(LockConflictError);
    await w.commit();
    await s.commit();
    await env.put(d, k(1), v('b'));
    expect(dec.decode((await env.get(d, k(1)))!)).toBe('b');
    await env.close();
  });

  // Scenario: a child of a snapshot transaction reads at its root's snapshot with its own and its ancestors' writes on top; a child cannot
  // ask for another level; an unknown level is refused.
  it('Scenario: children share the snapshot; bad isolation options are refused', async () => {
    const env = await openEnv();
    const d = await env.createDictionary('t');
    await env.put(d, k(1), v('a'));
    const root = env.begin({ isolation: 'snapshot' });
    await root.put(d, k(2), v('mine'));
    await env.put(d, k(1), v('b'));
    const child = env.begin({ parent: root });
    expect(child.isolation).toBe('snapshot');
    expect(dec.decode((await child.get(d, k(1)))!)).toBe('a');
    expect(dec.decode((await child.get(d, k(2)))!)).toBe('mine');
    expect((await child.range(d)).map((e) => dec.decode(e.value))).toEqual(['a', 'mine']);
    await child.commit();
    expect(() => env.begin({ parent: root, isolation: 'read-committed' })).toThrow(/parent's isolation level/);
    expect(() => env.begin({ isolation: 'chaos' as never })).toThrow(/unknown isolation level/);
    await root.commit();
    expect(env.status().mvcc.liveSnapshots).toBe(0);
    await env.close();
  });

  // Scenario: recovery restores committed state only: a crash while a snapshot transaction (with writes) and an explicit snapshot are live
  // recovers every acknowledged commit, none of the live transaction's writes, and starts with no snapshot and no version.
  it('Scenario: a crash with live snapshots recovers committed state only', async () => {
    const storage = new SimStorage({ seed: 9 });
    const opts = { storage, clock: new VirtualClock(), checkpointPeriodMs: 0, durability: 'sync' as const, owner: 'mvcc' };
    const env = await Env.open('/env', opts);
    const d = await env.createDictionary('t');
    await env.put(d, k(1), v('a'));
    const t = env.begin({ isolation: 'snapshot' });
    const s = env.snapshot();
    await t.put(d, k(2), v('uncommitted'));
    await env.put(d, k(1), v('b'));
    await env.checkpoint();
    await env.put(d, k(3), v('c'));
    expect(dec.decode((await t.get(d, k(1)))!)).toBe('a');
    env.abandon();
    storage.crash({ mode: 'drop-all' });
    const again = await Env.open('/env', opts);
    const d2 = await again.openDictionary('t');
    expect((await again.begin().range(d2)).map((e) => `${dec.decode(e.key)}=${dec.decode(e.value)}`)).toEqual(['k0001=b', 'k0003=c']);
    expect(again.status().mvcc).toMatchObject({ liveSnapshots: 0, versionsKept: 0, versionsCreated: 0 });
    expect(s.released).toBe(false);
    await again.close();
  });

  // Scenario: the planted bug 'snapshot-reads-latest' makes a snapshot read the newest value; with it switched off again the read is right.
  it('Scenario: the planted snapshot bug is observable', async () => {
    const env = await openEnv();
    const d = await env.createDictionary('t');
    await env.put(d, k(1), v('old'));
    const s = env.snapshot();
    await env.put(d, k(1), v('new'));
    plantBug('snapshot-reads-latest');
    try {
      expect(dec.decode((await env.get(d, k(1), { snapshot: s }))!)).toBe('new');
    } finally {
      clearPlantedBugs();
    }
    expect(dec.decode((await env.get(d, k(1), { snapshot: s }))!)).toBe('old');
    s.release();
    await env.close();
  });

  // Property: against a model that records the whole state at each snapshot, random interleavings of commits (puts, deletes, multi-key
  // transactions), snapshots taken and released, checkpoints and reads (point, forward and reverse ranges with bounds, small chunks) always
  // read exactly the state at the snapshot; at the end, with every snapshot released, no version is kept and created == collected.
  it('Property: snapshot reads equal the model state at the snapshot', async () => {
    const opArb = fc.oneof(
      { weight: 6, arbitrary: fc.record({ t: fc.constant('commit' as const), writes: fc.array(fc.record({ k: fc.integer({ min: 0, max: 30 }), del: fc.boolean(), v: fc.integer({ min: 0, max: 99 }) }), { minLength: 1, maxLength: 4 }) }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant('snap' as const) }) },
      { weight: 2, arbitrary: fc.record({ t: fc.constant('release' as const), i: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('checkpoint' as const) }) },
      { weight: 3, arbitrary: fc.record({ t: fc.constant('get' as const), i: fc.nat(), k: fc.integer({ min: 0, max: 30 }) }) },
      { weight: 3, arbitrary: fc.record({ t: fc.constant('scan' as const), i: fc.nat(), lo: fc.integer({ min: 0, max: 30 }), hi: fc.integer({ min: 0, max: 30 }), reverse: fc.boolean(), chunk: fc.integer({ min: 1, max: 5 }) }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async (ops) => {
        const env = await openEnv({ maxEntries: 4 });
        try {
          const d = await env.createDictionary('t');
          const now = new Map<number, string>();
          const live: Array<{ s: Snapshot; state: Map<number, string> }> = [];
          for (const op of ops) {
            if (op.t === 'commit') {
              const t = env.begin();
              for (const w of op.writes) {
                if (w.del) await t.del(d, k(w.k));
                else await t.put(d, k(w.k), v(String(w.v)));
                if (w.del) now.delete(w.k);
                else now.set(w.k, String(w.v));
              }
              await t.commit();
            } else if (op.t === 'snap') {
              live.push({ s: env.snapshot(), state: new Map(now) });
            } else if (op.t === 'release' && live.length > 0) {
              live.splice(op.i % live.length, 1)[0]!.s.release();
            } else if (op.t === 'checkpoint') {
              await env.checkpoint();
            } else if (op.t === 'get' && live.length > 0) {
              const { s, state } = live[op.i % live.length]!;
              const got = await env.get(d, k(op.k), { snapshot: s });
              expect(got === undefined ? undefined : dec.decode(got)).toBe(state.get(op.k));
            } else if (op.t === 'scan' && live.length > 0) {
              const { s, state } = live[op.i % live.length]!;
              const [lo, hi] = op.lo <= op.hi ? [op.lo, op.hi] : [op.hi, op.lo];
              const r = { gte: k(lo), lt: k(hi), ...(op.reverse ? { reverse: true } : {}) };
              const got: string[] = [];
              let from: RangeOptions = r;
              for (;;) {
                const res = await d.chunkAsOf(from, op.chunk, s);
                for (const e of res.entries) got.push(`${dec.decode(e.key)}=${dec.decode(e.value)}`);
                if (res.done) break;
                from = op.reverse ? { gte: k(lo), lt: res.last!, reverse: true } : { gt: res.last!, lt: k(hi) };
              }
              const want = model(new Map([...state].filter(([key]) => key >= lo && key < hi)), op.reverse).map(([a, b]) => `${a}=${b}`);
              expect(got).toEqual(want);
            }
          }
          for (const { s } of live) s.release();
          const m = env.status().mvcc;
          expect(m.versionsKept).toBe(0);
          expect(m.versionsCollected).toBe(m.versionsCreated);
        } finally {
          await env.close();
        }
      }),
      { numRuns: 60, seed: 18 },
    );
  });
});
