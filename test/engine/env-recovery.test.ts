import { describe, expect, it } from 'vitest';
import { dec, dumpDictionary, enc, logRecords, simHarness } from './helpers.js';
import fc from 'fast-check';
import { Env } from '../../src/engine/env.js';
import { SimStorage } from '../../src/storage/sim-storage.js';
import { VirtualClock } from '../../src/storage/clock.js';
import { findLogFiles } from '../../src/log/names.js';
import { formatRecord } from '../../src/format/printer.js';
import type { Xid } from '../../src/format/record-types.js';

const XID: Xid = { formatID: 7, gtridLength: 2, bqualLength: 1, data: enc('abc') };

const records = logRecords;

function harness(durability: 'sync' | 'periodic' | 'none' = 'sync') {
  return simHarness(durability, 3, 'tester');
}

const dump = dumpDictionary;

describe('engine: crash recovery', () => {
  // Scenario: committed (fsynced) txns survive a crash that drops every unsynced write; an uncommitted one vanishes and is logged as aborted.
  it('Scenario: crash with one committed and one open txn; recovery keeps the first, aborts the second', async () => {
    const h = harness();
    const env = await h.open();
    const d = await env.createDictionary('t');
    const t1 = env.begin();
    await t1.put(d, enc('k1'), enc('v1'));
    await t1.commit();
    const t2 = env.begin();
    await t2.put(d, enc('k2'), enc('v2'));
    await t2.del(d, enc('k1'));
    await env.put(d, enc('other'), enc('x')); // its commit fsyncs t2's records too
    env.abandon();
    h.storage.crash({ mode: 'drop-all' });
    const env2 = await h.open();
    expect(env2.recoveryReport).not.toBeNull();
    expect(await dump(env2, 't')).toEqual({ k1: 'v1', other: 'x' });
    expect(env2.recoveryReport!.txnsAborted).toEqual([String(t2.id)]);
    const recs = await records(h.storage);
    expect(recs.some((r) => r.type === 'xabort')).toBe(true);
    await env2.close();
    const env3 = await h.open();
    expect(env3.recoveryReport).toBeNull();
    expect(await dump(env3, 't')).toEqual({ k1: 'v1', other: 'x' });
    await env3.close();
  });

  // Scenario: a checkpoint captures a live txn in its rollback node; after a crash that txn is rebuilt and aborted, committed work after the checkpoint is replayed.
  it('Scenario: live txn at a checkpoint, commit after it, crash: LSN filter and rollback node', async () => {
    const h = harness();
    const env = await h.open();
    const d = await env.createDictionary('t');
    await env.put(d, enc('a'), enc('1'));
    const live = env.begin();
    await live.put(d, enc('b'), enc('2'));
    const later = env.begin();
    await later.put(d, enc('c'), enc('3'));
    await env.checkpoint();
    await live.put(d, enc('b2'), enc('22'));
    await later.commit();
    await env.put(d, enc('a'), enc('1x'));
    env.abandon();
    h.storage.crash({ mode: 'drop-all' });
    const env2 = await h.open();
    expect(await dump(env2, 't')).toEqual({ a: '1x', c: '3' });
    expect(env2.recoveryReport!.txnsAborted).toEqual([String(live.id)]);
    expect(env2.recoveryReport!.turningPointLsn).toBeGreaterThan(0n);
    await env2.close();
  });

  // Scenario: a txn that committed after a checkpoint's begin but before its end (its row already in the checkpointed tree) is not applied twice.
  it('Scenario: crash between headers written and end_checkpoint recovers from the previous checkpoint', async () => {
    const h = harness();
    let armed = false;
    const env = await h.open({
      checkpointHooks: {
        afterHeadersBeforeEndCheckpoint: () => {
          if (armed) throw new Error('simulated crash after headers');
        },
      },
    });
    const d = await env.createDictionary('t');
    await env.put(d, enc('x'), enc('0'));
    await env.checkpoint();
    for (let i = 0; i < 20; i++) await env.put(d, enc(`k${i}`), enc(`v${i}`));
    await env.del(d, enc('x'));
    const p = env.begin();
    await p.put(d, enc('prep'), enc('yes'));
    await p.prepare(XID);
    armed = true;
    await expect(env.checkpoint()).rejects.toThrow(/simulated crash/);
    env.abandon();
    h.storage.crash({ mode: 'drop-all' });
    const env2 = await h.open();
    const expected: Record<string, string> = {};
    for (let i = 0; i < 20; i++) expected[`k${i}`] = `v${i}`;
    expect(await dump(env2, 't')).toEqual(expected);
    expect(env2.listPreparedTransactions().map((x) => x.id)).toEqual([p.id]);
    expect(env2.recoveryReport!.txnsPrepared).toEqual([String(p.id)]);
    // The prepared txn still holds its row lock.
    const other = env2.begin();
    const dd = await env2.openDictionary('t');
    await expect(other.put(dd, enc('prep'), enc('no'))).rejects.toThrow(/lock conflict/);
    await other.abort();
    await env2.preparedTransaction(p.id).commit();
    expect(dec(await env2.get(dd, enc('prep')))).toBe('yes');
    await env2.close();
  });

  // Scenario: prepared txns survive a crash and a second recovery; abort by id discards them.
  it('Scenario: prepared txn survives two crashes, then is aborted by id', async () => {
    const h = harness();
    const env = await h.open();
    const d = await env.createDictionary('t');
    const p = env.begin();
    await p.put(d, enc('p'), enc('1'));
    await p.prepare(XID);
    env.abandon();
    h.storage.crash({ mode: 'drop-all' });
    const env2 = await h.open();
    expect(env2.listPreparedTransactions()).toHaveLength(1);
    expect(env2.listPreparedTransactions()[0]!.xid.data).toEqual(XID.data);
    env2.abandon();
    h.storage.crash({ mode: 'drop-all' });
    const env3 = await h.open();
    const [info] = env3.listPreparedTransactions();
    await env3.preparedTransaction(info!.id).abort();
    expect(await dump(env3, 't')).toEqual({});
    await env3.close();
    const env4 = await h.open();
    expect(env4.recoveryReport).toBeNull();
    expect(env4.listPreparedTransactions()).toEqual([]);
    await env4.close();
  });

  // Scenario: a torn final log entry is cut and reported; the txn it belonged to is not applied.
  it('Scenario: torn log tail is cut at the last good record and reported', async () => {
    const h = harness();
    const env = await h.open();
    const d = await env.createDictionary('t');
    await env.put(d, enc('a'), enc('1'));
    await env.put(d, enc('b'), enc('2'));
    env.abandon();
    h.storage.crash({ mode: 'keep-all' });
    const files = await findLogFiles(h.storage, '/env');
    const last = files[files.length - 1]!.path;
    const bytes = h.storage.fileBytes(last)!;
    const f = await h.storage.open(last, 'readwrite');
    await f.truncate(bytes.length - 5);
    await f.fsync();
    await f.close();
    const events: string[] = [];
    const env2 = await h.open({ onEvent: (e: { type: string }) => events.push(e.type) });
    expect(events).toContain('log-repaired');
    expect(env2.recoveryReport!.repaired).not.toBeNull();
    expect(await dump(env2, 't')).toEqual({ a: '1' });
    await env2.close();
  });

  // Scenario: dictionaries created, removed and renamed survive a crash as committed; a created-then-aborted one leaves no file.
  it('Scenario: dictionary create/remove/rename through a crash', async () => {
    const h = harness();
    const env = await h.open();
    const a = await env.createDictionary('a');
    await env.put(a, enc('k'), enc('a'));
    const b = await env.createDictionary('b');
    await env.put(b, enc('k'), enc('b'));
    await env.removeDictionary('b');
    await env.renameDictionary('a', 'a2');
    const t = env.begin();
    const c = await env.createDictionary('c', t);
    await t.put(c, enc('k'), enc('c'));
    env.abandon();
    h.storage.crash({ mode: 'drop-all' });
    const env2 = await h.open();
    expect((await env2.listDictionaries()).sort()).toEqual(['a2']);
    expect(await dump(env2, 'a2')).toEqual({ k: 'a' });
    const names = await h.storage.list('/env');
    expect(names.filter((n) => n.startsWith('b_') || n.startsWith('c_'))).toEqual([]);
    await env2.close();
  });

  // Property: for any sequence of committed/aborted/open txns and checkpoints, a crash that drops unsynced writes then recovery yields exactly the committed state.
  it('Property: recovery after a crash at a random point gives exactly the committed rows (sync durability)', async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('txn' as const), writes: fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.boolean()), { minLength: 1, maxLength: 4 }), end: fc.constantFrom('commit', 'abort', 'open') }),
      fc.record({ kind: fc.constant('checkpoint' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 1000 }), async (ops, seed) => {
        const storage = new SimStorage({ seed });
        const clock = new VirtualClock();
        const env = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'p' });
        const d = await env.createDictionary('t');
        const model = new Map<string, string>();
        let n = 0;
        for (const o of ops) {
          if (o.kind === 'checkpoint') {
            await env.checkpoint();
            continue;
          }
          const t = env.begin();
          const mine = new Map<string, string | null>();
          let ok = true;
          for (const [k, del] of o.writes) {
            const key = `k${k}`;
            try {
              if (del) await t.del(d, enc(key));
              else await t.put(d, enc(key), enc(`v${n++}`));
              mine.set(key, del ? null : `v${n - 1}`);
            } catch {
              ok = false; // lock conflict with an open txn
              break;
            }
          }
          if (!ok || o.end === 'abort') await t.abort();
          else if (o.end === 'commit') {
            await t.commit();
            for (const [k, v] of mine) if (v === null) model.delete(k);
              else model.set(k, v);
          }
        }
        env.abandon();
        storage.crash({});
        const env2 = await Env.open('/env', { storage, clock, checkpointPeriodMs: 0, owner: 'p' });
        const got = await dump(env2, 't');
        await env2.close();
        expect(got).toEqual(Object.fromEntries([...model].sort()));
      }),
      { numRuns: 40 },
    );
  });

  // Scenario: the engine's log prints with the tokuft_logprint printer, record by record, without error.
  it('Scenario: the printer formats every record of an engine log', async () => {
    const h = harness();
    const env = await h.open();
    const d = await env.createDictionary('t');
    const t = env.begin();
    const c = env.begin({ parent: t });
    await c.put(d, enc('a'), enc('1'));
    await c.commit();
    await t.insertIfAbsent(d, enc('b'), enc('2'));
    await t.commit();
    await env.close();
    const recs = await records(h.storage);
    const lines = recs.map((r) => formatRecord(r));
    expect(lines.some((l) => l.startsWith('xbegin'))).toBe(true);
    expect(lines.some((l) => l.startsWith('enq_insert_no_overwrite'))).toBe(true);
    expect(lines.some((l) => l.startsWith('fcreate'))).toBe(true);
    expect(lines[lines.length - 1]).toMatch(/^shutdown/);
  });
});
